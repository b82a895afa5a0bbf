#include "sql/prune.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "query/duckdb.h"

// Partition pruning reads DuckDB's EXPLAIN (FORMAT JSON) text. The filter
// strings below are copied from real DuckDB 1.4 plans (the second half of
// this file produces such plans over a tiny Hive-partitioned Parquet set and
// checks ScansOfPlan on them, so a DuckDB upgrade that changes the spelling
// shows up here first).

namespace tradelake {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Days since 1970-01-01, computed independently of ParseDay.
int64_t Day(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
}

ScanConstraints From(std::string_view text) {
  ScanConstraints c;
  AddFilterText(text, &c);
  return c;
}

using Products = std::set<std::string>;

// ---------------------------------------------------------------- ParseDay

TEST(ParseDay, ReadsIsoDatesAsDaysSinceTheEpoch) {
  EXPECT_EQ(ParseDay("1970-01-01"), 0);
  EXPECT_EQ(ParseDay("1970-01-02"), 1);
  EXPECT_EQ(ParseDay("1969-12-31"), -1);
  EXPECT_EQ(ParseDay("2026-11-26"), Day(2026, 11, 26));
  EXPECT_EQ(ParseDay("2024-02-29"), Day(2024, 2, 29));
}

TEST(ParseDay, RejectsAnythingButYyyyMmDd) {
  for (std::string_view bad : {"", "2026-11-2", "2026-1-26", "2026/11/26", "2026-11-26 ", "2026-13-01",
                               "2026-11-32", "2026-00-10", "20261126", "abcd-ef-gh", "2026-11-26T00:00:00Z"}) {
    EXPECT_EQ(ParseDay(bad), std::nullopt) << bad;
  }
}

TEST(ParseDay, RejectsDaysThatDoNotExist) {
  EXPECT_EQ(ParseDay("2023-02-29"), std::nullopt);
  EXPECT_EQ(ParseDay("2026-04-31"), std::nullopt);
}

// ---------------------------------------------------------- ScanConstraints

TEST(ScanConstraints, DefaultMatchesEverythingAndSaysSo) {
  ScanConstraints c;
  EXPECT_TRUE(c.Unconstrained());
  EXPECT_TRUE(c.Matches("BTC-USD", Day(2026, 11, 26)));
  EXPECT_TRUE(c.Matches("", kMin));
  EXPECT_TRUE(c.Matches("X", kMax));
  EXPECT_EQ(c.ToString(), "products any, days ..");
}

TEST(ScanConstraints, MatchesDayBoundsInclusivelyAndOnlyListedProducts) {
  ScanConstraints c;
  c.products = Products{"BTC-USD", "ETH-USD"};
  c.min_day = Day(2026, 11, 25);
  c.max_day = Day(2026, 11, 26);
  EXPECT_FALSE(c.Unconstrained());
  EXPECT_FALSE(c.Matches("BTC-USD", Day(2026, 11, 24)));
  EXPECT_TRUE(c.Matches("BTC-USD", Day(2026, 11, 25)));
  EXPECT_TRUE(c.Matches("ETH-USD", Day(2026, 11, 26)));
  EXPECT_FALSE(c.Matches("ETH-USD", Day(2026, 11, 27)));
  EXPECT_FALSE(c.Matches("SOL-USD", Day(2026, 11, 25)));
  EXPECT_FALSE(c.Matches("btc-usd", Day(2026, 11, 25)));  // partition values are case-sensitive
  EXPECT_EQ(c.ToString(), "products {BTC-USD, ETH-USD}, days 2026-11-25..2026-11-26");
}

// A month file of gold.trades_hourly is needed when its days meet the scan's.
TEST(ScanConstraints, AFileSpanningDaysMatchesWhenItsRangeMeetsTheScans) {
  ScanConstraints c;
  c.products = Products{"BTC-USD"};
  c.min_day = Day(2026, 11, 25);
  c.max_day = Day(2026, 11, 26);
  EXPECT_TRUE(c.Matches("BTC-USD", Day(2026, 11, 1), Day(2026, 11, 30)));
  EXPECT_TRUE(c.Matches("BTC-USD", Day(2026, 11, 26), Day(2026, 12, 31)));
  EXPECT_TRUE(c.Matches("BTC-USD", Day(2026, 1, 1), Day(2026, 11, 25)));
  EXPECT_FALSE(c.Matches("BTC-USD", Day(2026, 10, 1), Day(2026, 11, 24)));
  EXPECT_FALSE(c.Matches("BTC-USD", Day(2026, 11, 27), Day(2026, 12, 31)));
  EXPECT_FALSE(c.Matches("ETH-USD", Day(2026, 11, 1), Day(2026, 11, 30)));
  EXPECT_TRUE(ScanConstraints{}.Matches("X", kMin, kMax));
}

TEST(ScanConstraints, AnEmptyProductSetMatchesNothing) {
  ScanConstraints c;
  c.products = Products{};
  EXPECT_FALSE(c.Unconstrained());
  EXPECT_FALSE(c.Matches("BTC-USD", Day(2026, 11, 25)));
  EXPECT_EQ(c.ToString(), "products {}, days ..");
}

TEST(ScanConstraints, ToStringShowsOpenEndedRanges) {
  ScanConstraints from;
  from.min_day = Day(2026, 11, 25);
  EXPECT_FALSE(from.Unconstrained());
  EXPECT_EQ(from.ToString(), "products any, days 2026-11-25..");
  ScanConstraints until;
  until.max_day = Day(2026, 11, 26);
  EXPECT_EQ(until.ToString(), "products any, days ..2026-11-26");
  ScanConstraints empty_range;
  empty_range.min_day = Day(2026, 11, 27);
  empty_range.max_day = Day(2026, 11, 26);
  EXPECT_FALSE(empty_range.Matches("BTC-USD", Day(2026, 11, 26)));
  EXPECT_FALSE(empty_range.Matches("BTC-USD", Day(2026, 11, 27)));
}

// ------------------------------------------------------------ AddFilterText

TEST(AddFilterText, FileFiltersOfOnePartitionGiveOneProductAndOneDay) {
  const auto c = From("(date = '2026-11-26'::DATE)(product_id = 'BTC-USD')");
  EXPECT_EQ(c.products, Products{"BTC-USD"});
  EXPECT_EQ(c.min_day, Day(2026, 11, 26));
  EXPECT_EQ(c.max_day, Day(2026, 11, 26));
  EXPECT_TRUE(c.Matches("BTC-USD", Day(2026, 11, 26)));
  EXPECT_FALSE(c.Matches("BTC-USD", Day(2026, 11, 25)));
  EXPECT_FALSE(c.Matches("ETH-USD", Day(2026, 11, 26)));
  // DuckDB prints the groups in either order.
  const auto swapped = From("(product_id = 'BTC-USD')(date = '2026-11-26'::DATE)");
  EXPECT_EQ(swapped.products, c.products);
  EXPECT_EQ(swapped.min_day, c.min_day);
  EXPECT_EQ(swapped.max_day, c.max_day);
}

TEST(AddFilterText, BronzeProductColumnCountsAsTheProduct) {
  const auto c = From("(product = 'ETH-USD')(date = '2026-11-24'::DATE)");
  EXPECT_EQ(c.products, Products{"ETH-USD"});
  EXPECT_EQ(c.min_day, Day(2026, 11, 24));
  EXPECT_EQ(c.max_day, Day(2026, 11, 24));
}

TEST(AddFilterText, TradeTimeRangeInsideOneDayGivesThatDay) {
  const auto c = From(
      "trade_time>='2026-11-26 10:00:00'::TIMESTAMP AND trade_time<='2026-11-26 12:00:00'::TIMESTAMP");
  EXPECT_EQ(c.products, std::nullopt);
  EXPECT_EQ(c.min_day, Day(2026, 11, 26));
  EXPECT_EQ(c.max_day, Day(2026, 11, 26));
}

TEST(AddFilterText, PeriodStartNarrowsDaysLikeTradeTime) {
  const auto c = From("period_start>='2026-11-25 00:00:00'::TIMESTAMP AND period_start<'2026-11-26 06:00:00'::TIMESTAMP");
  EXPECT_EQ(c.min_day, Day(2026, 11, 25));
  EXPECT_EQ(c.max_day, Day(2026, 11, 26));
}

TEST(AddFilterText, ExclusiveBoundAtMidnightEndsTheDayBefore) {
  EXPECT_EQ(From("trade_time<'2026-11-27 00:00:00'::TIMESTAMP").max_day, Day(2026, 11, 26));
  EXPECT_EQ(From("trade_time<'2026-11-27 00:00:00.000'::TIMESTAMP").max_day, Day(2026, 11, 26));
  EXPECT_EQ(From("trade_time<'2026-11-27'::TIMESTAMP").max_day, Day(2026, 11, 26));
  // A row at exactly midnight belongs to the next day's partition.
  EXPECT_EQ(From("trade_time<='2026-11-27 00:00:00'::TIMESTAMP").max_day, Day(2026, 11, 27));
  EXPECT_EQ(From("trade_time<'2026-11-27 00:00:00.000001'::TIMESTAMP").max_day, Day(2026, 11, 27));
  EXPECT_EQ(From("trade_time<'2026-11-27 00:00:01'::TIMESTAMP").max_day, Day(2026, 11, 27));
  // Lower bounds: a trade after midnight of day d is in day d or later.
  EXPECT_EQ(From("trade_time>'2026-11-26 00:00:00'::TIMESTAMP").min_day, Day(2026, 11, 26));
  EXPECT_EQ(From("trade_time>='2026-11-26 23:59:59.999999'::TIMESTAMP").min_day, Day(2026, 11, 26));
  const auto exact = From("trade_time='2026-11-26 00:00:00'::TIMESTAMP");
  EXPECT_EQ(exact.min_day, Day(2026, 11, 26));
  EXPECT_EQ(exact.max_day, Day(2026, 11, 26));
}

TEST(AddFilterText, DateComparisonsAreExact) {
  EXPECT_EQ(From("date<'2026-11-26'::DATE").max_day, Day(2026, 11, 25));
  EXPECT_EQ(From("date<='2026-11-26'::DATE").max_day, Day(2026, 11, 26));
  EXPECT_EQ(From("date>'2026-11-24'::DATE").min_day, Day(2026, 11, 25));
  EXPECT_EQ(From("date>='2026-11-24'::DATE").min_day, Day(2026, 11, 24));
  const auto between = From("(date >= '2026-11-24'::DATE)(date <= '2026-11-25'::DATE)");
  EXPECT_EQ(between.min_day, Day(2026, 11, 24));
  EXPECT_EQ(between.max_day, Day(2026, 11, 25));
  const auto both = From("date>='2026-11-24'::DATE AND date<='2026-11-25'::DATE");
  EXPECT_EQ(both.min_day, Day(2026, 11, 24));
  EXPECT_EQ(both.max_day, Day(2026, 11, 25));
}

TEST(AddFilterText, InListGivesEveryListedProduct) {
  EXPECT_EQ(From("(product_id IN ('BTC-USD', 'ETH-USD'))").products, (Products{"BTC-USD", "ETH-USD"}));
  EXPECT_EQ(From("product_id IN ('SOL-USD')").products, Products{"SOL-USD"});
}

TEST(AddFilterText, OrOfEqualitiesGivesTheUnion) {
  EXPECT_EQ(From("((product_id = 'BTC-USD') OR (product_id = 'ETH-USD'))").products,
            (Products{"BTC-USD", "ETH-USD"}));
  EXPECT_EQ(From("((product_id = 'A') OR (product_id IN ('B', 'C')) OR (product_id = 'D'))").products,
            (Products{"A", "B", "C", "D"}));
}

TEST(AddFilterText, QuotesInsideLiteralsAreUnescapedAndNeverSplit) {
  EXPECT_EQ(From("(product_id = 'O''X-USD')").products, Products{"O'X-USD"});
  // " AND ", " OR ", ", " and parentheses inside a literal are part of it.
  EXPECT_EQ(From("(product_id = 'a AND b')").products, Products{"a AND b"});
  EXPECT_EQ(From("((product_id = 'x OR y') OR (product_id = 'it''s'))").products, (Products{"x OR y", "it's"}));
  EXPECT_EQ(From("(product_id IN ('a, b', 'c)(d'))").products, (Products{"a, b", "c)(d"}));
  const auto c = From("(product_id = 'p)(q')(date = '2026-11-26'::DATE)");
  EXPECT_EQ(c.products, Products{"p)(q"});
  EXPECT_EQ(c.min_day, Day(2026, 11, 26));
}

TEST(AddFilterText, RepeatedConstraintsIntersect) {
  auto c = From("(product_id IN ('A', 'B', 'C'))");
  AddFilterText("product_id='B' AND trade_time>='2026-11-25 10:00:00'::TIMESTAMP", &c);
  EXPECT_EQ(c.products, Products{"B"});
  EXPECT_EQ(c.min_day, Day(2026, 11, 25));
  AddFilterText("(date <= '2026-11-26'::DATE)", &c);
  EXPECT_EQ(c.max_day, Day(2026, 11, 26));
  // Two different products: nothing can match.
  const auto none = From("(product_id = 'A')(product_id = 'B')");
  ASSERT_TRUE(none.products.has_value());
  EXPECT_TRUE(none.products->empty());
  EXPECT_FALSE(none.Matches("A", 0));
  EXPECT_FALSE(none.Matches("B", 0));
}

// Table scans print pushed IN lists and ORs as "optional:" filters: a
// zone-map hint derived from the statement's own predicate (the exact
// predicate stays in a FILTER above the scan), so it narrows like its plain
// form. Texts from DuckDB 1.4's EXPLAIN (FORMAT JSON) of a SEQ_SCAN.
TEST(AddFilterText, OptionalFiltersOfTableScansNarrowLikeTheirPlainForms) {
  EXPECT_EQ(From("optional: product_id IN ('BTC-USD', 'SOL-USD')").products, (Products{"BTC-USD", "SOL-USD"}));
  EXPECT_EQ(From("optional: product_id='ETH-USD' OR product_id='SOL-USD'").products,
            (Products{"ETH-USD", "SOL-USD"}));
  ScanConstraints c;
  AddFilterText("optional: product_id IN ('BTC-USD', 'SOL-USD')", &c);
  AddFilterText("date>'2026-11-24'::DATE", &c);
  EXPECT_EQ(c.products, (Products{"BTC-USD", "SOL-USD"}));
  EXPECT_EQ(c.min_day, Day(2026, 11, 25));
}

TEST(ScansOfPlan, NamesTheTableOfATableScan) {
  auto scans = ScansOfPlan(R"json([{"name": "FILTER", "extra_info": {}, "children": [
      {"name": "SEQ_SCAN ", "children": [],
       "extra_info": {"Table": "trades_daily", "Type": "Sequential Scan",
                      "Filters": ["product_id='ETH-USD'", "date='2026-11-25'::DATE"]}}]}])json");
  ASSERT_TRUE(scans.ok()) << scans.status().ToString();
  ASSERT_EQ(scans->size(), 1u);
  EXPECT_EQ((*scans)[0].table, "trades_daily");
  EXPECT_EQ((*scans)[0].constraints.ToString(), "products {ETH-USD}, days 2026-11-25..2026-11-25");
}

