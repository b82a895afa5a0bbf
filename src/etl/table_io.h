// Reading and writing the lake's Parquet tables (silver.trades,
// silver.trades_rejected, gold bars) exactly, through DuckDB's C API.
//
// Exactness: every Dec18 is written and read as the 128-bit unscaled integer
// of a DECIMAL(38,18) (Parquet FIXED_LEN_BYTE_ARRAY(16), DECIMAL(38,18)); no
// value ever passes through a double or through text. Timestamps are
// microseconds since the epoch in a plain TIMESTAMP column (Parquet INT64
// TIMESTAMP(MICROS, isAdjustedToUTC=false)), UTC by convention, which is what
// Athena, Trino and Spark read as TIMESTAMP.
//
// Files: a local file path, written atomically: the rows go to a temporary
// file ".<name>.tmp-..." in the same folder (hidden from Hive, Athena and
// "*.parquet" globs), renamed over <path> when complete, so no reader ever
// sees a partial file.
// Missing parent folders are created. Files are zstd-compressed, rows keep
// the order of the vector, one row group per 122,880 rows (DuckDB's default;
// a million trades make a ~30 MB file of 9 row groups).
//
// Hive partitions: the files live under product_id=X/date=D/ folders and keep
// product_id (and, for trades_rejected, date) inside the file too. A whole
// table can be queried with
//   read_parquet('<table>/**/*.parquet', hive_partitioning = true)
// DuckDB 1.4 then shows each such column once, with the value taken from the
// FOLDER name, not from the file (typed VARCHAR for product_id, DATE for
// date); filters on them prune files. A Hive column that is not in the file
// (date for silver.trades and gold bars) is added from the folder name.
// So writers must file rows only under the folder of their own product_id
// and date. The Read* functions below read one file with Hive partitioning
// off: they return exactly what the file holds, wherever it lives. (See
// table_io_test.cc, HivePartitioning*.)
//
// Errors:
//   - a row that cannot be stored (a Dec18 outside +-(10^38 - 1), text that is
//     not valid UTF-8, a rejected date that is not "YYYY-MM-DD")
//                                   -> InvalidArgument naming row and column;
//                                      nothing is written
//   - the file cannot be written, renamed or read (permissions, missing
//     folder that cannot be created, full disk)
//                                   -> IOError naming the path, with DuckDB's
//                                      or the OS's message
//   - the file to read does not exist -> NotFound naming the path
//   - the file is not Parquet or is corrupt, a column is missing, has another
//     type, or holds NULL where the table does not allow it
//                                   -> DataLoss naming the path (and column)
// Extra columns in a file being read are ignored; columns are found by name.
//
// Threads: any number of threads may call any of these functions at once, on
// different paths. Each calling thread has its own private in-memory DuckDB
// database, opened by its first call (a one-time ~10-20 ms), reused by its
// later calls (a failed call leaves it usable) and closed when the thread
// exits; until then it holds its catalog and DuckDB's idle worker threads.
// Two concurrent writers of the same path each write their own temporary
// file; the last rename wins and the file is always whole.
// Reading a path while it is being replaced reads the old or the new file.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "etl/rows.h"
#include "table/delta_log.h"

namespace tradelake {

// One column of a table, as DuckDB spells its type ("VARCHAR", "BIGINT",
// "DECIMAL(38,18)", "TIMESTAMP", "DATE"). Column names are the public
// contract analysts query; never rename one.
struct ColumnDef {
  std::string name;
  std::string type;
  bool nullable = false;  // NULL allowed (only trades_rejected.trade_id and .date)

  friend bool operator==(const ColumnDef&, const ColumnDef&) = default;
};

// silver.trades: product_id, trade_id, price, size, quote_notional, side,
// taker_side, trade_time, ingested_at, bronze_object.
std::vector<ColumnDef> SilverTradesSchema();
// silver.trades_rejected: product_id, date, trade_id, rule, detail, raw,
// bronze_object, rejected_at. trade_id is NULL when unknown (nullopt); date
// is NULL when RejectedRecord::date is "".
std::vector<ColumnDef> RejectedSchema();
// gold.trades_hourly / gold.trades_daily / gold.bars_1m: product_id,
// period_start, trade_count, avg_price, total_volume, quote_volume, vwap,
// open, high, low, close, buy_volume, sell_volume, first_trade_id,
// last_trade_id.
std::vector<ColumnDef> GoldBarsSchema();

// audit.data_quality: product_id, date, etl_seq, committed_at, records,
// inserted, duplicates, rejected, rejected_by_rule.
std::vector<ColumnDef> QualitySchema();
// audit.candle_reconciliation: product_id, minute, status, gold_open,
// gold_high, gold_low, gold_close, gold_volume, gold_trade_count,
// exchange_open, exchange_high, exchange_low, exchange_close,
// exchange_volume, exchange_candle, detail, reconciled_at (the gold_* and
// exchange_* columns NULL where that side has no value for the minute).
std::vector<ColumnDef> ReconSchema();
// The schema of a table by name (AllTables() and audit.data_quality).
std::vector<ColumnDef> SchemaOf(std::string_view table);

// The Delta metaData of `table` (a fixed id per table, Spark's
// schemaString with the partition columns of catalog.h PartitionColumns):
// VARCHAR -> string, BIGINT -> long, DECIMAL(38,18) -> decimal(38,18),
// TIMESTAMP -> timestamp, DATE -> date.
DeltaMetadata DeltaMetadataFor(std::string_view table, int64_t created_time_ms);

// "product_id VARCHAR NOT NULL, trade_id BIGINT NOT NULL, ..." for a
// CREATE TABLE statement.
std::string ColumnListSql(const std::vector<ColumnDef>& schema);

// Write rows, in the order given, to a Parquet file at path (replacing any
// file there). Returns OK once the complete file is in place; on failure no
// file is left at path (an existing one is kept) and the Status says why
// (see "Errors" above). An empty vector writes a file with the schema and no
// rows.
Status WriteSilverTrades(const std::vector<SilverTrade>& rows, const std::string& path);
Status WriteRejected(const std::vector<RejectedRecord>& rows, const std::string& path);
Status WriteGoldBars(const std::vector<GoldBar>& rows, const std::string& path);
Status WriteQualityRows(const std::vector<QualityRow>& rows, const std::string& path);
Status WriteReconRows(const std::vector<ReconRow>& rows, const std::string& path);

// Read every row of the Parquet file at path, in file order. Returns the
// rows, or NotFound / IOError / DataLoss (see "Errors" above). The file may
// have been written by any Parquet writer, as long as the table's columns
// are present with exactly the schema's types.
Result<std::vector<SilverTrade>> ReadSilverTrades(const std::string& path);
Result<std::vector<RejectedRecord>> ReadRejected(const std::string& path);
Result<std::vector<GoldBar>> ReadGoldBars(const std::string& path);
Result<std::vector<QualityRow>> ReadQualityRows(const std::string& path);
Result<std::vector<ReconRow>> ReadReconRows(const std::string& path);

}  // namespace tradelake
