// LakeSql: SQL over the lake's committed tables, pruned, accounted and
// sandboxed. What `tradelake sql`, its shell and the HTTP API run on.
//
// Tables (DuckDB SQL, schema-qualified):
//   silver.trades, silver.trades_rejected,
//   gold.trades_hourly, gold.trades_daily, gold.bars_1m   -- committed files only
//   bronze.trades_raw  -- every Bronze object, one row per record (raw JSON);
//                         only for roles that may read Bronze (etl), for debugging
// Each is a view with a fixed column list (the table contract of DESIGN.md)
// plus the partition columns product_id VARCHAR and date DATE (Bronze:
// product, date) taken from the Hive folders; gold.trades_hourly and
// gold.trades_daily have no date folder (a file per month / year), so their
// date is CAST(period_start AS DATE). Time columns are stored as UTC-adjusted
// Parquet timestamps and shown as plain TIMESTAMP (UTC): both databases run
// with TimeZone 'UTC', so the views' casts never depend on the machine.
//
// Which files: the live files of each table at the Delta version the
// catalog snapshot pins (table/catalog.h LoadLakeState), with their sizes
// and statistics from the Delta log; the table folders are never listed.
//
// How a statement runs:
//   1. It is parsed (only SELECT and EXPLAIN SELECT pass) and planned by a
//      *planning* DuckDB that has no file access at all: its tables have the
//      lake tables' names and columns and three rows (NULL, lowest, highest
//      value), so statistics never let the optimizer drop a scan.
//   2. From DuckDB's plan (EXPLAIN FORMAT JSON) and the tables the statement
//      names, prune.h derives the partitions each table can need. A file's
//      days are its date partition or, without one, the range of its
//      period_start statistics (min/max in the Delta log).
//   3. The scan is accounted before anything is read: files read / skipped,
//      bytes (whole Parquet/Bronze objects: an upper bound of the columnar
//      bytes Athena bills), and the Athena price of that scan. Above the
//      --max-scan limit the statement fails with FailedPrecondition and reads
//      nothing.
//   4. An *executing* DuckDB runs it over views that list exactly those
//      files, seen through a private folder of symlinks (objects of a remote
//      lake are downloaded into the local cache first). That folder is the
//      only one it may open, so even a direct read_parquet() reads only files
//      that this session has accounted for (links stay for later statements
//      until there are 4,096 of them).
// Gold tables are small by design (a row per product and minute at most), and
// a year of them is hundreds of tiny files that DuckDB opens at ~1 ms each;
// so their rows, once read, stay in memory (up to 256 MB of Parquet, then the
// cache starts over) and later statements read them from there. Scan
// accounting still counts the files a statement needs, as Athena would bill.
// Both databases are sandboxed: enable_external_access=false with
// allowed_directories limited as above, no extension loading or installing,
// lock_configuration=true (no SET). COPY, ATTACH, INSTALL, SET, CREATE, ...
// are refused by statement type before they are prepared on the executing
// side, with PermissionDenied naming the statement type.
//
// Errors: a statement DuckDB rejects -> InvalidArgument with DuckDB's message;
// a refused statement type -> PermissionDenied; a file the role may not read
// -> PermissionDenied (AccessDenied ...); over the scan limit ->
// FailedPrecondition (not retryable); Interrupt() -> Cancelled.
//
// Threads: one statement at a time per LakeSql; Interrupt() from any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "query/duckdb.h"
#include "store/object_store.h"
#include "table/catalog.h"

namespace tradelake {

struct ScanConstraints;  // sql/prune.h

struct SqlOptions {
  // 0: no limit. Otherwise a statement that would scan more bytes fails.
  int64_t max_scan_bytes = 0;
  // Where downloaded objects of a remote lake are kept between runs
  // ("" -> $XDG_CACHE_HOME/tradelake or ~/.cache/tradelake).
  std::string cache_dir;
  // DuckDB worker threads (0: one per core).
  int threads = 0;
  // DuckDB's memory_limit ("2GB"; "": DuckDB's default, 80% of RAM). It
  // bounds the buffer manager only; serve/api_server.h adds a watchdog.
  std::string memory_limit;
  // Gold rows a Refresh dropped from the session's cache (their files left
  // the snapshot) stay allocated in DuckDB's in-memory tables; past this
  // many Parquet bytes, and half of what is cached, the cache tables are
  // copied afresh.
  int64_t cache_rewrite_bytes = int64_t{16} << 20;
};

// What one statement read, known before it ran.
struct ScanStats {
  int64_t files_total = 0;  // files of the tables the statement names
  int64_t files_read = 0;
  int64_t bytes_total = 0;
  int64_t bytes_read = 0;
  int64_t rows = 0;         // rows returned
  double elapsed_seconds = 0;
  double planning_seconds = 0;  // parse, plan, prune, account, link (part of elapsed)
  // Per table read: "silver.trades" -> files read.
  std::map<std::string, int64_t> files_by_table;

