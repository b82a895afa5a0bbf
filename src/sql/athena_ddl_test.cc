#include "sql/athena_ddl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "table/catalog.h"
#include "etl/rows.h"
#include "etl/table_io.h"
#include "query/duckdb.h"

// Golden files: tests/golden/athena/*.sql in the source tree hold the exact
// DDL for six option sets: the Delta form per engine (delta_*.sql) and the
// Hive form of Athena (projection_*.sql, plain.sql). When the output changes on purpose (a column
// added to a schema in etl/table_io.h, a new table property), regenerate them
// and review the diff:
//   TRADELAKE_UPDATE_GOLDEN=1 build/release/tl_sql_tests --gtest_filter='AthenaDdlGolden*'

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

fs::path GoldenDir() {
  return (fs::path(__FILE__).parent_path() / ".." / ".." / "tests" / "golden" / "athena").lexically_normal();
}

bool UpdateGolden() {
  const char* v = std::getenv("TRADELAKE_UPDATE_GOLDEN");  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr && std::string_view(v) == "1";
}

void ExpectMatchesGolden(const std::string& actual, const std::string& file) {
  const fs::path path = GoldenDir() / file;
  if (UpdateGolden()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    out.close();
    ASSERT_TRUE(out.good()) << "could not write " << path;
    std::cout << "wrote golden file " << path << "\n";
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "golden file " << path
                         << " is missing; create it with TRADELAKE_UPDATE_GOLDEN=1 and review it";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual)
      << "the DDL differs from " << path
      << "; if the change is intended, rerun with TRADELAKE_UPDATE_GOLDEN=1 and review the diff";
}

AthenaDdlOptions DeltaOptions(DdlEngine engine) {
  AthenaDdlOptions o;
  o.engine = engine;
  o.location = "s3://tradelake-demo/lake";
  return o;
}

AthenaDdlOptions EnumOptions() {
  AthenaDdlOptions o;
  o.format = DdlFormat::kHive;
  o.location = "s3://tradelake-demo/lake";
  o.products = {"BTC-USD", "ETH-USD"};
  o.first_date = "2024-01-01";
  return o;
}

AthenaDdlOptions InjectedOptions() {
  AthenaDdlOptions o = EnumOptions();
  o.products.clear();
  return o;
}

AthenaDdlOptions PlainOptions() {
  AthenaDdlOptions o;
  o.format = DdlFormat::kHive;
  o.location = "s3://tradelake-demo/lake/";
  o.projection = false;
  return o;
}

bool Contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

