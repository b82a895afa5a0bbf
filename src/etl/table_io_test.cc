#include "etl/table_io.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/decimal.h"
#include "query/duckdb.h"

namespace tradelake {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

constexpr Dec18 Pow10(int n) {
  Dec18 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}
constexpr Dec18 kMax38 = Pow10(38) - 1;  // 99999999999999999999.999999999999999999

// A fresh temporary folder, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tl_table_io_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string Path(std::string_view name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "-12.000000000000000345": the exact text of an unscaled Dec18, computed
// without DuckDB, to compare with DuckDB's own rendering.
std::string Dec18Text(Dec18 v) { return Decimal(v, kSilverScale).ToString(); }

// Runs one query on a fresh in-memory DuckDB and returns its rows as text.
std::vector<std::vector<std::string>> QueryText(const std::string& sql) {
  Result<std::unique_ptr<Database>> db = Database::Open(":memory:");
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return {};
  Result<Connection> con = (*db)->Connect();
  EXPECT_TRUE(con.ok()) << con.status().ToString();
  if (!con.ok()) return {};
  Result<QueryResult> r = con->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok()) return {};
  std::vector<std::vector<std::string>> rows;
  for (uint64_t i = 0; i < r->row_count(); ++i) {
    std::vector<std::string> row;
    for (uint64_t c = 0; c < r->column_count(); ++c) row.push_back(r->GetStringOr(i, c, "NULL"));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> ColumnNames(const std::string& sql) {
  Result<std::unique_ptr<Database>> db = Database::Open(":memory:");
  EXPECT_TRUE(db.ok());
  if (!db.ok()) return {};
  Result<Connection> con = (*db)->Connect();
  if (!con.ok()) return {};
  Result<QueryResult> r = con->Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok()) return {};
  return r->column_names();
}

std::string Quote(const std::string& path) { return "'" + path + "'"; }

class RowMaker {
 public:
  explicit RowMaker(uint32_t seed) : rng_(seed) {}

