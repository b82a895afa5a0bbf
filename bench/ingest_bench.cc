// Ingest benchmark: how fast `tradelake ingest` lands trades, and how much of
// the exchange's allowed request rate it uses.
//
//   1. limit off: backfill N trades of 3 products from the simulator (on
//      127.0.0.1, rate limit off, no faults) into a fresh lake; prints trades/s
//      and MB/s landed (wall clock), and trades per CPU-second of the ingester
//      process alone (wait4 rusage), next to a baseline measured in the same
//      run: a bare libcurl loop that only downloads the same pages.
//   2. limit on: the simulator enforces Coinbase's 10 req/s, burst 15; the
//      ingester backfills for a fixed time with its default limiter; prints
//      the share of the allowed rate used and the 429s it caused.
//
//   3. wide: the simulator lists `--wide-products` products (200) trading at
//      1 trade/s each and enforces 10 req/s; `tradelake ingest --products all
//      --follow` runs for `--wide-seconds`; prints requests/s, 429s, CPU of
//      the ingester (cores), trades landed, loss (ids missing inside what was
//      landed, duplicates, bytes that differ from the exchange's) and the lag
//      at stop (trades published but not landed yet: REST catches them up).
//
// Usage: ingest_bench [--trades-per-product N] [--limited-seconds S]
//                     [--wide-products N] [--wide-seconds S] [--only-wide 1]


#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../tests/e2e_util.h"
#include "core/time.h"
#include "exchange/http_client.h"
#include "exchange/simulator.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ProcResult {
  int code = -1;
  double wall = 0, cpu = 0;
};

pid_t SpawnTradelake(const std::vector<std::string>& args, const std::string& log) {
  return e2e::Spawn(args, log, log + ".err");
}

ProcResult WaitFor(pid_t pid, Clock::time_point start) {
  ProcResult r;
  r.code = e2e::Wait(pid, &r.cpu);
  r.wall = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

int64_t DirBytes(const fs::path& p) {
  int64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(p)) {
    if (e.is_regular_file()) n += static_cast<int64_t>(e.file_size());
  }
  return n;
}

