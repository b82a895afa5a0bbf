// SQL benchmark: `tradelake sql` (LakeSql: catalog, pruning, accounting,
// sandbox) next to plain DuckDB over the same Parquet files with
// read_parquet('<table>/product_id=*/**/*.parquet', hive_partitioning = true) and no
// catalog, measured in the same run, in the same process.
//
//   1. Gold: gold.trades_hourly for 1 year x 5 products (60 files: one per
//      product and month, as the lake keeps it). Query: one product's hourly
//      bars for the year.
//      Target: median latency <= 50 ms.
//   2. Silver: N trades (default 50,000,000) of 5 products over 100 days.
//      Query: one product, one day (by date, and by a trade_time range).
//      Target: bytes scanned <= 1/100 of the table's bytes.
// The tables are generated directly as Parquet with the lake's schemas
// (DuckDB COPY; times UTC-adjusted) and committed as Delta tables through
// CommitLake with each file's statistics, so the bench measures queries,
// not ingestion.
//
// Latency: median (and min/max) of --runs runs after one warm-up run; both
// sides keep their database open between runs (DuckDB's Parquet metadata
// cache on for both). Bytes for plain DuckDB: the files its plan scans
// (EXPLAIN "Scanning Files: k/n"), whole files, the same measure as ours.
//
// Plain DuckDB reads '<table>/product_id=*/**/*.parquet' (the data files,
// not the Delta log's checkpoints).
//
// Usage: sql_bench [--silver-trades N] [--runs R] [--lake DIR] [--keep]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "table/catalog.h"
#include "core/time.h"
#include "etl/table_io.h"
#include "query/duckdb.h"
#include "sql/lake_sql.h"
#include "sql/render.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* kProducts[] = {"BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD"};