  // Mostly ordinary values, with the extremes mixed in often.
  Dec18 AnyDecimal() {
    static constexpr Dec18 kSpecial[] = {
        0, 1, -1, kMax38, -kMax38, Pow10(18), Pow10(20) - 1, Pow10(37), -Pow10(18) + 1};
    const uint64_t pick = rng_() % 4;
    if (pick == 0) return kSpecial[rng_() % std::size(kSpecial)];
    // Up to ~38 digits built from two 64-bit draws.
    Dec18 v = (static_cast<Dec18>(rng_() % 5'000'000'000'000'000'000ULL) * Pow10(19)) +
              static_cast<Dec18>(rng_() % 10'000'000'000'000'000'000ULL);
    v %= (kMax38 + 1);
    if (pick == 1) v %= Pow10(12 + static_cast<int>(rng_() % 14));  // typical prices and sizes
    return rng_() % 8 == 0 ? -v : v;
  }
  int64_t AnyInt64() {
    switch (rng_() % 4) {
      case 0:
        return static_cast<int64_t>(rng_());
      case 1:
        return std::numeric_limits<int64_t>::max();
      case 2:
        return std::numeric_limits<int64_t>::min() + 1;
      default:
        return static_cast<int64_t>(rng_() % 1'000'000'000);
    }
  }
  TimestampMicros AnyTime() {
    // 1900 .. 2200, and the epoch itself.
    if (rng_() % 10 == 0) return 0;
    return static_cast<int64_t>(rng_() % 9'466'848'000'000'000ULL) - 2'208'988'800'000'000LL;
  }
  std::string AnyText() {
    static const std::string kPieces[] = {"BTC-USD",
                                          "'",
                                          "''",
                                          "\"",
                                          "\n",
                                          "\r\n",
                                          "\t",
                                          "\\",
                                          ",",
                                          "é",
                                          "日本語",
                                          "😀",
                                          "{\"price\":\"1.5\"}",
                                          " ",
                                          "\x01",
                                          "",
                                          std::string(300, 'x')};
    std::string s;
    const uint64_t n = rng_() % 6;
    for (uint64_t i = 0; i < n; ++i) {
      if (rng_() % 17 == 0) {
        s.append(std::string(300 + rng_() % 5000, 'y'));
      } else {
        s.append(kPieces[rng_() % std::size(kPieces)]);
      }
    }
    if (rng_() % 20 == 0) s.push_back('\0');  // NUL inside a VARCHAR
    return s;
  }
  std::string AnyDate() {
    static const char* kDates[] = {
        "2024-05-01", "1970-01-01", "2024-02-29", "1969-12-31", "9999-12-31", "0001-01-01", ""};
    return kDates[rng_() % std::size(kDates)];
  }

  SilverTrade Trade() {
    SilverTrade t;
    t.product_id = rng_() % 2 == 0 ? "BTC-USD" : AnyText();
    t.trade_id = AnyInt64();
    t.price = AnyDecimal();
    t.size = AnyDecimal();
    t.quote_notional = AnyDecimal();
    t.side = rng_() % 2 == 0 ? "buy" : "sell";
    t.taker_side = AnyText();
    t.time = AnyTime();
    t.ingested_at = AnyTime();
    t.bronze_object = "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/" + AnyText();
    return t;
  }
  RejectedRecord Rejected() {
    RejectedRecord r;
    r.product_id = AnyText();
    r.date = AnyDate();
    if (rng_() % 3 != 0) r.trade_id = AnyInt64();
    r.rule = AnyText();
    r.detail = AnyText();
    r.raw = AnyText();
    r.bronze_object = AnyText();
    r.rejected_at = AnyTime();
    return r;
  }
  GoldBar Bar() {
    GoldBar b;
    b.product_id = AnyText();
    b.period_start = AnyTime();
    b.trade_count = AnyInt64();
    for (Dec18* d : {&b.avg_price, &b.total_volume, &b.quote_volume, &b.vwap, &b.open, &b.high,
                     &b.low, &b.close, &b.buy_volume, &b.sell_volume}) {
      *d = AnyDecimal();
    }
    b.first_trade_id = AnyInt64();
    b.last_trade_id = AnyInt64();
    return b;
  }

 private:
  std::mt19937_64 rng_;
};

// Compares element by element so that a failure names the first bad row.
template <typename Row>
void ExpectSameRows(const std::vector<Row>& got, const std::vector<Row>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(got[i] == want[i]) << "first difference in row " << i;
  }
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) names.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// --- schemas -------------------------------------------------------------------

TEST(TableIo, SchemasSpellTheColumnsAnalystsQuery) {
  std::vector<std::string> names;
  for (const ColumnDef& c : SilverTradesSchema()) names.push_back(c.name + " " + c.type);
  EXPECT_THAT(names, ElementsAre("product_id VARCHAR", "trade_id BIGINT", "price DECIMAL(38,18)",
                                 "size DECIMAL(38,18)", "quote_notional DECIMAL(38,18)",
                                 "side VARCHAR", "taker_side VARCHAR", "trade_time TIMESTAMP",
                                 "ingested_at TIMESTAMP", "bronze_object VARCHAR"));
  names.clear();
  for (const ColumnDef& c : RejectedSchema()) {
    names.push_back(c.name + " " + c.type + (c.nullable ? " NULL" : ""));
  }
  EXPECT_THAT(names, ElementsAre("product_id VARCHAR", "date DATE NULL", "trade_id BIGINT NULL",
                                 "rule VARCHAR", "detail VARCHAR", "raw VARCHAR",
                                 "bronze_object VARCHAR", "rejected_at TIMESTAMP"));
  names.clear();
  for (const ColumnDef& c : GoldBarsSchema()) names.push_back(c.name + " " + c.type);
  EXPECT_THAT(
      names,
      ElementsAre("product_id VARCHAR", "period_start TIMESTAMP", "trade_count BIGINT",
                  "avg_price DECIMAL(38,18)", "total_volume DECIMAL(38,18)",
                  "quote_volume DECIMAL(38,18)", "vwap DECIMAL(38,18)", "open DECIMAL(38,18)",
                  "high DECIMAL(38,18)", "low DECIMAL(38,18)", "close DECIMAL(38,18)",
                  "buy_volume DECIMAL(38,18)", "sell_volume DECIMAL(38,18)",
                  "first_trade_id BIGINT", "last_trade_id BIGINT", "price_sum DECIMAL(38,18)"));
  EXPECT_EQ(ColumnListSql({{"a", "BIGINT", false}, {"b", "DATE", true}}),
            "a BIGINT NOT NULL, b DATE");
}

TEST(TableIo, FilesHaveExactlyTheSchemaColumnsAndTypes) {
  TempDir dir;
  ASSERT_TRUE(WriteSilverTrades({RowMaker(1).Trade()}, dir.Path("t.parquet")).ok());
  ASSERT_TRUE(WriteRejected({RowMaker(2).Rejected()}, dir.Path("r.parquet")).ok());
  ASSERT_TRUE(WriteGoldBars({RowMaker(3).Bar()}, dir.Path("g.parquet")).ok());
  for (const auto& [file, schema] : {std::pair{dir.Path("t.parquet"), SilverTradesSchema()},
                                     std::pair{dir.Path("r.parquet"), RejectedSchema()},
                                     std::pair{dir.Path("g.parquet"), GoldBarsSchema()}}) {
    // Time columns are UTC-adjusted in the file (Delta `timestamp`), which
    // DuckDB reads as TIMESTAMP WITH TIME ZONE; the schema names the plain
    // TIMESTAMP analysts see through tradelake's views.
    std::vector<std::vector<std::string>> want;
    for (const ColumnDef& c : schema) {
      want.push_back({c.name, c.type == "TIMESTAMP" ? "TIMESTAMP WITH TIME ZONE" : c.type});
    }
    EXPECT_EQ(
        QueryText("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(" +
                  Quote(file) + "))"),
        want)
        << file;
  }
}

TEST(TableIo, ParquetStoresDecimalsAsFixed16TimestampsAsMicrosAndUsesZstd) {
  TempDir dir;
  const std::string path = dir.Path("t.parquet");
  ASSERT_TRUE(WriteSilverTrades({RowMaker(1).Trade()}, path).ok());
  std::vector<std::vector<std::string>> schema = QueryText(
      "SELECT name, type, logical_type IS NOT NULL, scale, precision FROM parquet_schema(" +
      Quote(path) + ") WHERE name IN ('price', 'trade_time') ORDER BY name");
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(schema[0][0], "price");
  EXPECT_EQ(schema[0][1], "FIXED_LEN_BYTE_ARRAY");
  EXPECT_EQ(schema[0][3], "18");
  EXPECT_EQ(schema[0][4], "38");
  EXPECT_EQ(schema[1][0], "trade_time");
  EXPECT_EQ(schema[1][1], "INT64");
  std::vector<std::vector<std::string>> ts =
      QueryText("SELECT logical_type::VARCHAR FROM parquet_schema(" + Quote(path) +
                ") WHERE name = 'trade_time'");
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_THAT(ts[0][0], HasSubstr("MICROS"));
  EXPECT_EQ(QueryText("SELECT DISTINCT compression FROM parquet_metadata(" + Quote(path) + ")"),
            (std::vector<std::vector<std::string>>{{"ZSTD"}}));
}

// --- exact round trips -----------------------------------------------------------

TEST(TableIo, SilverTradesRoundTripExactly) {
  TempDir dir;
  RowMaker maker(42);
  std::vector<SilverTrade> rows;
  for (int i = 0; i < 5000; ++i) rows.push_back(maker.Trade());  // several 2048-row chunks
  const std::string path = dir.Path("trades.parquet");
  Status s = WriteSilverTrades(rows, path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<std::vector<SilverTrade>> back = ReadSilverTrades(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameRows(*back, rows);
}

TEST(TableIo, RejectedRecordsRoundTripExactlyWithNullTradeIdsAndDates) {
  TempDir dir;
  RowMaker maker(7);
  std::vector<RejectedRecord> rows;
  for (int i = 0; i < 3000; ++i) rows.push_back(maker.Rejected());
  RejectedRecord huge;
  huge.product_id = "ETH-USD";
  huge.date = "2024-05-01";
  huge.rule = "not_json";
  huge.raw = std::string(1 << 20, 'z') + "\"'\n\xF0\x9F\x98\x80";  // a 1 MiB raw record
  rows.push_back(huge);
  const std::string path = dir.Path("rejected.parquet");
  Status s = WriteRejected(rows, path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<std::vector<RejectedRecord>> back = ReadRejected(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameRows(*back, rows);

  // NULL is what SQL sees for an unknown trade_id or date.
  std::vector<std::vector<std::string>> nulls = QueryText(
      "SELECT count(*) FILTER (WHERE trade_id IS NULL), count(*) FILTER (WHERE date IS NULL) "
      "FROM read_parquet(" +
      Quote(path) + ")");
  size_t no_id = 0;
  size_t no_date = 0;
  for (const RejectedRecord& r : rows) {
    no_id += r.trade_id.has_value() ? 0 : 1;
    no_date += r.date.empty() ? 1 : 0;
  }
  ASSERT_EQ(nulls.size(), 1u);
  EXPECT_EQ(nulls[0][0], std::to_string(no_id));
  EXPECT_EQ(nulls[0][1], std::to_string(no_date));
}

TEST(TableIo, GoldBarsRoundTripExactly) {
  TempDir dir;
  RowMaker maker(99);
  std::vector<GoldBar> rows;
  for (int i = 0; i < 2100; ++i) rows.push_back(maker.Bar());
  const std::string path = dir.Path("bars.parquet");
  Status s = WriteGoldBars(rows, path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<std::vector<GoldBar>> back = ReadGoldBars(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameRows(*back, rows);
}

TEST(TableIo, EmptyTablesRoundTripAsFilesWithTheSchema) {
  TempDir dir;
  ASSERT_TRUE(WriteSilverTrades({}, dir.Path("t.parquet")).ok());
  ASSERT_TRUE(WriteRejected({}, dir.Path("r.parquet")).ok());
  ASSERT_TRUE(WriteGoldBars({}, dir.Path("g.parquet")).ok());
  Result<std::vector<SilverTrade>> t = ReadSilverTrades(dir.Path("t.parquet"));
  Result<std::vector<RejectedRecord>> r = ReadRejected(dir.Path("r.parquet"));
  Result<std::vector<GoldBar>> g = ReadGoldBars(dir.Path("g.parquet"));
  ASSERT_TRUE(t.ok() && r.ok() && g.ok());
  EXPECT_TRUE(t->empty());
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(g->empty());
}

TEST(TableIo, DuckDbSeesTheExactDecimalsWritten) {
  TempDir dir;
  const std::string path = dir.Path("t.parquet");
  std::vector<SilverTrade> rows(5);
  const Dec18 prices[] = {0, 1, kMax38, -kMax38, Pow10(18) * 96500 + 1};
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].product_id = "BTC-USD";
    rows[i].trade_id = static_cast<int64_t>(i);
    rows[i].price = prices[i];
  }
  ASSERT_TRUE(WriteSilverTrades(rows, path).ok());
  EXPECT_EQ(QueryText("SELECT price::VARCHAR FROM read_parquet(" + Quote(path) + ")"),
            (std::vector<std::vector<std::string>>{{"0.000000000000000000"},
                                                   {"0.000000000000000001"},
                                                   {"99999999999999999999.999999999999999999"},
                                                   {"-99999999999999999999.999999999999999999"},
                                                   {"96500.000000000000000001"}}));
}

TEST(TableIo, DuckDbSumOfSizesEqualsAnExactInt128Sum) {
  TempDir dir;
  const std::string path = dir.Path("t.parquet");
  std::mt19937_64 rng(2024);
  std::vector<SilverTrade> rows(10'000);
  Dec18 sum = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].product_id = "BTC-USD";
    rows[i].trade_id = static_cast<int64_t>(i);
    // Sizes with all 18 fractional digits in use, up to 10^15 in value.
    rows[i].size = static_cast<Dec18>(rng() % 1'000'000'000'000'000ULL) * Pow10(18) +
                   static_cast<Dec18>(rng() % 1'000'000'000'000'000'000ULL);
    sum += rows[i].size;
  }
  ASSERT_TRUE(WriteSilverTrades(rows, path).ok());
  std::vector<std::vector<std::string>> got =
      QueryText("SELECT sum(size)::VARCHAR FROM read_parquet(" + Quote(path) + ")");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0][0], Dec18Text(sum));
  EXPECT_THAT(got[0][0], HasSubstr("."));
  EXPECT_GT(got[0][0].size(), 30u);  // 19 integer digits, '.', 18 fractional digits
}

TEST(TableIo, RowsKeepTheirOrderAcrossChunks) {
  TempDir dir;
  const std::string path = dir.Path("t.parquet");
  std::vector<SilverTrade> rows(20'000);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].product_id = "BTC-USD";
    rows[i].trade_id = static_cast<int64_t>(rows.size() - i);  // descending: order is ours
  }
  ASSERT_TRUE(WriteSilverTrades(rows, path).ok());
  Result<std::vector<SilverTrade>> back = ReadSilverTrades(path);
  ASSERT_TRUE(back.ok());
  ExpectSameRows(*back, rows);
}

TEST(TableIo, ReplacesAnExistingFileAndLeavesNoTemporaryFiles) {
  TempDir dir;
  const std::string path = dir.Path("product_id=BTC-USD/date=2024-05-01/part-0.parquet");
  RowMaker maker(5);
  ASSERT_TRUE(WriteSilverTrades({maker.Trade(), maker.Trade()}, path).ok());
  const std::vector<SilverTrade> second = {maker.Trade()};
  ASSERT_TRUE(WriteSilverTrades(second, path).ok());
  Result<std::vector<SilverTrade>> back = ReadSilverTrades(path);
  ASSERT_TRUE(back.ok());
  ExpectSameRows(*back, second);
  EXPECT_THAT(FilesIn(dir.path()),
              ElementsAre("product_id=BTC-USD/date=2024-05-01/part-0.parquet"));
}

TEST(TableIo, TwoThreadsWriteAndReadDifferentFilesAtOnce) {
  TempDir dir;
  std::vector<SilverTrade> a;
  std::vector<SilverTrade> b;
  RowMaker maker(11);
  for (int i = 0; i < 5'000; ++i) a.push_back(maker.Trade());
  for (int i = 0; i < 5'000; ++i) b.push_back(maker.Trade());
  Status sa;
  Status sb;
  std::optional<Result<std::vector<SilverTrade>>> ra;
  std::optional<Result<std::vector<SilverTrade>>> rb;
  std::thread ta([&] {
    sa = WriteSilverTrades(a, dir.Path("a.parquet"));
    ra.emplace(ReadSilverTrades(dir.Path("a.parquet")));
  });
  std::thread tb([&] {
    sb = WriteSilverTrades(b, dir.Path("b.parquet"));
    rb.emplace(ReadSilverTrades(dir.Path("b.parquet")));
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(sa.ok()) << sa.ToString();
  ASSERT_TRUE(sb.ok()) << sb.ToString();
  ASSERT_TRUE(ra->ok() && rb->ok());
  ExpectSameRows(ra->value(), a);
  ExpectSameRows(rb->value(), b);
}

// --- Hive partitions ---------------------------------------------------------------

TEST(TableIo, ReadsOnlyWhatTheFileHoldsEvenUnderHiveFolders) {
  TempDir dir;
  // A record filed under another date folder than its own date column says.
  const std::string path = dir.Path("product_id=ETH-USD/date=2024-05-02/part-0.parquet");
  RejectedRecord r;
  r.product_id = "BTC-USD";
  r.date = "2024-05-01";
  r.rule = "x";
  ASSERT_TRUE(WriteRejected({r}, path).ok());
  Result<std::vector<RejectedRecord>> back = ReadRejected(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameRows(*back, {r});
}

// Documents what DuckDB 1.4 does when a table is queried with Hive
// partitioning while the files also hold product_id (and date) columns.
TEST(TableIo, HivePartitioningShowsEachColumnOnceWithTheFolderValue) {
  TempDir dir;
  SilverTrade t;
  t.product_id = "BTC-USD";
  t.trade_id = 1;
  t.price = Pow10(18);
  t.time = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z
  ASSERT_TRUE(
      WriteSilverTrades({t}, dir.Path("trades/product_id=BTC-USD/date=2024-05-01/p.parquet")).ok());
  t.product_id = "ETH-USD";
  t.trade_id = 2;
  ASSERT_TRUE(
      WriteSilverTrades({t}, dir.Path("trades/product_id=ETH-USD/date=2024-05-01/p.parquet")).ok());
  const std::string glob = Quote(dir.Path("trades/**/*.parquet"));

  // silver.trades: product_id once (from the file), date added from the folder.
  std::vector<std::string> want = {"product_id",     "trade_id",      "price",      "size",
                                   "quote_notional", "side",          "taker_side", "trade_time",
                                   "ingested_at",    "bronze_object", "date"};
  EXPECT_EQ(ColumnNames("SELECT * FROM read_parquet(" + glob + ", hive_partitioning = true)"),
            want);
  EXPECT_EQ(
      QueryText("SELECT product_id, trade_id, date, typeof(date), typeof(product_id) FROM "
                "read_parquet(" +
                glob + ", hive_partitioning = true) ORDER BY trade_id"),
      (std::vector<std::vector<std::string>>{{"BTC-USD", "1", "2024-05-01", "DATE", "VARCHAR"},
                                             {"ETH-USD", "2", "2024-05-01", "DATE", "VARCHAR"}}));
  // Filters on the folder names prune files.
  EXPECT_EQ(QueryText("SELECT count(*) FROM read_parquet(" + glob +
                      ", hive_partitioning = true) WHERE product_id = 'ETH-USD' AND "
                      "date = DATE '2024-05-01'"),
            (std::vector<std::vector<std::string>>{{"1"}}));

  // trades_rejected has product_id and date in the file as well. Where a
  // file's values disagree with its folder names, DuckDB 1.4 reports the
  // FOLDER's values: Hive columns replace file columns of the same name.
  RejectedRecord r;
  r.product_id = "BTC-USD";
  r.date = "2024-04-30";
  r.rule = "x";
  ASSERT_TRUE(
      WriteRejected({r}, dir.Path("rejected/product_id=XRP-USD/date=2024-05-01/p.parquet")).ok());
  const std::string rglob = Quote(dir.Path("rejected/**/*.parquet"));
  EXPECT_EQ(ColumnNames("SELECT * FROM read_parquet(" + rglob + ", hive_partitioning = true)"),
            (std::vector<std::string>{"product_id", "date", "trade_id", "rule", "detail", "raw",
                                      "bronze_object", "rejected_at"}));
  EXPECT_EQ(QueryText("SELECT product_id, date::VARCHAR, typeof(date) FROM read_parquet(" + rglob +
                      ", hive_partitioning = true)"),
            (std::vector<std::vector<std::string>>{{"XRP-USD", "2024-05-01", "DATE"}}));
  // DuckDB 1.4 turns Hive partitioning on by itself for a path with k=v
  // folders, even for a single file named in full.
  const std::string one = Quote(dir.Path("rejected/product_id=XRP-USD/date=2024-05-01/p.parquet"));
  EXPECT_EQ(QueryText("SELECT product_id, date::VARCHAR FROM read_parquet(" + one + ")"),
            (std::vector<std::vector<std::string>>{{"XRP-USD", "2024-05-01"}}));
  // Without Hive partitioning (what ReadRejected does) the file's values show.
  EXPECT_EQ(QueryText("SELECT product_id, date::VARCHAR FROM read_parquet(" + rglob +
                      ", hive_partitioning = false)"),
            (std::vector<std::vector<std::string>>{{"BTC-USD", "2024-04-30"}}));
}

// --- errors ----------------------------------------------------------------------

TEST(TableIo, RefusesValuesThatDoNotFitAndWritesNothing) {
  TempDir dir;
  const std::string path = dir.Path("t.parquet");
  std::vector<SilverTrade> rows(3000);
  rows[2500].size = kMax38 + 1;
  Status s = WriteSilverTrades(rows, path);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("row 2500"));
  EXPECT_THAT(s.message(), HasSubstr("size"));
  EXPECT_FALSE(fs::exists(path));

  rows[2500].size = -kMax38 - 1;
  EXPECT_EQ(WriteSilverTrades(rows, path).code(), StatusCode::kInvalidArgument);

  rows[2500].size = 0;
  rows[7].bronze_object = "bad \xC3\x28 utf-8";
  s = WriteSilverTrades(rows, path);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("row 7 column bronze_object"));
  EXPECT_THAT(s.message(), HasSubstr("UTF-8"));
  for (const char* bad : {"\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80", "\xE2\x82", "\xFF"}) {
    rows[7].bronze_object = bad;
    EXPECT_EQ(WriteSilverTrades(rows, path).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(fs::exists(path));

  RejectedRecord r;
  for (const char* date : {"2024-02-30", "2024-13-01", "2024-5-1", "yesterday"}) {
    r.date = date;
    s = WriteRejected({r}, path);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << date;
    EXPECT_THAT(s.message(), HasSubstr("column date")) << date;
  }
  EXPECT_THAT(FilesIn(dir.path()), ElementsAre());
}

TEST(TableIo, UnwritablePathIsAnIOErrorNamingThePath) {
  TempDir dir;
  // DuckDB itself cannot create the file (even root cannot create files in /proc).
  Status s = WriteSilverTrades({SilverTrade{}}, "/proc/tl_table_io_test.parquet");
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("/proc/tl_table_io_test.parquet"));
  std::printf("[ info ] %s\n", s.ToString().c_str());

  // The folder cannot be created: a file is in the way.
  { std::ofstream(dir.Path("file")) << "x"; }
  s = WriteGoldBars({GoldBar{}}, dir.Path("file/x.parquet"));
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(dir.Path("file/x.parquet")));

  // The target is a folder: the rename fails and the temporary file goes.
  fs::create_directories(dir.Path("folder.parquet"));
  s = WriteRejected({RejectedRecord{}}, dir.Path("folder.parquet"));
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_THAT(FilesIn(dir.path()), ElementsAre("file"));

  EXPECT_EQ(WriteSilverTrades({}, dir.Path("a*.parquet")).code(), StatusCode::kInvalidArgument);
}

TEST(TableIo, MissingFileIsNotFound) {
  TempDir dir;
  Result<std::vector<SilverTrade>> r = ReadSilverTrades(dir.Path("nope.parquet"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(dir.Path("nope.parquet")));
}

TEST(TableIo, CorruptOrForeignFileIsDataLossNamingThePath) {
  TempDir dir;
  const std::string good = dir.Path("good.parquet");
  RowMaker maker(3);
  std::vector<SilverTrade> rows;
  for (int i = 0; i < 1000; ++i) rows.push_back(maker.Trade());
  ASSERT_TRUE(WriteSilverTrades(rows, good).ok());
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 100u);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"text.parquet", "{\"trade_id\": 1}\n"},
      {"empty.parquet", ""},
      {"truncated.parquet", bytes.substr(0, bytes.size() / 2)},
      {"no_footer.parquet", bytes.substr(0, bytes.size() - 8)},
      // Magic bytes intact, body scrambled.
      {"scrambled.parquet",
       bytes.substr(0, 4) + std::string(bytes.size() - 8, '\x5A') + bytes.substr(bytes.size() - 4)},
      // Footer intact, the first column chunks' pages scrambled.
      {"bad_pages.parquet", bytes.substr(0, 4) + std::string(bytes.size() / 3, '\x5A') +
                                bytes.substr(4 + bytes.size() / 3)},
  };
  for (const auto& [name, content] : cases) {
    {
      std::ofstream out(dir.Path(name), std::ios::binary);
      out << content;
    }
    Result<std::vector<SilverTrade>> r = ReadSilverTrades(dir.Path(name));
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << name << ": " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(dir.Path(name)));
  }
  // A Parquet file of another table.
  Result<std::vector<GoldBar>> g = ReadGoldBars(good);
  EXPECT_EQ(g.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(g.status().message(), HasSubstr("period_start"));
}

TEST(TableIo, WrongSchemaIsDataLossNamingTheColumn) {
  TempDir dir;
  const std::string good = dir.Path("good.parquet");
  ASSERT_TRUE(WriteSilverTrades({RowMaker(1).Trade()}, good).ok());
  const std::string missing = dir.Path("missing.parquet");
  const std::string as_double = dir.Path("double.parquet");
  const std::string narrow = dir.Path("narrow.parquet");
  const std::string with_null = dir.Path("null.parquet");
  const std::string reordered = dir.Path("reordered.parquet");
  const std::string src = "read_parquet(" + Quote(good) + ")";
  QueryText("COPY (SELECT * EXCLUDE (size) FROM " + src + ") TO " + Quote(missing));
  QueryText("COPY (SELECT * REPLACE (price::DOUBLE AS price) FROM " + src + ") TO " +
            Quote(as_double));
  QueryText("COPY (SELECT * REPLACE (0::DECIMAL(18,8) AS quote_notional) FROM " + src + ") TO " +
            Quote(narrow));
  QueryText("COPY (SELECT * REPLACE (NULL::VARCHAR AS side) FROM " + src + ") TO " +
            Quote(with_null));
  QueryText("COPY (SELECT 'extra' AS note, bronze_object, * EXCLUDE (bronze_object) FROM " + src +
            ") TO " + Quote(reordered));

  Result<std::vector<SilverTrade>> r = ReadSilverTrades(missing);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("no column size"));
  EXPECT_THAT(r.status().message(), HasSubstr(missing));

  r = ReadSilverTrades(as_double);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("column price is DOUBLE, expected DECIMAL(38,18)"));

  r = ReadSilverTrades(narrow);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("quote_notional is DECIMAL(18,8)"));

  r = ReadSilverTrades(with_null);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("column side"));
  EXPECT_THAT(r.status().message(), HasSubstr("NULL in row 0"));