  int64_t files_skipped() const { return files_total - files_read; }
};

// Athena's price for scanning `bytes`: 5 USD per TB (2^40 bytes), each query
// rounded up to a whole MB (2^20) with a 10 MB minimum.
double AthenaCostUsd(int64_t bytes);

struct StatementResult {
  std::string statement_type;  // "SELECT", "EXPLAIN"
  QueryResult rows;
  ScanStats scan;
};

struct TableInfo {
  std::string name;  // "gold.trades_hourly"
  std::vector<std::pair<std::string, std::string>> columns;  // name, DuckDB type
  std::vector<std::string> partition_columns;  // the folders: catalog.h PartitionColumns()
  int64_t partitions = 0;
  int64_t files = 0;
  int64_t bytes = 0;
};

// A live file of a table, as LakeSql reads and accounts it.
struct LakeFile {
  std::string key;      // object key
  std::string product;  // product_id (Bronze: product) partition value
  std::string partition;  // "product_id=X/date=D", or "product_id=X" for a table without a date folder
  // UTC days (since 1970-01-01) its rows can hold, inclusive: the date
  // partition, or the range of its period_start statistics; the widest range
  // when the file has no statistics.
  int64_t first_day = 0;
  int64_t last_day = 0;
  int64_t size = 0;
};

class LakeSql {
 public:
  // Reads the current catalog snapshot and the Delta state of every table
  // (LoadLakeState). `store` must outlive the LakeSql.
  static Result<std::unique_ptr<LakeSql>> Open(ObjectStore* store, const SqlOptions& options);
  ~LakeSql();

  LakeSql(const LakeSql&) = delete;
  LakeSql& operator=(const LakeSql&) = delete;

  // Runs one or more ';'-separated statements, in order; stops at the first
  // failure.
  Result<std::vector<StatementResult>> Execute(std::string_view sql);
  // Exactly one statement. If it fails because a file of the snapshot it
  // read is gone (`tradelake vacuum` deleted files an older version still
  // had) and a newer snapshot exists, it is run once more on the newer
  // snapshot. A file still missing -> DataLoss naming it.
  Result<StatementResult> ExecuteOne(std::string_view statement);

  // The tables this role can query, with their shape and size.
  const std::vector<TableInfo>& Tables() const { return tables_; }
  // The catalog snapshot and table versions every statement reads.
  const LakeState& lake() const { return lake_; }
  int64_t commit_seq() const { return lake_.catalog.seq; }
  // The live files of `table` (a name of Tables()) by key; empty for an
  // unknown name, and for Bronze (listed only for the statements that read
  // it, as far as their filters allow: the listing of every object ever
  // landed grows with the lake's age).
  const std::map<std::string, LakeFile>& Files(std::string_view table) const;
  // Lookups by product in Files() (keys sort by table, product, date): each
  // costs a search per product, not a pass over the table.
  bool HasProduct(std::string_view table, std::string_view product) const;
  // product -> the first and last day of its files.
  std::map<std::string, std::pair<int64_t, int64_t>> ProductDays(std::string_view table) const;
  // The files of `product` holding days >= from_day, by key.
  std::vector<const LakeFile*> ProductFiles(std::string_view table, std::string_view product,
                                            int64_t from_day = std::numeric_limits<int64_t>::min()) const;

  // Moves to the newest catalog snapshot (after an ETL commit), reading only
  // the Delta log entries that are new (RefreshLakeState) and updating only
  // the files they add and remove. The databases, the Gold rows already
  // cached and the sandbox links of files still live are kept: only the
  // rows of files that left the snapshot are dropped, so a refresh costs
  // what changed, not the lake's size. (Every few hundred retired files the
  // databases are rebuilt, to let go of DuckDB's metadata of files gone.)
  // On error the session keeps its snapshot.
  Status Refresh();

  // The partitions ("product_id=X/date=D") of `table` whose files changed
  // since the last call, so a caller keeping figures per partition redoes
  // only those; nullopt when every partition may have (the first call, or
  // after the files were read afresh).
  std::optional<std::set<std::string>> TakeChangedPartitions(std::string_view table);

  // Cancels the running statement (it fails with Cancelled).
  void Interrupt();

