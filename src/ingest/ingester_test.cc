#include "ingest/ingester.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <atomic>
#include <functional>
#include <thread>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "exchange/simulator.h"
#include "ingest/checkpoint.h"
#include "ingest/gap_index.h"
#include "ingest/trade_hints.h"
#include "ingest/verify.h"
#include "store/fault_store.h"

namespace tradelake {
namespace {

class IngesterTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(Defaults()); }

  static SimulatorOptions Defaults() {
    SimulatorOptions o;
    o.products = {"BTC-USD", "ETH-USD"};
    o.seed = 5;
    o.history_micros = 2 * kMicrosPerHour;
    o.trades_per_second = 3;
    o.live = false;
    o.rate_limit = false;
    return o;
  }

  void Restart(SimulatorOptions o) {
    sim_.reset();
    auto sim = Simulator::Start(std::move(o));
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(sim).value();
  }

  // BTC-USD only, publishing 50 trades/s in real time.
  void RestartLiveBtc() {
    SimulatorOptions so = Defaults();
    so.products = {"BTC-USD"};
    so.live = true;
    so.trades_per_second = 50;
    Restart(so);
  }

  // Every trade the exchange serves is in Bronze byte for byte, once.
  void ExpectBronzeIsTheExchange(ObjectStore* store, const std::string& product) {
    auto objects = store->List(BronzeProductPrefix(product));
    ASSERT_TRUE(objects.ok());
    std::map<int64_t, std::string> landed;
    for (const auto& o : *objects) {
      auto data = store->Get(o.key);
      ASSERT_TRUE(data.ok());
      auto records = DecodeBronzeObject(*data);
      ASSERT_TRUE(records.ok()) << o.key;
      for (const auto& r : *records) {
        EXPECT_TRUE(landed.emplace(r.trade_id, std::string(r.trade)).second) << "trade " << r.trade_id << " twice";
      }
    }
    int64_t expected = 0;
    for (int64_t id = sim_->FirstTradeId(product); id <= sim_->LastTradeId(product); ++id) {
      if (sim_->IsHole(id)) {
        EXPECT_FALSE(landed.contains(id)) << id;
        continue;
      }
      ++expected;
      auto it = landed.find(id);
      ASSERT_NE(it, landed.end()) << product << ": trade " << id << " missing";
      ASSERT_EQ(it->second, sim_->TradeJson(product, id)) << id;
    }
    EXPECT_EQ(static_cast<int64_t>(landed.size()), expected);
  }

  static std::vector<std::string> GapKeys(ObjectStore* store, const std::string& product) {
    std::vector<std::string> keys;
    auto gaps = store->List(GapReportPrefix(product));
    EXPECT_TRUE(gaps.ok());
    if (gaps.ok()) {
      for (const auto& g : *gaps) keys.push_back(g.key.substr(GapReportPrefix(product).size()));
    }
    return keys;
  }

  IngestOptions Options(std::vector<std::string> products) const {
    IngestOptions o;
    o.products = std::move(products);
    o.exchange.base_url = sim_->url();
    o.exchange.retry.base_delay_ms = 1;
    o.exchange.retry.max_delay_ms = 5;
    o.rate_per_second = 0;
    o.from_trade_id = 0;
    o.object_max_trades = 2000;
    return o;
  }

  void ExpectComplete(ObjectStore* store, const std::string& product) {
    std::vector<int64_t> ids;
    auto sum = VerifyBronze(store, product, &ids);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_TRUE(sum->ok()) << product << " duplicates=" << sum->duplicates;
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), sim_->FirstTradeId(product));
    EXPECT_EQ(ids.back(), sim_->LastTradeId(product));
    EXPECT_EQ(static_cast<int64_t>(ids.size()), sim_->LastTradeId(product) - sim_->FirstTradeId(product) + 1);
  }

  // Every Bronze object of the product is announced exactly once in its
  // landed log, with the record count and size the object really has, and
  // the product has its marker.
  static void ExpectAnnouncedOnce(ObjectStore* store, const std::string& product) {
    auto objects = store->List(BronzeProductPrefix(product));
    ASSERT_TRUE(objects.ok());
    ASSERT_FALSE(objects->empty());
    auto entries = ReadLanded(store, product, 0);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    std::map<std::string, int> times;
    for (const auto& e : *entries) {
      ++times[e.key];
      auto data = store->Get(e.key);
      ASSERT_TRUE(data.ok()) << e.key << " is announced but not in Bronze";
      auto records = DecodeBronzeObject(*data);
      ASSERT_TRUE(records.ok());
      EXPECT_EQ(e.records, static_cast<int64_t>(records->size())) << e.key;
      EXPECT_EQ(e.bytes, static_cast<int64_t>(data->size())) << e.key;
      EXPECT_EQ(e.first_trade_id, records->front().trade_id) << e.key;
      EXPECT_EQ(e.last_trade_id, records->back().trade_id) << e.key;
    }
    for (const auto& o : *objects) EXPECT_EQ(times[o.key], 1) << o.key << " announced " << times[o.key] << " times";
    EXPECT_EQ(entries->size(), objects->size());
    auto products = ListLandedProducts(store);
    ASSERT_TRUE(products.ok());
    EXPECT_NE(std::find(products->begin(), products->end(), product), products->end());
  }

  std::unique_ptr<Simulator> sim_;
};

