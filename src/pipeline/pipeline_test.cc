#include "pipeline/pipeline.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "table/catalog.h"
#include "etl/gold.h"
#include "exchange/simulator.h"
#include "ingest/checkpoint.h"
#include "ingest/verify.h"
#include "pipeline/etl_trigger.h"
#include "pipeline/json_text.h"
#include "store/fault_store.h"
#include "store/lake.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Polls `done` every 20 ms for up to `timeout_ms`; true once it holds.
template <typename F>
bool Eventually(F done, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

// Waits until the pipeline has read its schedule `n` more times: a window
// measured in the pipeline's own work, long enough for a paused ingester
// to have acted on anything it was going to do.
bool WaitForScheduleReads(const Pipeline& p, int64_t n) {
  const int64_t start = p.GetStatus().schedule_reads;
  return Eventually([&] { return p.GetStatus().schedule_reads >= start + n; }, 60'000);
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions o;
    o.products = {"BTC-USD", "ETH-USD"};
    o.seed = 9;
    o.history_micros = kMicrosPerHour / 2;
    o.trades_per_second = 20;
    o.live = true;
    o.rate_limit = false;
    auto sim = Simulator::Start(o);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(sim).value();
    dir_ = fs::temp_directory_path() /
           ("tl_pipeline_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto ingest = OpenLakeAs(dir_.string(), "ingest", "");
    ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
    ingest_ = std::move(ingest).value();
    auto etl = OpenLakeAs(dir_.string(), "etl", "");
    ASSERT_TRUE(etl.ok()) << etl.status().ToString();
    etl_ = std::move(etl).value();
  }
  void TearDown() override { fs::remove_all(dir_); }

  PipelineOptions Options(std::vector<std::string> products = {"BTC-USD", "ETH-USD"}) const {
    PipelineOptions o;
    o.ingest.products = std::move(products);
    o.ingest.exchange.base_url = sim_->url();
    o.ingest.exchange.retry.base_delay_ms = 1;
    o.ingest.exchange.retry.max_delay_ms = 5;
    o.ingest.rate_per_second = 0;
    o.ingest.from_trade_id = 0;  // everything the exchange has
    o.ingest.poll_interval_ms = 100;
    o.ingest.flush_interval_ms = 200;
    o.etl_debounce_ms = 100;
    o.etl_max_delay_ms = 1000;
    o.schedule_poll_ms = 100;
    o.retry_min_ms = 50;
    return o;
  }

  std::unique_ptr<Pipeline> Start(PipelineOptions o) {
    auto p = Pipeline::Start(ingest_.get(), etl_.get(), std::move(o));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  std::unique_ptr<Simulator> sim_;
  fs::path dir_;
  std::unique_ptr<ObjectStore> ingest_, etl_;
};

TEST_F(PipelineTest, FollowsLandsAndTransformsUntilStoppedThenNothingIsMissingOrDoubled) {
  auto p = Start(Options());
  ASSERT_TRUE(p);
  // Caught up with the history and transformed at least once after that.
  ASSERT_TRUE(Eventually(
      [&] {
        auto s = p->GetStatus();
        return s.etl_runs >= 2 && s.last_etl && s.last_etl->ok && s.products.size() == 2 &&
               s.products[0].trades_landed > 0 && s.products[1].trades_landed > 0;
      },
      180'000));
  const int64_t landed_before = p->GetStatus().products[0].trades_landed;
  // Live trades keep landing in micro-batches.
  ASSERT_TRUE(Eventually([&] { return p->GetStatus().products[0].trades_landed > landed_before; }, 60'000));
  p->Stop();
  const PipelineStatus s = p->GetStatus();
  EXPECT_EQ(s.state, "stopping");
  EXPECT_EQ(s.etl_failures, 0);
  EXPECT_GT(s.requests, 0);
  for (const auto& product : {"BTC-USD", "ETH-USD"}) {
    // Every trade from the first to the checkpoint is in Bronze exactly once.
    std::vector<int64_t> ids;
    auto sum = VerifyBronze(ingest_.get(), product, &ids);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_TRUE(sum->ok()) << product;
    auto cp = LoadCheckpoint(ingest_.get(), product);
    ASSERT_TRUE(cp.ok() && cp->has_value());
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), sim_->FirstTradeId(product));
    EXPECT_EQ(ids.back(), (*cp)->high) << "stopping flushed what was pending and checkpointed it";
    EXPECT_EQ(static_cast<int64_t>(ids.size()), ids.back() - ids.front() + 1);
  }
  // At least one commit (the first run at start may have had nothing to do).
  auto snap = LoadCurrentSnapshot(etl_.get());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_GE(snap->seq, 1);
}

TEST_F(PipelineTest, APausedScheduleSendsNoRequestUntilResumed) {
  Schedule paused{true, NowMicros(), "test"};
  ASSERT_TRUE(SaveSchedule(ingest_.get(), paused).ok());
  auto p = Start(Options());
  ASSERT_TRUE(p);
  // The window is three reads of the schedule, not a length of time.
  ASSERT_TRUE(WaitForScheduleReads(*p, 3));
  EXPECT_EQ(sim_->counters().requests, 0) << "a paused pipeline must not call the exchange";
  EXPECT_EQ(p->GetStatus().ingest_runs, 0);
  EXPECT_EQ(p->GetStatus().state, "paused");
  EXPECT_EQ(p->GetStatus().ingest_state, "paused");

  auto resumed = p->SetPaused(false, "api:admin");
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_FALSE(resumed->paused);
  EXPECT_EQ(resumed->by, "api:admin");
  ASSERT_TRUE(Eventually([&] { return p->GetStatus().products[0].trades_landed > 0; }, 60'000));
  auto stored = LoadSchedule(ingest_.get());
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->paused);

  ASSERT_TRUE(p->SetPaused(true, "api:ingest").ok());
  ASSERT_TRUE(Eventually([&] { return p->GetStatus().ingest_state == "paused"; }, 60'000));
  const int64_t requests = sim_->counters().requests;
  const int64_t runs = p->GetStatus().ingest_runs;
  ASSERT_TRUE(WaitForScheduleReads(*p, 3));
  EXPECT_EQ(sim_->counters().requests, requests);
  EXPECT_EQ(p->GetStatus().ingest_runs, runs);
}

TEST_F(PipelineTest, APauseWrittenByAnotherProcessIsFollowed) {
  auto p = Start(Options());
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return p->GetStatus().ingest_state == "following"; }, 60'000));
  // As `tradelake schedule pause` would, straight into the lake.
  ASSERT_TRUE(SaveSchedule(ingest_.get(), Schedule{true, NowMicros(), "cli:someone"}).ok());
  ASSERT_TRUE(Eventually([&] { return p->GetStatus().ingest_state == "paused"; }, 60'000));
  EXPECT_EQ(p->GetStatus().schedule.by, "cli:someone");
  const int64_t requests = sim_->counters().requests;
  const int64_t runs = p->GetStatus().ingest_runs;
  ASSERT_TRUE(WaitForScheduleReads(*p, 3));
  EXPECT_EQ(sim_->counters().requests, requests);
  EXPECT_EQ(p->GetStatus().ingest_runs, runs);
  ASSERT_TRUE(SaveSchedule(ingest_.get(), Schedule{false, NowMicros(), "cli:someone"}).ok());
  ASSERT_TRUE(Eventually([&] { return sim_->counters().requests > requests; }, 60'000));
}

TEST_F(PipelineTest, AnUnknownProductIsFatalAndNamed) {
  auto p = Start(Options({"BTC-USD", "NOPE-USD"}));
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return p->fatal().has_value(); }, 60'000));
  EXPECT_EQ(p->fatal()->code(), StatusCode::kNotFound);
  EXPECT_NE(p->fatal()->message().find("NOPE-USD"), std::string::npos);
  EXPECT_EQ(p->GetStatus().state, "failed");
}

// All products are served by one ingester's worker pool; a product whose
// Bronze writes fail is started again on its own while the others go on.
TEST_F(PipelineTest, AProductThatFailsIsStartedAgainWhileTheOthersKeepLanding) {
  FaultInjectionStore faulty(ingest_.get());
  faulty.FailPuts("bronze/source=coinbase/product=ETH-USD/", 0, Unavailable("disk says no (test)"));
  PipelineOptions o = Options();
  o.ingest.workers = 1;  // one thread serves both products
  auto started = Pipeline::Start(&faulty, etl_.get(), std::move(o));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  Pipeline& p = **started;
  ASSERT_TRUE(Eventually(
      [&] {
        auto s = p.GetStatus();
        return s.ingest_state == "retrying" && s.ingest_runs >= 4 && s.products[0].trades_landed > 0;
      },
      120'000))
      << p.StatusJson();
  PipelineStatus s = p.GetStatus();
  EXPECT_NE(s.ingest_last_error.find("ETH-USD"), std::string::npos) << s.ingest_last_error;
  EXPECT_NE(s.ingest_last_error.find("disk says no"), std::string::npos) << s.ingest_last_error;
  EXPECT_EQ(s.products[1].trades_landed, 0);
  EXPECT_EQ(s.products[1].state, "retrying");
  EXPECT_NE(s.products[1].last_error.find("disk says no"), std::string::npos) << s.products[1].last_error;
  EXPECT_EQ(s.products[0].state, "following");
  EXPECT_EQ(s.products[0].last_error, "");
  EXPECT_FALSE(p.fatal().has_value());
  // BTC-USD lands live trades while ETH-USD keeps failing.
  const int64_t btc = s.products[0].trades_landed;
  ASSERT_TRUE(Eventually([&] { return p.GetStatus().products[0].trades_landed > btc; }, 60'000));
  EXPECT_EQ(p.GetStatus().products[1].trades_landed, 0);
  faulty.Heal();
  ASSERT_TRUE(Eventually(
      [&] {
        auto now = p.GetStatus();
        return now.products[1].trades_landed > 0 && now.ingest_state == "following";
      },
      120'000))
      << p.StatusJson();
  p.Stop();
  for (const auto& product : {"BTC-USD", "ETH-USD"}) {
    std::vector<int64_t> ids;
    auto sum = VerifyBronze(ingest_.get(), product, &ids);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_TRUE(sum->ok()) << product;
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), sim_->FirstTradeId(product));
    EXPECT_EQ(static_cast<int64_t>(ids.size()), ids.back() - ids.front() + 1) << product;
  }
}

// The time of a simulator trade.
TimestampMicros TradeTime(const Simulator& sim, const std::string& product, int64_t id) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view time;
  const std::string json = sim.TradeJson(product, id);
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(doc["time"].get_string().get(time), simdjson::SUCCESS) << json;
  auto t = ParseRfc3339(time);
  EXPECT_TRUE(t.ok()) << json;
  return t.ok() ? *t : 0;
}

// After an ETL commit the pipeline says where Gold's newest minute is, per
// product, exactly: checked against the exchange's own trade times.
TEST_F(PipelineTest, EachCommitTellsGoldsNewestMinuteWithItsFirstAndLastTradeId) {
  std::mutex mu;
  std::vector<std::map<std::string, GoldNewestBar>> seen;
  PipelineOptions o = Options();
  o.on_gold_newest = [&](const std::map<std::string, GoldNewestBar>& moved) {
    std::lock_guard lock(mu);
    seen.push_back(moved);
  };
  auto p = Start(std::move(o));
  ASSERT_TRUE(p);
  // Two reports: the backfill's, then one of live trades.
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard lock(mu);
        return seen.size() >= 2;
      },
      180'000));
  p->Stop();
  std::lock_guard lock(mu);
  std::map<std::string, GoldNewestBar> last;
  for (const auto& moved : seen) {
    for (const auto& [product, bar] : moved) {
      if (last.contains(product)) {
        EXPECT_GT(bar.last_trade_id, last[product].last_trade_id) << product << ": reported without moving";
        EXPECT_GE(bar.minute, last[product].minute) << product;
      }
      last[product] = bar;
      // The minute is the last trade's; the first trade is the minute's first.
      EXPECT_LE(bar.first_trade_id, bar.last_trade_id);
      EXPECT_EQ(bar.minute, PeriodStart(TradeTime(*sim_, product, bar.last_trade_id), kMicrosPerMinute)) << product;
      EXPECT_EQ(PeriodStart(TradeTime(*sim_, product, bar.first_trade_id), kMicrosPerMinute), bar.minute) << product;
      if (bar.first_trade_id > sim_->FirstTradeId(product)) {
        EXPECT_LT(TradeTime(*sim_, product, bar.first_trade_id - 1), bar.minute) << product;
      }
    }
  }
  EXPECT_EQ(last.size(), 2u);
}

TEST_F(PipelineTest, StatusJsonAndMetricsDescribeThePipeline) {
  auto p = Start(Options());
  ASSERT_TRUE(p);
  // Deadlines are generous: under sanitizers on a busy machine the first ETL
  // of ~70,000 trades takes tens of seconds.
  ASSERT_TRUE(Eventually(
      [&] {
        auto s = p->GetStatus();
        return s.last_etl && s.last_etl->ok && !s.last_etl->nothing_to_do && s.products[0].trades_landed > 0;
      },
      180'000));
  const std::string json = p->StatusJson();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::string_view state;
  ASSERT_EQ(doc["state"].get_string().get(state), simdjson::SUCCESS);
  EXPECT_EQ(state, "running");
  bool paused = true;
  ASSERT_EQ(doc["schedule"]["paused"].get_bool().get(paused), simdjson::SUCCESS);
  EXPECT_FALSE(paused);
  double flush = 0;
  ASSERT_EQ(doc["settings"]["flush_interval_seconds"].get_double().get(flush), simdjson::SUCCESS);
  EXPECT_DOUBLE_EQ(flush, 0.2);
  simdjson::dom::array products;
  ASSERT_EQ(doc["ingest"]["products"].get_array().get(products), simdjson::SUCCESS);
  EXPECT_EQ(products.size(), 2u);
  int64_t landed = 0;
  ASSERT_EQ(products.at(0)["trades_landed"].get_int64().get(landed), simdjson::SUCCESS);
  EXPECT_GT(landed, 0);
  std::string_view product_state;
  ASSERT_EQ(products.at(0)["state"].get_string().get(product_state), simdjson::SUCCESS);
  EXPECT_EQ(product_state, "following");
  EXPECT_TRUE(products.at(0)["last_error"].is_null());
  bool ok = false;
  ASSERT_EQ(doc["etl"]["last_run"]["ok"].get_bool().get(ok), simdjson::SUCCESS) << json;
  EXPECT_TRUE(ok);

  const std::string metrics = p->MetricsText();
  for (const char* name : {"tradelake_ingest_trades_total{product=\"BTC-USD\"}", "tradelake_exchange_requests_total",
                           "tradelake_exchange_rate_limited_total", "tradelake_exchange_retries_total",
                           "tradelake_bronze_bytes_total{product=\"ETH-USD\"}", "tradelake_etl_duration_seconds_sum",
                           "tradelake_etl_rows_total{kind=\"inserted\"}", "tradelake_etl_runs_total{outcome=\"ok\"}",
                           "tradelake_pipeline_paused 0"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << "\n" << metrics;
  }
  EXPECT_EQ(p->ScheduleJson().find("\"paused\": false"), 1u) << p->ScheduleJson();
}

TEST(ScheduleTest, MissingMeansRunningAndAForeignObjectIsAClearError) {
  auto store = NewMemoryStore();
  auto s = LoadSchedule(store.get());
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->paused);
  EXPECT_EQ(ScheduleJson(*s), R"({"paused": false, "changed_at": null, "by": ""})");
  ASSERT_TRUE(SaveSchedule(store.get(), Schedule{true, 1714564800000000, "cli:ana \"x\""}).ok());
  s = LoadSchedule(store.get());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->paused);
  EXPECT_EQ(s->by, "cli:ana \"x\"");
  EXPECT_EQ(ScheduleJson(*s), R"({"paused": true, "changed_at": "2024-05-01T12:00:00Z", "by": "cli:ana \"x\""})");
  ASSERT_TRUE(store->Put(kScheduleKey, "paused", WriteMode::kOverwrite).ok());
  s = LoadSchedule(store.get());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find("schedule resume"), std::string::npos);
}

using TimePoint = EtlTrigger::TimePoint;
constexpr TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

TEST(EtlTrigger, RunsADebounceAfterTheLastObject) {
  EtlTrigger t(milliseconds(100), milliseconds(1000));
  EXPECT_FALSE(t.pending());
  EXPECT_FALSE(t.Take(kT0));
  t.Landed(kT0);
  EXPECT_EQ(t.due(), kT0 + milliseconds(100));
  EXPECT_FALSE(t.Take(kT0 + milliseconds(99)));
  t.Landed(kT0 + milliseconds(50));  // a new object restarts the debounce
  EXPECT_FALSE(t.Take(kT0 + milliseconds(149)));
  EXPECT_TRUE(t.Take(kT0 + milliseconds(150)));
  EXPECT_FALSE(t.pending());
  EXPECT_FALSE(t.Take(kT0 + milliseconds(5000))) << "one run per batch of landings";
}

TEST(EtlTrigger, AStreamOfObjectsCannotPostponeTheRunPastTheMaximumDelay) {
  EtlTrigger t(milliseconds(100), milliseconds(1000));
  std::vector<int64_t> runs_at_ms;
  // An object every 50 ms for 3 s: the debounce alone would never fire.
  for (int64_t ms = 0; ms <= 3000; ms += 50) {
    const TimePoint now = kT0 + milliseconds(ms);
    t.Landed(now);
    if (t.Take(now)) runs_at_ms.push_back(ms);
  }
  // 1000 ms after the first object (0), then 1000 ms after the first one
  // the next run has to cover (1050); the next would be at 3100.
  EXPECT_EQ(runs_at_ms, (std::vector<int64_t>{1000, 2050}));
}

TEST(EtlTrigger, DueAtMakesARunDueAtOnce) {
  EtlTrigger t(milliseconds(100), milliseconds(1000));
  t.DueAt(kT0);
  EXPECT_TRUE(t.pending());
  EXPECT_TRUE(t.Take(kT0));
}

TEST(ScheduleTest, AnyTextInByIsWrittenAsValidJsonAndReadBack) {
  auto store = NewMemoryStore();
  const std::string by = "cli:\"q\" \\ back\nline\ttab \x01 \xE2\x82\xAC";
  ASSERT_TRUE(SaveSchedule(store.get(), Schedule{true, 1714564800000000, by}).ok());
  auto s = LoadSchedule(store.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->by, by);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const std::string json = ScheduleJson(*s);
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos) << json;
  // Bytes that are not UTF-8 (a user name from a foreign locale) are
  // replaced, not thrown about and not passed through as invalid JSON.
  ASSERT_TRUE(SaveSchedule(store.get(), Schedule{false, std::nullopt, "cli:\xFF\xC3("}).ok());
  s = LoadSchedule(store.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->by, "cli:\xEF\xBF\xBD\xEF\xBF\xBD(");
}

TEST(SpacedJson, RendersOneLineWithASpaceAfterColonsAndCommas) {
  nlohmann::ordered_json j;
  j["a"] = 1;
  j["b"] = nlohmann::ordered_json::array({true, nullptr, "x\"y"});
  j["c"] = nlohmann::ordered_json::object();
  j["d"] = 0.25;
  EXPECT_EQ(pipeline_internal::SpacedJson(j), R"({"a": 1, "b": [true, null, "x\"y"], "c": {}, "d": 0.25})");
}

}  // namespace
}  // namespace tradelake
