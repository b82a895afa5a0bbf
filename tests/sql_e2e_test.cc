// End-to-end tests of `tradelake sql` and `tradelake catalog` through the real
// binary (and LakeSql in-process where the scan accounting is checked), over
// one fixed lake.
//
// The lake is built once per test binary, in a temp folder, in a few seconds:
// the simulator in-process (seed 7, "now" pinned to 2024-05-03T12:00:00Z,
// 60 h of history at 0.005 trades/s, no live trades) for BTC-USD, ETH-USD and
// SOL-USD — about 1,000 trades per product over the UTC dates 2024-05-01..03 —
// landed with `tradelake ingest --from-trade-id 0`, plus two hand-made Bronze
// objects of broken records (so silver.trades_rejected has rows), then
// `tradelake etl`. Nothing in it depends on the wall clock except the
// ingested_at / rejected_at columns, which the queries leave out.
//
// Data-driven cases: tests/sql/cases/NAME.sql holds one query (comments
// allowed); NAME.expected holds, byte for byte, the stdout of
//   tradelake sql --lake LAKE --format csv -q [ARGS] "$(cat NAME.sql)"
// where ARGS come from an optional first line "-- args: ..." (e.g.
// "-- args: --role etl" for bronze.trades_raw). Regenerate them after an
// intended change, then review the diff:
//   TRADELAKE_UPDATE_SQL_CASES=1 build/release/tradelake_e2e_tests --gtest_filter='SqlCase*'
// TRADELAKE_KEEP_SQL_LAKE=1 keeps the lake folder (its path is printed) for
// poking at it by hand.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/time.h"
#include "e2e_util.h"
#include "table/catalog.h"
#include "exchange/simulator.h"
#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "query/duckdb.h"
#include "sql/lake_sql.h"
#include "sql/render.h"
#include "store/lake.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

namespace fs = e2e::fs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kExitAccessDenied = 77;
constexpr char kHandMadeIngestedAt[] = "2024-05-03T12:30:00Z";

bool EnvIs(const char* name, std::string_view value) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  return v != nullptr && value == v;
}

// ----------------------------------------------------------- the shared lake

struct SharedLake {
  fs::path dir;   // this binary's scratch folder (lake, copies, outputs)
  fs::path lake;  // the lake folder
  std::string error;  // why it could not be built; empty when fine
};

// Lands a hand-made Bronze object the way ingest does (object, then its
// landed-log entry, so the ETL finds it); `next_seq` holds each product's
// next log seq (a stale one is fine: the append takes the first free seq).
void PutBronze(ObjectStore* store, std::map<std::string, int64_t>* next_seq, const std::string& product,
               const std::string& date, int64_t first, int64_t last,
               const std::vector<std::pair<int64_t, std::string>>& raws, const std::string& request,
               std::string* error) {
  std::vector<BronzeRecord> recs;
  for (const auto& [id, raw] : raws) recs.push_back({id, raw});
  auto at = ParseRfc3339(kHandMadeIngestedAt);
  auto data = EncodeBronzeObject(recs, at.ok() ? *at : 0, request);
  if (!data.ok()) {
    *error = "EncodeBronzeObject: " + data.status().ToString();
    return;
  }
  Status s = LandBronzeObject(store, BronzeObjectKey(product, date, first, last), *data, first, last,
                              static_cast<int64_t>(recs.size()), &(*next_seq)[product]);
  if (!s.ok()) *error = "LandBronzeObject: " + s.ToString();
}

std::string T(int64_t id, const std::string& price, const std::string& size, const std::string& side,
              const std::string& time) {
  return "{\"trade_id\":" + std::to_string(id) + ",\"side\":\"" + side + "\",\"size\":\"" + size +
         "\",\"price\":\"" + price + "\",\"time\":\"" + time + "\"}";
}

SharedLake BuildSharedLake() {
  SharedLake s;
  auto fail = [&s](std::string why) {
    s.error = std::move(why);
    return s;
  };
  s.dir = e2e::FreshDir("sql");
  s.lake = s.dir / "lake";
  fs::create_directories(s.dir / "run");
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  o.seed = 7;
  auto now = ParseRfc3339("2024-05-03T12:00:00Z");
  if (!now.ok()) return fail(now.status().ToString());
  o.now = *now;
  o.history_micros = 60 * kMicrosPerHour;
  o.trades_per_second = 0.005;
  o.live = false;
  o.rate_limit = false;
  o.threads = 2;
  auto sim = Simulator::Start(o);
  if (!sim.ok()) return fail("simulator: " + sim.status().ToString());
  auto ingest = e2e::RunTradelake({"ingest", "--products", "BTC-USD,ETH-USD,SOL-USD", "--exchange-url", (*sim)->url(),
                                   "--lake", s.lake.string(), "--no-progress", "--rate-limit", "0", "--log-level",
                                   "warn", "--from-trade-id", "0", "--object-trades", "300"},
                                  s.dir / "run");
  (*sim)->Stop();
  if (ingest.exit_code != 0) return fail("ingest: " + ingest.out + ingest.err);

  // Broken records, one per data-quality rule, in two hand-made objects.
  auto store = OpenLocalStore(s.lake.string());
  if (!store.ok()) return fail(store.status().ToString());
  const std::string t = "2024-05-02T10:00:00.5Z";
  std::map<std::string, int64_t> seq;  // the ingest run above has entries already: appends go after them
  PutBronze(store->get(), &seq, "BTC-USD", "2024-05-02", 1, 6,
            {{1, "{\"trade_id\":1,\"price\":"},                                                       // invalid_json
             {2, "{\"trade_id\":2,\"side\":\"buy\",\"size\":\"1\",\"time\":\"2024-05-02T10:00:00Z\"}"},  // missing_field
             {3, T(3, "0", "1", "buy", t)},                                                             // price_not_positive
             {4, T(4, "1", "1", "hold", t)},                                                            // invalid_side
             {5, T(5, "1", "1", "buy", "2024-05-02 10:00:00")},                                         // invalid_time
             {6, T(6, "1", "1", "buy", "2999-01-01T00:00:00Z")}},                                       // future_time
            "/products/BTC-USD/trades?limit=1000", &s.error);
  if (!s.error.empty()) return fail(s.error);
  PutBronze(store->get(), &seq, "ETH-USD", "2024-05-01", 7, 8,
            {{7, T(7, "3000.5", "0.25", "sell", "2024-05-01T08:00:00Z")},
             {8, T(8, "3001", "0.5", "buy", "2024-05-01T08:00:01Z")}},
            "/products/SOL-USD/trades?limit=1000", &s.error);  // product_mismatch
  if (!s.error.empty()) return fail(s.error);

  auto etl = e2e::RunTradelake({"etl", "--lake", s.lake.string()}, s.dir / "run");
  if (etl.exit_code != 0) return fail("etl: " + etl.out + etl.err);
  if (etl.out.find("8 rejected") == std::string::npos || etl.out.find("invariant holds") == std::string::npos) {
    return fail("etl did not reject the 8 hand-made records:\n" + etl.out);
  }
  return s;
}

const SharedLake& Lake() {
  static const SharedLake lake = BuildSharedLake();
  return lake;
}

