// Athena / AWS Glue DDL for the lake's Silver and Gold tables.
//
// `tradelake catalog ddl --engine athena --location s3://bucket/prefix` prints
// the statements that make a lake on S3 queryable from Amazon Athena (engine
// v3; the same Glue tables serve Spark and Trino through the Glue catalog):
//
//   CREATE DATABASE IF NOT EXISTS `tradelake`
//   CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`silver_trades` (...)
//     PARTITIONED BY (`product_id` string, `date` string)
//     STORED AS PARQUET LOCATION 's3://bucket/prefix/silver/trades/'
//     TBLPROPERTIES ('parquet.compression'='ZSTD', partition projection ...)
//   ... one per table: silver.trades, silver.trades_rejected,
//       gold.trades_hourly, gold.trades_daily, gold.bars_1m
//   MSCK REPAIR TABLE `tradelake`.`silver_trades`   (only without projection)
//
// Names: Athena table names cannot contain '.', so the lake table
// "<layer>.<name>" is the Athena table `<database>`.`<layer>_<name>`:
// silver.trades -> silver_trades, gold.bars_1m -> gold_bars_1m.
//
// Columns are derived from the schema functions of etl/table_io.h, never
// from a second list: a column added there appears here (and the golden
// files of athena_ddl_test.cc show the change). DuckDB types map to Hive/Glue
// DDL types: VARCHAR->string, BIGINT->bigint, INTEGER->int, SMALLINT->smallint,
// TINYINT->tinyint, DOUBLE->double, FLOAT->float, BOOLEAN->boolean,
// DECIMAL(p,s)->decimal(p,s), DATE->date, TIMESTAMP->timestamp, BLOB->binary.
// Any other type is an error naming the table and column, never a guess.
// NOT NULL is not expressible in Hive DDL and is dropped.
//
// Partitions: the Hive folders product_id=<id>/date=<YYYY-MM-DD> (read off
// catalog.h's PartitionName) become the partition columns `product_id` string
// and `date` string. The Parquet files also hold product_id (and, in
// silver.trades_rejected, date); such columns are left out of the column list
// (Athena rejects a name that is both a column and a partition key) and their
// values come from the folder names, as in DuckDB with hive_partitioning.
// `date` is typed string, not date: Athena's documentation recommends string
// partition keys for performance, partition projection's 'date' type works on
// a string column with 'projection.date.format'='yyyy-MM-dd', and
// yyyy-MM-dd strings compare in date order ("date" >= '2024-05-01').
//
// Partition projection (default): Athena computes partitions from table
// properties instead of the Glue partition list, so new days are queryable
// with no MSCK REPAIR / ADD PARTITION step. `date` is projected as a 'date'
// from `first_date` to NOW, one day apart. `product_id` is an 'enum' of
// `products` when given; with no product list it is 'injected', which needs
// no update when a product is added but makes Athena reject every query
// without a literal product filter (WHERE product_id = 'BTC-USD' or
// product_id IN (...)). Without projection the tables use Glue partitions and
// each CREATE is followed by MSCK REPAIR TABLE, to be rerun after each ETL
// run that adds a partition.
//
// Timestamp precision: tradelake writes TIMESTAMP columns (trade_time,
// ingested_at, period_start, rejected_at) as Parquet INT64
// TIMESTAMP(MICROS). Athena reads timestamps of Hive (non-Iceberg) tables at
// millisecond precision (documented by AWS: "Athena and Glue can handle only
// millisecond precision for TIMESTAMP values"; microseconds are documented
// for Iceberg tables only). Believed from Trino's open-source Parquet reader,
// not documented by AWS: the microseconds are rounded to the nearest
// millisecond, so 23:59:59.9996 reads as 00:00:00.000 of the next day.
// Prices and sizes stay exact decimal(38,18). For exact microseconds use
// `tradelake sql` (DuckDB), order trades by trade_id rather than trade_time,
// take per-period figures from the Gold tables (computed from exact
// microseconds), and compare an Athena trade_time with a tradelake time to
// within 0.5 ms. See docs/athena.md.
//
// Output: every statement is comment-free (Athena's DDL parser has been seen
// to fail on "--" and "/* */" comments inside DDL) and free of ';' and blank
// lines; AthenaDdl joins them as "<statement>;\n" separated by blank lines.
// Athena runs one statement per query.
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

struct AthenaDdlOptions {
  // Where the lake lives: "s3://bucket" or "s3://bucket/prefix" (one trailing
  // '/' is ignored). Bucket: S3 naming rules (3-63 of a-z 0-9 . -, starting
  // and ending with a letter or digit, no "..", not an IP address). Prefix: a
  // valid object key (store/object_store.h ValidateKey) without ' " * ? $.
  std::string location;
  // Glue database: 1-255 of a-z, 0-9, '_'.
  std::string database = "tradelake";
  // Partition projection (true) or Glue partitions + MSCK REPAIR TABLE.
  bool projection = true;
  // With projection: the product ids of the 'enum' projection, in this order
  // (each a valid product id, like BTC-USD; no duplicates); empty means
  // 'injected'. Ignored without projection.
  std::vector<std::string> products;
  // With projection, required: the first trade date in the lake,
  // "YYYY-MM-DD" (UTC); the projected range is first_date..NOW. Ignored
  // without projection.
  std::string first_date;
  // Lake tables to emit ("silver.trades", ...; catalog.h AllTables()), in
  // this order; empty means all. CREATE DATABASE is always emitted first.
  std::vector<std::string> tables;
};

// One column of an Athena table: name and Hive/Glue DDL type ("decimal(38,18)").
struct AthenaColumn {
  std::string name;
  std::string type;

  friend bool operator==(const AthenaColumn&, const AthenaColumn&) = default;
};

// The Athena table of one lake table.
struct AthenaTable {
  std::string lake_table;  // "silver.trades"
  std::string database;    // "tradelake"
  std::string name;        // "silver_trades"
  std::string location;    // "s3://bucket/prefix/silver/trades/"
  std::vector<AthenaColumn> columns;     // file columns, schema order, partition keys left out
  std::vector<AthenaColumn> partitions;  // folder order: product_id, date
  std::vector<std::pair<std::string, std::string>> properties;  // TBLPROPERTIES, in order
};

// One statement, without comments and without the trailing ';'.
struct AthenaStatement {
  std::string lake_table;  // the lake table it is about; "" for CREATE DATABASE
  std::string sql;
};

// The statements for `options`: CREATE DATABASE, then per table CREATE
// EXTERNAL TABLE (and MSCK REPAIR TABLE without projection). Returns
// InvalidArgument naming the option and the fix for a bad location,
// database, product, first_date or table name; Internal (naming table and
// column) if a schema column has a type or name Athena cannot take, which is
// a tradelake bug.
Result<std::vector<AthenaStatement>> AthenaDdlStatements(const AthenaDdlOptions& options);

// The same statements as one script: each followed by ";\n", a blank line
// between statements. Same errors.
Result<std::string> AthenaDdl(const AthenaDdlOptions& options);

// The Athena table for one lake table ("silver.trades"). Same errors;
// InvalidArgument for a table that is not in AllTables().
Result<AthenaTable> DescribeAthenaTable(std::string_view lake_table,
                                        const AthenaDdlOptions& options);

// "CREATE EXTERNAL TABLE IF NOT EXISTS ..." for `table` (no trailing ';').
// REQUIRES: `table` came from DescribeAthenaTable (its text is validated).
std::string CreateTableSql(const AthenaTable& table);

// "silver.trades" -> "silver_trades".
std::string AthenaTableName(std::string_view lake_table);

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
