#include "sql/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "query/duckdb.h"
#include "sql/lake_sql.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Results come from a real in-memory DuckDB, as LakeSql's do.
class Render : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open(":memory:", {{"threads", "1"}});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto con = db_->Connect();
    ASSERT_TRUE(con.ok());
    con_ = std::make_unique<Connection>(std::move(con).value());
  }

  QueryResult Q(const std::string& sql) {
    auto r = con_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << sql;
    return r.ok() ? std::move(r).value() : QueryResult();
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

// ---------------------------------------------------------------------- CSV

TEST_F(Render, CsvQuotesCommasQuotesAndLineBreaksOnly) {
  const auto r = Q("SELECT 'plain' AS a, 'x,y' AS b, 'say \"hi\"' AS c, 'line1' || chr(10) || 'line2' AS d, "
                   "'cr' || chr(13) AS e, NULL::VARCHAR AS f, '' AS g, ' padded ' AS h");
  EXPECT_EQ(RenderCsv(r),
            "a,b,c,d,e,f,g,h\r\n"
            "plain,\"x,y\",\"say \"\"hi\"\"\",\"line1\nline2\",\"cr\r\",,, padded \r\n");
}

TEST_F(Render, CsvQuotesColumnNamesToo) {
  const auto r = Q("SELECT 1 AS \"a,b\", 2 AS \"q\"\"uote\", 3 AS plain");
  EXPECT_EQ(RenderCsv(r), "\"a,b\",\"q\"\"uote\",plain\r\n1,2,3\r\n");
}

TEST_F(Render, CsvKeepsEveryDecimalDigitAndNullIsEmpty) {
  const auto r = Q("SELECT 65000.010000000000000001::DECIMAL(38,18) AS price, NULL::DECIMAL(38,18) AS none, "
                   "-0.000000000000000001::DECIMAL(38,18) AS tiny, 42::BIGINT AS n, TIMESTAMP '2026-11-26 10:00:00.5' AS t, "
                   "DATE '2026-11-26' AS d, true AS b");
  EXPECT_EQ(RenderCsv(r),
            "price,none,tiny,n,t,d,b\r\n"
            "65000.010000000000000001,,-0.000000000000000001,42,2026-11-26 10:00:00.5,2026-11-26,true\r\n");
}

TEST_F(Render, CsvOfNoRowsIsTheHeaderAlone) {
  EXPECT_EQ(RenderCsv(Q("SELECT 1 AS a, 'x' AS b WHERE false")), "a,b\r\n");
}

// Nested values must come out as DuckDB's text of them, never as an empty
// field (which reads back as NULL or '' and silently loses the value). The C
// API's value accessors have no text for them, so LakeSql, which produces
// every result a user sees, casts such columns to VARCHAR.
TEST_F(Render, NestedValuesAreNotSilentlyBlank) {
  auto store = NewMemoryStore();
  auto sql = LakeSql::Open(store.get(), SqlOptions{});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  auto result = (*sql)->ExecuteOne("SELECT [1, 2] AS l, {'a': 1} AS s, 3 AS n");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const QueryResult& r = result->rows;
  EXPECT_EQ(r.column_type_name(2), "INTEGER");  // other columns keep their types
  const std::string csv = RenderCsv(r);
  EXPECT_NE(csv, "l,s\r\n,\r\n");
  EXPECT_THAT(csv, HasSubstr("[1, 2]"));
  const std::string json = RenderJson(r);
  EXPECT_THAT(json, Not(HasSubstr("\"l\": \"\"")));
  EXPECT_THAT(RenderTable(r), HasSubstr("[1, 2]"));
}

// --------------------------------------------------------------------- JSON

TEST_F(Render, JsonKeepsDecimalsExactAsStringsAndTypesEverythingElse) {
  const auto r = Q("SELECT 1.000000000000000001::DECIMAL(38,18) AS d, 12345678901234567890.5::DECIMAL(38,18) AS big, "
                   "42::BIGINT AS i, -7::INTEGER AS neg, NULL::INTEGER AS n, true AS t, false AS f, 'x\"y\\z' AS s, "
                   "1.5::DOUBLE AS g, DATE '2026-11-26' AS day, TIMESTAMP '2026-11-26 10:00:00' AS ts");
  EXPECT_EQ(RenderJson(r),
            "[\n"
            "  {\"d\": \"1.000000000000000001\", \"big\": \"12345678901234567890.500000000000000000\", "
            "\"i\": 42, \"neg\": -7, \"n\": null, \"t\": true, \"f\": false, \"s\": \"x\\\"y\\\\z\", \"g\": 1.5, "
            "\"day\": \"2026-11-26\", \"ts\": \"2026-11-26 10:00:00\"}\n"
            "]\n");
}

TEST_F(Render, JsonOfNoRowsIsAnEmptyArray) { EXPECT_EQ(RenderJson(Q("SELECT 1 AS a WHERE false")), "[]\n"); }

TEST_F(Render, JsonIsValidForEveryAwkwardValue) {
  const auto r = Q("SELECT * FROM (VALUES "
                   "('a' || chr(1) || chr(10) || chr(9) || 'b', 'inf'::DOUBLE, NULL::BOOLEAN, 1e20::DOUBLE), "
                   "('ünïcödé €', 'nan'::DOUBLE, true, -0.0::DOUBLE), "
                   "('\"quoted\"', '-inf'::DOUBLE, false, 1.5e-300::DOUBLE)) v(\"we\"\"ird key\", x, b, y)");
  const std::string json = RenderJson(r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  simdjson::dom::array rows;
  ASSERT_EQ(doc.get_array().get(rows), simdjson::SUCCESS);
  ASSERT_EQ(rows.size(), 3u);
  std::vector<simdjson::dom::object> objs;
  for (simdjson::dom::element row : rows) {
    simdjson::dom::object o;
    ASSERT_EQ(row.get_object().get(o), simdjson::SUCCESS);
    objs.push_back(o);
  }
  auto at = [&](size_t row, std::string_view key) {
    simdjson::dom::element e;
    EXPECT_EQ(objs[row][key].get(e), simdjson::SUCCESS) << key;
    return e;
  };
  std::vector<std::string> keys;
  for (auto field : objs[0]) keys.emplace_back(field.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"we\"ird key", "x", "b", "y"}));  // column order
  std::string_view s;
  ASSERT_EQ(at(0, "we\"ird key").get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "a\x01\n\tb");
  ASSERT_EQ(at(1, "we\"ird key").get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "ünïcödé €");
  EXPECT_TRUE(at(0, "b").is_null());
  bool b = false;
  ASSERT_EQ(at(1, "b").get_bool().get(b), simdjson::SUCCESS);
  EXPECT_TRUE(b);
  // Infinities and NaN are not JSON numbers: they must be strings.
  EXPECT_TRUE(at(0, "x").is_string());
  EXPECT_TRUE(at(1, "x").is_string());
  EXPECT_TRUE(at(2, "x").is_string());
  double y = 0;
  ASSERT_EQ(at(0, "y").get_double().get(y), simdjson::SUCCESS);
  EXPECT_EQ(y, 1e20);
}