// Removes the scratch folder when the binary ends (if a test built it).
class RemoveSharedLake : public ::testing::Environment {
 public:
  void TearDown() override {
    const fs::path dir = fs::temp_directory_path() / ("tradelake-e2e-sql-" + std::to_string(::getpid()));
    if (!fs::exists(dir)) return;
    if (EnvIs("TRADELAKE_KEEP_SQL_LAKE", "1")) {
      std::cout << "kept the SQL test lake in " << dir << "\n";
      return;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
// gtest owns registered environments.
[[maybe_unused]] ::testing::Environment* const kRemoveSharedLake =
    ::testing::AddGlobalTestEnvironment(new RemoveSharedLake);  // NOLINT(cppcoreguidelines-owning-memory)

#define REQUIRE_LAKE()                                      \
  do {                                                      \
    ASSERT_TRUE(Lake().error.empty()) << Lake().error;      \
  } while (false)

// ------------------------------------------------------------ running things

e2e::RunResult Tl(const std::vector<std::string>& args) { return e2e::RunTradelake(args, Lake().dir / "run"); }

// `tradelake sql --lake <shared> [flags...] <query>`.
e2e::RunResult Sql(const std::string& query, const std::vector<std::string>& flags = {},
                   const fs::path& lake = Lake().lake) {
  std::vector<std::string> args = {"sql", "--lake", lake.string()};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back(query);
  return Tl(args);
}

e2e::RunResult Csv(const std::string& query, const fs::path& lake = Lake().lake) {
  return Sql(query, {"--format", "csv", "-q"}, lake);
}

// Like e2e::RunTradelake, with stdin read from `input` (a pipe-like, non-tty
// stdin: what `echo ... | tradelake sql` gives).
e2e::RunResult TlWithStdin(const std::vector<std::string>& args, const std::string& input) {
  const fs::path dir = Lake().dir / "run";
  const fs::path in = dir / "stdin.txt", out = dir / "stdout.txt", err = dir / "stderr.txt";
  {
    std::ofstream f(in, std::ios::binary | std::ios::trunc);
    f << input;
  }
  e2e::RunResult r;
  const pid_t pid = e2e::Spawn(args, out, err, in);
  if (pid > 0) {
    r.exit_code = e2e::Wait(pid);
    r.out = e2e::ReadFile(out);
    r.err = e2e::ReadFile(err);
  }
  return r;
}

// CSV text (as RenderCsv writes it, no quoted line breaks) -> rows of fields.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      ++i;
    } else {
      field += ch;
    }
  }
  return rows;
}

// Every file under `root`: relative path -> size. To prove nothing was written.
std::map<std::string, uintmax_t> Listing(const fs::path& root) {
  std::map<std::string, uintmax_t> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = e.file_size();
  }
  return out;
}

std::string SqlQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

// The lake as the test reads it (not through LakeSql): the catalog snapshot
// and each table at the Delta version it pins.
LakeState CurrentLake(const fs::path& lake) {
  auto store = OpenLocalStore(lake.string());
  EXPECT_TRUE(store.ok());
  if (!store.ok()) return {};
  auto state = LoadLakeState(store->get());
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  return state.ok() ? std::move(state).value() : LakeState{};
}

std::vector<TableFile> LiveFilesOf(const LakeState& state, const std::string& table) {
  auto files = LiveFiles(state, table);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  return files.ok() ? std::move(files).value() : std::vector<TableFile>{};
}

// The first and last "YYYY-MM-DD" a file can hold: its date folder, or
// (gold.trades_hourly/daily: a file per product and month/year) the days of
// its period_start statistics.
std::pair<std::string, std::string> FileDays(const TableFile& f) {
  if (!f.date.empty()) return {f.date, f.date};
  auto day = [](const std::map<std::string, std::string>& values) {
    auto it = values.find("period_start");
    return it == values.end() || it->second.size() < 11 ? std::string() : it->second.substr(1, 10);  // "\"2024-..
  };
  return {day(f.stats.min_values), day(f.stats.max_values)};
}

// Files of `table`, of `product` ("" : any) that can hold rows of `date` ("" : any).
int64_t FileCount(const LakeState& state, const std::string& table, const std::string& product = "",
                  const std::string& date = "") {
  int64_t n = 0;
  for (const TableFile& f : LiveFilesOf(state, table)) {
    const auto [first, last] = FileDays(f);
    if (!product.empty() && f.product_id != product) continue;
    if (!date.empty() && (date < first || date > last)) continue;
    ++n;
  }
  return n;
}

// The partitions of `table` holding live files: "product_id=X/date=D", or
// "product_id=X" for a table without date folders.
std::map<std::string, int64_t> FilesByPartition(const LakeState& state, const std::string& table) {
  std::map<std::string, int64_t> out;
  for (const TableFile& f : LiveFilesOf(state, table)) {
    ++out[f.date.empty() ? ProductPartitionName(f.product_id) : PartitionName(f.product_id, f.date)];
  }
  return out;
}

// ===================================================== a. data-driven cases

fs::path CasesDir() { return (fs::path(__FILE__).parent_path() / "sql" / "cases").lexically_normal(); }

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(CasesDir(), ec)) {
    if (e.path().extension() == ".sql") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Runs the case NAME as its .expected file records it.
e2e::RunResult RunCase(const std::string& name) {
  const std::string query = e2e::ReadFile(CasesDir() / (name + ".sql"));
  std::vector<std::string> flags = {"--format", "csv", "-q"};
  constexpr std::string_view kArgs = "-- args:";
  if (query.starts_with(kArgs)) {
    std::istringstream words(query.substr(kArgs.size(), query.find('\n') - kArgs.size()));
    for (std::string w; words >> w;) flags.push_back(w);
  }
  return Sql(query, flags);
}

class SqlCase : public ::testing::TestWithParam<std::string> {};

TEST_P(SqlCase, OutputMatchesTheExpectedFile) {
  REQUIRE_LAKE();
  const fs::path sql_file = CasesDir() / (GetParam() + ".sql");
  const fs::path expected_file = CasesDir() / (GetParam() + ".expected");
  ASSERT_FALSE(e2e::ReadFile(sql_file).empty()) << sql_file;
  const auto r = RunCase(GetParam());
  ASSERT_EQ(r.exit_code, 0) << sql_file << "\n" << r.err;
  EXPECT_EQ(r.err, "") << "-q must keep stderr quiet";
  if (EnvIs("TRADELAKE_UPDATE_SQL_CASES", "1")) {
    std::ofstream out(expected_file, std::ios::binary | std::ios::trunc);
    out << r.out;
    out.close();
    ASSERT_TRUE(out.good()) << "could not write " << expected_file;
    std::cout << "wrote " << expected_file << "\n";
    return;
  }
  ASSERT_TRUE(fs::exists(expected_file)) << expected_file << " is missing: run with TRADELAKE_UPDATE_SQL_CASES=1";
  EXPECT_EQ(r.out, e2e::ReadFile(expected_file)) << "query: " << sql_file;
}

INSTANTIATE_TEST_SUITE_P(SqlCases, SqlCase, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name;
                           for (char ch : param_info.param) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

TEST(SqlCaseFiles, CoverEveryTableAndEachQueryHasItsExpectedOutput) {
  const auto names = CaseNames();
  ASSERT_GE(names.size(), 20u) << "cases not found in " << CasesDir();
  std::string all;
  for (const auto& n : names) {
    all += e2e::ReadFile(CasesDir() / (n + ".sql"));
    EXPECT_TRUE(fs::exists(CasesDir() / (n + ".expected"))) << n;
  }
  for (const auto& e : fs::directory_iterator(CasesDir())) {
    if (e.path().extension() == ".expected") {
      EXPECT_TRUE(fs::exists(fs::path(e.path()).replace_extension(".sql"))) << "orphan " << e.path();
    }
  }
  for (std::string_view table : {"silver.trades", "silver.trades_rejected", "gold.trades_hourly",
                                 "gold.trades_daily", "gold.bars_1m", "bronze.trades_raw"}) {
    bool found = false;
    for (size_t at = all.find(table); at != std::string::npos && !found; at = all.find(table, at + 1)) {
      const size_t end = at + table.size();
      found = end == all.size() || !(std::isalnum(static_cast<unsigned char>(all[end])) || all[end] == '_');
    }
    EXPECT_TRUE(found) << table << " is not queried by any case";
  }
}

// The recomputation cases must not only match their files: every difference
// they compute must be zero, whatever the .expected files say.
TEST(SqlCaseFiles, GoldEqualsSilverRecomputedWithExactSql) {
  REQUIRE_LAKE();
  {
    const auto r = RunCase("gold_trades_daily_equals_silver");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 10u) << r.out;  // header + 3 products x 3 dates
    for (size_t i = 1; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i][2], "true") << "inputs with more than 8 decimals: " << r.out;
      EXPECT_EQ(rows[i][3], "true") << "daily bar not at midnight: " << r.out;
      for (size_t c = 4; c < rows[i].size(); ++c) {
        const std::string& v = rows[i][c];
        EXPECT_TRUE(!v.empty() && v.find_first_not_of("0.") == std::string::npos)
            << rows[0][c] << " = '" << v << "' for " << rows[i][0] << " " << rows[i][1];
      }
    }
  }
  for (const char* name : {"gold_trades_hourly_equals_silver", "gold_bars_1m_equals_silver"}) {
    const auto r = RunCase(name);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 4u) << name << "\n" << r.out;
    for (size_t i = 1; i < rows.size(); ++i) {
      EXPECT_GT(std::stoll(rows[i][1]), 20) << name << " " << rows[i][0];
      EXPECT_EQ(rows[i][2], "0") << name << ": periods that differ for " << rows[i][0];
    }
  }
}

