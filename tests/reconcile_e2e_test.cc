// Reconciliation of gold.bars_1m with the exchange's candles, end to end:
// a simulated exchange (in this process, so the test knows which candles it
// perturbed or dropped and which trade ids it cannot return), a lake built by
// the real ingest and ETL, then `Reconcile` and `tradelake reconcile`.
//
// The expected class of every minute is computed here independently, from
// the simulator's own trades (times parsed from their JSON) and its fault
// choices; the reconciliation must report each difference exactly once,
// with the right class, and nothing else.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "e2e_util.h"
#include "etl/etl.h"
#include "etl/table_io.h"
#include "exchange/simulator.h"
#include "ingest/ingester.h"
#include "reconcile/live_reconciler.h"
#include "reconcile/reconcile.h"
#include "sql/lake_quality.h"
#include "store/open_store.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

// 2026-01-01T00:00:00Z: whole minutes, reproducible.
constexpr TimestampMicros kStart = 1767225600LL * kMicrosPerSecond;
constexpr int64_t kHistory = 6 * kMicrosPerHour;

struct Lake {
  std::unique_ptr<Simulator> sim;
  fs::path dir;
  std::unique_ptr<ObjectStore> store;
};

Lake BuildLake(const std::string& name, std::vector<std::string> products, FaultOptions faults) {
  Lake lake;
  SimulatorOptions o;
  o.products = products;
  o.seed = 11;
  o.history_micros = kHistory;
  o.trades_per_second = 1;
  o.now = kStart;
  o.live = false;
  o.rate_limit = false;
  o.faults = std::move(faults);
  auto sim = Simulator::Start(o);
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  if (!sim.ok()) return lake;
  lake.sim = std::move(sim).value();
  lake.dir = e2e::FreshDir(name);
  auto store = OpenStore((lake.dir / "lake").string());
  EXPECT_TRUE(store.ok());
  lake.store = std::move(store).value();

  IngestOptions in;
  in.products = products;
  in.exchange.base_url = lake.sim->url();
  in.exchange.retry.base_delay_ms = 1;
  in.exchange.retry.max_delay_ms = 2;
  in.rate_per_second = 0;
  in.from_trade_id = 0;
  in.refetch_attempts = 1;
  IngestReport ingested = RunIngest(lake.store.get(), in);
  EXPECT_TRUE(ingested.status.ok()) << ingested.status.ToString();
  auto etl = RunEtl(lake.store.get(), EtlOptions{});
  EXPECT_TRUE(etl.ok()) << etl.status().ToString();
  return lake;
}

ReconcileOptions Options(const Lake& lake, std::vector<std::string> products) {
  ReconcileOptions o;
  o.products = std::move(products);
  o.from = kStart - kHistory - kMicrosPerHour;  // before the first trade: nothing there, no rows
  o.to = kStart;
  o.now = kStart + kMicrosPerHour;  // every minute closed and final
  // The lake holds every trade from the exchange's first: every minute is
  // complete, the first and the newest too.
  o.only_complete_minutes = false;
  (void)lake;
  return o;
}

CoinbaseClient Client(const Simulator& sim) {
  CoinbaseOptions co;
  co.base_url = sim.url();
  co.retry.base_delay_ms = 1;
  co.retry.max_delay_ms = 2;
  return CoinbaseClient(co, nullptr, nullptr);
}

// The trade's minute, from the simulator's JSON ("time":"...").
TimestampMicros MinuteOf(const std::string& json) {
  const size_t at = json.find("\"time\":\"");
  EXPECT_NE(at, std::string::npos) << json;
  const size_t begin = at + 8, end = json.find('"', begin);
  auto t = ParseRfc3339(std::string_view(json).substr(begin, end - begin));
  EXPECT_TRUE(t.ok()) << json;
  return *t - *t % kMicrosPerMinute;
}

// minute -> expected status ("" for match), from first principles.
std::map<TimestampMicros, std::string> Expected(const Simulator& sim, const std::string& product) {
  std::map<TimestampMicros, std::pair<int64_t, int64_t>> counts;  // minute -> (all trades, served trades)
  for (int64_t id = sim.FirstTradeId(product); id <= sim.LastTradeId(product); ++id) {
    auto& c = counts[MinuteOf(sim.TradeJson(product, id))];
    ++c.first;
    if (!sim.IsHole(id)) ++c.second;
  }
  std::map<TimestampMicros, std::string> out;
  for (const auto& [minute, c] : counts) {
    const CandleFault fault = sim.CandleFaultAt(product, minute);
    const bool bar = c.second > 0;
    if (fault == CandleFault::kDropped) {
      if (bar) out[minute] = std::string(kReconMissingOnExchange);
      continue;
    }
    if (!bar) {
      out[minute] = std::string(kReconMissingInGold);
    } else if (fault == CandleFault::kPerturbed || c.second < c.first) {
      out[minute] = std::string(kReconDiffers);
    } else {
      out[minute] = "";
    }
  }
  return out;
}