// Every one of these must leave the constraints untouched: an unknown
// predicate may only keep files, never drop one.
TEST(AddFilterText, UnknownPredicatesNeverNarrow) {
  for (std::string_view text : {
           "trade_id>5",
           "(trade_id > 5)",
           "price>=1.500000000000000000",
           "lower(product_id) = 'btc-usd'",
           "(product_id != 'BTC-USD')",
           "(product_id <> 'BTC-USD')",
           "product_id>'C'",
           "(product_id NOT IN ('ETH-USD', 'SOL-USD'))",
           "NOT((product_id = 'BTC-USD'))",
           "((product_id = 'BTC-USD') OR (trade_id = 5))",
           "((product_id = 'BTC-USD') OR (date = '2026-11-26'::DATE))",
           "((date = '2026-11-24'::DATE) OR (date = '2026-11-26'::DATE))",
           "(date IN ('2026-11-24'::DATE, '2026-11-26'::DATE))",
           "date IS NULL",
           "product_id IS NOT NULL",
           "trade_time>='2026-11-25 10:00:00'::TIMESTAMP_NS",
           "trade_time>='2026-11-25 10:00:00+00'::TIMESTAMP WITH TIME ZONE",
           "(CAST(date AS TIMESTAMP) >= '2026-11-25 12:00:00'::TIMESTAMP)",
           "rejected_at>='2026-11-26 00:00:00'::TIMESTAMP",
           "ingested_at<'2026-11-26 00:00:00'::TIMESTAMP",
           "t.product_id = 'BTC-USD'",
           "trade_time<'infinity'::TIMESTAMP",
           "trade_time>'2026-11-2'::TIMESTAMP",
           "date='not a date'::DATE",
           "optional: Dynamic Filter (trade_time)",
           "optional: trade_id IN (1, 2, 3)",
           "product_id = 'unterminated",
           "(((",
           ")))",
           "''",
           "",
           "   ",
           "AND AND",
           " OR ",
       }) {
    const auto c = From(text);
    EXPECT_TRUE(c.Unconstrained()) << "\"" << text << "\" narrowed to " << c.ToString();
  }
}