// ======================================================== b. pruning

class Pruning : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_LAKE();
    // The etl role: the analyst's tables plus bronze.trades_raw.
    auto store = OpenLakeAs(Lake().lake.string(), "etl");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    SqlOptions options;
    options.threads = 2;
    auto sql = LakeSql::Open(store_.get(), options);
    ASSERT_TRUE(sql.ok()) << sql.status().ToString();
    sql_ = std::move(sql).value();
    lake_ = CurrentLake(Lake().lake);
  }

  StatementResult Run(const std::string& statement) {
    auto r = sql_->ExecuteOne(statement);
    EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << statement;
    return r.ok() ? std::move(r).value() : StatementResult{};
  }

  static std::vector<std::vector<std::string>> Rows(const QueryResult& q) {
    std::vector<std::vector<std::string>> rows;
    for (uint64_t r = 0; r < q.row_count(); ++r) {
      std::vector<std::string> row;
      for (uint64_t c = 0; c < q.column_count(); ++c) row.push_back(q.GetStringOr(r, c, "NULL"));
      rows.push_back(std::move(row));
    }
    return rows;
  }

  // Runs `pruned` and `unpruned` (same rows, a filter the pruner cannot read)
  // and checks what each read. Returns the pruned rows.
  std::vector<std::vector<std::string>> Compare(const std::string& table, const std::string& pruned,
                                                const std::string& unpruned, int64_t want_files_read) {
    const int64_t total = FileCount(lake_, table);
    const auto a = Run(pruned);
    const auto b = Run(unpruned);
    EXPECT_EQ(a.scan.files_total, total) << pruned;
    EXPECT_EQ(a.scan.files_read, want_files_read) << pruned;
    EXPECT_EQ(a.scan.files_skipped(), total - want_files_read) << pruned;
    EXPECT_EQ(a.scan.files_by_table.count(table) ? a.scan.files_by_table.at(table) : 0, want_files_read) << pruned;
    EXPECT_LT(a.scan.bytes_read, a.scan.bytes_total) << pruned;
    EXPECT_EQ(b.scan.files_read, total) << "the control query was pruned: " << unpruned;
    EXPECT_EQ(b.scan.bytes_read, b.scan.bytes_total) << unpruned;
    const auto rows = Rows(a.rows);
    EXPECT_FALSE(rows.empty()) << pruned;
    EXPECT_EQ(rows, Rows(b.rows)) << pruned << "\nvs\n" << unpruned;
    return rows;
  }

  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<LakeSql> sql_;
  LakeState lake_;
};

TEST_F(Pruning, OneProductOneDayReadsOnlyThatPartitionOfEveryTable) {
  for (const std::string table : {"silver.trades", "gold.trades_hourly", "gold.trades_daily", "gold.bars_1m",
                                  "silver.trades_rejected"}) {
    SCOPED_TRACE(table);
    const std::string order = table == "silver.trades_rejected" ? "trade_id, rule" : "1, 2, 3";
    const std::string cols = table == "silver.trades_rejected" ? "* EXCLUDE (rejected_at)"
                             : table == "silver.trades"        ? "* EXCLUDE (ingested_at)"
                                                               : "*";
    const int64_t part = FileCount(lake_, table, "BTC-USD", "2024-05-02");
    ASSERT_GT(part, 0);
    ASSERT_GT(FileCount(lake_, table), part);
    Compare(table,
            "SELECT " + cols + " FROM " + table +
                " WHERE product_id = 'BTC-USD' AND date = '2024-05-02' ORDER BY " + order,
            "SELECT " + cols + " FROM " + table +
                " WHERE product_id || '' = 'BTC-USD' AND CAST(date AS VARCHAR) = '2024-05-02' ORDER BY " + order,
            part);
  }
}

TEST_F(Pruning, TradeTimeRangeInsideOneDayReadsOnlyThatDay) {
  const auto rows = Compare(
      "silver.trades",
      "SELECT trade_id, trade_time, price FROM silver.trades WHERE product_id = 'ETH-USD' "
      "AND trade_time >= '2024-05-02 10:00:00' AND trade_time < '2024-05-02 14:00:00' ORDER BY trade_id",
      "SELECT trade_id, trade_time, price FROM silver.trades WHERE product_id || '' = 'ETH-USD' "
      "AND CAST(trade_time AS VARCHAR) >= '2024-05-02 10:00:00' AND CAST(trade_time AS VARCHAR) < '2024-05-02 14:00:00' "
      "ORDER BY trade_id",
      1);
  for (const auto& row : rows) {
    EXPECT_GE(row[1], "2024-05-02 10:00:00");
    EXPECT_LT(row[1], "2024-05-02 14:00:00");
  }
  // All products, a whole day given as a half-open time range: one file per product.
  Compare("silver.trades",
          "SELECT product_id, count(*) FROM silver.trades WHERE trade_time >= TIMESTAMP '2024-05-02 00:00:00' "
          "AND trade_time < TIMESTAMP '2024-05-03 00:00:00' GROUP BY ALL ORDER BY ALL",
          "SELECT product_id, count(*) FROM silver.trades WHERE CAST(trade_time AS VARCHAR) >= '2024-05-02' "
          "AND CAST(trade_time AS VARCHAR) < '2024-05-03' GROUP BY ALL ORDER BY ALL",
          3);
  // Gold with date folders by period_start: one file per product.
  Compare("gold.bars_1m",
          "SELECT * FROM gold.bars_1m WHERE period_start BETWEEN '2024-05-03 01:00:00' AND '2024-05-03 03:00:00' "
          "ORDER BY product_id, period_start",
          "SELECT * FROM gold.bars_1m WHERE CAST(period_start AS VARCHAR) BETWEEN '2024-05-03 01:00:00' AND "
          "'2024-05-03 03:00:00' ORDER BY product_id, period_start",
          3);
  // gold.trades_hourly has a file per product and month: the days of a file
  // come from its period_start statistics. May's files hold the range.
  Compare("gold.trades_hourly",
          "SELECT * FROM gold.trades_hourly WHERE product_id = 'SOL-USD' AND period_start BETWEEN "
          "'2024-05-03 01:00:00' AND '2024-05-03 03:00:00' ORDER BY product_id, period_start",
          "SELECT * FROM gold.trades_hourly WHERE product_id || '' = 'SOL-USD' AND CAST(period_start AS VARCHAR) "
          "BETWEEN '2024-05-03 01:00:00' AND '2024-05-03 03:00:00' ORDER BY product_id, period_start",
          FileCount(lake_, "gold.trades_hourly", "SOL-USD", "2024-05-03"));
  // ... and no file of it holds June, or the day before the first trade.
  for (const std::string where : {"period_start >= '2024-06-01'", "date < DATE '2024-05-01'",
                                  "period_start < '2024-04-30 23:59:59'"}) {
    SCOPED_TRACE(where);
    for (const std::string table : {"gold.trades_hourly", "gold.trades_daily"}) {
      const auto r = Run("SELECT count(*) FROM " + table + " WHERE " + where);
      EXPECT_EQ(r.scan.files_read, 0);
      EXPECT_EQ(r.scan.files_total, FileCount(lake_, table));
      EXPECT_EQ(r.rows.GetStringOr(0, 0, ""), "0");
    }
  }
}