size_t Count(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<std::string> Names(const std::vector<AthenaColumn>& cols) {
  std::vector<std::string> names;
  for (const AthenaColumn& c : cols) names.push_back(c.name);
  return names;
}

void ExpectInvalidArgument(const AthenaDdlOptions& options, std::string_view needle) {
  Result<std::string> ddl = AthenaDdl(options);
  ASSERT_FALSE(ddl.ok()) << *ddl;
  EXPECT_EQ(ddl.status().code(), StatusCode::kInvalidArgument) << ddl.status().ToString();
  EXPECT_THAT(ddl.status().message(), HasSubstr(std::string(needle)));
}

// --- golden files ------------------------------------------------------------

TEST(AthenaDdlGolden, ProjectionWithAnEnumOfProducts) {
  Result<std::string> ddl = AthenaDdl(EnumOptions());
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  ExpectMatchesGolden(*ddl, "projection_enum.sql");
}

TEST(AthenaDdlGolden, ProjectionWithInjectedProducts) {
  Result<std::string> ddl = AthenaDdl(InjectedOptions());
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  ExpectMatchesGolden(*ddl, "projection_injected.sql");
}

TEST(AthenaDdlGolden, PlainTablesWithMsckRepair) {
  Result<std::string> ddl = AthenaDdl(PlainOptions());
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  ExpectMatchesGolden(*ddl, "plain.sql");
}

TEST(AthenaDdlGolden, DeltaTablesForAthena) {
  Result<std::string> ddl = AthenaDdl(DeltaOptions(DdlEngine::kAthena));
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  ExpectMatchesGolden(*ddl, "delta_athena.sql");
}

TEST(AthenaDdlGolden, DeltaTablesRegisteredInTrino) {
  Result<std::string> ddl = AthenaDdl(DeltaOptions(DdlEngine::kTrino));
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  ExpectMatchesGolden(*ddl, "delta_trino.sql");
}

TEST(AthenaDdlGolden, DeltaTablesForSpark) {
  Result<std::string> ddl = AthenaDdl(DeltaOptions(DdlEngine::kSpark));
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  ExpectMatchesGolden(*ddl, "delta_spark.sql");
}

// --- the Delta form ----------------------------------------------------------------

TEST(AthenaDdlDelta, IsTheDefaultAndNamesOnlyTheTableAndItsDeltaFolder) {
  AthenaDdlOptions o;
  o.location = "s3://tradelake-demo/lake/";
  Result<std::vector<AthenaStatement>> statements = AthenaDdlStatements(o);
  ASSERT_TRUE(statements.ok()) << statements.status().ToString();
  ASSERT_EQ(statements->size(), 1 + EtlTables().size());
  EXPECT_EQ(statements->front().sql, "CREATE DATABASE IF NOT EXISTS `tradelake`");
  for (size_t i = 0; i < EtlTables().size(); ++i) {
    const std::string_view lake_table = EtlTables()[i];
    const AthenaStatement& s = (*statements)[1 + i];
    EXPECT_EQ(s.lake_table, lake_table);
    // AWS: nothing but LOCATION and table_type; the log gives the rest.
    EXPECT_EQ(s.sql, "CREATE EXTERNAL TABLE `tradelake`.`" + AthenaTableName(lake_table) +
                         "`\nLOCATION 's3://tradelake-demo/lake/" + TableFolder(lake_table) +
                         "'\nTBLPROPERTIES ('table_type'='DELTA')");
  }
}

TEST(AthenaDdlDelta, CoversEveryTableTheEtlWritesIncludingTheAudit) {
  Result<std::string> ddl = AthenaDdl(DeltaOptions(DdlEngine::kAthena));
  ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
  for (std::string_view t : EtlTables()) EXPECT_THAT(*ddl, HasSubstr("`" + AthenaTableName(t) + "`")) << t;
  EXPECT_THAT(*ddl, HasSubstr("`tradelake`.`audit_data_quality`\nLOCATION 's3://tradelake-demo/lake/audit/data_quality/'"));
}

TEST(AthenaDdlDelta, TrinoRegistersEachTableInTheChosenCatalogAndSchema) {
  AthenaDdlOptions o = DeltaOptions(DdlEngine::kTrino);
  o.trino_catalog = "lake_delta";
  o.database = "crypto";
  o.tables = {"gold.trades_daily"};
  Result<std::vector<AthenaStatement>> statements = AthenaDdlStatements(o);
  ASSERT_TRUE(statements.ok()) << statements.status().ToString();
  ASSERT_EQ(statements->size(), 2u);
  EXPECT_EQ((*statements)[0].sql, "CREATE SCHEMA IF NOT EXISTS \"lake_delta\".\"crypto\"");
  EXPECT_EQ((*statements)[1].sql,
            "CALL \"lake_delta\".system.register_table(schema_name => 'crypto', table_name => "
            "'gold_trades_daily', table_location => 's3://tradelake-demo/lake/gold/trades_daily')");
}

TEST(AthenaDdlDelta, SparkCreatesTablesByLocationOnly) {
  AthenaDdlOptions o = DeltaOptions(DdlEngine::kSpark);
  o.tables = {"silver.trades"};
  Result<std::vector<AthenaStatement>> statements = AthenaDdlStatements(o);
  ASSERT_TRUE(statements.ok()) << statements.status().ToString();
  ASSERT_EQ(statements->size(), 2u);
  EXPECT_EQ((*statements)[0].sql, "CREATE DATABASE IF NOT EXISTS `tradelake`");
  EXPECT_EQ((*statements)[1].sql,
            "CREATE TABLE IF NOT EXISTS `tradelake`.`silver_trades`\nUSING DELTA\n"
            "LOCATION 's3://tradelake-demo/lake/silver/trades'");
}

TEST(AthenaDdlDelta, IgnoresTheHiveOnlyOptions) {
  for (DdlEngine engine : {DdlEngine::kAthena, DdlEngine::kTrino, DdlEngine::kSpark}) {
    AthenaDdlOptions o = DeltaOptions(engine);
    o.first_date = "";             // projection would need it
    o.products = {"BTC-USD'"};     // projection would reject it
    Result<std::string> ddl = AthenaDdl(o);
    ASSERT_TRUE(ddl.ok()) << ddl.status().ToString();
    EXPECT_THAT(*ddl, Not(HasSubstr("projection")));
    EXPECT_THAT(*ddl, Not(HasSubstr("BTC-USD")));
  }
}

TEST(AthenaDdlDelta, TheHiveFormIsForAthenaOnly) {
  for (DdlEngine engine : {DdlEngine::kTrino, DdlEngine::kSpark}) {
    AthenaDdlOptions o = EnumOptions();
    o.engine = engine;
    ExpectInvalidArgument(o, "hive format");
  }
}

TEST(AthenaDdlDelta, RejectsATrinoCatalogThatIsNoPlainName) {
  for (std::string_view bad : {"", "Delta", "my-delta", "a\"b", "x.y"}) {
    AthenaDdlOptions o = DeltaOptions(DdlEngine::kTrino);
    o.trino_catalog = std::string(bad);
    ExpectInvalidArgument(o, "--trino-catalog");
  }
  // Only Trino uses it.
  AthenaDdlOptions o = DeltaOptions(DdlEngine::kSpark);
  o.trino_catalog = "";
  EXPECT_TRUE(AthenaDdl(o).ok());
}

TEST(AthenaDdlDelta, ParsesTheCliSpellings) {
  EXPECT_EQ(ParseDdlEngine("athena").value_or(DdlEngine::kSpark), DdlEngine::kAthena);
  EXPECT_EQ(ParseDdlEngine("trino").value_or(DdlEngine::kAthena), DdlEngine::kTrino);
  EXPECT_EQ(ParseDdlEngine("spark").value_or(DdlEngine::kAthena), DdlEngine::kSpark);
  EXPECT_EQ(ParseDdlFormat("delta").value_or(DdlFormat::kHive), DdlFormat::kDelta);
  EXPECT_EQ(ParseDdlFormat("hive").value_or(DdlFormat::kDelta), DdlFormat::kHive);
  for (std::string_view bad : {"", "Athena", "presto", "glue"}) {
    Result<DdlEngine> e = ParseDdlEngine(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_THAT(e.status().message(), HasSubstr("athena, trino or spark"));
  }
  for (std::string_view bad : {"", "Delta", "iceberg", "parquet"}) {
    Result<DdlFormat> f = ParseDdlFormat(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_THAT(f.status().message(), HasSubstr("delta"));
  }
}

// --- tables and columns --------------------------------------------------------

TEST(AthenaDdl, EveryTableHasEachSchemaColumnExactlyOnce) {
  for (std::string_view lake_table : EtlTables()) {
    SCOPED_TRACE(lake_table);
    Result<AthenaTable> table = DescribeAthenaTable(lake_table, EnumOptions());
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    const std::string sql = CreateTableSql(*table);
    std::multiset<std::string> ddl_names;
    for (const AthenaColumn& c : table->columns) ddl_names.insert(c.name);
    for (const AthenaColumn& c : table->partitions) ddl_names.insert(c.name);
    for (const ColumnDef& c : SchemaOf(lake_table)) {
      EXPECT_EQ(ddl_names.count(c.name), 1u) << c.name;
      EXPECT_EQ(Count(sql, "`" + c.name + "`"), 1u) << c.name << " in\n" << sql;
    }
    // Nothing the schema does not have, besides the folder keys.
    for (const std::string& name : ddl_names) {
      const auto schema = SchemaOf(lake_table);
      const bool in_schema =
          std::any_of(schema.begin(), schema.end(), [&](const ColumnDef& c) { return c.name == name; });
      EXPECT_TRUE(in_schema || name == "date") << name;
    }
  }
}

TEST(AthenaDdl, PartitionColumnsComeFromTheDeltaPartitionsAndAreNotInTheColumnList) {
  for (std::string_view lake_table : EtlTables()) {
    SCOPED_TRACE(lake_table);
    Result<AthenaTable> table = DescribeAthenaTable(lake_table, EnumOptions());
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    const std::vector<std::string> keys = PartitionColumns(lake_table);
    std::vector<AthenaColumn> expected;
    for (const std::string& k : keys) expected.push_back({k, "string"});
    EXPECT_EQ(table->partitions, expected);
    for (const std::string& k : keys) EXPECT_THAT(Names(table->columns), Not(::testing::Contains(k)));
    // The other columns keep the file's order.
    std::vector<std::string> file_order;
    for (const ColumnDef& c : SchemaOf(lake_table)) {
      if (!Contains(keys, c.name)) file_order.push_back(c.name);
    }
    EXPECT_EQ(Names(table->columns), file_order);
  }
  EXPECT_EQ(PartitionColumns(kSilverTrades), (std::vector<std::string>{"product_id", "date"}));
  EXPECT_EQ(PartitionColumns(kGoldHourly), (std::vector<std::string>{"product_id"}));
  // silver.trades_rejected keeps `date` inside its files too; still one `date`.
  Result<AthenaTable> rejected = DescribeAthenaTable(kSilverRejected, EnumOptions());
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(Count(CreateTableSql(*rejected), "`date`"), 1u);
}

TEST(AthenaDdl, TablesAreNamedWithoutDotsInTheChosenDatabase) {
  AthenaDdlOptions o = EnumOptions();
  o.database = "crypto_lake";
  std::vector<std::string> names;
  for (std::string_view lake_table : AllTables()) {
    Result<AthenaTable> table = DescribeAthenaTable(lake_table, o);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    EXPECT_EQ(table->database, "crypto_lake");
    names.push_back(table->name);
  }
  EXPECT_THAT(names, ElementsAre("silver_trades", "silver_trades_rejected", "gold_trades_hourly",
                                 "gold_trades_daily", "gold_bars_1m", "audit_candle_reconciliation"));
  Result<AthenaTable> audit = DescribeAthenaTable(kAuditQuality, o);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  EXPECT_EQ(audit->name, "audit_data_quality");
  EXPECT_EQ(audit->location, "s3://tradelake-demo/lake/audit/data_quality/");
  Result<AthenaTable> bars = DescribeAthenaTable(kGoldBars1m, o);
  ASSERT_TRUE(bars.ok());
  EXPECT_THAT(CreateTableSql(*bars), HasSubstr("CREATE EXTERNAL TABLE IF NOT EXISTS `crypto_lake`.`gold_bars_1m` ("));
  EXPECT_EQ(bars->location, "s3://tradelake-demo/lake/gold/bars_1m/");
}

TEST(AthenaDdl, ColumnTypesAreExactAthenaTypes) {
  Result<AthenaTable> trades = DescribeAthenaTable(kSilverTrades, EnumOptions());
  ASSERT_TRUE(trades.ok());
  EXPECT_THAT(trades->columns,
              ElementsAre(AthenaColumn{"trade_id", "bigint"}, AthenaColumn{"price", "decimal(38,18)"},
                          AthenaColumn{"size", "decimal(38,18)"}, AthenaColumn{"quote_notional", "decimal(38,18)"},
                          AthenaColumn{"side", "string"}, AthenaColumn{"taker_side", "string"},
                          AthenaColumn{"trade_time", "timestamp"}, AthenaColumn{"ingested_at", "timestamp"},
                          AthenaColumn{"bronze_object", "string"}));
}

TEST(AthenaDdl, GoldTablesEndWithAnExactPriceSum) {
  for (std::string_view lake_table : {kGoldHourly, kGoldDaily, kGoldBars1m}) {
    Result<AthenaTable> table = DescribeAthenaTable(lake_table, EnumOptions());
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    ASSERT_FALSE(table->columns.empty());
    EXPECT_EQ(table->columns.back(), (AthenaColumn{"price_sum", "decimal(38,18)"})) << lake_table;
  }
}

TEST(AthenaDdl, MonthlyAndYearlyGoldFilesAreProjectedByProductOnly) {
  AthenaDdlOptions o = EnumOptions();
  o.first_date = "";  // no date folders, so no date range is needed
  o.tables = {"gold.trades_hourly", "gold.trades_daily", "audit.data_quality"};
  Result<std::vector<AthenaStatement>> statements = AthenaDdlStatements(o);
  ASSERT_TRUE(statements.ok()) << statements.status().ToString();
  for (const std::string& t : o.tables) {
    Result<AthenaTable> table = DescribeAthenaTable(t, o);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    const std::string sql = CreateTableSql(*table);
    EXPECT_THAT(sql, HasSubstr("'projection.product_id.type'='enum'"));
    EXPECT_THAT(sql, Not(HasSubstr("projection.date")));
    EXPECT_THAT(sql, HasSubstr("'storage.location.template'='s3://tradelake-demo/lake/" + TableFolder(t) +
                               "product_id=${product_id}/'"));
  }
  // A table with date folders still needs the range.
  o.tables.push_back("gold.bars_1m");
  ExpectInvalidArgument(o, "--first-date");
}

TEST(AthenaDdl, AColumnAddedToASchemaAppearsInTheDdl) {
  std::vector<ColumnDef> schema = SilverTradesSchema();
  schema.push_back({"fee", "DECIMAL(38,18)", true});
  Result<AthenaTable> table = athena_internal::DescribeTableWithSchema(kSilverTrades, schema, EnumOptions());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_FALSE(table->columns.empty());
  EXPECT_EQ(table->columns.back(), (AthenaColumn{"fee", "decimal(38,18)"}));
}

TEST(AthenaDdl, AnUnknownColumnTypeIsAnErrorNamingTableAndColumn) {
  const std::vector<ColumnDef> schema = {{"product_id", "VARCHAR", false}, {"weird", "HUGEINT", false}};
  Result<AthenaTable> table = athena_internal::DescribeTableWithSchema(kGoldHourly, schema, EnumOptions());
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), StatusCode::kInternal);
  EXPECT_THAT(table.status().message(), HasSubstr("gold.trades_hourly"));
  EXPECT_THAT(table.status().message(), HasSubstr("weird"));
  EXPECT_THAT(table.status().message(), HasSubstr("HUGEINT"));
}

TEST(AthenaDdl, ARepeatedOrUnnameableColumnIsAnError) {
  const std::vector<ColumnDef> repeated = {{"price", "DOUBLE", false}, {"price", "DOUBLE", false}};
  Result<AthenaTable> a = athena_internal::DescribeTableWithSchema(kSilverTrades, repeated, EnumOptions());
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("repeated"));
  const std::vector<ColumnDef> bad_name = {{"Price`x", "DOUBLE", false}};
  Result<AthenaTable> b = athena_internal::DescribeTableWithSchema(kSilverTrades, bad_name, EnumOptions());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInternal);
}

