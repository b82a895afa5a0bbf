// DDL that makes the lake's tables queryable from Athena, Trino and Spark.
//
// Every lake table is a Delta Lake table (table/catalog.h, table/delta_log.h),
// so the default form only names the table and its root folder; each engine
// reads schema, partitions and the committed file list from `_delta_log/`:
//
//   tradelake catalog ddl --location s3://bucket/prefix            (Athena, Delta)
//     CREATE DATABASE IF NOT EXISTS `tradelake`
//     CREATE EXTERNAL TABLE `tradelake`.`silver_trades`
//     LOCATION 's3://bucket/prefix/silver/trades/'
//     TBLPROPERTIES ('table_type'='DELTA')
//   ... --engine trino                                    (delta_lake connector)
//     CREATE SCHEMA IF NOT EXISTS "delta"."tradelake"
//     CALL "delta".system.register_table(schema_name => 'tradelake',
//         table_name => 'silver_trades', table_location => 's3://bucket/prefix/silver/trades')
//   ... --engine spark                                 (Delta Lake for Spark)
//     CREATE DATABASE IF NOT EXISTS `tradelake`
//     CREATE TABLE IF NOT EXISTS `tradelake`.`silver_trades` USING DELTA
//     LOCATION 's3://bucket/prefix/silver/trades'
//
// The Athena statement is the one AWS documents for Delta Lake tables
// (nothing but LOCATION and 'table_type' is allowed); Trino's connector
// refuses CREATE TABLE over an existing Delta table and registers it with
// the register_table procedure (enabled by the catalog property
// delta.register-table-procedure.enabled=true); Spark's CREATE TABLE with
// only a name and a LOCATION holding a Delta table takes the table's schema,
// partitioning and properties from the log. See docs/athena.md.
//
// Tables: every Delta table the ETL writes (catalog.h EtlTables(): Silver,
// Gold and audit.data_quality), or the ones asked for.
//
// Names: no engine here takes '.' inside a table name, so the lake table
// "<layer>.<name>" is the table `<database>`.`<layer>_<name>`:
// silver.trades -> silver_trades, gold.bars_1m -> gold_bars_1m.
//
// The Hive form (Format::kHive, Athena only) is the DDL from before Delta:
// a column list, Hive partitions and partition projection. It reads every
// Parquet file under the folders, including files a later commit replaced
// and that `tradelake vacuum` has not deleted yet, so it can count rows
// twice; it is kept for tools that cannot read Delta. Its rules:
//
// Columns are derived from the schema functions of etl/table_io.h (SchemaOf),
// never from a second list: a column added there appears here (and the
// golden files of athena_ddl_test.cc show the change). DuckDB types map to
// Hive/Glue DDL types: VARCHAR->string, BIGINT->bigint, INTEGER->int,
// SMALLINT->smallint, TINYINT->tinyint, DOUBLE->double, FLOAT->float,
// BOOLEAN->boolean, DECIMAL(p,s)->decimal(p,s), DATE->date,
// TIMESTAMP->timestamp, BLOB->binary. Any other type is an error naming the
// table and column, never a guess. NOT NULL is not expressible in Hive DDL
// and is dropped.
//
// Partitions: the Delta partition columns of catalog.h PartitionColumns(),
// whose values name the folders (product_id=<id>[/date=<YYYY-MM-DD>]),
// become partition columns of type string: product_id and date for
// silver.trades, silver.trades_rejected and gold.bars_1m; product_id alone
// for gold.trades_hourly, gold.trades_daily and audit.data_quality (where a
// `date` column, if the files hold one, is an ordinary column). A column of
// the files that is also a partition key is left out of the column list
// (Athena rejects a name that is both); its value comes from the folder.
// `date` is typed string, not date: Athena's documentation recommends string
// partition keys, projection's 'date' type works on a string column with
// 'projection.date.format'='yyyy-MM-dd', and yyyy-MM-dd strings compare in
// date order ("date" >= '2024-05-01').
//
// Partition projection (Hive form, default): Athena computes partitions from
// table properties instead of the Glue partition list, so new days are
// queryable with no MSCK REPAIR / ADD PARTITION step. `date` is projected as
// a 'date' from `first_date` to NOW, one day apart. `product_id` is an
// 'enum' of `products` when given; with no product list it is 'injected',
// which needs no update when a product is added but makes Athena reject
// every query without a literal product filter. Without projection the
// tables use Glue partitions and each CREATE is followed by MSCK REPAIR
// TABLE, to be rerun after each ETL run that adds a partition.
//
// Timestamp precision: tradelake writes TIMESTAMP columns as Parquet INT64
// TIMESTAMP(MICROS), UTC-adjusted (Delta type `timestamp`). Athena reads
// Hive-table timestamps at millisecond precision (AWS: "Athena and Glue can
// handle only millisecond precision for TIMESTAMP values"), and Trino's
// Delta connector maps Delta `timestamp` to TIMESTAMP(3) WITH TIME ZONE.
// Spark and `tradelake sql` read the microseconds. Prices and sizes stay
// exact decimal(38,18) everywhere. See docs/athena.md.
//
// Output: every statement is comment-free (Athena's DDL parser has been seen
// to fail on "--" and "/* */" comments inside DDL) and free of ';' and blank
// lines; AthenaDdl joins them as "<statement>;\n" separated by blank lines.
// Athena runs one statement per query; the Trino CLI and spark-sql run the
// script as it is.
//
// Everything here is pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "etl/table_io.h"

