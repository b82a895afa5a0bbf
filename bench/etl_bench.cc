// ETL benchmark: `tradelake etl` against the obvious alternative, a plain
// DuckDB SQL pipeline over the same Bronze files, measured in the same run.
//
//   1. Lands N trades of 3 products in a fresh lake (simulator on 127.0.0.1).
//   2. Full build: `tradelake etl` (a separate process: wall and CPU time from
//      wait4) vs. one DuckDB SQL script doing read_json -> de-duplicate on
//      (product_id, trade_id) -> Silver Parquet partitioned by product/date ->
//      the three Gold tables (DuckDB using every core).
//   3. Incremental: ~1% more trades land; `tradelake etl` processes only the
//      new Bronze objects and the partitions they touch, where the SQL
//      pipeline, having no bookmarks, recomputes everything.
//
// Every measured run is its own process, so wall, CPU and peak RSS (wait4's
// ru_maxrss) are that run's alone: `tradelake etl` is spawned, the SQL
// pipeline runs in a forked child. Landing the trades (simulator + ingester)
// also happens in a forked child. Linux carries the parent's peak RSS over
// fork and exec into the child's ru_maxrss, so a bench process that had held
// the simulator's history or DuckDB's hash tables would set a floor under
// every number; the parent's own peak is printed to show that floor is low.
//
// Usage: etl_bench [--trades-per-product N] [--keep]
//   --keep: leave the work folder (lake, logs) in place and print its path.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../tests/e2e_util.h"
#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "exchange/simulator.h"
#include "ingest/ingester.h"
#include "query/duckdb.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

// One measured run: a child process's wall (fork/spawn to reaped), CPU
// (user + system) and peak RSS, all from wait4.
struct Timing {
  double wall = 0, cpu = 0;
  int64_t max_rss = 0;  // bytes
  double load = 0;      // 1-minute load average when the run started
  int code = -1;
  std::string out;
  std::string err;  // the child's stderr, when it failed
};

// The machine is shared; the load next to each number says how much of it
// the run had.
double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

int64_t SelfMaxRss() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

Timing RunTradelake(const std::vector<std::string>& args, const fs::path& log) {
  Timing t;
  t.load = LoadAverage();
  const auto t0 = Clock::now();
  const pid_t pid = e2e::Spawn(args, log, log.string() + ".err");
  if (pid > 0) t.code = e2e::Wait(pid, &t.cpu, &t.max_rss);
  t.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  t.out = e2e::ReadFile(log);
  if (t.code != 0) t.err = e2e::ReadFile(log.string() + ".err");
  return t;
}

// Runs `fn` in a forked child and returns its exit code (fn's result) with
// its wall, CPU and peak RSS. REQUIRES: the calling process has no other
// threads (only the forking thread survives in the child).
template <typename Fn>
Timing RunForked(Fn fn) {
  Timing t;
  t.load = LoadAverage();
  std::fflush(nullptr);  // or the child would print the parent's buffered output again
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  if (pid > 0) t.code = e2e::Wait(pid, &t.cpu, &t.max_rss);
  t.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  return t;
}