TEST_F(Pruning, ProductListsReadTheirPartitionsOnly) {
  Compare("gold.trades_daily",
          "SELECT * FROM gold.trades_daily WHERE product_id IN ('BTC-USD', 'SOL-USD') AND date > DATE '2024-05-01' "
          "ORDER BY product_id, date",
          "SELECT * FROM gold.trades_daily WHERE product_id || '' IN ('BTC-USD', 'SOL-USD') AND "
          "CAST(date AS VARCHAR) > '2024-05-01' ORDER BY product_id, date",
          // a file per product and year, holding May 1-3
          FileCount(lake_, "gold.trades_daily", "BTC-USD") + FileCount(lake_, "gold.trades_daily", "SOL-USD"));
  Compare("silver.trades",
          "SELECT product_id, count(*) FROM silver.trades WHERE product_id = 'ETH-USD' OR product_id = 'SOL-USD' "
          "GROUP BY ALL ORDER BY ALL",
          "SELECT product_id, count(*) FROM silver.trades WHERE product_id || '' = 'ETH-USD' OR product_id || '' = "
          "'SOL-USD' GROUP BY ALL ORDER BY ALL",
          6);
}

TEST_F(Pruning, BronzeIsPrunedByProductAndDateFolders) {
  // Records per object of ETH-USD 2024-05-01 (the ingested objects and the
  // hand-made 7-8), read straight from the files.
  std::string error;
  std::map<std::string, int64_t> want;
  for (const auto& [id, copies] : e2e::ReadBronze(Lake().lake, "ETH-USD", &error)) {
    for (const auto& c : copies) {
      const std::string key = fs::relative(c.object, Lake().lake).string();
      if (key.find("/date=2024-05-01/") != std::string::npos) ++want[key];
    }
  }
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_GT(want.size(), 1u);
  auto all = store_->List("bronze/");
  ASSERT_TRUE(all.ok());
  int64_t total = 0;
  for (const auto& o : *all) total += o.key.ends_with(".jsonl.zst") ? 1 : 0;
  ASSERT_GT(total, static_cast<int64_t>(want.size()));
  const auto r = Run("SELECT bronze_object, count(*) FROM bronze.trades_raw WHERE product = 'ETH-USD' "
                     "AND date = '2024-05-01' GROUP BY ALL ORDER BY ALL");
  EXPECT_EQ(r.scan.files_read, static_cast<int64_t>(want.size()));
  // Bronze has no catalog: only the day folder the filters point at was
  // listed, so the other objects are not even counted.
  EXPECT_EQ(r.scan.files_total, static_cast<int64_t>(want.size()));
  std::map<std::string, int64_t> got;
  for (const auto& row : Rows(r.rows)) got[row[0]] = std::stoll(row[1]);
  EXPECT_EQ(got, want);
}

// bronze.trades_raw is for debugging what landed: a broken record (which
// the ETL rejects into silver.trades_rejected) must not make the objects
// around it unreadable. One row per record, the broken ones included.
TEST_F(Pruning, BronzeWithABrokenRecordStaysQueryable) {
  // Every ingested trade of the partition is in Silver (no duplicates were landed).
  const auto silver = Run("SELECT count(*) FROM silver.trades WHERE product_id = 'BTC-USD' AND date = '2024-05-02'");
  const int64_t ingested = std::stoll(silver.rows.GetStringOr(0, 0, "0"));
  ASSERT_GT(ingested, 0);
  auto r = sql_->ExecuteOne("SELECT count(*) FROM bronze.trades_raw WHERE product = 'BTC-USD' AND date = '2024-05-02'");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::stoll(r->rows.GetStringOr(0, 0, "0")), ingested + 6) << "one row per record, the 6 broken ones too";
  auto everything = sql_->ExecuteOne("SELECT count(*) FROM bronze.trades_raw");
  EXPECT_TRUE(everything.ok()) << everything.status().ToString();
}