// BTC-USD's first trade id in the lakes BuildLake makes (ids depend on the
// seed only), to place holes before the lake is built.
int64_t FirstBtcTradeId() {
  SimulatorOptions probe;
  probe.products = {"BTC-USD"};
  probe.seed = 11;
  probe.history_micros = kHistory;
  probe.trades_per_second = 1;
  probe.now = kStart;
  probe.live = false;
  probe.rate_limit = false;
  auto p = Simulator::Start(probe);
  if (!p.ok()) return 0;
  return (*p)->FirstTradeId("BTC-USD");
}

TEST(ReconcileE2E, CleanLakeMatchesEveryMinuteOfThreeProductsOverSixHours) {
  const std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  Lake lake = BuildLake("recon-clean", products, FaultOptions{});
  ASSERT_TRUE(lake.sim);
  CoinbaseClient client = Client(*lake.sim);
  auto report = Reconcile(lake.store.get(), &client, Options(lake, products));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->products.size(), 3u);
  for (const auto& p : report->products) {
    SCOPED_TRACE(p.product_id);
    const auto expected = Expected(*lake.sim, p.product_id);
    EXPECT_EQ(p.compared, static_cast<int64_t>(expected.size()));
    EXPECT_GE(p.compared, 355);  // 6 hours at one trade a second: every minute has trades
    EXPECT_EQ(p.matched, p.compared);
    EXPECT_EQ(p.match_share(), 1.0);
    EXPECT_TRUE(p.differences.empty());
    EXPECT_EQ(p.not_final, 0);
    EXPECT_EQ(p.requests, 2);  // 7 hours asked: 420 minutes, 300 a request
  }
  EXPECT_GT(report->seq, 0);
  EXPECT_EQ(report->rows_written,
            report->products[0].compared + report->products[1].compared + report->products[2].compared);

  // The rows are a Delta table the catalog pins, one row per compared minute.
  auto state = LoadLakeState(lake.store.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  auto files = LiveFiles(*state, kAuditReconciliation);
  ASSERT_TRUE(files.ok());
  int64_t rows = 0;
  for (const auto& f : *files) {
    auto read = ReadReconRows((lake.dir / "lake" / f.key).string());
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    for (const ReconRow& r : *read) {
      EXPECT_EQ(r.status, kReconMatch);
      EXPECT_EQ(r.gold, r.exchange);
      ASSERT_TRUE(r.candle.has_value());
      EXPECT_EQ(f.date, FormatDate(r.minute));
      ++rows;
    }
  }
  EXPECT_EQ(rows, report->rows_written);
  fs::remove_all(lake.dir);
}