TEST(AddFilterText, UnknownPartsOfAConjunctionAreSkippedKnownPartsKept) {
  const auto c = From("trade_id>5 AND product_id='ETH-USD' AND lower(side)='buy' AND date<='2026-11-25'::DATE");
  EXPECT_EQ(c.products, Products{"ETH-USD"});
  EXPECT_EQ(c.min_day, kMin);
  EXPECT_EQ(c.max_day, Day(2026, 11, 25));
}

// ---------------------------------------------------------------- ScansOfPlan

TEST(ScansOfPlan, RejectsTextThatIsNotJson) {
  auto scans = ScansOfPlan("physical_plan: not json");
  ASSERT_FALSE(scans.ok());
  EXPECT_EQ(scans.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ScansOfPlan("[{\"name\": ").ok());
}

TEST(ScansOfPlan, PlanWithoutScansHasNone) {
  auto scans = ScansOfPlan(R"json([{"name": "PROJECTION", "children": [], "extra_info": {"Projections": "1"}}])json");
  ASSERT_TRUE(scans.ok()) << scans.status().ToString();
  EXPECT_TRUE(scans->empty());
}

TEST(ScansOfPlan, FindsNestedScansWithTheirOwnFilters) {
  // A hash join of two scans, as DuckDB prints it; Filters also come as an array.
  const std::string plan = R"json([
    {"name": "HASH_JOIN", "extra_info": {"Join Type": "INNER", "Conditions": "product_id = product_id"},
     "children": [
       {"name": "READ_PARQUET ", "children": [],
        "extra_info": {"Function": "READ_PARQUET", "Projections": ["product_id"],
                       "File Filters": "(product_id = 'BTC-USD')(date = '2026-11-25'::DATE)",
                       "Scanning Files": "1/9"}},
       {"name": "PROJECTION", "extra_info": {},
        "children": [
          {"name": "READ_JSON ", "children": [],
           "extra_info": {"Function": "READ_JSON",
                          "Filters": ["trade_time>='2026-11-26 10:00:00'::TIMESTAMP",
                                      "trade_time<'2026-11-27 00:00:00'::TIMESTAMP"]}}]}]}])json";
  auto scans = ScansOfPlan(plan);
  ASSERT_TRUE(scans.ok()) << scans.status().ToString();
  ASSERT_EQ(scans->size(), 2u);
  EXPECT_EQ((*scans)[0].function, "READ_PARQUET");
  EXPECT_EQ((*scans)[0].constraints.products, Products{"BTC-USD"});
  EXPECT_EQ((*scans)[0].constraints.min_day, Day(2026, 11, 25));
  EXPECT_EQ((*scans)[0].constraints.max_day, Day(2026, 11, 25));
  EXPECT_EQ((*scans)[1].function, "READ_JSON");
  EXPECT_EQ((*scans)[1].constraints.products, std::nullopt);
  EXPECT_EQ((*scans)[1].constraints.min_day, Day(2026, 11, 26));
  EXPECT_EQ((*scans)[1].constraints.max_day, Day(2026, 11, 26));
}