TEST(AthenaType, MapsDuckDbTypesToHiveDdlTypes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"VARCHAR", "string"},          {"BIGINT", "bigint"},         {"INTEGER", "int"},
      {"DECIMAL(38,18)", "decimal(38,18)"}, {"DECIMAL(10, 2)", "decimal(10,2)"}, {"TIMESTAMP", "timestamp"},
      {"DATE", "date"},               {"DOUBLE", "double"},         {"BOOLEAN", "boolean"},
      {"SMALLINT", "smallint"},       {"TINYINT", "tinyint"},       {"FLOAT", "float"},
      {"BLOB", "binary"},             {"varchar", "string"},
  };
  for (const auto& [duck, athena] : cases) {
    Result<std::string> t = athena_internal::AthenaType(duck);
    ASSERT_TRUE(t.ok()) << duck << ": " << t.status().ToString();
    EXPECT_EQ(*t, athena) << duck;
  }
  for (std::string_view unknown : {"HUGEINT", "UBIGINT", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "UUID",
                                   "INTERVAL", "DECIMAL(39,2)", "DECIMAL(10,11)", "DECIMAL(x,2)", "DECIMAL(10)",
                                   "VARCHAR[]", ""}) {
    Result<std::string> t = athena_internal::AthenaType(unknown);
    EXPECT_FALSE(t.ok()) << unknown << " -> " << t.value_or("");
  }
}