[[noreturn]] void Die(const Status& s, const char* what) {
  std::fprintf(stderr, "sql_bench: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}
#define CHECK_OK(expr, what)              \
  do {                                    \
    Status _s = (expr);                   \
    if (!_s.ok()) Die(_s, what);          \
  } while (0)

// SELECT list casting generated expressions to the table's column types
// (times as UTC-adjusted timestamps, as the lake writes them).
std::string TypedSelect(const std::vector<ColumnDef>& schema, const std::map<std::string, std::string>& exprs) {
  std::string out;
  for (const auto& c : schema) {
    auto it = exprs.find(c.name);
    if (it == exprs.end()) {
      std::fprintf(stderr, "sql_bench: no generator for column %s\n", c.name.c_str());
      std::exit(1);
    }
    if (!out.empty()) out += ", ";
    out += fmt::format("CAST({} AS {}) AS {}", it->second, c.type.starts_with("TIMESTAMP") ? "TIMESTAMPTZ" : c.type,
                       c.name);
  }
  return out;
}

// Delta's timestamp statistic for epoch milliseconds: "\"2025-01-01T00:00:00.000Z\"".
std::string TimeStat(int64_t ms) {
  return fmt::format("\"{}Z\"", FormatRfc3339Micros(ms * 1000).substr(0, 23));
}

// Commits every Parquet file under the tables' folders as version 0 of each
// table, with the statistics the ETL writes (numRecords, min/max of
// trade_id and the time column).
void Commit(ObjectStore* store, Connection* con, const std::string& lake, const std::vector<std::string_view>& tables) {
  auto snap = LoadCurrentSnapshot(store);
  if (!snap.ok()) Die(snap.status(), "loading catalog");
  Snapshot next = *snap;
  next.seq = snap->seq + 1;
  next.committed_at = NowMicros();
  next.commits.clear();
  const int64_t now_ms = next.committed_at / 1000;
  for (std::string_view table : tables) {
    const bool silver = table == kSilverTrades;
    const std::string time = silver ? "trade_time" : "period_start";
    auto stats = con->Query(fmt::format(
        "SELECT filename, count(*), min({1}), max({1}), epoch_ms(min({2})), epoch_ms(max({2})) "
        "FROM read_parquet('{0}/{3}product_id=*/**/*.parquet', filename = true) GROUP BY filename",
        lake, silver ? "trade_id" : "first_trade_id", time, TableFolder(table)));
    if (!stats.ok()) Die(stats.status(), "file statistics");
    DeltaCommit commit;
    commit.protocol = DeltaProtocol{};
    commit.metadata = DeltaMetadataFor(table, now_ms);
    commit.timestamp = now_ms;
    for (uint64_t r = 0; r < stats->row_count(); ++r) {
      const std::string path = stats->GetStringOr(r, 0, "");
      DeltaStats st;
      st.num_records = std::stoll(stats->GetStringOr(r, 1, "0"));
      const std::string id_column = silver ? "trade_id" : "first_trade_id";
      st.min_values[id_column] = stats->GetStringOr(r, 2, "0");
      st.max_values[id_column] = stats->GetStringOr(r, 3, "0");
      st.min_values[time] = TimeStat(std::stoll(stats->GetStringOr(r, 4, "0")));
      st.max_values[time] = TimeStat(std::stoll(stats->GetStringOr(r, 5, "0")));
      auto add = AddFileFor(store, table, path.substr(lake.size() + 1), st);
      if (!add.ok()) Die(add.status(), "add action");
      commit.adds.push_back(std::move(add).value());
    }
    next.commits[std::string(table)] = std::move(commit);
  }
  CHECK_OK(CommitLake(store, &next), "committing");
}

std::string ProductList() {
  std::string out;
  for (const char* p : kProducts) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", p);
  return out;
}

void GenerateGold(Connection* con, const std::string& lake) {
  const std::map<std::string, std::string> e = {
      {"product_id", "p"},
      {"period_start", "TIMESTAMP '2025-01-01' + INTERVAL 1 HOUR * h"},
      {"trade_count", "1000 + (h * 7919 + pi * 104729) % 5000"},
      {"avg_price", "100 + ((h * 31 + pi) % 1000) / 10.0"},
      {"total_volume", "((h * 17 + pi) % 997) / 100.0 + 1"},
      {"quote_volume", "(100 + ((h * 31 + pi) % 1000) / 10.0) * (((h * 17 + pi) % 997) / 100.0 + 1)"},
      {"vwap", "100 + ((h * 31 + pi) % 1000) / 10.0"},
      {"open", "100 + ((h * 31 + pi) % 1000) / 10.0"},
      {"high", "101 + ((h * 31 + pi) % 1000) / 10.0"},
      {"low", "99 + ((h * 31 + pi) % 1000) / 10.0"},
      {"close", "100.5 + ((h * 31 + pi) % 1000) / 10.0"},
      {"buy_volume", "((h * 17 + pi) % 997) / 200.0"},
      {"sell_volume", "((h * 17 + pi) % 997) / 200.0 + 1"},
      {"first_trade_id", "h * 10000 + pi"},
      {"last_trade_id", "h * 10000 + pi + 999"},
      {"price_sum", "(100 + ((h * 31 + pi) % 1000) / 10.0) * (1000 + (h * 7919 + pi * 104729) % 5000)"},
  };
  // A file per product and month (the lake's layout: no date folder).
  const std::string select = TypedSelect(GoldBarsSchema(), e);
  for (size_t pi = 0; pi < std::size(kProducts); ++pi) {
    const std::string folder = fmt::format("{}/{}product_id={}", lake, TableFolder(kGoldHourly), kProducts[pi]);
    fs::create_directories(folder);
    for (int month = 1; month <= 12; ++month) {
      const std::string sql = fmt::format(
          "COPY (SELECT {} FROM (SELECT '{}' AS p, {} AS pi), range(0, 365 * 24) t(h) "
          "WHERE month(TIMESTAMP '2025-01-01' + INTERVAL 1 HOUR * h) = {} ORDER BY h) "
          "TO '{}/part-00000001-2025-{:02d}.parquet' (FORMAT parquet, COMPRESSION zstd)",
          select, kProducts[pi], pi + 1, month, folder, month);
      CHECK_OK(con->Query(sql).status(), "generating gold");
    }
  }
}

void GenerateSilver(Connection* con, const std::string& lake, int64_t trades) {
  // Trades spread evenly over 100 days x 5 products; prices a random walk-ish
  // function of the id, exact decimals with 2 and 8 digits.
  const std::map<std::string, std::string> e = {
      {"product_id", "p"},
      {"trade_id", "i"},
      {"price", "(100 + (i * 7919) % 100000 / 100.0)::DECIMAL(18,2)"},
      {"size", "(1 + (i * 104729) % 100000000)::DECIMAL(18,0) / 100000000"},
      {"quote_notional",
       "(100 + (i * 7919) % 100000 / 100.0)::DECIMAL(18,2) * ((1 + (i * 104729) % 100000000)::DECIMAL(18,0) / "
       "100000000)"},
      {"side", "CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END"},
      {"taker_side", "CASE WHEN i % 2 = 0 THEN 'sell' ELSE 'buy' END"},
      {"trade_time", "t"},
      {"ingested_at", "t + INTERVAL 2 SECOND"},
      {"bronze_object", "'bronze/source=coinbase/product=' || p || '/date=' || strftime(t, '%Y-%m-%d') || '/x.jsonl.zst'"},
  };
  const int64_t per_product = trades / 5;
  const std::string sql = fmt::format(
      "COPY (SELECT {}, strftime(t, '%Y-%m-%d') AS date FROM ("
      "  SELECT p, i, make_timestamp(1735689600000000 + i * (100 * 86400000000 // {})) AS t "
      "  FROM (SELECT unnest([{}]) AS p), range(0, {}) r(i))) "
      "TO '{}/silver/trades' (FORMAT parquet, PARTITION_BY (product_id, date), WRITE_PARTITION_COLUMNS true, "
      "COMPRESSION zstd, FILENAME_PATTERN 'part-00000002-{{i}}', OVERWRITE_OR_IGNORE true)",
      TypedSelect(SilverTradesSchema(), e), per_product, ProductList(), per_product, lake);
  CHECK_OK(con->Query(sql).status(), "generating silver");
}

struct Latency {
  double median = 0, min = 0, max = 0;
  double cold = 0;  // the first run
};

template <typename F>
Latency Measure(int runs, F run) {
  const auto c0 = Clock::now();
  run();  // warm-up
  const double cold = std::chrono::duration<double, std::milli>(Clock::now() - c0).count();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back(), cold};
}

// Bytes of the table's data files (its _delta_log aside).
int64_t TableBytes(ObjectStore* store, std::string_view table) {
  auto files = store->List(TableFolder(table));
  if (!files.ok()) Die(files.status(), "listing");
  int64_t total = 0;
  for (const auto& o : *files) total += o.key.find("/_delta_log/") == std::string::npos ? o.size : 0;
  return total;
}

// Files and bytes plain DuckDB's plan scans: "Scanning Files: k/n" when it
// prunes by folder, all files otherwise.
std::pair<int64_t, int64_t> PlainScan(Connection* con, const std::string& sql, ObjectStore* store,
                                      std::string_view table) {
  auto plan = con->Query("EXPLAIN (FORMAT JSON) " + sql);
  if (!plan.ok()) Die(plan.status(), "explain (plain)");
  std::string text;
  for (uint64_t r = 0; r < plan->row_count(); ++r) text += plan->GetStringOr(r, 1, "");
  auto files = store->List(TableFolder(table));
  int64_t n = 0, bytes = 0;
  for (const auto& o : *files) {
    if (o.key.find("/_delta_log/") != std::string::npos || !o.key.ends_with(".parquet")) continue;
    ++n;
    bytes += o.size;
  }
  // "Scanning Files": "365/1825"
  const size_t at = text.find("\"Scanning Files\": \"");
  if (at == std::string::npos) return {n, bytes};
  const int64_t k = std::atoll(text.c_str() + at + std::strlen("\"Scanning Files\": \""));
  return {k, n == 0 ? 0 : bytes * k / n};  // the k files: average size (files are alike)
}

void Row(const char* what, const Latency& l, int64_t files, int64_t bytes, int64_t rows) {
  std::printf("  %-34s %8.2f ms (min %7.2f, max %7.2f, first run %7.1f) %5lld files %10s %6lld rows\n", what,
              l.median, l.min, l.max, l.cold,
              static_cast<long long>(files), HumanBytes(bytes).c_str(), static_cast<long long>(rows));
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) {
  using namespace tradelake;
  int64_t silver_trades = 50'000'000;
  int runs = 15;
  std::string lake;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--silver-trades") && i + 1 < argc) silver_trades = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--lake") && i + 1 < argc) lake = argv[++i];
    else if (!std::strcmp(argv[i], "--keep")) keep = true;
    else {
      std::fprintf(stderr, "usage: sql_bench [--silver-trades N] [--runs R] [--lake DIR] [--keep]\n");
      return 2;
    }
  }
  if (lake.empty()) lake = (fs::temp_directory_path() / fmt::format("tradelake-sql-bench-{}", ::getpid())).string();
  const bool reuse = fs::exists(fs::path(lake) / "_catalog");
  auto store = OpenLocalStore(lake);
  if (!store.ok()) Die(store.status(), "opening lake");
  auto db = Database::Open(":memory:");
  if (!db.ok()) Die(db.status(), "duckdb");
  auto con = (*db)->Connect();
  if (!con.ok()) Die(con.status(), "duckdb");
  CHECK_OK(con->Query("SET parquet_metadata_cache = true").status(), "metadata cache");
  CHECK_OK(con->Query("SET TimeZone = 'UTC'").status(), "time zone");  // as LakeSql's databases

  std::printf("sql_bench: lake %s\n", lake.c_str());
  if (!reuse) {
    auto t0 = Clock::now();
    fs::create_directories(fs::path(lake) / "gold");
    fs::create_directories(fs::path(lake) / "silver");
    GenerateGold(&*con, lake);
    GenerateSilver(&*con, lake, silver_trades);
    Commit(store->get(), &*con, lake, {kGoldHourly, kSilverTrades});
    std::printf("generated in %.1f s: gold.trades_hourly %s, silver.trades %s (%lld trades)\n",
                std::chrono::duration<double>(Clock::now() - t0).count(),
                HumanBytes(TableBytes(store->get(), kGoldHourly)).c_str(),
                HumanBytes(TableBytes(store->get(), kSilverTrades)).c_str(), static_cast<long long>(silver_trades));
  }

  auto sql = LakeSql::Open(store->get(), SqlOptions{});
  if (!sql.ok()) Die(sql.status(), "LakeSql::Open");

  struct Case {
    const char* title;
    std::string_view table;
    std::string ours;
    std::string where;
  };
  const std::string gold_cols = "period_start, open, high, low, close, total_volume, vwap, trade_count";
  const Case cases[] = {
      {"Gold: BTC-USD hourly bars, 1 year", kGoldHourly,
       fmt::format("SELECT {} FROM gold.trades_hourly", gold_cols),
       "WHERE product_id = 'BTC-USD' AND period_start >= '2025-01-01' AND period_start < '2026-01-01' "
       "ORDER BY period_start"},
      {"Silver: one product, one date", kSilverTrades,
       "SELECT count(*), sum(quote_notional), min(price), max(price) FROM silver.trades",
       "WHERE product_id = 'ETH-USD' AND date = '2025-02-15'"},
      {"Silver: one product, trade_time range", kSilverTrades,
       "SELECT count(*), sum(quote_notional), min(price), max(price) FROM silver.trades",
       "WHERE product_id = 'ETH-USD' AND trade_time >= '2025-02-15 00:00:00' AND trade_time < '2025-02-16 00:00:00'"},
  };
  bool all_met = true;
  for (const Case& c : cases) {
    const std::string ours = c.ours + " " + c.where;
    StatementResult last;
    const Latency l1 = Measure(runs, [&] {
      auto r = (*sql)->ExecuteOne(ours);
      if (!r.ok()) Die(r.status(), "tradelake query");
      last = std::move(*r);
    });
    // Plain DuckDB: the same query with the view replaced by a glob.
    std::string plain = c.ours;
    const std::string from = fmt::format("FROM {}", c.table);
    plain.replace(plain.find(from), from.size(),
                  fmt::format("FROM read_parquet('{}/{}product_id=*/**/*.parquet', hive_partitioning = true)", lake,
                              TableFolder(c.table)));
    plain += " " + c.where;
    int64_t plain_rows = 0;
    const Latency l2 = Measure(runs, [&] {
      auto r = con->Query(plain);
      if (!r.ok()) Die(r.status(), "plain query");
      plain_rows = static_cast<int64_t>(r->row_count());
    });
    const auto [plain_files, plain_bytes] = PlainScan(&*con, plain, store->get(), c.table);
    const int64_t table_bytes = TableBytes(store->get(), c.table);
    std::printf("%s\n", c.title);
    Row("tradelake sql (catalog, pruned)", l1, last.scan.files_read, last.scan.bytes_read, last.scan.rows);
    Row("plain DuckDB read_parquet(**) [1]", l2, plain_files, plain_bytes, plain_rows);
    const double share = static_cast<double>(last.scan.bytes_read) / static_cast<double>(table_bytes);
    std::printf("  scanned %.4f%% of the table's %s (1/%.0f); Athena would charge $%.6f vs $%.6f; latency ratio %.2fx\n",
                share * 100, HumanBytes(table_bytes).c_str(), share > 0 ? 1 / share : 0.0,
                AthenaCostUsd(last.scan.bytes_read), AthenaCostUsd(plain_bytes), l2.median / l1.median);
    if (c.table == kGoldHourly) {
      const bool met = l1.median <= 50.0;
      all_met &= met;
      std::printf("  target: median <= 50 ms -> %s\n", met ? "met" : "NOT met");
    } else {
      const bool met = share <= 0.01;
      all_met &= met;
      std::printf("  target: bytes scanned <= 1/100 of the table -> %s\n", met ? "met" : "NOT met");
    }
  }
  std::printf("[1] plain DuckDB's files: its plan's \"Scanning Files: k/n\"; bytes: k x the table's mean file size\n");
  sql->reset();
  if (!keep && !reuse) fs::remove_all(lake);
  std::printf("sql_bench: %s\n", all_met ? "all targets met" : "a target was missed");
  return 0;
}