// -------------------------------------------------------------------- table

TEST_F(Render, TableIsCutToMaxRowsWithACountOfTheRest) {
  const auto r = Q("SELECT range AS n, 'row' || range AS s FROM range(10)");
  const std::string cut = RenderTable(r, 3);
  EXPECT_THAT(cut, HasSubstr("row0"));
  EXPECT_THAT(cut, HasSubstr("row2"));
  EXPECT_THAT(cut, Not(HasSubstr("row3")));
  EXPECT_THAT(cut, HasSubstr("(7 more rows)\n"));
  const std::string all = RenderTable(r, 0);
  EXPECT_THAT(all, HasSubstr("row9"));
  EXPECT_THAT(all, Not(HasSubstr("more rows")));
  EXPECT_THAT(RenderTable(r, 10), Not(HasSubstr("more rows")));
  EXPECT_THAT(RenderTable(r, 9), HasSubstr("(1 more rows)"));
}

TEST_F(Render, TableShowsNamesTypesNullAndRightAlignsNumbers) {
  const auto r = Q("SELECT * FROM (VALUES (1.5::DECIMAL(38,18), 'a'), (NULL, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb')) "
                   "v(price, side)");
  const std::string t = RenderTable(r);
  EXPECT_THAT(t, HasSubstr("price"));
  EXPECT_THAT(t, HasSubstr("DECIMAL(38,18)"));
  EXPECT_THAT(t, HasSubstr("VARCHAR"));
  EXPECT_THAT(t, HasSubstr("1.500000000000000000"));
  EXPECT_THAT(t, HasSubstr("NULL"));
  // NULL in a numeric column is padded on the left like the numbers above it.
  EXPECT_THAT(t, HasSubstr("│                 NULL │"));
  EXPECT_THAT(t, HasSubstr("│ a "));
}