  // Columns are found by name; extra ones are ignored.
  Result<std::vector<SilverTrade>> good_rows = ReadSilverTrades(good);
  r = ReadSilverTrades(reordered);
  ASSERT_TRUE(good_rows.ok() && r.ok()) << r.status().ToString();
  ExpectSameRows(*r, *good_rows);
}

// Each thread reuses one DuckDB session across calls; no failure may leave
// it unable to serve the next call. Runs on a thread of its own so that the
// session is opened by the first failure below.
TEST(TableIo, AFailedCallLeavesTheThreadAbleToWriteAndRead) {
  TempDir dir;
  RowMaker maker(21);
  std::vector<SilverTrade> trades;
  for (int i = 0; i < 3000; ++i) trades.push_back(maker.Trade());
  const std::vector<GoldBar> bars = {maker.Bar(), maker.Bar()};
  const std::string corrupt = dir.Path("corrupt.parquet");
  { std::ofstream(corrupt, std::ios::binary) << "PAR1 not really PAR1"; }

  std::thread([&] {
    // DuckDB cannot create the file.
    Status s = WriteSilverTrades(trades, "/proc/tl_table_io_test.parquet");
    EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
    // tl_rows() fails mid-COPY, after a first chunk went to the writer.
    std::vector<SilverTrade> bad = trades;
    bad[2500].price = kMax38 + 1;
    s = WriteSilverTrades(bad, dir.Path("bad.parquet"));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    // A file DuckDB cannot parse.
    EXPECT_EQ(ReadSilverTrades(corrupt).status().code(), StatusCode::kDataLoss);

    const std::string path = dir.Path("t.parquet");
    s = WriteSilverTrades(trades, path);
    ASSERT_TRUE(s.ok()) << s.ToString();
    // Streaming stops at the schema check and the result is dropped mid-way.
    EXPECT_EQ(ReadGoldBars(path).status().code(), StatusCode::kDataLoss);
    Result<std::vector<SilverTrade>> back = ReadSilverTrades(path);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ExpectSameRows(*back, trades);

    // Another table right after: tl_rows() now serves the gold columns.
    const std::string bars_path = dir.Path("bars.parquet");
    s = WriteGoldBars(bars, bars_path);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Result<std::vector<GoldBar>> bars_back = ReadGoldBars(bars_path);
    ASSERT_TRUE(bars_back.ok()) << bars_back.status().ToString();
    ExpectSameRows(*bars_back, bars);
  }).join();
  EXPECT_THAT(FilesIn(dir.path()), ElementsAre("bars.parquet", "corrupt.parquet", "t.parquet"));
}

// Threads that come and go each get a session of their own, closed when they
// exit (the ASan build checks that nothing leaks).
TEST(TableIo, ShortLivedThreadsEachWriteAndRead) {
  TempDir dir;
  RowMaker maker(22);
  const std::vector<SilverTrade> rows = {maker.Trade(), maker.Trade(), maker.Trade()};
  for (int round = 0; round < 2; ++round) {
    std::vector<std::thread> threads;
    std::vector<Status> written(3);
    std::vector<std::optional<Result<std::vector<SilverTrade>>>> read(3);
    for (size_t t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        const std::string path = dir.Path(fmt::format("{}-{}.parquet", round, t));
        written[t] = WriteSilverTrades(rows, path);
        read[t].emplace(ReadSilverTrades(path));
      });
    }
    for (std::thread& t : threads) t.join();
    for (size_t t = 0; t < 3; ++t) {
      ASSERT_TRUE(written[t].ok()) << written[t].ToString();
      ASSERT_TRUE(read[t]->ok()) << read[t]->status().ToString();
      ExpectSameRows(read[t]->value(), rows);
    }
  }
}