namespace tradelake {

// Which engine the statements are for.
enum class DdlEngine {
  kAthena,  // Amazon Athena engine v3 with the Glue Data Catalog
  kTrino,   // Trino's delta_lake connector
  kSpark,   // Apache Spark with Delta Lake (delta-spark)
};

// How the tables are declared.
enum class DdlFormat {
  kDelta,  // the Delta log gives schema, partitions and files (every engine)
  kHive,   // column list + Hive partitions over the folders (Athena only)
};

struct AthenaDdlOptions {
  DdlEngine engine = DdlEngine::kAthena;
  DdlFormat format = DdlFormat::kDelta;
  // Where the lake lives: "s3://bucket" or "s3://bucket/prefix" (one trailing
  // '/' is ignored). Bucket: S3 naming rules (3-63 of a-z 0-9 . -, starting
  // and ending with a letter or digit, no "..", not an IP address). Prefix: a
  // valid object key (store/object_store.h ValidateKey) without ' " * ? $.
  std::string location;
  // Glue database (Athena), schema (Trino) or database (Spark): 1-255 of
  // a-z, 0-9, '_'.
  std::string database = "tradelake";
  // Trino only: the catalog configured with connector.name=delta_lake.
  // Same rule as `database`.
  std::string trino_catalog = "delta";
  // The fields below are for the Hive form only and ignored (not checked)
  // in the Delta form.
  // Partition projection (true) or Glue partitions + MSCK REPAIR TABLE.
  bool projection = true;
  // With projection: the product ids of the 'enum' projection, in this order
  // (each a valid product id, like BTC-USD; no duplicates); empty means
  // 'injected'. Ignored without projection.
  std::vector<std::string> products;
  // With projection and a table partitioned by date, required: the first
  // trade date in the lake, "YYYY-MM-DD" (UTC); the projected range is
  // first_date..NOW. Ignored without projection.
  std::string first_date;
  // Lake tables to emit ("silver.trades", ...; catalog.h EtlTables()), in
  // this order; empty means all of EtlTables(). CREATE DATABASE (or SCHEMA)
  // is always emitted first.
  std::vector<std::string> tables;
};

// "athena" / "trino" / "spark" and "delta" / "hive" (the CLI spellings);
// InvalidArgument naming the accepted values otherwise.
Result<DdlEngine> ParseDdlEngine(std::string_view name);
Result<DdlFormat> ParseDdlFormat(std::string_view name);

// One column of an Athena table: name and Hive/Glue DDL type ("decimal(38,18)").
struct AthenaColumn {
  std::string name;
  std::string type;

  friend bool operator==(const AthenaColumn&, const AthenaColumn&) = default;
};

// The Athena table of one lake table in the Hive form.
struct AthenaTable {
  std::string lake_table;  // "silver.trades"
  std::string database;    // "tradelake"
  std::string name;        // "silver_trades"
  std::string location;    // "s3://bucket/prefix/silver/trades/"
  std::vector<AthenaColumn> columns;     // file columns, schema order, partition keys left out
  std::vector<AthenaColumn> partitions;  // folder order: product_id[, date]
  std::vector<std::pair<std::string, std::string>> properties;  // TBLPROPERTIES, in order
};

// One statement, without comments and without the trailing ';'.
struct AthenaStatement {
  std::string lake_table;  // the lake table it is about; "" for CREATE DATABASE
  std::string sql;
};

// The statements for `options`: CREATE DATABASE (SCHEMA for Trino), then
// one statement per table (Delta form), or per table CREATE EXTERNAL TABLE
// and, without projection, MSCK REPAIR TABLE (Hive form). Returns
// InvalidArgument naming the option and the fix for a bad location,
// database, Trino catalog, product, first_date or table name, and for the
// Hive form with an engine other than Athena; Internal (naming table and
// column) if a schema column has a type or name Athena cannot take, which is
// a tradelake bug.
Result<std::vector<AthenaStatement>> AthenaDdlStatements(const AthenaDdlOptions& options);

// The same statements as one script: each followed by ";\n", a blank line
// between statements. Same errors.
Result<std::string> AthenaDdl(const AthenaDdlOptions& options);

// The Hive-form Athena table for one lake table ("silver.trades"),
// whatever options.format says. Same errors; InvalidArgument for a table
// that is not in EtlTables().
Result<AthenaTable> DescribeAthenaTable(std::string_view lake_table,
                                        const AthenaDdlOptions& options);

// "CREATE EXTERNAL TABLE IF NOT EXISTS ..." for `table` (no trailing ';').
// REQUIRES: `table` came from DescribeAthenaTable (its text is validated).
std::string CreateTableSql(const AthenaTable& table);

// "silver.trades" -> "silver_trades".
std::string AthenaTableName(std::string_view lake_table);

// The Delta-form statement for one table of `options.engine` (no trailing
// ';'). Same errors as DescribeAthenaTable.
Result<std::string> DeltaTableSql(std::string_view lake_table, const AthenaDdlOptions& options);

// "s3://bucket/prefix/" -> "s3://bucket/prefix": the location checked by the
// rules of AthenaDdlOptions::location, without a trailing '/'. InvalidArgument
// (quoting the input, saying which rule failed) otherwise.
Result<std::string> NormalizeS3Location(std::string_view location);

namespace athena_internal {

// Exposed for tests. The Hive/Glue type for a DuckDB type ("DECIMAL(38,18)"
// -> "decimal(38,18)"), or InvalidArgument quoting the type.
Result<std::string> AthenaType(std::string_view duckdb_type);

// DescribeAthenaTable with the schema given instead of taken from
// table_io.h. Internal naming `lake_table` and the column for an unmapped
// type, an invalid or a repeated column name.
Result<AthenaTable> DescribeTableWithSchema(std::string_view lake_table,
                                            const std::vector<ColumnDef>& schema,
                                            const AthenaDdlOptions& options);

}  // namespace athena_internal
}  // namespace tradelake