TEST_F(Render, TableCutsLongCellsAndKeepsTheLayoutWhateverTheCellHolds) {
  const auto r = Q("SELECT repeat('x', 100) AS long, 'two' || chr(10) || 'lines' AS nl, 'tab' || chr(9) || 'bed' AS tab");
  const std::string t = RenderTable(r, 0, 20);
  EXPECT_THAT(t, HasSubstr("…"));
  EXPECT_THAT(t, Not(HasSubstr(std::string(20, 'x'))));
  // Every line has the same display width: no cell breaks the box.
  std::istringstream lines(t);
  std::string line;
  size_t width = 0;
  int n = 0;
  while (std::getline(lines, line)) {
    size_t w = 0;
    for (unsigned char ch : line) w += (ch & 0xC0) != 0x80 ? 1 : 0;
    if (n++ == 0) width = w;
    EXPECT_EQ(w, width) << "line " << n << ": " << line;
  }
  EXPECT_EQ(n, 6);  // top, names, types, rule, one row, bottom
}

TEST_F(Render, TableOfNoRowsStillShowsTheHeader) {
  const std::string t = RenderTable(Q("SELECT 1 AS only_column WHERE false"));
  EXPECT_THAT(t, HasSubstr("only_column"));
  EXPECT_THAT(t, Not(HasSubstr("more rows")));
}

// ------------------------------------------------------------------ Parquet

TEST_F(Render, ParquetKeepsEveryColumnTypeAndValue) {
  const fs::path dir = fs::temp_directory_path() / ("tradelake-render-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "it's out.parquet";  // a quote in the path
  const auto r = Q("SELECT * FROM (VALUES "
                   "(65000.010000000000000001::DECIMAL(38,18), 700000001::BIGINT, TIMESTAMP '2026-11-26 10:00:00.123456', "
                   "DATE '2026-11-26', 'BTC-USD', true, 1.25::DOUBLE), "
                   "(NULL, NULL, NULL, NULL, NULL, NULL, NULL)) v(price, \"trade \"\"id\"\"\", t, d, p, b, x)");
  ASSERT_TRUE(WriteResultParquet(r, path.string()).ok());
  ASSERT_TRUE(fs::exists(path));
  std::string quoted = "'";
  for (char ch : path.string()) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
  quoted += "'";
  const auto back = Q("SELECT * FROM read_parquet(" + quoted + ")");
  ASSERT_EQ(back.column_count(), r.column_count());
  ASSERT_EQ(back.row_count(), 2u);
  for (uint64_t c = 0; c < r.column_count(); ++c) {
    EXPECT_EQ(back.column_name(c), r.column_name(c));
    EXPECT_EQ(back.column_type_name(c), r.column_type_name(c)) << r.column_name(c);
    EXPECT_EQ(back.GetString(0, c), r.GetString(0, c)) << r.column_name(c);
    EXPECT_FALSE(back.GetString(1, c).has_value()) << r.column_name(c);
  }
  EXPECT_EQ(back.column_type_name(0), "DECIMAL(38,18)");
  EXPECT_EQ(back.GetString(0, 0), "65000.010000000000000001");
  fs::remove_all(dir);
}

TEST_F(Render, ParquetRefusesNestedColumnsByName) {
  const auto r = Q("SELECT 1 AS ok, [1, 2] AS numbers");
  const std::string path = (fs::temp_directory_path() / ("tradelake-render-nested-" + std::to_string(::getpid()) +
                                                         ".parquet"))
                               .string();
  const Status s = WriteResultParquet(r, path);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("numbers"));
  EXPECT_FALSE(fs::exists(path));
}

// ----------------------------------------------------------- sizes and cost