// Records every List prefix, so a test can prove what recovery lists.
class ListRecordingStore final : public ObjectStore {
 public:
  explicit ListRecordingStore(ObjectStore* base) : base_(base) {}
  std::vector<std::string> lists;
  Status Put(std::string_view k, std::string_view d, WriteMode m) override { return base_->Put(k, d, m); }
  Result<std::string> Get(std::string_view k) override { return base_->Get(k); }
  Result<ObjectInfo> Head(std::string_view k) override { return base_->Head(k); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    lists.emplace_back(prefix);
    return base_->List(prefix);
  }
  Status Delete(std::string_view k) override { return base_->Delete(k); }
  std::string Describe() const override { return "recording"; }

 private:
  ObjectStore* base_;
};

TEST_F(IngesterTest, CatchesUpEveryProductAndCheckpointsTheEnd) {
  auto store = NewMemoryStore();
  IngestReport r = RunIngest(store.get(), Options({"BTC-USD", "ETH-USD"}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  for (const auto& p : {"BTC-USD", "ETH-USD"}) {
    ExpectComplete(store.get(), p);
    auto cp = LoadCheckpoint(store.get(), p);
    ASSERT_TRUE(cp.ok() && cp->has_value());
    EXPECT_EQ((*cp)->high, sim_->LastTradeId(p));
  }
  EXPECT_EQ(r.products[0].trades_landed, sim_->LastTradeId("BTC-USD") - sim_->FirstTradeId("BTC-USD") + 1);
  for (const auto& p : {"BTC-USD", "ETH-USD"}) {
    ExpectAnnouncedOnce(store.get(), p);
    auto cp = LoadCheckpoint(store.get(), p);
    ASSERT_TRUE(cp.ok() && cp->has_value());
    auto entries = ReadLanded(store.get(), p, 0);
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ((*cp)->landed_next_seq, static_cast<int64_t>(entries->size()));
  }
}

TEST_F(IngesterTest, CrashBetweenObjectAndItsAnnouncementIsAnnouncedByRecovery) {
  auto base = NewMemoryStore();
  FaultInjectionStore faulty(base.get());
  // The 3rd log entry fails: its object is durable, unannounced and not
  // checkpointed, as if the process died between the two writes.
  faulty.FailPuts("_state/ingest/landed/", 2, IOError("injected: killed"));
  IngestReport r1 = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_FALSE(r1.status.ok());
  EXPECT_EQ(faulty.injected(), 1);
  auto objects = base->List(BronzeProductPrefix("BTC-USD"));
  auto entries = ReadLanded(base.get(), "BTC-USD", 0);
  ASSERT_TRUE(objects.ok() && entries.ok());
  ASSERT_EQ(objects->size(), 3u);
  ASSERT_EQ(entries->size(), 2u);
  faulty.Heal();
  ListRecordingStore recording(&faulty);
  IngestReport r2 = RunIngest(&recording, Options({"BTC-USD"}));
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectComplete(base.get(), "BTC-USD");
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
  // Recovery listed date partitions, never the product's whole Bronze.
  ASSERT_FALSE(recording.lists.empty());
  for (const auto& l : recording.lists) {
    if (l.starts_with("bronze/")) {
      EXPECT_NE(l.find("/date="), std::string::npos) << "listed " << l;
    }
    EXPECT_NE(l, GapReportPrefix("BTC-USD")) << "listed every gap report";
  }
}

TEST_F(IngesterTest, ACheckpointFromBeforeTheLandedLogAnnouncesEveryObjectOnce) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(RunIngest(store.get(), Options({"ETH-USD"})).status.ok());
  // Make the lake look as it did before the landed log: no entries, no
  // marker, a checkpoint without landed_next_seq.
  auto log = store->List("_state/ingest/landed/");
  ASSERT_TRUE(log.ok());
  for (const auto& o : *log) ASSERT_TRUE(store->Delete(o.key).ok());
  ASSERT_TRUE(store->Delete("_state/ingest/products/source=coinbase/ETH-USD.json").ok());
  auto cp = LoadCheckpoint(store.get(), "ETH-USD");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  Checkpoint old = **cp;
  old.landed_next_seq.reset();
  ASSERT_TRUE(SaveCheckpoint(store.get(), old).ok());

  ASSERT_TRUE(RunIngest(store.get(), Options({"ETH-USD"})).status.ok());
  ExpectAnnouncedOnce(store.get(), "ETH-USD");
  // And a run after that announces nothing again.
  ASSERT_TRUE(RunIngest(store.get(), Options({"ETH-USD"})).status.ok());
  ExpectAnnouncedOnce(store.get(), "ETH-USD");
}

TEST_F(IngesterTest, CrashBetweenObjectAndCheckpointLosesNothingAndWritesNothingTwice) {
  auto base = NewMemoryStore();
  FaultInjectionStore faulty(base.get());
  // The 4th checkpoint write fails: objects after the 3rd checkpoint are
  // durable but not yet recorded, as if the process died right there.
  faulty.FailPuts("checkpoint.json", 3, IOError("injected: disk full"));
  IngestReport r1 = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_FALSE(r1.status.ok());
  EXPECT_NE(r1.status.message().find("injected: disk full"), std::string::npos) << r1.status.ToString();
  EXPECT_EQ(faulty.injected(), 1);
  faulty.Heal();
  IngestReport r2 = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectComplete(base.get(), "BTC-USD");
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
}

// The crash sweep: a run is killed at each of its store calls in turn (or
// the call is carried out and its reply lost), then run again. Every crash
// point is a call index from a clean run, not a timer, so every run of this
// test tries the same points, all of them.
TEST_F(IngesterTest, AKillOrALostReplyAtEveryStoreCallLosesNothingAndDoublesNothing) {
  SimulatorOptions so;
  so.products = {"BTC-USD"};
  so.seed = 11;
  so.history_micros = 15 * kMicrosPerMinute;
  so.trades_per_second = 3;
  so.live = false;
  so.rate_limit = false;
  auto sim = Simulator::Start(so);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  sim_ = std::move(sim).value();
  IngestOptions o = Options({"BTC-USD"});
  o.object_max_trades = 1000;

  auto clean = NewMemoryStore();
  FaultInjectionStore counter(clean.get());
  ASSERT_TRUE(RunIngest(&counter, o).status.ok());
  const int64_t calls = counter.calls();
  const std::vector<std::string> call_log = counter.call_log();
  ASSERT_GT(calls, 10);
  int64_t points = 0, first_runs_failed = 0, puts = 0;
  for (const FaultMode mode : {FaultMode::kKill, FaultMode::kLostReply}) {
    for (int64_t k = 0; k < calls; ++k) {
      // A lost reply differs from a kill only for a write (the write happened).
      const bool is_put = call_log[static_cast<size_t>(k)].starts_with("Put ");
      if (mode == FaultMode::kLostReply && !is_put) continue;
      if (mode == FaultMode::kLostReply) ++puts;
      SCOPED_TRACE(testing::Message() << (mode == FaultMode::kKill ? "kill" : "lost reply") << " at call " << k
                                      << " of " << calls);
      auto base = NewMemoryStore();
      FaultInjectionStore faulty(base.get());
      faulty.FailCall(k, mode, IOError("injected: crash point"));
      const IngestReport first = RunIngest(&faulty, o);
      if (!first.status.ok()) ++first_runs_failed;
      faulty.Heal();
      const IngestReport again = RunIngest(&faulty, o);
      ASSERT_TRUE(again.status.ok()) << again.status.ToString();
      ExpectComplete(base.get(), "BTC-USD");
      ExpectAnnouncedOnce(base.get(), "BTC-USD");
      if (HasFailure()) return;
      ++points;
    }
  }
  EXPECT_EQ(points, calls + puts);
  EXPECT_GT(first_runs_failed, 0);
  RecordProperty("crash_points", static_cast<int>(points));
  std::printf("crash sweep: %lld store calls, %lld crash points, %lld first runs failed\n",
              static_cast<long long>(calls), static_cast<long long>(points),
              static_cast<long long>(first_runs_failed));
}

TEST_F(IngesterTest, FullDiskWhileLandingIsAnIOErrorNamingTheObject) {
  auto base = NewMemoryStore();
  FaultInjectionStore faulty(base.get());
  faulty.FailPuts("bronze/", 1, IOError("write: No space left on device"));
  IngestReport r = RunIngest(&faulty, Options({"BTC-USD"}));
  EXPECT_EQ(r.status.code(), StatusCode::kIOError);
  EXPECT_NE(r.status.message().find("writing Bronze object bronze/source=coinbase/product=BTC-USD/"),
            std::string::npos)
      << r.status.ToString();
  faulty.Heal();
  IngestReport again = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ExpectComplete(base.get(), "BTC-USD");
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
}

TEST_F(IngesterTest, BackfillBelowTheCheckpointFillsTheRangeOnce) {
  auto store = NewMemoryStore();
  const int64_t first = sim_->FirstTradeId("ETH-USD");
  IngestOptions o = Options({"ETH-USD"});
  o.from_trade_id = first + 5000;
  ASSERT_TRUE(RunIngest(store.get(), o).status.ok());
  o.from_trade_id = first;
  ASSERT_TRUE(RunIngest(store.get(), o).status.ok());
  ExpectComplete(store.get(), "ETH-USD");
  auto cp = LoadCheckpoint(store.get(), "ETH-USD");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->low, first);
  EXPECT_FALSE((*cp)->backfill.has_value());
  ExpectAnnouncedOnce(store.get(), "ETH-USD");
}

