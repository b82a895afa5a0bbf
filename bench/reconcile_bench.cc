// Reconcile benchmark: what one product-day of reconciliation costs.
//
//   1. Setup (printed, not measured): a simulated exchange (in this process,
//      on 127.0.0.1) with --days of history for --products products at
//      --rate trades/s, landed and transformed into a lake folder by the real
//      ingest and ETL.
//   2. Baseline: the candles alone: a bare CoinbaseClient fetching every
//      product-day in 300-minute requests (the exchange's part of the work).
//   3. Reconcile: Reconcile() over the same range, committing its rows
//      (Gold read, exact comparison, audit.candle_reconciliation written).
//   4. Per product-day: requests (target <= 5), time of both, and the
//      reconciliation's own time beyond the fetch. A miss is printed, never
//      fatal (a benchmark reports).
//
// Usage: reconcile_bench [--products N] [--days N] [--rate TRADES_PER_S] [--latency-ms MS] [--keep]
//   --latency-ms adds that much to every exchange answer (the simulator's
//   fault), to see the request count dominate as it does against Coinbase.
#include <chrono>
#include <cstdio>

#include "bench_util.h"
#include "etl/etl.h"
#include "exchange/simulator.h"
#include "ingest/ingester.h"
#include "reconcile/reconcile.h"
#include "store/open_store.h"

namespace tradelake::bench {
namespace {

constexpr TimestampMicros kStart = 1767225600LL * kMicrosPerSecond;  // 2026-01-01T00:00:00Z

int Run(const fs::path& dir, int products_n, int days, double rate, int64_t latency_ms) {
  static const char* kIds[] = {"BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD", "ADA-USD", "DOGE-USD"};
  std::vector<std::string> products;
  for (int i = 0; i < products_n && i < 6; ++i) products.emplace_back(kIds[i]);
  SimulatorOptions so;
  so.products = products;
  so.history_micros = days * kMicrosPerDay;
  so.trades_per_second = rate;
  so.now = kStart;
  so.live = false;
  so.rate_limit = false;
  auto sim = Simulator::Start(so);
  if (!sim.ok()) {
    fmt::print(stderr, "simulator: {}\n", sim.status().ToString());
    return 1;
  }
  auto store = OpenStore((dir / "lake").string());
  if (!store.ok()) return 1;

  const auto setup_start = Clock::now();
  IngestOptions in;
  in.products = products;
  in.exchange.base_url = (*sim)->url();
  in.rate_per_second = 0;
  in.from_trade_id = 0;
  IngestReport ingested = RunIngest(store->get(), in);
  if (!ingested.status.ok()) {
    fmt::print(stderr, "ingest: {}\n", ingested.status.ToString());
    return 1;
  }
  auto etl = RunEtl(store->get(), EtlOptions{});
  if (!etl.ok()) {
    fmt::print(stderr, "etl: {}\n", etl.status().ToString());
    return 1;
  }
  fmt::print("setup: {} products x {} days at {} trades/s: {} trades landed and transformed in {:.1f} s\n",
             products.size(), days, rate, etl->inserted, Seconds(Clock::now() - setup_start));
  // The faults start now: only the measured part sees the latency.
  (*sim)->Stop();
  so.faults.latency_ms = latency_ms;
  sim = Simulator::Start(so);
  if (!sim.ok()) return 1;

  const TimestampMicros from = kStart - days * kMicrosPerDay, to = kStart;
  const int64_t product_days = static_cast<int64_t>(products.size()) * days;
  CoinbaseOptions co;
  co.base_url = (*sim)->url();

  // Baseline: the candles alone.
  ClientStats base_stats;
  CoinbaseClient bare(co, nullptr, &base_stats);
  const auto b0 = Clock::now();
  int64_t candles = 0;
  for (const std::string& p : products) {
    for (TimestampMicros t = from; t < to; t += 300 * kMicrosPerMinute) {
      auto got = bare.GetCandles(p, t, std::min(to, t + 300 * kMicrosPerMinute));
      if (!got.ok()) {
        fmt::print(stderr, "candles: {}\n", got.status().ToString());
        return 1;
      }
      candles += static_cast<int64_t>(got->size());
    }
  }
  const double baseline_s = Seconds(Clock::now() - b0);

  // Reconcile.
  ClientStats stats;
  CoinbaseClient client(co, nullptr, &stats);
  ReconcileOptions ro;
  ro.products = products;
  ro.from = from;
  ro.to = to;
  ro.now = kStart + kMicrosPerHour;
  const auto r0 = Clock::now();
  auto report = Reconcile(store->get(), &client, ro);
  const double reconcile_s = Seconds(Clock::now() - r0);
  if (!report.ok()) {
    fmt::print(stderr, "reconcile: {}\n", report.status().ToString());
    return 1;
  }
  int64_t compared = 0, matched = 0;
  for (const auto& p : report->products) {
    compared += p.compared;
    matched += p.matched;
  }
  const double requests_per_pd = static_cast<double>(stats.requests.load()) / static_cast<double>(product_days);
  fmt::print("\n{:<44} {:>12} {:>14}\n", "per product-day", "candles only", "reconcile");
  fmt::print("{:<44} {:>12.2f} {:>14.2f}   target <= 5: {}\n", "exchange requests",
             static_cast<double>(base_stats.requests.load()) / static_cast<double>(product_days), requests_per_pd,
             requests_per_pd <= 5 ? "PASS" : "MISS");
  fmt::print("{:<44} {:>12.1f} {:>14.1f}\n", "time (ms)", 1000 * baseline_s / static_cast<double>(product_days),
             1000 * reconcile_s / static_cast<double>(product_days));
  fmt::print("{:<44} {:>12} {:>14.1f}\n", "beyond fetching the candles (ms)", "",
             1000 * (reconcile_s - baseline_s) / static_cast<double>(product_days));
  fmt::print("\n{} candles fetched; {} minutes compared, {} match ({:.2f}%); {} rows committed as catalog commit {}\n",
             candles, compared, matched, compared ? 100.0 * static_cast<double>(matched) / static_cast<double>(compared) : 0.0,
             report->rows_written, report->seq);
  return 0;
}

}  // namespace
}  // namespace tradelake::bench

int main(int argc, char** argv) {
  using namespace tradelake::bench;
  int products = 3, days = 2, latency_ms = 0;
  double rate = 0.5;
  bool keep = false;
  const std::string bad = ParseOptions(argc, argv,
                                       {{"--products", &products}, {"--days", &days}, {"--rate", &rate},
                                        {"--latency-ms", &latency_ms}, {"--keep", &keep}});
  if (!bad.empty() || products < 1 || products > 6 || days < 1 || days > 60 || !(rate > 0) || latency_ms < 0) {
    std::fprintf(stderr,
                 "usage: reconcile_bench [--products 1..6] [--days 1..60] [--rate TRADES_PER_S] [--latency-ms MS] "
                 "[--keep]%s%s\n",
                 bad.empty() ? "" : "\nunknown or incomplete argument ", bad.c_str());
    return 2;
  }
  return RunInFreshDir("reconcile_bench", keep, std::chrono::seconds(5),
                       [&](const fs::path& dir, Children&) { return Run(dir, products, days, rate, latency_ms); });
}