TEST(ParseByteSize, DecimalUnitsArePowersOf1000) {
  EXPECT_EQ(ParseByteSize("10GB").value(), int64_t{10'000'000'000});
  EXPECT_EQ(ParseByteSize("500MB").value(), int64_t{500'000'000});
  EXPECT_EQ(ParseByteSize("1TB").value(), int64_t{1'000'000'000'000});
  EXPECT_EQ(ParseByteSize("2KB").value(), 2000);
  EXPECT_EQ(ParseByteSize("1.5KB").value(), 1500);
  EXPECT_EQ(ParseByteSize("10 gb").value(), int64_t{10'000'000'000});
}

TEST(ParseByteSize, BinaryUnitsArePowersOf1024) {
  EXPECT_EQ(ParseByteSize("1GiB").value(), int64_t{1} << 30);
  EXPECT_EQ(ParseByteSize("512MiB").value(), int64_t{512} << 20);
  EXPECT_EQ(ParseByteSize("1KiB").value(), 1024);
  EXPECT_EQ(ParseByteSize("1TiB").value(), int64_t{1} << 40);
  EXPECT_EQ(ParseByteSize("1mib").value(), int64_t{1} << 20);
}

TEST(ParseByteSize, PlainNumbersAreBytes) {
  EXPECT_EQ(ParseByteSize("123").value(), 123);
  EXPECT_EQ(ParseByteSize("123B").value(), 123);
  EXPECT_EQ(ParseByteSize("0").value(), 0);
}

TEST(ParseByteSize, AnythingElseIsAnErrorThatShowsTheFormat) {
  for (std::string_view bad : {"", "GB", "-1GB", "10XB", "10GBs", "1.2.3MB", "ten", "1e3", "0x10", "10 G B x",
                               "99999999999TB", "1PB"}) {
    auto r = ParseByteSize(bad);
    ASSERT_FALSE(r.ok()) << "\"" << bad << "\" was accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("10GB")) << bad;
  }
}

TEST(ParseOutputFormat, KnowsTheFourFormats) {
  EXPECT_EQ(ParseOutputFormat("table").value(), OutputFormat::kTable);
  EXPECT_EQ(ParseOutputFormat("csv").value(), OutputFormat::kCsv);
  EXPECT_EQ(ParseOutputFormat("json").value(), OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("parquet").value(), OutputFormat::kParquet);
  auto bad = ParseOutputFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("csv"));
}

// 5 USD per TiB, billed per whole MiB with a 10 MiB minimum. Every value
// below is exact in binary floating point.
TEST(AthenaCostUsd, BillsAtLeastTenMegabytes) {
  const double ten_mb = 10.0 * 5.0 / 1048576.0;
  EXPECT_EQ(AthenaCostUsd(0), ten_mb);
  EXPECT_EQ(AthenaCostUsd(1), ten_mb);
  EXPECT_EQ(AthenaCostUsd(-5), ten_mb);
  EXPECT_EQ(AthenaCostUsd(int64_t{10} << 20), ten_mb);
}

TEST(AthenaCostUsd, RoundsUpToAWholeMegabyte) {
  EXPECT_EQ(AthenaCostUsd((int64_t{10} << 20) + 1), 11.0 * 5.0 / 1048576.0);
  EXPECT_EQ(AthenaCostUsd(int64_t{11} << 20), 11.0 * 5.0 / 1048576.0);
  EXPECT_EQ(AthenaCostUsd(int64_t{1} << 40), 5.0);
  EXPECT_EQ(AthenaCostUsd((int64_t{1} << 40) + 1), 5.0 + 5.0 / 1048576.0);
  EXPECT_EQ(AthenaCostUsd(int64_t{3} << 40), 15.0);
}

TEST(HumanBytes, UsesBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(int64_t{1} << 20), "1.0 MiB");
  EXPECT_EQ(HumanBytes(int64_t{3} << 40), "3.0 TiB");
}

TEST(ScanSummary, SaysWhatWasReadSkippedAndBilled) {
  ScanStats s;
  s.rows = 3;
  s.elapsed_seconds = 0.041;
  s.files_total = 120;
  s.files_read = 2;
  s.bytes_total = int64_t{96} << 20;
  s.bytes_read = int64_t{1258291};  // 1.2 MiB
  EXPECT_EQ(ScanSummary(s),
            "3 rows in 0.041 s · read 2 of 120 files, 1.2 MiB of 96.0 MiB (118 skipped) · Athena: $0.000048 "
            "(10 MB minimum)");
  s.rows = 1;
  s.bytes_read = int64_t{20} << 20;
  s.files_read = 120;
  const std::string big = ScanSummary(s);
  EXPECT_THAT(big, StartsWith("1 row in "));
  EXPECT_THAT(big, HasSubstr("(0 skipped)"));
  EXPECT_THAT(big, Not(HasSubstr("minimum")));
  EXPECT_THAT(big, HasSubstr("$0.000095"));
}

}  // namespace
}  // namespace tradelake