// The obvious alternative, as one would write it by hand in DuckDB SQL.
// Runs in the calling process; the bench calls it in a forked child.
Status RunSqlPipeline(const fs::path& lake, const fs::path& out) {
  ASSIGN_OR_RETURN(auto db, Database::Open(":memory:"));
  ASSIGN_OR_RETURN(Connection con, db->Connect());
  const std::string bronze = (lake / "bronze/source=coinbase/*/*/*.jsonl.zst").string();
  const std::string silver = (out / "silver").string();
  const std::vector<std::string> script = {
      fmt::format(
          "CREATE TEMP TABLE silver AS "
          "WITH raw AS (SELECT product AS product_id, ingested_at, trade FROM read_json('{}', "
          "  format='newline_delimited', hive_partitioning=true, "
          "  columns={{ingested_at:'VARCHAR', request:'VARCHAR', trade:'JSON'}})), "
          "t AS (SELECT product_id, (trade->>'trade_id')::BIGINT AS trade_id, "
          "  (trade->>'price')::DECIMAL(38,18) AS price, (trade->>'size')::DECIMAL(38,18) AS size, "
          "  trade->>'side' AS side, CASE trade->>'side' WHEN 'buy' THEN 'sell' ELSE 'buy' END AS taker_side, "
          "  (trade->>'time')::TIMESTAMPTZ::TIMESTAMP AS trade_time, ingested_at::TIMESTAMP AS ingested_at "
          "  FROM raw WHERE (trade->>'price')::DECIMAL(38,18) > 0 AND (trade->>'size')::DECIMAL(38,18) > 0) "
          "SELECT *, (price::DECIMAL(20,8) * size::DECIMAL(20,8))::DECIMAL(38,18) AS quote_notional, trade_time::DATE AS date FROM t "
          "QUALIFY row_number() OVER (PARTITION BY product_id, trade_id ORDER BY ingested_at) = 1",
          bronze),
      fmt::format("COPY (SELECT * FROM silver ORDER BY product_id, trade_id) TO '{}' "
                  "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (product_id, date))",
                  silver)};
  const std::vector<std::pair<std::string, std::string>> gold = {
      {"hourly", "hour"}, {"daily", "day"}, {"bars_1m", "minute"}};
  for (const auto& sql : script) {
    ASSIGN_OR_RETURN(auto r, con.Query(sql));
    (void)r;
  }
  for (const auto& [name, unit] : gold) {
    const std::string sql = fmt::format(
        "COPY (SELECT product_id, date_trunc('{}', trade_time) AS period_start, trade_time::DATE AS date, "
        "count(*) AS trade_count, avg(price) AS avg_price, sum(size) AS total_volume, "
        "sum(quote_notional) AS quote_volume, sum(quote_notional) / sum(size) AS vwap, "
        "arg_min(price, trade_id) AS open, max(price) AS high, min(price) AS low, arg_max(price, trade_id) AS close, "
        "sum(size) FILTER (WHERE taker_side = 'buy') AS buy_volume, "
        "sum(size) FILTER (WHERE taker_side = 'sell') AS sell_volume, "
        "min(trade_id) AS first_trade_id, max(trade_id) AS last_trade_id "
        "FROM read_parquet('{}/**/*.parquet', hive_partitioning=true) GROUP BY ALL) TO '{}' "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (product_id, date))",
        unit, silver, (out / name).string());
    ASSIGN_OR_RETURN(auto r, con.Query(sql));
    (void)r;
  }
  return Status::OK();
}

Timing RunSqlPipelineInChild(const fs::path& lake, const fs::path& out) {
  fs::remove_all(out);
  fs::create_directories(out);
  return RunForked([&] {
    const Status s = RunSqlPipeline(lake, out);
    if (s.ok()) return 0;
    std::fprintf(stderr, "baseline: %s\n", s.ToString().c_str());
    return 1;
  });
}