  // Changes the scan limit (0: none).
  void set_max_scan_bytes(int64_t bytes) { options_.max_scan_bytes = bytes; }
  int64_t max_scan_bytes() const { return options_.max_scan_bytes; }
  // How often Refresh copied the Gold cache tables afresh (for tests).
  int64_t cache_rewrites() const { return cache_rewrites_; }

 private:
  using FileEntry = LakeFile;
  struct Table {
    std::string name;          // "silver.trades"
    std::string select_list;   // explicit columns of the view
    std::string empty_select;  // same columns, no rows
    bool bronze = false;
    bool cached = false;  // Gold: rows kept in memory once read
    bool date_folder = true;  // partitioned by date too (else date comes from period_start)
    std::string hive_types;   // read_parquet's hive_types: the table's folders
    std::vector<std::pair<std::string, std::string>> columns;  // name, DuckDB type
    std::map<std::string, FileEntry> files;        // live files by key (Bronze: the statement's listing)
    std::map<std::string, int64_t> partition_files;  // partition -> live files
    int64_t bytes = 0;                               // of the live files
  };

  LakeSql(ObjectStore* store, SqlOptions options) : store_(store), options_(std::move(options)) {}
  Status Init();
  Result<StatementResult> ExecuteOnSnapshot(std::string_view statement);
  Status LoadFiles();  // tables_data_ and tables_ from lake_
  // The files of lake_ a refresh changed; the keys that left go to *retired.
  Status ApplyRefresh(const LakeRefresh& refresh, std::vector<std::string>* retired);
  static Result<FileEntry> EntryOf(const Table& table, TableFile file, int64_t version);
  static void AddFile(Table* table, FileEntry file);
  static bool RemoveFile(Table* table, const std::string& key);  // false: not there
  void SyncInfo();  // tables_ from tables_data_
  // The files of `table` a scan with one of `constraints` may need (all when
  // `constraints` is empty); Bronze is listed here.
  Result<std::vector<const FileEntry*>> Candidates(Table* table, const std::vector<const ScanConstraints*>& constraints);
  Status BuildDatabases();
  Result<std::string> LocalFile(const FileEntry& file);
  Status SyncFarm(const std::set<std::string>& keys);
  std::string ViewSql(const Table& table, const std::vector<const FileEntry*>& files,
                      const std::string& root) const;
  Result<std::optional<std::set<std::string>>> ReferencedTables(std::string_view statement);
  static std::string CacheTable(const Table& table);
  Status LoadIntoCache(const Table& table, const std::vector<const FileEntry*>& files, const std::string& root);

  ObjectStore* store_;
  SqlOptions options_;
  LakeState lake_;
  std::vector<Table> tables_data_;
  // TakeChangedPartitions: tables read afresh, and partitions changed since.
  std::set<std::string> all_partitions_changed_;
  std::map<std::string, std::set<std::string>> changed_partitions_;
  std::vector<TableInfo> tables_;
  std::string work_dir_;   // private: farm/ (the executing side's only folder)
  std::string cache_dir_;  // remote lakes only
  bool local_ = false;
  std::string lake_root_;  // local lakes: the folder
  std::set<std::string> farm_;       // keys linked in work_dir_/farm
  std::set<std::string> last_keys_;  // the files the last statement read
  std::set<std::string> farm_dirs_;  // folders created there
  std::map<std::string, std::string> view_sql_;
  // Gold rows already read, in the executing database's tl_cache schema.
  static constexpr int64_t kCacheBudgetBytes = int64_t{256} << 20;  // Parquet bytes
  std::map<std::string, int64_t> cached_files_;  // sandbox path -> Parquet bytes
  int64_t cached_bytes_ = 0;
  // Files that left the snapshot since the databases were built: their
  // metadata may stay in DuckDB's caches, so past a bound the databases are
  // built afresh (Refresh).
  int64_t retired_files_ = 0;
  // Parquet bytes of cached rows deleted since the cache tables were last
  // written afresh (SqlOptions::cache_rewrite_bytes), and how often that was.
  int64_t deleted_cache_bytes_ = 0;
  int64_t cache_rewrites_ = 0;
  static constexpr int64_t kRebuildAfterRetiredFiles = 256;
  Status DropRetiredFromCache(const std::vector<std::string>& retired);
  std::unique_ptr<Database> plan_db_;
  std::unique_ptr<Database> exec_db_;
  std::unique_ptr<Connection> plan_con_;
  std::unique_ptr<Connection> exec_con_;
};

}  // namespace tradelake