// --- statements ------------------------------------------------------------------

TEST(AthenaDdl, StatementsHaveNoCommentsSemicolonsOrBlankLines) {
  for (const AthenaDdlOptions& o : {EnumOptions(), InjectedOptions(), PlainOptions(), DeltaOptions(DdlEngine::kAthena),
                                    DeltaOptions(DdlEngine::kTrino), DeltaOptions(DdlEngine::kSpark)}) {
    Result<std::vector<AthenaStatement>> statements = AthenaDdlStatements(o);
    ASSERT_TRUE(statements.ok()) << statements.status().ToString();
    ASSERT_FALSE(statements->empty());
    EXPECT_THAT(statements->front().sql, HasSubstr("IF NOT EXISTS"));
    for (const AthenaStatement& s : *statements) {
      EXPECT_THAT(s.sql, Not(HasSubstr("--")));
      EXPECT_THAT(s.sql, Not(HasSubstr("/*")));
      EXPECT_THAT(s.sql, Not(HasSubstr(";")));
      EXPECT_THAT(s.sql, Not(HasSubstr("\n\n")));
    }
    // The script is the statements, one per blank-line separated paragraph.
    Result<std::string> script = AthenaDdl(o);
    ASSERT_TRUE(script.ok());
    std::string joined;
    for (const AthenaStatement& s : *statements) joined += (joined.empty() ? "" : "\n") + s.sql + ";\n";
    EXPECT_EQ(*script, joined);
  }
}