// n trades as the ETL writes them: one product, ordinary prices and sizes.
std::vector<SilverTrade> TypicalTrades(size_t n) {
  std::vector<SilverTrade> rows(n);
  std::mt19937_64 rng(1);
  for (size_t i = 0; i < rows.size(); ++i) {
    SilverTrade& t = rows[i];
    t.product_id = "BTC-USD";
    t.trade_id = 600'000'000 + static_cast<int64_t>(i);
    t.price = static_cast<Dec18>(6'000'000 + rng() % 100'000) * Pow10(16);  // 60000.00-61000.00
    t.size = static_cast<Dec18>(rng() % 100'000'000) * Pow10(10);           // 8 decimals
    t.quote_notional = t.price * t.size / Pow10(18);
    t.side = rng() % 2 == 0 ? "buy" : "sell";
    t.taker_side = t.side == "buy" ? "sell" : "buy";
    t.time = 1'714'521'600'000'000 + static_cast<int64_t>(i) * 80'000;
    t.ingested_at = t.time + 5'000'000;
    t.bronze_object =
        fmt::format("bronze/source=coinbase/product=BTC-USD/date=2024-05-01/{}-{}.jsonl.zst",
                    600'000'000 + (i / 1000) * 1000, 600'000'000 + (i / 1000) * 1000 + 999);
  }
  return rows;
}

// Not a unit test: prints how long a million trades take to write and read.
// Run with --gtest_also_run_disabled_tests --gtest_filter='*Million*'.
TEST(TableIo, DISABLED_WritesAndReadsAMillionTrades) {
  TempDir dir;
  const std::vector<SilverTrade> rows = TypicalTrades(1'000'000);
  const std::string path = dir.Path("million.parquet");
  const auto t0 = std::chrono::steady_clock::now();
  Status s = WriteSilverTrades(rows, path);
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<std::vector<SilverTrade>> back = ReadSilverTrades(path);
  const auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == rows);
  using ms = std::chrono::duration<double, std::milli>;
  std::printf(
      "[ info ] 1M silver trades: write %.0f ms, read %.0f ms, file %.1f MB, %s row groups\n",
      ms(t1 - t0).count(), ms(t2 - t1).count(), static_cast<double>(fs::file_size(path)) / 1e6,
      QueryText("SELECT count(DISTINCT row_group_id) FROM parquet_metadata(" + Quote(path) +
                ")")[0][0]
          .c_str());
}

// Not a unit test: prints how long the ETL's pattern of many small files
// takes (48 files written, then read back, on one thread), where the fixed
// cost per call dominates.
// Run with --gtest_also_run_disabled_tests --gtest_filter='*ManySmall*'.
TEST(TableIo, DISABLED_WritesAndReadsManySmallFiles) {
  constexpr int kFiles = 48;
  for (size_t n : {size_t{10'000}, size_t{100}}) {
    TempDir dir;
    const std::vector<SilverTrade> rows = TypicalTrades(n);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kFiles; ++i) {
      Status s = WriteSilverTrades(rows, dir.Path(fmt::format("part-{}.parquet", i)));
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < kFiles; ++i) {
      Result<std::vector<SilverTrade>> back =
          ReadSilverTrades(dir.Path(fmt::format("part-{}.parquet", i)));
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      ASSERT_EQ(back->size(), rows.size());
    }
    const auto t2 = std::chrono::steady_clock::now();
    using ms = std::chrono::duration<double, std::milli>;
    std::printf("[ info ] %d files of %zu silver trades: write %.0f ms, read %.0f ms\n", kFiles,
                rows.size(), ms(t1 - t0).count(), ms(t2 - t1).count());
  }
}

}  // namespace
}  // namespace tradelake