TEST_F(Pruning, TheCliSummarySaysWhatWasReadAndSkipped) {
  const int64_t total = FileCount(lake_, "silver.trades");
  const auto r = Sql("SELECT count(*) FROM silver.trades WHERE product_id = 'BTC-USD' AND date = '2024-05-02'",
                     {"--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("1 row in "));
  EXPECT_THAT(r.err, HasSubstr("read 1 of " + std::to_string(total) + " files"));
  EXPECT_THAT(r.err, HasSubstr("(" + std::to_string(total - 1) + " skipped)"));
  EXPECT_THAT(r.err, HasSubstr("Athena: $0.000048 (10 MB minimum)"));
  const auto all = Sql("SELECT count(*) FROM silver.trades", {"--format", "csv"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.err, HasSubstr("read " + std::to_string(total) + " of " + std::to_string(total) + " files"));
  EXPECT_THAT(all.err, HasSubstr("(0 skipped)"));
}

// Each table of a join is pruned by the filters on that table alone: an
// unfiltered second table must not make the first one read everything (which
// would also make --max-scan refuse small joins).
TEST_F(Pruning, EachTableOfAJoinIsPrunedByItsOwnFilters) {
  auto r = Run(
      "SELECT s.trade_id, g.trade_count FROM silver.trades s JOIN gold.trades_daily g USING (product_id, date) "
      "WHERE s.product_id = 'BTC-USD' AND s.date = '2024-05-02' ORDER BY s.trade_id LIMIT 3");
  EXPECT_EQ(r.rows.row_count(), 3u);
  EXPECT_EQ(r.scan.files_by_table["silver.trades"], 1);
  EXPECT_EQ(r.scan.files_by_table["gold.trades_daily"], 1);
  auto mixed = Run(
      "SELECT count(*) FROM silver.trades s, gold.trades_daily g "
      "WHERE s.product_id = 'BTC-USD' AND s.date = '2024-05-02' AND g.product_id = 'ETH-USD'");
  EXPECT_EQ(mixed.scan.files_by_table["silver.trades"], 1);
  EXPECT_EQ(mixed.scan.files_by_table["gold.trades_daily"], FileCount(lake_, "gold.trades_daily", "ETH-USD"));
  const auto n = Run("SELECT count(*) FROM silver.trades WHERE product_id = 'BTC-USD' AND date = '2024-05-02'");
  EXPECT_EQ(mixed.rows.GetStringOr(0, 0, ""), std::to_string(3 * std::stoll(n.rows.GetStringOr(0, 0, "0"))));
}

// ======================================================== c. hostile SQL

struct Hostile {
  std::string sql;
  std::string message;  // a substring of the error on stderr
  int exit_code = kExitAccessDenied;
};

TEST(HostileSql, EveryWriteOrEscapeIsRefusedWithAccessDeniedAndWritesNothing) {
  REQUIRE_LAKE();
  const fs::path lake = Lake().lake;
  const fs::path outside = Lake().dir / "outside";
  fs::create_directories(outside);
  const std::string tmp_csv = "/tmp/tradelake-sql-e2e-" + std::to_string(::getpid()) + "-copy.csv";
  const std::string lake_silver = (lake / "silver" / "x.parquet").string();
  const std::string lake_glob = (lake / "silver" / "trades" / "**" / "*.parquet").string();
  const std::string relative = "tradelake-sql-e2e-" + std::to_string(::getpid()) + "-relative.csv";
  const std::vector<Hostile> cases = {
      {"COPY (SELECT 1) TO " + SqlQuote(tmp_csv), "COPY statements are not allowed"},
      {"COPY (SELECT * FROM silver.trades) TO " + SqlQuote(lake_silver) + " (FORMAT parquet)", "COPY"},
      {"COPY silver.trades TO " + SqlQuote((outside / "t.csv").string()), "COPY"},
      {"COPY (SELECT 1) TO " + SqlQuote(relative), "COPY"},
      {"ATTACH " + SqlQuote((outside / "a.duckdb").string()) + " AS a", "ATTACH"},
      {"DETACH memory", "DETACH"},
      {"SELECT * FROM read_csv('/etc/passwd')", "Permission"},
      {"SELECT * FROM read_text('/etc/passwd')", "Permission"},
      {"SELECT * FROM read_blob('/etc/passwd')", "Permission"},
      {"SELECT * FROM '/etc/passwd'", "/etc/passwd", 2},  // no replacement scans: not a table
      {"SELECT * FROM glob('/etc/*')", "Permission"},
      {"INSTALL httpfs", "INSTALL"},
      {"LOAD httpfs", "LOAD"},
      {"SET threads = 1", "SET"},
      {"SET enable_external_access = true", "SET"},
      {"RESET allowed_directories", "RESET"},
      {"PRAGMA version", "PRAGMA"},
      {"PRAGMA enable_profiling", "PRAGMA"},
      {"CALL pragma_version()", "CALL"},
      {"CREATE TABLE t AS SELECT 1", "CREATE"},
      {"CREATE VIEW v AS SELECT 1", "CREATE"},
      {"CREATE OR REPLACE VIEW silver.trades AS SELECT 1 AS x", "CREATE"},
      {"CREATE MACRO m(a) AS a + 1", "CREATE"},
      {"DROP VIEW silver.trades", "DROP"},
      {"INSERT INTO silver.trades SELECT * FROM silver.trades", "INSERT"},
      {"UPDATE silver.trades SET side = 'x'", "UPDATE"},
      {"DELETE FROM silver.trades", "DELETE"},
      {"EXPORT DATABASE " + SqlQuote((outside / "export").string()), "EXPORT"},
      {"EXPLAIN COPY (SELECT 1) TO " + SqlQuote((outside / "explain.csv").string()), "COPY"},
      {"EXPLAIN ANALYZE COPY (SELECT 1) TO " + SqlQuote((outside / "analyze.csv").string()), "COPY"},
      {"SELECT count(*) FROM read_parquet(" + SqlQuote(lake_glob) + ")", "Permission"},
      {"SELECT count(*) FROM read_parquet(" +
           SqlQuote("/tmp/tradelake-sql-*/farm/../../../" + lake_glob.substr(1)) + ")",
       "Permission"},
      {"SELECT count(*) FROM read_parquet(" + SqlQuote("/tmp/tradelake-sql-*/farm/**/*.parquet") + ")",
       "Permission"},
      {"SELECT * FROM read_text(" + SqlQuote((lake / "silver" / ".." / ".." / ".." / "etc" / "passwd").string()) + ")",
       "Permission"},
      // Inside a folder the planner may open, then out again: the binder of
      // read_csv would read the file (and echo its header in an error).
      {"SELECT nonexistent FROM read_csv(" +
           SqlQuote((lake / "silver" / "trades" / "product_id=BTC-USD").string() +
                    "/../../../../../../../../../../etc/passwd") +
           ")",
       "Permission"},
      {"SELECT count(*) FROM read_parquet(" +
           SqlQuote((lake / "silver" / "trades").string() + "/../../bronze/**/*.jsonl.zst") + ")",
       "Permission"},
      {"SELECT * FROM read_json(" + SqlQuote((lake / "_catalog" / "commits" / "*.json").string()) + ")",
       "Permission"},
      {"SELECT * FROM read_text('../../../../../../etc/passwd')", "Permission"},
      // The analyst role (the default) has no Bronze, by table or by path.
      {"SELECT count(*) FROM bronze.trades_raw", "trades_raw", 2},
      {"SELECT count(*) FROM read_json(" + SqlQuote((lake / "bronze").string() + "/**/*.jsonl.zst") + ")",
       "Permission"},
      {"USE silver", "USE"},
      {"CHECKPOINT", "CHECKPOINT"},
      {"BEGIN TRANSACTION", "BEGIN"},
  };
  const auto before = Listing(lake);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.sql);
    const auto r = Csv(c.sql);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    if (c.exit_code == kExitAccessDenied) {
      EXPECT_THAT(r.err, HasSubstr("AccessDenied"));
    }
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_THAT(r.err, Not(HasSubstr("root:")));
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(fs::exists(tmp_csv));
  EXPECT_FALSE(fs::exists(relative));
  EXPECT_FALSE(fs::exists(lake_silver));
  EXPECT_TRUE(fs::is_empty(outside)) << "something was written outside the lake";
  EXPECT_EQ(Listing(lake), before) << "the lake changed";
}

// The same gate in-process, with the Status codes lake_sql.h promises.
TEST(HostileSql, InProcessTheGateAnswersWithTheDocumentedCodes) {
  REQUIRE_LAKE();
  auto store = OpenLakeAs(Lake().lake.string(), "analyst");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto sql = LakeSql::Open(store->get(), SqlOptions{});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  const fs::path target = Lake().dir / "in-process.csv";
  const std::vector<std::string> refused = {"COPY (SELECT 1) TO " + SqlQuote(target.string()),
                                            "ATTACH ':memory:' AS x",
                                            "SET threads = 1",
                                            "INSTALL httpfs",
                                            "DROP VIEW silver.trades",
                                            "CREATE TABLE x AS SELECT 1",
                                            "SELECT * FROM read_text('/etc/passwd')"};
  for (const std::string& statement : refused) {
    SCOPED_TRACE(statement);
    auto r = (*sql)->ExecuteOne(statement);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  }
  auto syntax = (*sql)->ExecuteOne("SELEC 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kInvalidArgument);
  auto script = (*sql)->Execute("SELECT 1; COPY (SELECT 1) TO " + SqlQuote(target.string()) + "; SELECT 2");
  ASSERT_FALSE(script.ok());
  EXPECT_EQ(script.status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(fs::exists(target));
  // After all that, the session still answers, over the same views.
  auto after = (*sql)->ExecuteOne("SELECT count(*) FROM gold.trades_daily");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->rows.GetStringOr(0, 0, ""), "9");
}

// Every statement of a script is checked before anything is printed: a
// refused statement anywhere fails the whole script, with no output at all
// (the SELECTs before it may run, but print nothing).
TEST(HostileSql, ARefusedStatementAnywhereInAScriptFailsItAndPrintsNothing) {
  REQUIRE_LAKE();
  const fs::path target = Lake().dir / "multi.csv";
  const std::vector<std::string> scripts = {
      "SELECT 42 AS answer; COPY (SELECT 1) TO " + SqlQuote(target.string()),
      "SELECT 42 AS answer; SELECT * FROM read_text('/etc/passwd')",
      "SELECT 42 AS answer;\nSET threads = 1;\nSELECT 43 AS other",
      // A literal the splitter must see through.
      "SELECT 'a;b' AS s; COPY (SELECT 1) TO " + SqlQuote(target.string()),
  };
  for (const auto& script : scripts) {
    SCOPED_TRACE(script);
    const auto r = Csv(script);
    EXPECT_EQ(r.exit_code, kExitAccessDenied) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.out, Not(HasSubstr("42")));
    const auto piped = TlWithStdin({"sql", "--lake", Lake().lake.string(), "--format", "csv", "-q"}, script);
    EXPECT_EQ(piped.exit_code, kExitAccessDenied) << piped.err;
    EXPECT_EQ(piped.out, "");
  }
  EXPECT_FALSE(fs::exists(target));
}

TEST(HostileSql, ErrorsOfOrdinaryMistakesAreUsageErrorsWithDuckDbsMessage) {
  REQUIRE_LAKE();
  const auto syntax = Csv("SELEC 1");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_THAT(syntax.err, HasSubstr("syntax error"));
  const auto missing = Csv("SELECT * FROM silver.nope");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope"));
  const auto column = Csv("SELECT no_such_column FROM gold.trades_daily");
  EXPECT_EQ(column.exit_code, 2);
  EXPECT_THAT(column.err, HasSubstr("no_such_column"));
  const auto options = Csv("EXPLAIN (FORMAT JSON) SELECT 1");
  EXPECT_NE(options.exit_code, 0);
  EXPECT_EQ(options.out, "");
}

// A table reached through a table function (query(), query_table()) is a
// table the statement reads: it must be accounted and read, or refused —
// never answered from an empty view.
TEST(HostileSql, TableFunctionsNamingATableNeverAnswerFromAnEmptyView) {
  REQUIRE_LAKE();
  const auto want = Csv("SELECT count(*) AS n FROM silver.trades");
  ASSERT_EQ(want.exit_code, 0) << want.err;
  for (const std::string q : {"SELECT count(*) AS n FROM query_table('silver.trades')",
                              "SELECT count(*) AS n FROM query('SELECT * FROM silver.trades')"}) {
    SCOPED_TRACE(q);
    const auto r = Csv(q);
    if (r.exit_code == 0) {
      EXPECT_EQ(r.out, want.out) << "a wrong answer, silently";
    } else {
      EXPECT_EQ(r.out, "");
      EXPECT_FALSE(r.err.empty());
    }
  }
}

// The gate refuses what is not a read, and only that: every kind of DuckDB
// read runs, whatever comes before it.
TEST(ReadOnlyGate, AcceptsEveryKindOfRead) {
  REQUIRE_LAKE();
  struct Read {
    std::string sql;
    std::string output_starts_with;
  };
  const std::vector<Read> reads = {
      {"FROM gold.trades_daily SELECT count(*) AS n", "n\r\n9\r\n"},
      {"(SELECT 1 AS x)", "x\r\n1\r\n"},
      {"VALUES (1)", "col0\r\n1\r\n"},
      {"WITH d AS (SELECT * FROM gold.trades_daily) SELECT count(*) AS n FROM d", "n\r\n9\r\n"},
      {"SELECT count(*) AS n FROM (DESCRIBE gold.trades_daily)", "n\r\n17\r\n"},
      {"SUMMARIZE gold.trades_daily", "column_name,column_type,"},
      {"SHOW gold.trades_daily", "column_name,column_type,"},
      {"-- a comment first\nSELECT 1 AS x", "x\r\n1\r\n"},
      {"EXPLAIN SELECT count(*) FROM gold.trades_daily", "explain_key,explain_value\r\n"},
      {"-- a comment first\nEXPLAIN SELECT count(*) FROM gold.trades_daily", "explain_key,explain_value\r\n"},
      {"/* a comment first */ EXPLAIN SELECT 1", "explain_key,explain_value\r\n"},
      {"PIVOT gold.trades_daily ON product_id IN ('BTC-USD', 'ETH-USD', 'SOL-USD') USING sum(trade_count) GROUP BY date ORDER BY date",
       "date,BTC-USD,ETH-USD,SOL-USD\r\n2024-05-01,"},
      {"SELECT * FROM (PIVOT gold.trades_daily ON product_id IN ('BTC-USD', 'ETH-USD', 'SOL-USD') USING sum(trade_count) GROUP BY date) ORDER BY date",
       "date,BTC-USD,ETH-USD,SOL-USD\r\n2024-05-01,"},
  };
  for (const auto& read : reads) {
    SCOPED_TRACE(read.sql);
    const auto r = Csv(read.sql);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, testing::StartsWith(read.output_starts_with));
  }
  // A PIVOT without an IN list would run a second, unchecked query: refused
  // with the fix, not with a puzzling error.
  const auto pivot = Csv("PIVOT gold.trades_daily ON product_id USING sum(trade_count) GROUP BY date");
  EXPECT_EQ(pivot.exit_code, 2) << pivot.err;
  EXPECT_THAT(pivot.err, testing::HasSubstr("IN list"));
}

// ======================================================== d. scan cutoff

TEST(ScanCutoff, AFullScanOverTheLimitFailsAndNamesBothSizesWhileOnePartitionPasses) {
  REQUIRE_LAKE();
  auto store = OpenLocalStore(Lake().lake.string());
  ASSERT_TRUE(store.ok());
  // Sizes from the Delta log: what a scan of the live files reads.
  int64_t full = 0, one = 0;
  const LakeState state = CurrentLake(Lake().lake);
  for (const TableFile& f : LiveFilesOf(state, "silver.trades")) {
    full += f.size;
    if (f.product_id == "BTC-USD" && f.date == "2024-05-02") one += f.size;
  }
  ASSERT_EQ(FileCount(state, "silver.trades"), 9);
  ASSERT_GT(one, 0);
  ASSERT_LT(one, full);
  const std::string limit = std::to_string(one);  // bytes; exactly one partition fits
  const auto refused = Sql("SELECT count(*) FROM silver.trades", {"--format", "csv", "--max-scan", limit});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(refused.out, "");
  EXPECT_THAT(refused.err, HasSubstr("FailedPrecondition"));
  EXPECT_THAT(refused.err, HasSubstr("(" + std::to_string(full) + " bytes)"));
  EXPECT_THAT(refused.err, HasSubstr("in 9 files"));
  EXPECT_THAT(refused.err, HasSubstr("over the scan limit of " + HumanBytes(one)));
  EXPECT_THAT(refused.err, HasSubstr("--max-scan"));

  const auto passed = Sql("SELECT count(*) AS n FROM silver.trades WHERE product_id = 'BTC-USD' AND date = '2024-05-02'",
                          {"--format", "csv", "--max-scan", limit});
  EXPECT_EQ(passed.exit_code, 0) << passed.err;
  EXPECT_THAT(passed.out, testing::StartsWith("n\r\n"));
  EXPECT_THAT(passed.err, HasSubstr("read 1 of 9 files"));

  // The limit is inclusive: a scan of exactly the limit runs, one byte less does not.
  EXPECT_EQ(Sql("SELECT count(*) FROM silver.trades", {"-q", "--max-scan", std::to_string(full)}).exit_code, 0);
  EXPECT_NE(Sql("SELECT count(*) FROM silver.trades", {"-q", "--max-scan", std::to_string(full - 1)}).exit_code, 0);
  // Units are understood; a bad size is a usage error.
  EXPECT_NE(Sql("SELECT count(*) FROM silver.trades", {"-q", "--max-scan", "1KB"}).exit_code, 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM silver.trades", {"-q", "--max-scan", "1GB"}).exit_code, 0);
  const auto bad = Sql("SELECT 1", {"-q", "--max-scan", "10XB"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--max-scan"));
}

TEST(ScanCutoff, TheLimitIsCheckedBeforeAnythingRunsInProcessToo) {
  REQUIRE_LAKE();
  auto store = OpenLocalStore(Lake().lake.string());
  ASSERT_TRUE(store.ok());
  SqlOptions options;
  options.max_scan_bytes = 1;
  auto sql = LakeSql::Open(store->get(), options);
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  auto r = (*sql)->ExecuteOne("SELECT count(*) FROM gold.trades_daily");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  // Statements that read no table are never refused.
  EXPECT_TRUE((*sql)->ExecuteOne("SELECT 1").ok());
  (*sql)->set_max_scan_bytes(0);
  EXPECT_TRUE((*sql)->ExecuteOne("SELECT count(*) FROM gold.trades_daily").ok());
}

// ======================================================== e. catalog

TEST(Catalog, ListShowsEveryTableWithItsPartitionsAndFiles) {
  REQUIRE_LAKE();
  const LakeState state = CurrentLake(Lake().lake);
  const auto r = Tl({"catalog", "list", "--lake", Lake().lake.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string table : {"silver.trades", "silver.trades_rejected", "gold.trades_hourly",
                                  "gold.trades_daily", "gold.bars_1m"}) {
    SCOPED_TRACE(table);
    const auto partitions_of_table = FilesByPartition(state, table);
    ASSERT_FALSE(partitions_of_table.empty());
    const size_t at = r.out.find(table + " ");
    ASSERT_NE(at, std::string::npos) << r.out;
    std::istringstream line(r.out.substr(at, r.out.find('\n', at) - at));
    std::string name;
    int64_t partitions = -1, files = -1;
    line >> name >> partitions >> files;
    EXPECT_EQ(partitions, static_cast<int64_t>(partitions_of_table.size()));
    EXPECT_EQ(files, FileCount(state, table));
  }
  EXPECT_THAT(r.out, HasSubstr("silver.trades_rejected            2        2"));
  EXPECT_THAT(r.out, Not(HasSubstr("bronze.trades_raw"))) << "catalog list runs as the analyst role";
  EXPECT_THAT(r.out, HasSubstr("catalog commit " + std::to_string(state.catalog.seq)));
}

TEST(Catalog, DescribeShowsColumnsTypesAndPartitions) {
  REQUIRE_LAKE();
  const auto r = Tl({"catalog", "describe", "gold.trades_daily", "--lake", Lake().lake.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A file per product and year: no date folder, `date` still a column (of period_start).
  EXPECT_THAT(r.out, HasSubstr("gold.trades_daily (partitioned by product_id)"));
  for (const char* col : {"  product_id       VARCHAR\n", "  period_start     TIMESTAMP\n",
                          "  trade_count      BIGINT\n", "  vwap             DECIMAL(38,18)\n",
                          "  last_trade_id    BIGINT\n", "  price_sum        DECIMAL(38,18)\n",
                          "  date             DATE\n"}) {
    EXPECT_THAT(r.out, HasSubstr(col));
  }
  const LakeState state = CurrentLake(Lake().lake);
  const int64_t files = FileCount(state, "gold.trades_daily");
  EXPECT_THAT(r.out, HasSubstr(fmt::format("3 partitions, {} files, ", files)));
  for (const auto& [partition, n] : FilesByPartition(state, "gold.trades_daily")) {
    EXPECT_THAT(r.out, HasSubstr(fmt::format("  {}  ({} file{})\n", partition, n, n == 1 ? "" : "s")));
  }
  for (const char* p : {"BTC-USD", "ETH-USD", "SOL-USD"}) EXPECT_THAT(r.out, HasSubstr(std::string("product_id=") + p));
  const auto bars = Tl({"catalog", "describe", "gold.bars_1m", "--lake", Lake().lake.string()});
  ASSERT_EQ(bars.exit_code, 0) << bars.err;
  EXPECT_THAT(bars.out, HasSubstr("gold.bars_1m (partitioned by product_id, date)"));
  for (const char* p : {"BTC-USD", "ETH-USD", "SOL-USD"}) {
    for (const char* d : {"2024-05-01", "2024-05-02", "2024-05-03"}) {
      EXPECT_THAT(bars.out, HasSubstr("  product_id=" + std::string(p) + "/date=" + d + "  ("));
    }
  }
  const auto unknown = Tl({"catalog", "describe", "gold.nope", "--lake", Lake().lake.string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("gold.nope"));
}

TEST(Catalog, CheckNamesALiveFileThatIsGoneAndNeverReadsFilesOutsideThePinnedVersions) {
  REQUIRE_LAKE();
  const fs::path lake = Lake().dir / "check-lake";
  fs::remove_all(lake);
  fs::copy(Lake().lake, lake, fs::copy_options::recursive);
  const auto before = Csv("SELECT product_id, date, count(*) AS n FROM silver.trades GROUP BY ALL ORDER BY ALL", lake);
  ASSERT_EQ(before.exit_code, 0) << before.err;

  const auto ok = Tl({"catalog", "check", "--lake", lake.string()});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("missing: none"));

  // A stray file (an unfinished run's, or a replaced one awaiting vacuum)
  // holding the same rows again: never read, listed by the check.
  const LakeState state = CurrentLake(lake);
  std::string btc, eth;
  for (const TableFile& f : LiveFilesOf(state, "silver.trades")) {
    if (f.product_id == "BTC-USD" && f.date == "2024-05-02") btc = f.key;
    if (f.product_id == "ETH-USD" && f.date == "2024-05-02") eth = f.key;
  }
  ASSERT_FALSE(btc.empty());
  ASSERT_FALSE(eth.empty());
  const std::string stray = "silver/trades/product_id=BTC-USD/date=2024-05-02/part-99999999-x.parquet";
  fs::copy_file(lake / btc, lake / stray);
  const auto with_stray = Tl({"catalog", "check", "--lake", lake.string()});
  ASSERT_EQ(with_stray.exit_code, 0) << with_stray.err;
  EXPECT_THAT(with_stray.out, HasSubstr("missing: none"));
  EXPECT_THAT(with_stray.out, HasSubstr("unreferenced"));
  EXPECT_THAT(with_stray.out, HasSubstr("  - " + stray + "\n"));
  EXPECT_EQ(Csv("SELECT product_id, date, count(*) AS n FROM silver.trades GROUP BY ALL ORDER BY ALL", lake).out,
            before.out)
      << "a file outside the pinned version was read";

  // A live file lost: queries reading it fail and say what to do; others run.
  ASSERT_TRUE(fs::remove(lake / eth));
  const auto broken = Csv("SELECT count(*) FROM silver.trades", lake);
  EXPECT_EQ(broken.exit_code, 65) << broken.out << broken.err;
  EXPECT_THAT(broken.err, HasSubstr(eth));
  EXPECT_THAT(broken.err, HasSubstr("tradelake catalog check"));
  EXPECT_EQ(Csv("SELECT count(*) AS n FROM silver.trades WHERE product_id = 'SOL-USD'", lake).exit_code, 0);

  const auto check = Tl({"catalog", "check", "--lake", lake.string()});
  EXPECT_EQ(check.exit_code, 65) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("missing (1)"));
  EXPECT_THAT(check.out, HasSubstr("  - silver.trades " + eth + ": not in the lake\n"));
  EXPECT_THAT(check.err, HasSubstr("1 live file of catalog commit " + std::to_string(state.catalog.seq)));
  EXPECT_THAT(check.err, HasSubstr("tradelake etl --rebuild"));
  EXPECT_TRUE(fs::exists(lake / stray)) << "check never deletes";
  fs::remove_all(lake);
}

// ======================================================== f. output formats

TEST(Formats, JsonKeepsDecimalsAsExactStringsAndNumbersAsNumbers) {
  REQUIRE_LAKE();
  const std::string q =
      "SELECT product_id, date, trade_count, vwap, quote_volume, period_start FROM gold.trades_daily "
      "WHERE product_id = 'BTC-USD' ORDER BY date";
  const auto json = Sql(q, {"--format", "json", "-q"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto csv = ParseCsv(Csv(q).out);
  ASSERT_EQ(csv.size(), 4u);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json.out).get(doc), simdjson::SUCCESS) << json.out;
  simdjson::dom::array rows;
  ASSERT_EQ(doc.get_array().get(rows), simdjson::SUCCESS);
  ASSERT_EQ(rows.size(), 3u);
  size_t i = 1;
  for (simdjson::dom::element row : rows) {
    std::string_view s;
    int64_t n = 0;
    ASSERT_EQ(row["product_id"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, csv[i][0]);
    ASSERT_EQ(row["date"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, csv[i][1]);
    ASSERT_EQ(row["trade_count"].get_int64().get(n), simdjson::SUCCESS);
    EXPECT_EQ(std::to_string(n), csv[i][2]);
    ASSERT_EQ(row["vwap"].get_string().get(s), simdjson::SUCCESS) << "DECIMAL must be a JSON string";
    EXPECT_EQ(s, csv[i][3]);
    EXPECT_EQ(s.size() - s.find('.') - 1, 18u) << s;
    ASSERT_EQ(row["quote_volume"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, csv[i][4]);
    ASSERT_EQ(row["period_start"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, csv[i][5]);
    ++i;
  }
}

TEST(Formats, ParquetOutKeepsEveryTypeAndValue) {
  REQUIRE_LAKE();
  const fs::path out = Lake().dir / "out.parquet";
  fs::remove(out);
  const std::string q = "SELECT * FROM gold.trades_daily ORDER BY product_id, period_start";
  const auto r = Sql(q, {"--format", "parquet", "--out", out.string(), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_TRUE(fs::exists(out));
  // Read back with plain DuckDB: `tradelake sql` cannot read outside the lake.
  auto db = Database::Open(":memory:");
  ASSERT_TRUE(db.ok());
  auto con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  auto back = con->Query("SELECT * FROM read_parquet(" + SqlQuote(out.string()) + ")");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  const std::map<std::string, std::string> want_types = {
      {"product_id", "VARCHAR"},         {"period_start", "TIMESTAMP"},     {"trade_count", "BIGINT"},
      {"avg_price", "DECIMAL(38,18)"},   {"total_volume", "DECIMAL(38,18)"}, {"quote_volume", "DECIMAL(38,18)"},
      {"vwap", "DECIMAL(38,18)"},        {"open", "DECIMAL(38,18)"},        {"high", "DECIMAL(38,18)"},
      {"low", "DECIMAL(38,18)"},         {"close", "DECIMAL(38,18)"},       {"buy_volume", "DECIMAL(38,18)"},
      {"sell_volume", "DECIMAL(38,18)"}, {"first_trade_id", "BIGINT"},      {"last_trade_id", "BIGINT"},
      {"price_sum", "DECIMAL(38,18)"},   {"date", "DATE"}};
  std::map<std::string, std::string> types;
  for (uint64_t c = 0; c < back->column_count(); ++c) types[back->column_name(c)] = back->column_type_name(c);
  EXPECT_EQ(types, want_types);
  const auto csv = ParseCsv(Csv(q).out);
  ASSERT_EQ(csv.size(), back->row_count() + 1);
  ASSERT_EQ(csv[0].size(), back->column_count());
  for (uint64_t row = 0; row < back->row_count(); ++row) {
    for (uint64_t c = 0; c < back->column_count(); ++c) {
      EXPECT_EQ(back->GetStringOr(row, c, ""), csv[row + 1][c]) << csv[0][c] << " row " << row;
    }
  }
  // Parquet needs a file.
  const auto no_out = Sql(q, {"--format", "parquet", "-q"});
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_THAT(no_out.err, HasSubstr("--out"));
}

TEST(Formats, OutWritesTheLastResultToAFileAndEarlierOnesToStdout) {
  REQUIRE_LAKE();
  const fs::path out = Lake().dir / "out.csv";
  const std::string q = "SELECT product_id, date, vwap FROM gold.trades_daily ORDER BY product_id, date";
  const auto plain = Csv(q);
  ASSERT_EQ(plain.exit_code, 0);
  const auto r = Sql(q, {"--format", "csv", "--out", out.string(), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(e2e::ReadFile(out), plain.out);
  const auto two = Sql("SELECT 1 AS first; " + q, {"--format", "csv", "--out", out.string(), "-q"});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.out, "first\r\n1\r\n");
  EXPECT_EQ(e2e::ReadFile(out), plain.out);
  const auto bad = Sql("SELECT 1", {"--format", "xml"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("xml"));
}

TEST(Formats, TableIsTheDefaultAndMaxRowsCutsIt) {
  REQUIRE_LAKE();
  const auto r = Sql("SELECT * FROM gold.trades_hourly ORDER BY product_id, period_start", {"--max-rows", "5", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("DECIMAL(38,18)"));
  EXPECT_THAT(r.out, HasSubstr("│ BTC-USD"));
  EXPECT_THAT(r.out, HasSubstr(" more rows)\n"));
}

// ======================================================== g. scripts on stdin

TEST(Script, StatementsPipedOnStdinRunInOrder) {
  REQUIRE_LAKE();
  const std::string script =
      "-- a report\n"
      "SELECT 'semi;colon' AS label;\n"
      "SELECT product_id, count(*) AS days\n"
      "FROM gold.trades_daily\n"
      "GROUP BY product_id\n"
      "ORDER BY product_id;\n";
  const auto r = TlWithStdin({"sql", "--lake", Lake().lake.string(), "--format", "csv"}, script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "label\r\nsemi;colon\r\nproduct_id,days\r\nBTC-USD,3\r\nETH-USD,3\r\nSOL-USD,3\r\n");
  // One scan summary per statement.
  EXPECT_THAT(r.err, HasSubstr("1 row in "));
  EXPECT_THAT(r.err, HasSubstr("3 rows in "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;
}

TEST(Script, AnEmptyScriptIsAUsageError) {
  REQUIRE_LAKE();
  for (const std::string script : {"", "-- nothing but a comment\n", ";;\n"}) {
    const auto r = TlWithStdin({"sql", "--lake", Lake().lake.string()}, script);
    EXPECT_EQ(r.exit_code, 2) << script;
    EXPECT_THAT(r.err, HasSubstr("no SQL statement given"));
  }
}

// A backslash is an ordinary character in a DuckDB string literal; the
// statement splitter must not treat it as an escape (see sql_text_test.cc).
TEST(Script, BackslashInALiteralDoesNotBreakTheStatement) {
  REQUIRE_LAKE();
  const auto one = Csv("SELECT 'C:\\' AS path, ';' AS semi");
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "path,semi\r\nC:\\,;\r\n");
  const auto two = Csv("SELECT 'C:\\' AS path; SELECT 2 AS two");
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.out, "path\r\nC:\\\r\ntwo\r\n2\r\n");
}

}  // namespace
}  // namespace tradelake