int Main(int argc, char** argv) {
  int64_t per_product = 350'000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--trades-per-product") && i + 1 < argc) {
      per_product = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--keep")) {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: etl_bench [--trades-per-product N] [--keep]\n");
      return 2;
    }
  }
  const fs::path dir = fs::temp_directory_path() / ("tradelake-etl-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path lake = dir / "lake";

  const std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  // Land all trades in a child, so the simulator's history never counts in
  // this process's peak RSS (which its later children would inherit).
  const fs::path landed_count = dir / "landed.txt";
  const Timing landing = RunForked([&] {
    SimulatorOptions so;
    so.products = products;
    so.seed = 3;
    so.trades_per_second = 4;
    so.history_micros = static_cast<int64_t>(static_cast<double>(per_product) / so.trades_per_second * 1e6);
    so.live = false;
    so.rate_limit = false;
    auto sim = Simulator::Start(so);
    if (!sim.ok()) {
      std::fprintf(stderr, "simulator: %s\n", sim.status().ToString().c_str());
      return 1;
    }
    auto child_store = OpenLocalStore(lake.string());
    if (!child_store.ok()) return 1;
    IngestOptions io;
    io.products = products;
    io.exchange.base_url = (*sim)->url();
    io.rate_per_second = 0;
    io.from_trade_id = 0;
    io.object_max_trades = 5'000;
    IngestReport r = RunIngest(child_store->get(), io);
    (*sim)->Stop();
    if (!r.status.ok()) {
      std::fprintf(stderr, "ingest: %s\n", r.status.ToString().c_str());
      return 1;
    }
    int64_t n = 0;
    for (const auto& p : r.products) n += p.trades_landed;
    std::ofstream(landed_count) << n;
    return 0;
  });
  if (landing.code != 0) return 1;
  int64_t trades = 0;
  std::ifstream(landed_count) >> trades;
  auto store = OpenLocalStore(lake.string());
  if (!store.ok()) return 1;
  // Hold back the newest object of each product (~1% of the trades): move it
  // aside and take back its landed-log entry (the product's last), so the
  // full build neither sees nor misses it; the incremental run lands it again.
  struct Held {
    std::string product;
    std::string key;     // its Bronze key
    fs::path aside;      // where it waits
    int64_t first = 0, last = 0;
    int64_t next_seq = 0;  // the product's next landed-log seq
  };
  std::vector<Held> held;
  for (const auto& p : products) {
    fs::path newest;
    int64_t newest_first = -1;
    for (const auto& e : fs::recursive_directory_iterator(lake / "bronze/source=coinbase" / ("product=" + p))) {
      if (!e.is_regular_file()) continue;
      const std::string name = e.path().filename().string();
      const int64_t first = std::stoll(name.substr(0, name.find('-')));
      if (first > newest_first) newest_first = first, newest = e.path();
    }
    Held h;
    h.product = p;
    h.key = fs::relative(newest, lake).generic_string();
    h.aside = dir / ("held-" + p);
    const std::string name = newest.filename().string();
    h.first = std::stoll(name.substr(0, name.find('-')));
    h.last = std::stoll(name.substr(name.find('-') + 1));
    auto log = ReadLanded(store->get(), p, 0);
    if (!log.ok() || log->empty() || log->back().key != h.key) {
      std::fprintf(stderr, "%s: the newest object %s is not the last landed-log entry\n", p.c_str(), h.key.c_str());
      return 1;
    }
    h.next_seq = log->back().seq;
    if (Status s = (*store)->Delete(fmt::format("{}{:020}.json", LandedLogPrefix(p), h.next_seq)); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    fs::rename(newest, h.aside);
    held.push_back(std::move(h));
  }
  int64_t held_trades = 0;
  for (const auto& h : held) held_trades += h.last - h.first + 1;

  std::printf("ETL benchmark: %s trades of 3 products in Bronze (%s held back for the incremental run), %u cores\n",
              fmt::format("{}", trades - held_trades).c_str(), fmt::format("{}", held_trades).c_str(),
              std::thread::hardware_concurrency());
  std::printf("landing them (simulator + ingester, not measured against anything): %.1f s wall, load %.2f\n",
              landing.wall, landing.load);
  std::printf("%-58s %9s %9s %13s %12s %6s\n", "", "wall s", "CPU s", "trades/s", "peak RSS MiB", "load");
  auto row = [&](const std::string& name, const Timing& t, int64_t n) {
    std::printf("%-58s %9.2f %9.2f %13.0f %12.0f %6.2f%s\n", name.c_str(), t.wall, t.cpu,
                static_cast<double>(n) / t.wall, static_cast<double>(t.max_rss) / kMiB, t.load,
                t.code == 0 ? "" : "  (FAILED)");
    std::fflush(stdout);  // a long run shows its rows as they come
  };
  const Timing base_full = RunSqlPipelineInChild(lake, dir / "sql");
  row("full build: plain DuckDB SQL pipeline (baseline)", base_full, trades - held_trades);
  Timing full = RunTradelake({"etl", "--lake", lake.string()}, dir / "etl-full.log");
  row("full build: tradelake etl", full, trades - held_trades);
  for (auto& h : held) {
    const std::string data = e2e::ReadFile(h.aside);
    auto lines = ReadBronzeLines(data);
    const int64_t records = lines.ok() ? static_cast<int64_t>(lines->size()) : 0;
    if (Status s = LandBronzeObject(store->get(), h.key, data, h.first, h.last, records, &h.next_seq); !s.ok()) {
      std::fprintf(stderr, "landing %s again: %s\n", h.key.c_str(), s.ToString().c_str());
      return 1;
    }
    fs::remove(h.aside);
  }
  const Timing base_incr = RunSqlPipelineInChild(lake, dir / "sql");
  row("+1% new trades: DuckDB SQL pipeline (recomputes all)", base_incr, held_trades);
  Timing incr = RunTradelake({"etl", "--lake", lake.string()}, dir / "etl-incr.log");
  row("+1% new trades: tradelake etl (new objects, touched parts)", incr, held_trades);

  // Ratios, each read so that > 1 favours tradelake. The speed-up is baseline
  // wall / tradelake wall, i.e. tradelake's trades/s over the baseline's (same
  // trades, same run); it is what the "3x" target is stated in.
  std::printf("\n%-58s %9s %9s %12s\n", "tradelake etl vs. the baseline (> 1 favours tradelake)", "speed-up",
              "CPU", "peak RSS");
  auto ratio = [&](const char* name, const Timing& base, const Timing& tl) {
    std::printf("%-58s %8.2fx %8.2fx %11.2fx\n", name, base.wall / tl.wall, base.cpu / tl.cpu,
                static_cast<double>(base.max_rss) / static_cast<double>(tl.max_rss));
  };
  ratio("full build", base_full, full);
  ratio("+1% new trades", base_incr, incr);
  std::printf("(speed-up = baseline wall / tradelake wall = tradelake trades/s / baseline trades/s;\n"
              " CPU = baseline CPU s / tradelake CPU s; peak RSS = baseline peak / tradelake peak)\n");
  std::printf("speed-up vs baseline: full build %.2fx, incremental %.2fx (wall clock)\n", base_full.wall / full.wall,
              base_incr.wall / incr.wall);

  const bool ok_runs = base_full.code == 0 && full.code == 0;
  const double speedup = base_full.wall / full.wall;
  const double full_rss_gib = static_cast<double>(full.max_rss) / kGiB;
  const double peak_rss_gib = static_cast<double>(std::max(full.max_rss, incr.max_rss)) / kGiB;
  std::printf("\ntargets (%s trades in the full build):\n", fmt::format("{}", trades - held_trades).c_str());
  std::printf("  full build >= 3x faster than the baseline (wall):  %.2fx  %s\n", speedup,
              ok_runs && speedup >= 3.0 ? "PASS" : "MISS");
  std::printf("  tradelake etl peak RSS <= 2 GiB:                  %.2f GiB  %s  (full build %.2f GiB)\n",
              peak_rss_gib, full.code == 0 && incr.code == 0 && peak_rss_gib <= 2.0 ? "PASS" : "MISS",
              full_rss_gib);
  std::printf("  (bench process's own peak RSS, a floor under every child's: %.0f MiB)\n",
              static_cast<double>(SelfMaxRss()) / kMiB);
  if (trades - held_trades < 9'900'000) {
    std::printf("  note: the targets are stated at 10,000,000 trades; this run has fewer.\n");
  }

  std::printf("\nnote: price * size at DECIMAL(38,18) overflows in DuckDB (scale 36), so the baseline\n"
              "      multiplies as DECIMAL(20,8), exact only for products with <= 8 decimals.\n");
  std::printf("note: the baseline keeps DuckDB's defaults for everything tradelake checks (no data-quality\n"
              "      rules beyond price/size > 0, no conflict detection, no invariant, no atomic commit).\n");
  std::printf("tradelake etl said:\n%s%s", full.out.c_str(), incr.out.c_str());
  for (const Timing* t : {&full, &incr}) {
    if (t->code != 0) std::printf("tradelake etl failed (exit %d):\n%s", t->code, t->err.c_str());
  }
  if (keep) {
    std::printf("kept the work folder %s\n", dir.c_str());
  } else {
    fs::remove_all(dir);
  }
  return 0;
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) { return tradelake::Main(argc, argv); }