TEST_F(IngesterTest, ShortPagesAreFollowedWithTheCursorAndEveryTradeLandsWithoutAGapReport) {
  SimulatorOptions so = Defaults();
  so.history_micros = 20 * kMicrosPerMinute;  // ~3,600 trades a product: ~500 pages of 7
  so.faults.short_page_max = 7;
  so.faults.error_5xx = 0.05;
  so.faults.error_429 = 0.05;
  so.faults.truncate = 0.05;
  Restart(so);
  auto store = NewMemoryStore();
  IngestOptions o = Options({"BTC-USD", "ETH-USD"});
  o.exchange.retry.max_attempts = 30;
  IngestReport r = RunIngest(store.get(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  for (const auto& p : {"BTC-USD", "ETH-USD"}) {
    ExpectBronzeIsTheExchange(store.get(), p);
    ExpectComplete(store.get(), p);
    EXPECT_TRUE(GapKeys(store.get(), p).empty()) << p;
  }
  EXPECT_EQ(r.products[0].gaps, 0);
  EXPECT_EQ(r.products[1].gaps, 0);
  EXPECT_GT(r.retries, 0);
  EXPECT_GT(sim_->counters().faults, 0);
}

TEST_F(IngesterTest, ShortPagesAndHolesReportExactlyTheHoles) {
  const int64_t first = sim_->FirstTradeId("BTC-USD");
  SimulatorOptions so = Defaults();
  so.products = {"BTC-USD"};
  so.history_micros = 10 * kMicrosPerMinute;
  so.faults.short_page_max = 7;
  // One inside a page, one across the boundary of two 1000-id ranges, one
  // longer than a short page.
  so.faults.holes = {{first + 100, first + 104}, {first + 997, first + 1003}, {first + 1500, first + 1520}};
  Restart(so);
  auto store = NewMemoryStore();
  IngestOptions o = Options({"BTC-USD"});
  o.from_trade_id = first;
  o.refetch_attempts = 2;
  IngestReport r = RunIngest(store.get(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectBronzeIsTheExchange(store.get(), "BTC-USD");
  auto keys = GapKeys(store.get(), "BTC-USD");
  std::sort(keys.begin(), keys.end());
  auto name = [&](int64_t a, int64_t b) { return std::to_string(first + a) + "-" + std::to_string(first + b) + ".json"; };
  std::vector<std::string> want = {name(100, 104), name(997, 999), name(1000, 1003), name(1500, 1520)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys, want);
  auto sum = VerifyBronze(store.get(), "BTC-USD");
  ASSERT_TRUE(sum.ok());
  EXPECT_TRUE(sum->ok());
  EXPECT_EQ(sum->reported_gap_trades, 5 + 7 + 21);
}

// A clock the test steps (the gap schedule's), starting at a fixed time.
struct StepClock {
  std::shared_ptr<std::atomic<TimestampMicros>> now =
      std::make_shared<std::atomic<TimestampMicros>>(1'800'000'000'000'000);
  std::function<TimestampMicros()> fn() const {
    return [n = now] { return n->load(); };
  }
  void Advance(int64_t seconds) { *now += seconds * kMicrosPerSecond; }
};

class GapRepairTest : public IngesterTest {
 protected:
  // One product, a hole of 5 ids that the exchange serves once it has been
  // asked for `asks` times.
  void StartWithHealingHole(int64_t asks) {
    first_ = sim_->FirstTradeId("BTC-USD");
    SimulatorOptions so = Defaults();
    so.products = {"BTC-USD"};
    so.history_micros = 20 * kMicrosPerMinute;
    FaultOptions::HealingHole h;
    h.first_id = first_ + 1500;
    h.last_id = first_ + 1504;
    h.heal_after_asks = asks;
    so.faults.healing_holes = {h};
    Restart(so);
  }
  IngestOptions GapOptions() const {
    IngestOptions o = Options({"BTC-USD"});
    o.from_trade_id = first_;
    o.refetch_attempts = 2;  // the detecting run asks for the hole twice
    o.clock = clock_.fn();
    return o;
  }
  GapIndex Index(ObjectStore* store) {
    auto index = LoadGapIndex(store, "BTC-USD");
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : GapIndex{};
  }

  int64_t first_ = 0;
  StepClock clock_;
};

TEST(GapIndexTest, RetriesGrowAndAreCapped) {
  GapRetryPolicy p{60'000, 600'000};
  EXPECT_EQ(GapRetryDelayMs(p, 1), 60'000);
  EXPECT_EQ(GapRetryDelayMs(p, 2), 120'000);
  EXPECT_EQ(GapRetryDelayMs(p, 3), 240'000);
  EXPECT_EQ(GapRetryDelayMs(p, 4), 480'000);
  EXPECT_EQ(GapRetryDelayMs(p, 5), 600'000);
  EXPECT_EQ(GapRetryDelayMs(p, 1000), 600'000);
  EXPECT_EQ(GapRetryDelayMs(GapRetryPolicy{0, 600'000}, 7), 0);
}

TEST(GapIndexTest, SavesAndLoadsOpenGapsAndABoundedHistory) {
  auto store = NewMemoryStore();
  auto empty = LoadGapIndex(store.get(), "BTC-USD");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->open.empty());
  GapIndex index = *empty;
  EXPECT_TRUE(AddOpenGap(&index, {20, 25, "gaps/20-25.json", 5, 0, std::nullopt, 60, {}}));
  EXPECT_TRUE(AddOpenGap(&index, {10, 12, "gaps/10-12.json", 6, 2, 7, 80, {"bronze/x"}}));
  EXPECT_FALSE(AddOpenGap(&index, {24, 30, "gaps/24-30.json", 9, 0, std::nullopt, 90, {}})) << "overlaps 20-25";
  for (int i = 0; i < 25; ++i) {
    ClosedGap c{100 + i * 10, 100 + i * 10 + 2, 3, "gaps/r.json", 1, 2, 1, {"bronze/o"}, false};
    ASSERT_TRUE(RecordClosedGap(store.get(), &index, c).ok());
  }
  ASSERT_TRUE(SaveGapIndex(store.get(), index).ok());
  auto back = LoadGapIndex(store.get(), "BTC-USD");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->open.size(), 2u);
  EXPECT_EQ(back->open[0].first_id, 10);
  EXPECT_EQ(back->open[0].attempts, 2);
  EXPECT_EQ(back->open[0].last_attempt_at, 7);
  EXPECT_EQ(back->open[0].landing, std::vector<std::string>{"bronze/x"});
  EXPECT_EQ(back->open[1].next_attempt_at, 60);
  EXPECT_EQ(back->open_ids(), 3 + 6);
  EXPECT_EQ(back->closed_repairs, 25);
  EXPECT_EQ(back->closed_trades, 75);
  ASSERT_EQ(back->recent_closed.size(), kRecentClosedGaps);
  EXPECT_EQ(back->recent_closed.back().first_id, 100 + 24 * 10);
  auto all = ListClosedGaps(store.get(), "BTC-USD");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 25u);
  ASSERT_TRUE(store->Put(GapIndexKey("BTC-USD"), "{", WriteMode::kOverwrite).ok());
  EXPECT_EQ(LoadGapIndex(store.get(), "BTC-USD").status().code(), StatusCode::kDataLoss);
}

TEST_F(GapRepairTest, AHoleThatHealsIsRetriedOnAGrowingScheduleThenRepairedOnceAndClosed) {
  StartWithHealingHole(4);  // detection asks twice; repair attempts 1 and 2 fail, 3 succeeds
  auto store = NewMemoryStore();
  IngestReport r = RunIngest(store.get(), GapOptions());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.products[0].gaps, 1);
  GapIndex index = Index(store.get());
  ASSERT_EQ(index.open.size(), 1u);
  EXPECT_EQ(index.open[0].first_id, first_ + 1500);
  EXPECT_EQ(index.open[0].last_id, first_ + 1504);
  EXPECT_EQ(index.open[0].attempts, 0);
  const TimestampMicros opened = index.open[0].opened_at;
  EXPECT_EQ(index.open[0].next_attempt_at, opened + 60 * kMicrosPerSecond);

  // Not due yet: no attempt.
  clock_.Advance(59);
  r = RunIngest(store.get(), GapOptions());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Index(store.get()).open[0].attempts, 0);
  EXPECT_EQ(r.products[0].gap_attempts_failed, 0);

  // Due: attempt 1 fails, the next is 2 minutes later; then 4.
  clock_.Advance(2);
  r = RunIngest(store.get(), GapOptions());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.products[0].gap_attempts_failed, 1);
  index = Index(store.get());
  ASSERT_EQ(index.open.size(), 1u);
  EXPECT_EQ(index.open[0].attempts, 1);
  EXPECT_EQ(index.open[0].next_attempt_at, *clock_.now + 120 * kMicrosPerSecond);
  clock_.Advance(119);
  r = RunIngest(store.get(), GapOptions());
  EXPECT_EQ(Index(store.get()).open[0].attempts, 1);
  clock_.Advance(1);
  r = RunIngest(store.get(), GapOptions());
  index = Index(store.get());
  ASSERT_EQ(index.open.size(), 1u);
  EXPECT_EQ(index.open[0].attempts, 2);
  EXPECT_EQ(index.open[0].next_attempt_at, *clock_.now + 240 * kMicrosPerSecond);
  EXPECT_FALSE(sim_->IsHole(first_ + 1500)) << "the simulator's hole has healed by now";
  ExpectAnnouncedOnce(store.get(), "BTC-USD");

  clock_.Advance(240);
  r = RunIngest(store.get(), GapOptions());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.products[0].gap_repairs, 1);
  EXPECT_EQ(r.products[0].gap_trades_repaired, 5);
  EXPECT_EQ(r.products[0].open_gaps, 0);
  index = Index(store.get());
  EXPECT_TRUE(index.open.empty());
  EXPECT_EQ(index.closed_repairs, 1);
  ASSERT_EQ(index.recent_closed.size(), 1u);
  const ClosedGap& c = index.recent_closed[0];
  EXPECT_EQ(c.first_id, first_ + 1500);
  EXPECT_EQ(c.last_id, first_ + 1504);
  EXPECT_EQ(c.trades, 5);
  EXPECT_EQ(c.attempts, 3);
  EXPECT_EQ(c.opened_at, opened);
  EXPECT_EQ(c.closed_at, *clock_.now);
  EXPECT_FALSE(c.partial);
  EXPECT_EQ(c.report, GapReportKey("BTC-USD", first_ + 1500, first_ + 1504));
  ASSERT_EQ(c.objects.size(), 1u);
  EXPECT_TRUE(store->Get(c.objects[0]).ok());
  // The history stays: the report and its closure.
  EXPECT_TRUE(store->Get(c.report).ok());
  auto closures = ListClosedGaps(store.get(), "BTC-USD");
  ASSERT_TRUE(closures.ok());
  EXPECT_EQ(closures->size(), 1u);

  ExpectBronzeIsTheExchange(store.get(), "BTC-USD");
  ExpectComplete(store.get(), "BTC-USD");
  ExpectAnnouncedOnce(store.get(), "BTC-USD");
  auto sum = VerifyBronze(store.get(), "BTC-USD");
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->reported_gap_trades, 0);

  // Nothing is open: later runs ask nothing more and land nothing, and never
  // list the gap history (reports, repairs) to find that out.
  clock_.Advance(3600);
  ListRecordingStore recording(store.get());
  r = RunIngest(&recording, GapOptions());
  EXPECT_EQ(r.products[0].objects_written, 0);
  EXPECT_EQ(r.products[0].gap_repairs + r.products[0].gap_attempts_failed, 0);
  for (const auto& prefix : recording.lists) {
    EXPECT_NE(prefix, GapReportPrefix("BTC-USD"));
    EXPECT_NE(prefix, GapRepairPrefix("BTC-USD"));
  }
}

TEST_F(GapRepairTest, ACrashAfterTheRepairLandedIsAdoptedNotLandedTwice) {
  StartWithHealingHole(2);  // healed for the first repair attempt
  auto base = NewMemoryStore();
  ASSERT_TRUE(RunIngest(base.get(), GapOptions()).status.ok());
  ASSERT_EQ(Index(base.get()).open.size(), 1u);
  clock_.Advance(61);
  FaultInjectionStore faulty(base.get());
  // The repair's object lands, then recording the closure fails.
  faulty.FailPuts("gap_repairs/", 0, IOError("disk full"));
  IngestReport r = RunIngest(&faulty, GapOptions());
  EXPECT_FALSE(r.status.ok());
  GapIndex index = Index(base.get());
  ASSERT_EQ(index.open.size(), 1u);
  ASSERT_EQ(index.open[0].landing.size(), 1u);
  EXPECT_TRUE(base->Get(index.open[0].landing[0]).ok());

  r = RunIngest(base.get(), GapOptions());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  index = Index(base.get());
  EXPECT_TRUE(index.open.empty());
  EXPECT_EQ(index.closed_repairs, 1);
  ExpectBronzeIsTheExchange(base.get(), "BTC-USD");
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
}

TEST_F(GapRepairTest, FollowingRepairsAGapThatHealsWithoutARestart) {
  StartWithHealingHole(2);
  auto store = NewMemoryStore();
  std::atomic<bool> stop{false};
  IngestOptions o = GapOptions();
  o.follow = true;
  o.poll_interval_ms = 10;
  o.flush_interval_ms = 0;
  o.stop = &stop;
  IngestReport r;
  std::thread t([&] { r = RunIngest(store.get(), o); });
  auto wait_for = [&](const std::function<bool()>& done) {
    // A deadline for a hung ingester, not a timing assertion.
    for (int i = 0; i < 3000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
  };
  EXPECT_TRUE(wait_for([&] { return Index(store.get()).open.size() == 1; }));
  clock_.Advance(61);
  EXPECT_TRUE(wait_for([&] { return Index(store.get()).closed_repairs == 1; }));
  stop = true;
  t.join();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.products[0].gap_repairs, 1);
  EXPECT_TRUE(Index(store.get()).open.empty());
  ExpectBronzeIsTheExchange(store.get(), "BTC-USD");
  ExpectAnnouncedOnce(store.get(), "BTC-USD");
}

TEST(TradeHintsTest, IdsOnlyGrowAndWaitersWakeOnNews) {
  TradeHints hints;
  EXPECT_FALSE(hints.Known("BTC-USD").has_value());
  hints.Notify("BTC-USD", 10);
  hints.Notify("BTC-USD", 7);
  EXPECT_EQ(hints.Known("BTC-USD"), 10);
  EXPECT_TRUE(hints.WaitForTradesAbove("BTC-USD", 9, TradeHints::Clock::now()));
  EXPECT_FALSE(hints.WaitForTradesAbove("BTC-USD", 10, TradeHints::Clock::now()));
  std::thread t([&] { hints.Notify("BTC-USD", 11); });
  EXPECT_TRUE(hints.WaitForTradesAbove("BTC-USD", 10, TradeHints::Clock::now() + std::chrono::minutes(5)));
  t.join();
  EXPECT_EQ(hints.notifications(), 3);
}

// BTC-USD followed with hints into a memory store, on a thread of its own:
// without hints it would poll every 10 ms, with them every hour.
struct HintedFollower {
  explicit HintedFollower(IngestOptions o) {
    o.from_trade_id.reset();
    o.follow = true;
    o.poll_interval_ms = 10;  // what it would poll at without hints
    o.flush_interval_ms = 0;  // nothing waits in memory
    o.hint_poll_interval_ms = 3'600'000;
    o.hints = &hints;
    o.stats = &stats;
    o.stop = &stop;
    o.on_landed = [this](const LandedObject& l) { landed_last = l.last_trade_id; };
    thread = std::thread([this, o] { report = RunIngest(store.get(), o); });
  }
  ~HintedFollower() {
    if (thread.joinable()) Finish();
  }
  int64_t High() const {
    auto cp = LoadCheckpoint(store.get(), "BTC-USD");
    return cp.ok() && cp->has_value() ? (*cp)->high : int64_t{-1};
  }
  // A deadline for a hung ingester, not a timing assertion.
  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 3000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
  }
  // The first walk landed its object and checkpointed it.
  bool CaughtUp() const {
    return WaitFor([&] { return landed_last > 0 && High() == landed_last; });
  }
  const IngestReport& Finish() {
    stop = true;
    hints.Wake();
    thread.join();
    return report;
  }

  std::unique_ptr<ObjectStore> store = NewMemoryStore();
  TradeHints hints;
  ClientStats stats;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> landed_last{-1};
  IngestReport report;
  std::thread thread;
};

TEST_F(IngesterTest, WithHintsAFollowerAsksRestOnlyWhenTheFeedSaysThereAreNewTrades) {
  RestartLiveBtc();
  HintedFollower f(Options({"BTC-USD"}));
  ASSERT_TRUE(f.CaughtUp());
  // Caught up and no hint: no request at all, while trades keep arriving
  // (without hints this is ~50 polls).
  const int64_t before = f.stats.requests.load();
  const int64_t landed = f.High();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(f.stats.requests.load(), before);
  EXPECT_EQ(f.High(), landed);
  // The feed reports a newer trade: REST fetches up to it (and beyond).
  const int64_t newest = sim_->LastTradeId("BTC-USD");
  ASSERT_GT(newest, landed);
  f.hints.Notify("BTC-USD", newest);
  EXPECT_TRUE(f.WaitFor([&] { return f.High() >= newest; }));
  EXPECT_GT(f.stats.requests.load(), before);
  ASSERT_TRUE(f.Finish().status.ok()) << f.report.status.ToString();
  auto sum = VerifyBronze(f.store.get(), "BTC-USD");
  ASSERT_TRUE(sum.ok());
  EXPECT_TRUE(sum->ok());
}

// The feed refused a product (unknown or delisted there): no hint will ever
// come, so the follower polls it every poll_interval again, even though its
// last turn asked for the (here hour-long) safety poll.
TEST_F(IngesterTest, AProductTheFeedStopsFollowingIsPolledAgainAtThePollInterval) {
  RestartLiveBtc();
  HintedFollower f(Options({"BTC-USD"}));
  ASSERT_TRUE(f.CaughtUp());
  EXPECT_TRUE(f.hints.Follows("BTC-USD"));
  f.hints.Unfollow("BTC-USD");
  EXPECT_FALSE(f.hints.Follows("BTC-USD"));
  // Trades the feed never announced land: REST is polled again.
  const int64_t published = sim_->LastTradeId("BTC-USD");
  EXPECT_TRUE(f.WaitFor([&] { return f.High() >= published; }));
  ASSERT_TRUE(f.Finish().status.ok()) << f.report.status.ToString();
}

int ThreadsOfThisProcess() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  int n = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "Threads: %d", &n) == 1) break;
  }
  std::fclose(f);
  return n;
}

TEST_F(IngesterTest, ManyProductsShareABoundedPoolOfWorkers) {
  SimulatorOptions so = Defaults();
  so.products.clear();
  for (char c = 'A'; c < 'A' + 16; ++c) so.products.push_back(std::string("X") + c + "-USD");
  so.history_micros = 10 * kMicrosPerMinute;
  Restart(so);
  auto store = NewMemoryStore();
  IngestOptions o = Options(so.products);
  o.workers = 3;
  o.pages_per_turn = 1;  // turns of one range: products interleave
  // The simulator's HTTP server makes its thread pool on its own thread after
  // Start() returns; once it has answered a request the pool is there, and
  // counted in `before`.
  CoinbaseClient probe(o.exchange, nullptr, nullptr);
  ASSERT_TRUE(probe.ListProducts().ok());
  const int before = ThreadsOfThisProcess();
  std::atomic<int> most{0};
  o.on_landed = [&](const LandedObject&) {
    const int n = ThreadsOfThisProcess();
    int seen = most.load();
    while (n > seen && !most.compare_exchange_weak(seen, n)) {
    }
  };
  IngestReport r = RunIngest(store.get(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  for (const auto& p : so.products) {
    ExpectBronzeIsTheExchange(store.get(), p);
    ExpectAnnouncedOnce(store.get(), p);
  }
  // The threads left once the ingester returned (its workers joined, the
  // simulator's pool surely up: it served every page) also bound the ones
  // that were not the ingester's: under CI's load `before` once read 3.
  const int baseline = std::max(before, ThreadsOfThisProcess());
  ASSERT_GT(baseline, 0);
  // 3 workers plus a little slack for threads HTTP libraries start on their
  // own; one thread per product would be 16 more.
  EXPECT_LE(most.load(), baseline + 3 + 3) << "threads grow with the worker count, not with the 16 products (before "
                                            << before << ")";
}

TEST_F(IngesterTest, UnknownProductFailsBeforeAnythingIsWritten) {
  auto store = NewMemoryStore();
  IngestReport r = RunIngest(store.get(), Options({"BTC-USD", "NOPE-USD"}));
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);
  EXPECT_NE(r.status.message().find("NOPE-USD"), std::string::npos);
  auto all = store->List("");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

}  // namespace
}  // namespace tradelake