TEST(ScansOfPlan, AScanWithoutFiltersIsUnconstrained) {
  auto scans = ScansOfPlan(
      R"json([{"name": "READ_PARQUET ", "children": [], "extra_info": {"Function": "READ_PARQUET", "Projections": ["x"]}}])json");
  ASSERT_TRUE(scans.ok());
  ASSERT_EQ(scans->size(), 1u);
  EXPECT_TRUE((*scans)[0].constraints.Unconstrained());
}

// Real plans. Two shapes, as the planner may see the lake:
//   kHiveParquet: views over a Hive-partitioned Parquet set written by DuckDB
//     itself (read_parquet with hive_partitioning: "File Filters");
//   kExtremesTable: tables of the same columns holding three rows (NULL, the
//     lowest and the highest value of each type), as LakeSql's planning
//     database does (SEQ_SCAN "Filters", some of them "optional:").
// Either way the pruning decision must keep every partition the query's rows
// come from, and, for the filters prune.h lists, no other.
enum class PlanShape { kHiveParquet, kExtremesTable };

std::string SqlQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

class RealPlans : public ::testing::TestWithParam<PlanShape> {
 protected:
  static const fs::path& Dir() {
    static const fs::path dir = fs::temp_directory_path() / ("tradelake-prune-test-" + std::to_string(::getpid()));
    return dir;
  }
  static void SetUpTestSuite() {
    fs::remove_all(Dir());
    fs::create_directories(Dir());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(Dir(), ec);
  }