TEST(AthenaDdl, PlainVariantRepairsEachTableAndHasNoProjection) {
  Result<std::vector<AthenaStatement>> statements = AthenaDdlStatements(PlainOptions());
  ASSERT_TRUE(statements.ok()) << statements.status().ToString();
  ASSERT_EQ(statements->size(), 1 + 2 * EtlTables().size());
  for (size_t i = 0; i < EtlTables().size(); ++i) {
    const AthenaStatement& create = (*statements)[1 + 2 * i];
    const AthenaStatement& repair = (*statements)[2 + 2 * i];
    EXPECT_EQ(create.lake_table, EtlTables()[i]);
    EXPECT_THAT(create.sql, Not(HasSubstr("projection")));
    EXPECT_THAT(create.sql, Not(HasSubstr("storage.location.template")));
    EXPECT_THAT(create.sql, HasSubstr("'parquet.compression'='ZSTD'"));
    EXPECT_EQ(repair.sql, "MSCK REPAIR TABLE `tradelake`.`" + AthenaTableName(EtlTables()[i]) + "`");
  }
}

TEST(AthenaDdl, InjectedProductsHaveNoValueList) {
  Result<AthenaTable> table = DescribeAthenaTable(kSilverTrades, InjectedOptions());
  ASSERT_TRUE(table.ok());
  const std::string sql = CreateTableSql(*table);
  EXPECT_THAT(sql, HasSubstr("'projection.product_id.type'='injected'"));
  EXPECT_THAT(sql, Not(HasSubstr("projection.product_id.values")));
  EXPECT_THAT(sql, HasSubstr("'storage.location.template'='s3://tradelake-demo/lake/silver/trades/"
                             "product_id=${product_id}/date=${date}/'"));
}