// ---- 3. wide: many products at 1 trade/s within the public rate limit.
int Wide(const fs::path& dir, int n, int seconds) {
  SimulatorOptions o;
  for (int i = 0; i < n; ++i) {
    o.products.push_back(fmt::format("X{}{}{}-USD", static_cast<char>('A' + i / 676 % 26),
                                     static_cast<char>('A' + i / 26 % 26), static_cast<char>('A' + i % 26)));
  }
  o.seed = 9;
  o.trades_per_second = 1;
  o.history_micros = 10 * kMicrosPerMinute;
  o.rate_limit = true;  // 10 req/s, burst 15
  o.threads = 8;
  auto sim = Simulator::Start(o);
  if (!sim.ok()) {
    std::fprintf(stderr, "simulator: %s\n", sim.status().ToString().c_str());
    return 1;
  }
  const fs::path lake = dir / "lake-wide";
  const auto c0 = (*sim)->counters();
  const auto t0 = Clock::now();
  const pid_t pid = SpawnTradelake({"ingest", "--products", "all", "--follow", "--poll-interval", "1s",
                                    "--exchange-url", (*sim)->url(), "--lake", lake.string(), "--no-progress",
                                    "--log-level", "warn"},
                                   (dir / "wide.log").string());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  ::kill(pid, SIGINT);
  ProcResult r = WaitFor(pid, t0);
  const auto c = (*sim)->counters();
  int64_t landed = 0, missing = 0, duplicates = 0, altered = 0, lag = 0, published = 0;
  for (const auto& p : o.products) {
    std::string error;
    const auto trades = e2e::ReadBronze(lake, p, &error);
    if (!error.empty()) std::fprintf(stderr, "%s: %s\n", p.c_str(), error.c_str());
    const int64_t last = (*sim)->LastTradeId(p);
    if (trades.empty()) {
      lag += 1;  // never reached: counted as lagging
      continue;
    }
    const int64_t lo = trades.begin()->first, hi = trades.rbegin()->first;
    for (int64_t id = lo; id <= hi; ++id) {
      auto it = trades.find(id);
      if (it == trades.end()) {
        ++missing;
        continue;
      }
      ++landed;
      if (it->second.size() > 1) duplicates += static_cast<int64_t>(it->second.size()) - 1;
      if (it->second[0].raw != (*sim)->TradeJson(p, id)) ++altered;
    }
    published += last - lo + 1;
    lag += last - hi;
  }
  (*sim)->Stop();
  const double requests = static_cast<double>(c.requests - c0.requests);
  std::printf("\n%-46s %10s %10s %8s %8s %10s %8s %8s %8s %10s\n",
              fmt::format("wide: {} products at 1 trade/s, 10 req/s", n).c_str(), "requests", "req/s", "429s",
              "CPU", "landed", "missing", "dups", "altered", "lag");
  std::printf("%-46s %10.0f %10.2f %8lld %7.2fc %10lld %8lld %8lld %8lld %10lld   (exit %d after SIGINT, %.0f s)\n",
              "tradelake ingest --products all --follow", requests, requests / r.wall,
              static_cast<long long>(c.rate_limited - c0.rate_limited), r.cpu / r.wall,
              static_cast<long long>(landed), static_cast<long long>(missing), static_cast<long long>(duplicates),
              static_cast<long long>(altered), static_cast<long long>(lag), r.code, r.wall);
  std::printf("  lag: trades published since each product's first landed trade (%lld in all) that REST had not\n"
              "  reached when stopped; polling without WebSocket hints spreads 10 req/s over every product.\n",
              static_cast<long long>(published));
  fs::remove_all(dir);
  return missing == 0 && duplicates == 0 && altered == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  int64_t per_product = 400'000;
  int limited_seconds = 20;
  int wide_products = 200;
  int wide_seconds = 90;
  bool only_wide = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--trades-per-product")) per_product = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--limited-seconds")) limited_seconds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--wide-products")) wide_products = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--wide-seconds")) wide_seconds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--only-wide")) only_wide = std::atoi(argv[i + 1]) != 0;
  }
  const std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  const fs::path dir = fs::temp_directory_path() / ("tradelake-ingest-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  if (only_wide) return Wide(dir, wide_products, wide_seconds);
  // ---- 1. limit off
  SimulatorOptions o;
  o.products = products;
  o.seed = 1;
  o.trades_per_second = 10;
  o.history_micros = static_cast<int64_t>(static_cast<double>(per_product) / o.trades_per_second * 1e6);
  o.live = false;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  if (!sim.ok()) {
    std::fprintf(stderr, "simulator: %s\n", sim.status().ToString().c_str());
    return 1;
  }
  int64_t trades = 0;
  for (const auto& p : products) trades += (*sim)->LastTradeId(p) - (*sim)->FirstTradeId(p) + 1;

  // Baseline: download every page with a bare HTTP loop, nothing else.
  const auto b0 = Clock::now();
  int64_t baseline_bytes = 0;
  {
    std::vector<std::thread> threads;
    std::atomic<int64_t> bytes{0};
    for (const auto& p : products) {
      threads.emplace_back([&, p] {
        HttpClient http;
        for (int64_t next = (*sim)->FirstTradeId(p); next <= (*sim)->LastTradeId(p); next += 1000) {
          auto r = http.Get(fmt::format("{}/products/{}/trades?limit=1000&after={}", (*sim)->url(), p, next + 1000));
          if (r.ok()) bytes += static_cast<int64_t>(r->body.size());
        }
      });
    }
    for (auto& t : threads) t.join();
    baseline_bytes = bytes;
  }
  const double baseline_s = std::chrono::duration<double>(Clock::now() - b0).count();

  const fs::path lake = dir / "lake";
  const auto t0 = Clock::now();
  const pid_t pid = SpawnTradelake({"ingest", "--products", "BTC-USD,ETH-USD,SOL-USD", "--exchange-url",
                                    (*sim)->url(), "--lake", lake.string(), "--from-trade-id", "0",
                                    "--rate-limit", "0", "--no-progress", "--log-level", "warn"},
                                   (dir / "unlimited.log").string());
  ProcResult r = WaitFor(pid, t0);
  const int64_t bronze = DirBytes(lake / "bronze");
  (*sim)->Stop();

  std::printf("ingest benchmark (simulator on 127.0.0.1, %s trades in 3 products, %u cores)\n",
              fmt::format("{}", trades).c_str(), std::thread::hardware_concurrency());
  std::printf("%-46s %14s %12s %14s\n", "limit off", "trades/s", "MB/s", "trades/CPU-s");
  std::printf("%-46s %14.0f %12.1f %14s\n", "baseline: bare HTTP download of the same pages",
              static_cast<double>(trades) / baseline_s, static_cast<double>(baseline_bytes) / baseline_s / 1e6, "-");
  std::printf("%-46s %14.0f %12.1f %14.0f   (exit %d, %.2f s wall, %.2f s CPU, %.1f MB Bronze)\n",
              "tradelake ingest (parse, verify, zstd, fsync)", static_cast<double>(trades) / r.wall,
              static_cast<double>(bronze) / r.wall / 1e6, static_cast<double>(trades) / r.cpu, r.code, r.wall,
              r.cpu, static_cast<double>(bronze) / 1e6);
  std::printf("  MB/s landed counts compressed Bronze bytes; the JSON received was %.1f MB/s.\n",
              static_cast<double>(baseline_bytes) / r.wall / 1e6);

  // ---- 2. limit on
  o.rate_limit = true;
  o.history_micros = 48 * kMicrosPerHour;
  o.trades_per_second = 5;
  auto limited = Simulator::Start(o);
  if (!limited.ok()) return 1;
  const fs::path lake2 = dir / "lake-limited";
  const auto l0 = Clock::now();
  const pid_t pid2 = SpawnTradelake({"ingest", "--products", "BTC-USD,ETH-USD,SOL-USD", "--exchange-url",
                                     (*limited)->url(), "--lake", lake2.string(), "--from-trade-id", "0",
                                     "--no-progress", "--log-level", "warn"},
                                    (dir / "limited.log").string());
  std::this_thread::sleep_for(std::chrono::seconds(limited_seconds));
  ::kill(pid2, SIGINT);
  ProcResult r2 = WaitFor(pid2, l0);
  const auto c = (*limited)->counters();
  (*limited)->Stop();
  const double allowed = o.rate * r2.wall + o.burst;
  std::printf("\n%-46s %10s %10s %10s %12s\n", "limit on (10 req/s, burst 15)", "requests", "seconds", "429s",
              "rate used");
  std::printf("%-46s %10lld %10.1f %10lld %11.1f%%   (exit %d after SIGINT)\n", "tradelake ingest, 3 products",
              static_cast<long long>(c.requests), r2.wall, static_cast<long long>(c.rate_limited),
              100.0 * static_cast<double>(c.requests) / allowed, r2.code);
  return Wide(dir, wide_products, wide_seconds);
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) { return tradelake::Main(argc, argv); }