TEST(ReconcileE2E, EveryClassOfDifferenceIsReportedExactlyOnce) {
  // Trade ids the exchange cannot return: a span covering whole minutes
  // (missing in Gold) and three ids inside one minute (a bar that differs).
  const int64_t first = FirstBtcTradeId();
  ASSERT_GT(first, 0);

  FaultOptions faults;
  faults.candle_perturb = 0.03;
  faults.candle_drop = 0.03;
  faults.holes = {{first + 2000, first + 2400}, {first + 9000, first + 9002}};
  Lake lake = BuildLake("recon-faults", {"BTC-USD"}, faults);
  ASSERT_TRUE(lake.sim);
  CoinbaseClient client = Client(*lake.sim);
  auto report = Reconcile(lake.store.get(), &client, Options(lake, {"BTC-USD"}));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const ProductReconciliation& pr = report->products.at(0);

  const auto expected = Expected(*lake.sim, "BTC-USD");
  std::map<std::string, int64_t> expected_counts;
  for (const auto& [minute, status] : expected) ++expected_counts[status.empty() ? "match" : status];
  // The fault mix produced every class.
  EXPECT_GT(expected_counts["match"], 300);
  EXPECT_GT(expected_counts[std::string(kReconDiffers)], 3);
  EXPECT_GE(expected_counts[std::string(kReconMissingInGold)], 5);
  EXPECT_GE(expected_counts[std::string(kReconMissingOnExchange)], 3);

  std::map<TimestampMicros, int> seen;
  for (const ReconRow& r : pr.differences) {
    SCOPED_TRACE(FormatRfc3339Trimmed(r.minute) + " " + r.status + " " + r.detail);
    ++seen[r.minute];
    auto it = expected.find(r.minute);
    ASSERT_NE(it, expected.end());
    EXPECT_EQ(r.status, it->second);
    if (r.status == kReconMissingInGold) {
      EXPECT_FALSE(r.gold.has_value());
      ASSERT_TRUE(r.exchange.has_value());
      // Named by the ids Silver lacks: the hole, exactly.
      EXPECT_EQ(r.detail, fmt::format("trade ids {}..{} (401) absent from Silver: a Bronze gap or rejected records",
                                      first + 2000, first + 2400));
    }
    if (r.status == kReconMissingOnExchange) {
      EXPECT_TRUE(r.gold.has_value());
      EXPECT_FALSE(r.exchange.has_value());
      EXPECT_FALSE(r.candle.has_value());
    }
    if (r.status == kReconDiffers) {
      ASSERT_TRUE(r.gold && r.exchange);
      EXPECT_NE(*r.gold, *r.exchange);
      EXPECT_FALSE(r.detail.empty());
    }
  }
  for (const auto& [minute, n] : seen) EXPECT_EQ(n, 1) << FormatRfc3339Trimmed(minute);
  int64_t expected_differences = 0;
  for (const auto& [minute, status] : expected) expected_differences += status.empty() ? 0 : 1;
  EXPECT_EQ(static_cast<int64_t>(pr.differences.size()), expected_differences);
  EXPECT_EQ(pr.differs, expected_counts[std::string(kReconDiffers)]);
  EXPECT_EQ(pr.missing_in_gold, expected_counts[std::string(kReconMissingInGold)]);
  EXPECT_EQ(pr.missing_on_exchange, expected_counts[std::string(kReconMissingOnExchange)]);
  EXPECT_EQ(pr.matched, expected_counts["match"]);

  // The minute with three ids missing names them.
  const TimestampMicros partial = MinuteOf(lake.sim->TradeJson("BTC-USD", first + 9000));
  auto row = std::find_if(pr.differences.begin(), pr.differences.end(),
                          [&](const ReconRow& r) { return r.minute == partial; });
  ASSERT_NE(row, pr.differences.end());
  EXPECT_NE(row->detail.find("3 of trade ids"), std::string::npos) << row->detail;

  // The same through the command line: exit 65, each class named.
  const fs::path out = lake.dir / "cli";
  fs::create_directories(out);
  auto r = e2e::RunTradelake({"reconcile", "--lake", (lake.dir / "lake").string(), "--products", "BTC-USD", "--from",
                              FormatRfc3339Trimmed(kStart - kHistory), "--to", FormatRfc3339Trimmed(kStart),
                              "--exchange-url", lake.sim->url(), "--rate-limit", "0", "--dry-run", "--show", "1000",
                              "--all-minutes"},
                             out);
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.out.find(fmt::format("{} differ, {} missing in Gold, {} missing on the exchange", pr.differs,
                                   pr.missing_in_gold, pr.missing_on_exchange)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dry run: nothing written"), std::string::npos);
  fs::remove_all(lake.dir);
}

TEST(ReconcileE2E, MinutesTooRecentForFinalCandlesAreCountedNotCompared) {
  // The exchange's candles leave out the last 5 minutes of trades.
  FaultOptions faults;
  faults.candle_lag_ms = 5 * 60 * 1000;
  Lake lake = BuildLake("recon-lag", {"ETH-USD"}, faults);
  ASSERT_TRUE(lake.sim);
  CoinbaseClient client = Client(*lake.sim);
  ReconcileOptions o = Options(lake, {"ETH-USD"});
  o.now = kStart;  // the last trades are seconds old
  o.min_age = 10 * kMicrosPerMinute;
  o.commit = false;
  auto report = Reconcile(lake.store.get(), &client, o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->products[0].not_final, 10);
  EXPECT_TRUE(report->products[0].differences.empty());
  EXPECT_EQ(report->seq, 0);  // not committed

  // Without the delay, the unfinished candles show up as differences.
  o.min_age = 0;
  auto eager = Reconcile(lake.store.get(), &client, o);
  ASSERT_TRUE(eager.ok());
  EXPECT_GE(eager->products[0].differences.size(), 4u);
  for (const ReconRow& r : eager->products[0].differences) EXPECT_GE(r.minute, kStart - 6 * kMicrosPerMinute);
  fs::remove_all(lake.dir);
}

TEST(ReconcileE2E, UnknownProductIsAClearErrorAndNothingIsWritten) {
  Lake lake = BuildLake("recon-unknown", {"BTC-USD"}, FaultOptions{});
  ASSERT_TRUE(lake.sim);
  CoinbaseClient client = Client(*lake.sim);
  auto before = LatestCommitSeq(lake.store.get());
  auto report = Reconcile(lake.store.get(), &client, Options(lake, {"BTC-USD", "NOPE-USD"}));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  EXPECT_NE(report.status().message().find("NOPE-USD"), std::string::npos) << report.status().ToString();
  EXPECT_EQ(*LatestCommitSeq(lake.store.get()), *before);
  fs::remove_all(lake.dir);
}

TEST(ReconcileE2E, RunReconcilesCompleteMinutesOnceAndAgainAfterAGapIsRepaired) {
  const int64_t first = FirstBtcTradeId();
  ASSERT_GT(first, 0);
  FaultOptions faults;
  faults.holes = {{first + 3000, first + 3400}};
  Lake lake = BuildLake("recon-live", {"BTC-USD"}, faults);
  ASSERT_TRUE(lake.sim);

  CoinbaseOptions co;
  co.base_url = lake.sim->url();
  LiveReconcileOptions lo;
  lo.products = {"BTC-USD"};
  lo.lookback = kMicrosPerDay;
  LiveReconciler live(lake.store.get(), co, nullptr, lo);
  const TimestampMicros now = kStart + kMicrosPerHour;
  auto step = live.Step(EtlReport{}, now, nullptr);
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  ASSERT_EQ(step->products.size(), 1u);
  const ProductReconciliation& first_pass = step->products[0];
  // Only what Gold holds completely: after its first minute, before its newest.
  const auto expected = Expected(*lake.sim, "BTC-USD");
  EXPECT_EQ(first_pass.compared, static_cast<int64_t>(expected.size()) - 2);
  EXPECT_GE(first_pass.missing_in_gold + first_pass.differs, 6);
  EXPECT_EQ(first_pass.missing_on_exchange, 0);
  const int64_t bad_minutes = first_pass.missing_in_gold + first_pass.differs;

  // Nothing new: the next step compares nothing (each minute once).
  auto again = live.Step(EtlReport{}, now + 11 * kMicrosPerMinute, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->products.empty());
  // A fresh process (a Lambda step) continues from the lake: nothing again.
  LiveReconciler fresh(lake.store.get(), co, nullptr, lo);
  auto fresh_step = fresh.Step(EtlReport{}, now + 11 * kMicrosPerMinute, nullptr);
  ASSERT_TRUE(fresh_step.ok()) << fresh_step.status().ToString();
  EXPECT_TRUE(fresh_step->products.empty());

  // The gap heals: the missing trades land in Bronze (as a repaired gap would)
  // and the ETL inserts them into minutes already reconciled.
  std::vector<std::string> raws;
  std::vector<BronzeRecord> records;
  for (int64_t id = first + 3000; id <= first + 3400; ++id) raws.push_back(lake.sim->TradeJson("BTC-USD", id));
  for (int64_t id = first + 3000; id <= first + 3400; ++id) {
    records.push_back({id, raws[static_cast<size_t>(id - first - 3000)]});
  }
  const std::string date = FormatDate(MinuteOf(raws.front()));
  auto data = EncodeBronzeObject(records, now, fmt::format("/products/BTC-USD/trades?limit=1000&after={}", first + 3401));
  ASSERT_TRUE(data.ok());
  int64_t seq = 0;
  ASSERT_TRUE(LandBronzeObject(lake.store.get(), BronzeObjectKey("BTC-USD", date, first + 3000, first + 3400), *data,
                               first + 3000, first + 3400, 401, &seq)
                  .ok());
  auto etl = RunEtl(lake.store.get(), EtlOptions{});
  ASSERT_TRUE(etl.ok()) << etl.status().ToString();
  EXPECT_EQ(etl->inserted, 401) << etl->rejected << " rejected";
  auto repaired = live.Step(*etl, now + 22 * kMicrosPerMinute, nullptr);
  ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
  ASSERT_EQ(repaired->products.size(), 1u);
  EXPECT_TRUE(repaired->products[0].differences.empty());
  EXPECT_GE(repaired->products[0].matched, bad_minutes);

  // The newest verdict of every minute is a match: 100% over the day.
  auto state = LoadLakeState(lake.store.get());
  ASSERT_TRUE(state.ok());
  auto share = CandleMatchSince(lake.store.get(), *state, kStart - kMicrosPerDay);
  ASSERT_TRUE(share.ok()) << share.status().ToString();
  EXPECT_EQ(share->at("BTC-USD").compared, first_pass.compared);
  EXPECT_EQ(share->at("BTC-USD").matched, first_pass.compared);
  fs::remove_all(lake.dir);
}

}  // namespace
}  // namespace tradelake