TEST(AthenaDdl, OneTableOrAll) {
  AthenaDdlOptions o = EnumOptions();
  o.tables = {"gold.bars_1m"};
  Result<std::vector<AthenaStatement>> one = AthenaDdlStatements(o);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->size(), 2u);
  EXPECT_EQ((*one)[1].lake_table, "gold.bars_1m");

  o.tables = {"gold.bars_5m"};
  ExpectInvalidArgument(o, "gold.bars_5m");
  o.tables = {"silver_trades"};
  ExpectInvalidArgument(o, "not a lake table");
  o.tables = {"gold.bars_1m", "gold.bars_1m"};
  ExpectInvalidArgument(o, "twice");
}

// --- the files behind the tables ------------------------------------------------

// A fresh temporary folder, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tl_athena_ddl_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string Path(std::string_view name) const { return (fs::path(path_) / name).string(); }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

// One leaf column as the Parquet footer of a file states it.
struct ParquetColumn {
  std::string physical;    // "INT64"
  std::string annotation;  // logical type, else converted type: "DATE", "UTF8", "TimestampType(...)"
  std::string precision;   // decimals only
  std::string scale;
};

// The leaf columns of the Parquet file at `path`, by name (DuckDB's parquet_schema()).
std::map<std::string, ParquetColumn> ParquetColumns(const std::string& path) {
  std::map<std::string, ParquetColumn> cols;
  Result<std::unique_ptr<Database>> db = Database::Open(":memory:");
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return cols;
  Result<Connection> con = (*db)->Connect();
  EXPECT_TRUE(con.ok()) << con.status().ToString();
  if (!con.ok()) return cols;
  Result<QueryResult> r = con->Query(
      "SELECT name, type, coalesce(logical_type, converted_type, ''), coalesce(precision::VARCHAR, ''), "
      "coalesce(scale::VARCHAR, '') FROM parquet_schema('" + path + "') WHERE type IS NOT NULL");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return cols;
  for (uint64_t i = 0; i < r->row_count(); ++i) {
    cols[r->GetStringOr(i, 0, "")] = {r->GetStringOr(i, 1, ""), r->GetStringOr(i, 2, ""),
                                      r->GetStringOr(i, 3, ""), r->GetStringOr(i, 4, "")};
  }
  return cols;
}