  void SetUp() override {
    auto db = Database::Open(":memory:", {{"threads", "1"}});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto con = db_->Connect();
    ASSERT_TRUE(con.ok());
    con_ = std::make_unique<Connection>(std::move(con).value());
    const std::string root = (Dir() / "t").string();
    if (!fs::exists(root)) {
      auto copied = con_->Query("COPY (SELECT * FROM (VALUES "
                                "('BTC-USD', DATE '2026-11-24', TIMESTAMP '2026-11-24 10:00:00', 1), "
                                "('BTC-USD', DATE '2026-11-25', TIMESTAMP '2026-11-25 11:00:00', 2), "
                                "('BTC-USD', DATE '2026-11-26', TIMESTAMP '2026-11-26 11:00:00', 3), "
                                "('ETH-USD', DATE '2026-11-26', TIMESTAMP '2026-11-26 11:30:00', 4), "
                                "('O''X-USD', DATE '2026-11-26', TIMESTAMP '2026-11-26 12:00:00', 5)"
                                ") v(product_id, date, trade_time, trade_id)) TO " +
                                SqlQuote(root) + " (FORMAT parquet, PARTITION_BY (product_id, date))");
      ASSERT_TRUE(copied.ok()) << copied.status().ToString();
    }
    // The data, for the rows a query really returns: an explicit list of
    // files, Hive columns typed, like LakeSql's views.
    std::string files;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (e.path().extension() == ".parquet") files += (files.empty() ? "" : ", ") + SqlQuote(e.path().string());
    }
    const std::string parquet = "SELECT trade_id, trade_time, product_id, date FROM read_parquet([" + files +
                                "], hive_partitioning = true, hive_types = {product_id: VARCHAR, date: DATE})";
    auto data = con_->Query("CREATE VIEW data AS " + parquet);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    for (const char* name : {"t", "u"}) {
      const std::string sql =
          GetParam() == PlanShape::kHiveParquet
              ? std::string("CREATE VIEW ") + name + " AS " + parquet
              : std::string("CREATE TABLE ") + name +
                    " (trade_id BIGINT, trade_time TIMESTAMP, product_id VARCHAR, date DATE); INSERT INTO " + name +
                    " VALUES (NULL, NULL, NULL, NULL), (-9223372036854775808, '-infinity', '', '-infinity'), "
                    "(9223372036854775807, 'infinity', chr(1114111) || chr(1114111) || chr(1114111), 'infinity')";
      auto created = con_->Query(sql);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
    }
  }

  // Scans of `select`'s plan; the test fails if there is not exactly `n`.
  std::vector<PlannedScan> Scans(const std::string& select, size_t n = 1) {
    auto r = con_->Query("EXPLAIN (FORMAT JSON) " + select);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    std::string json;
    for (uint64_t row = 0; row < r->row_count(); ++row) json += r->GetStringOr(row, r->column_count() - 1, "");
    auto scans = ScansOfPlan(json);
    EXPECT_TRUE(scans.ok()) << scans.status().ToString() << "\n" << json;
    if (!scans.ok()) return {};
    EXPECT_EQ(scans->size(), n) << json;
    for (const auto& s : *scans) {
      if (GetParam() == PlanShape::kHiveParquet) {
        EXPECT_EQ(s.function, "READ_PARQUET");
      } else {
        EXPECT_TRUE(s.table == "t" || s.table == "u") << "table '" << s.table << "'";
      }
    }
    return std::move(scans).value();
  }

  // Which of the five rows' partitions the only scan of `select` keeps.
  std::set<int> Kept(const std::string& select) {
    const auto scans = Scans(select);
    std::set<int> kept;
    if (scans.size() != 1) return kept;
    const auto& c = scans[0].constraints;
    const std::vector<std::pair<std::string, int64_t>> parts = {
        {"BTC-USD", Day(2026, 11, 24)}, {"BTC-USD", Day(2026, 11, 25)}, {"BTC-USD", Day(2026, 11, 26)},
        {"ETH-USD", Day(2026, 11, 26)}, {"O'X-USD", Day(2026, 11, 26)}};
    for (size_t i = 0; i < parts.size(); ++i) {
      if (c.Matches(parts[i].first, parts[i].second)) kept.insert(static_cast<int>(i) + 1);
    }
    return kept;
  }

  // The trade_ids the query really returns: pruning must keep all of them.
  std::set<int> Rows(const std::string& where) {
    auto r = con_->Query("SELECT trade_id FROM data WHERE " + where);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::set<int> ids;
    if (!r.ok()) return ids;
    for (uint64_t i = 0; i < r->row_count(); ++i) ids.insert(std::stoi(r->GetStringOr(i, 0, "0")));
    return ids;
  }

  void ExpectKept(const std::string& where, const std::set<int>& want) {
    SCOPED_TRACE(where);
    const auto kept = Kept("SELECT * FROM t WHERE " + where);
    EXPECT_EQ(kept, want);
    for (int id : Rows(where)) EXPECT_TRUE(kept.count(id)) << "row " << id << " would be pruned away";
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

TEST_P(RealPlans, OnePartitionKeepsOnlyThatPartition) {
  ExpectKept("product_id = 'BTC-USD' AND date = '2026-11-25'", {2});
  ExpectKept("date = DATE '2026-11-26' AND product_id = 'ETH-USD'", {4});
}

TEST_P(RealPlans, TradeTimeRangeKeepsItsDays) {
  ExpectKept("trade_time >= '2026-11-26 10:00:00' AND trade_time <= '2026-11-26 12:00:00'", {3, 4, 5});
  ExpectKept("trade_time >= TIMESTAMP '2026-11-25 00:00:00' AND trade_time < TIMESTAMP '2026-11-26 00:00:00'", {2});
  ExpectKept("trade_time BETWEEN '2026-11-24 00:00:00' AND '2026-11-25 23:59:59'", {1, 2});
  ExpectKept("trade_time::DATE = '2026-11-24'", {1});
  // After noon of the 25th: the 25th's partition may still hold such trades.
  ExpectKept("product_id = 'BTC-USD' AND trade_time > '2026-11-25 12:00:00'", {2, 3});
}

TEST_P(RealPlans, ProductListsAndDisjunctions) {
  ExpectKept("product_id IN ('BTC-USD', 'ETH-USD') AND date >= '2026-11-26'", {3, 4});
  ExpectKept("product_id = 'ETH-USD' OR product_id = 'O''X-USD'", {4, 5});
  ExpectKept("product_id LIKE 'ETH-USD'", {4});
}

TEST_P(RealPlans, PredicatesThePrunerCannotReadKeepEverythingTheyMightNeed) {
  ExpectKept("product_id || '' = 'BTC-USD'", {1, 2, 3, 4, 5});
  ExpectKept("lower(product_id) = 'btc-usd'", {1, 2, 3, 4, 5});
  ExpectKept("product_id = 'BTC-USD' OR trade_id = 4", {1, 2, 3, 4, 5});
  ExpectKept("product_id NOT IN ('BTC-USD')", {1, 2, 3, 4, 5});
  ExpectKept("trade_id = 5", {1, 2, 3, 4, 5});
  ExpectKept("trade_time >= '2026-11-26 00:00:00'::TIMESTAMPTZ", {1, 2, 3, 4, 5});
}

TEST_P(RealPlans, ContradictionsKeepNothing) {
  ExpectKept("date > '2026-11-26'", {});
  ExpectKept("product_id = 'BTC-USD' AND date < '2026-11-24'", {});
}

TEST_P(RealPlans, EveryScanOfAJoinIsFoundWithItsOwnConstraints) {
  const auto scans = Scans(
      "SELECT * FROM t JOIN u USING (trade_id) WHERE t.product_id = 'BTC-USD' AND u.date = '2026-11-26'", 2);
  ASSERT_EQ(scans.size(), 2u);
  std::vector<std::string> seen;
  for (const auto& s : scans) seen.push_back(s.table + " " + s.constraints.ToString());
  std::sort(seen.begin(), seen.end());
  if (GetParam() == PlanShape::kHiveParquet) {
    // Two read_parquet scans: the plan does not say which view each is.
    EXPECT_EQ(seen, (std::vector<std::string>{" products any, days 2026-11-26..2026-11-26",
                                              " products {BTC-USD}, days .."}));
  } else {
    EXPECT_EQ(seen, (std::vector<std::string>{"t products {BTC-USD}, days ..",
                                              "u products any, days 2026-11-26..2026-11-26"}));
  }
}

TEST_P(RealPlans, SubqueriesAndUnionsAreScansToo) {
  Scans("SELECT count(*) FROM t WHERE trade_id IN (SELECT trade_id FROM u WHERE product_id = 'ETH-USD')", 2);
  const auto scans =
      Scans("SELECT trade_id FROM t WHERE date = '2026-11-24' UNION ALL SELECT trade_id FROM u WHERE date = '2026-11-25'", 2);
  std::set<std::string> seen;
  for (const auto& s : scans) seen.insert(s.constraints.ToString());
  EXPECT_EQ(seen, (std::set<std::string>{"products any, days 2026-11-24..2026-11-24",
                                         "products any, days 2026-11-25..2026-11-25"}));
}

INSTANTIATE_TEST_SUITE_P(Shapes, RealPlans, ::testing::Values(PlanShape::kHiveParquet, PlanShape::kExtremesTable),
                         [](const ::testing::TestParamInfo<PlanShape>& param_info) {
                           return std::string(param_info.param == PlanShape::kHiveParquet ? "HiveParquet"
                                                                                          : "ExtremesTable");
                         });

}  // namespace
}  // namespace tradelake