// Whether Athena reads a Parquet column stored as `file` as the DDL type `athena`.
::testing::AssertionResult ReadsAs(const ParquetColumn& file, std::string_view athena) {
  auto fail = [&] {
    return ::testing::AssertionFailure() << "file has " << file.physical << " " << file.annotation << " "
                                         << file.precision << "," << file.scale << ", DDL says " << athena;
  };
  const bool ok =
      (athena == "string" && file.physical == "BYTE_ARRAY" &&
       (file.annotation == "UTF8" || file.annotation.find("String") != std::string::npos)) ||
      (athena == "bigint" && file.physical == "INT64" &&
       (file.annotation.empty() || file.annotation == "INT_64" ||
        file.annotation.find("bitWidth=64") != std::string::npos)) ||
      (athena == "decimal(38,18)" && file.precision == "38" && file.scale == "18" &&
       file.physical == "FIXED_LEN_BYTE_ARRAY") ||
      // The unit docs/athena.md and athena_ddl.h describe: microseconds.
      (athena == "timestamp" && file.physical == "INT64" &&
       (file.annotation == "TIMESTAMP_MICROS" || file.annotation.find("MICROS=MicroSeconds") != std::string::npos)) ||
      (athena == "date" && file.physical == "INT32" && file.annotation == "DATE");
  return ok ? ::testing::AssertionSuccess() : fail();
}

TEST(AthenaDdl, ColumnTypesMatchTheParquetFilesTradelakeWrites) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  RejectedRecord rejected;
  rejected.date = "2024-05-01";
  QualityRow quality;
  quality.product_id = "BTC-USD";
  quality.date = "2024-05-01";
  quality.rejected_by_rule = "{}";
  ASSERT_TRUE(WriteSilverTrades({SilverTrade{}}, dir.Path("silver.parquet")).ok());
  ASSERT_TRUE(WriteRejected({rejected}, dir.Path("rejected.parquet")).ok());
  ASSERT_TRUE(WriteGoldBars({GoldBar{}}, dir.Path("gold.parquet")).ok());
  ASSERT_TRUE(WriteQualityRows({quality}, dir.Path("quality.parquet")).ok());
  ReconRow recon;
  recon.gold = Ohlcv{};  // values on both sides: every column typed in the file
  recon.exchange = Ohlcv{};
  recon.gold_trade_count = 1;
  recon.candle = "[0,1,1,1,1,1]";
  ASSERT_TRUE(WriteReconRows({recon}, dir.Path("recon.parquet")).ok());
  for (std::string_view lake_table : EtlTables()) {
    SCOPED_TRACE(lake_table);
    const std::string file = lake_table == kSilverTrades     ? "silver.parquet"
                             : lake_table == kSilverRejected ? "rejected.parquet"
                             : lake_table == kAuditQuality   ? "quality.parquet"
                             : lake_table == kAuditReconciliation ? "recon.parquet"
                                                             : "gold.parquet";
    const std::map<std::string, ParquetColumn> cols = ParquetColumns(dir.Path(file));
    ASSERT_FALSE(cols.empty());
    Result<AthenaTable> table = DescribeAthenaTable(lake_table, EnumOptions());
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    for (const AthenaColumn& c : table->columns) {
      auto it = cols.find(c.name);
      ASSERT_NE(it, cols.end()) << c.name << " is not in " << file;
      EXPECT_TRUE(ReadsAs(it->second, c.type)) << c.name;
    }
    // Every other column of the file is a partition key (Athena takes the
    // folder's value).
    const std::vector<std::string> keys = PartitionColumns(lake_table);
    for (const auto& [name, col] : cols) {
      const bool in_ddl = Contains(Names(table->columns), name);
      EXPECT_TRUE(in_ddl || Contains(keys, name)) << name << " of " << file << " is not in the DDL";
    }
  }
}

// --- options ---------------------------------------------------------------------

TEST(AthenaLocation, AcceptsS3BucketsAndPrefixes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"s3://tradelake-demo/lake", "s3://tradelake-demo/lake"},
      {"s3://tradelake-demo/lake/", "s3://tradelake-demo/lake"},
      {"s3://my.bucket-01/data/lake/v1", "s3://my.bucket-01/data/lake/v1"},
      {"s3://abc", "s3://abc"},
      {"s3://abc/", "s3://abc"},
  };
  for (const auto& [in, out] : cases) {
    Result<std::string> loc = NormalizeS3Location(in);
    ASSERT_TRUE(loc.ok()) << in << ": " << loc.status().ToString();
    EXPECT_EQ(*loc, out);
  }
  AthenaDdlOptions o = EnumOptions();
  o.location = "s3://abc/";
  Result<AthenaTable> t = DescribeAthenaTable(kSilverTrades, o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->location, "s3://abc/silver/trades/");
}

TEST(AthenaLocation, RejectsWhatIsNotAnS3BucketAndPrefix) {
  for (std::string_view bad : {
           "",                             // empty
           "http://tradelake-demo/lake",   // not S3
           "https://s3.amazonaws.com/b/l", // not S3
           "S3://tradelake-demo/lake",     // scheme is lower case
           "s3a://tradelake-demo/lake",    // Hadoop scheme
           "s3://",                        // no bucket
           "s3:///lake",                   // no bucket
           "s3://TradeLake/lake",          // uppercase
           "s3://trade_lake/lake",         // underscore
           "s3://ab/lake",                 // too short
           "s3://-tradelake/lake",         // starts with '-'
           "s3://tradelake-/lake",         // ends with '-'
           "s3://trade..lake/lake",        // ".."
           "s3://192.168.10.20/lake",      // IP address
           "s3://xn--tradelake/lake",      // reserved prefix
           "s3://tradelake-demo//lake",    // empty segment
           "s3://tradelake-demo/a//b",     // empty segment
           "s3://tradelake-demo/lake//",   // empty segment
           "s3://tradelake-demo/a/../b",   // ".." segment
           "s3://tradelake-demo/it's",     // quote
           "s3://tradelake-demo/a\\b",     // backslash
           "s3://tradelake-demo/${x}",     // template placeholder
           "s3://tradelake-demo/a\nb",     // control character
           "s3://tradelake-demo/a\tb",     // control character
       }) {
    Result<std::string> loc = NormalizeS3Location(bad);
    EXPECT_FALSE(loc.ok()) << QuoteForMessage(bad) << " -> " << loc.value_or("");
    EXPECT_EQ(loc.status().code(), StatusCode::kInvalidArgument) << bad;
    for (AthenaDdlOptions o : {EnumOptions(), DeltaOptions(DdlEngine::kAthena), DeltaOptions(DdlEngine::kTrino),
                               DeltaOptions(DdlEngine::kSpark)}) {
      o.location = std::string(bad);
      Result<std::string> ddl = AthenaDdl(o);
      EXPECT_EQ(ddl.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
  AthenaDdlOptions o = EnumOptions();
  o.location = "http://tradelake-demo/lake";
  ExpectInvalidArgument(o, "s3://");
  o.location = "s3://Trade_Lake/lake";
  ExpectInvalidArgument(o, "bucket");
  o.location = "";
  ExpectInvalidArgument(o, "--location");
}

TEST(AthenaDdl, AQuoteOrSeparatorInAProductIdIsRejected) {
  for (std::string_view bad : {"BTC-USD'", "X'); DROP TABLE t; --", "BTC-USD,ETH-USD", "BTC USD", "BTC\\USD",
                               "BTC\nUSD", ""}) {
    AthenaDdlOptions o = EnumOptions();
    o.products = {"SOL-USD", std::string(bad)};
    Result<std::string> ddl = AthenaDdl(o);
    ASSERT_FALSE(ddl.ok()) << bad;
    EXPECT_EQ(ddl.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(ddl.status().message(), HasSubstr("--products"));
  }
  AthenaDdlOptions o = EnumOptions();
  o.products = {"BTC-USD", "ETH-USD", "BTC-USD"};
  ExpectInvalidArgument(o, "twice");
  // Without projection the product list is not used, so not checked either.
  o = PlainOptions();
  o.products = {"BTC-USD'"};
  EXPECT_TRUE(AthenaDdl(o).ok());
}

TEST(AthenaDdl, ProjectionNeedsAValidFirstDate) {
  AthenaDdlOptions o = EnumOptions();
  o.first_date = "";
  ExpectInvalidArgument(o, "--first-date");
  for (std::string_view bad : {"2024-13-01", "2024-02-30", "2024-1-01", "2024-01-01'", "2024/01/01", "20240101",
                               "2024-01-01T00:00:00Z", "NOW"}) {
    o.first_date = std::string(bad);
    ExpectInvalidArgument(o, "calendar date");
  }
  o.first_date = "2024-02-29";
  EXPECT_TRUE(AthenaDdl(o).ok());
  o = PlainOptions();
  o.first_date = "";
  EXPECT_TRUE(AthenaDdl(o).ok());
}

TEST(AthenaDdl, RejectsDatabaseNamesAthenaCannotTake) {
  for (std::string_view bad : {"", "TradeLake", "trade-lake", "trade lake", "a`b", "lake.db"}) {
    AthenaDdlOptions o = EnumOptions();
    o.database = std::string(bad);
    ExpectInvalidArgument(o, "database");
  }
  AthenaDdlOptions o = EnumOptions();
  o.database = std::string(256, 'a');
  ExpectInvalidArgument(o, "database");
  o.database = std::string(255, 'a');
  EXPECT_TRUE(AthenaDdl(o).ok());
}

}  // namespace
}  // namespace tradelake
