// Catalog: what tradelake's own readers treat as committed, across tables.
//
// Every table is a Delta Lake table (table/delta_log.h) that Athena, Trino
// and Spark read on their own. tradelake's readers need more: one consistent
// version of *all* tables at once, the ETL's bookmark, and the data-quality
// totals. That is the catalog snapshot, written by each ETL run as one
// create-only object
//   _catalog/commits/<seq, 20 digits>.json
// holding, per table, the Delta version it pins, per product, the next
// landed-log seq to read (bronze/landed_log.h) and the cumulative counters,
// and the Delta commits of this run (so a run killed between its catalog
// commit and its Delta commits is rolled forward by the next run, and
// readers see the pinned versions even before they are in the log).
// Its size is proportional to tables + products + one run's new files,
// never to the lake's age. Only the newest commits are kept.
//
// Commit order of an ETL run: Parquet files, then the catalog commit (the
// commit point), then each table's Delta commit (create-only), then
// checkpoints. Files a commit replaces stay until `tradelake vacuum`, so
// readers of older versions keep working.
//
// A lake written by the release before Delta (format 1: file lists and the
// set of processed Bronze keys in every commit) loads as a Snapshot whose
// `legacy` is set; the next ETL run upgrades it in place.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"
#include "table/delta_log.h"

namespace tradelake {

// Tables and the folders that hold them.
inline constexpr std::string_view kSilverTrades = "silver.trades";
inline constexpr std::string_view kSilverRejected = "silver.trades_rejected";
inline constexpr std::string_view kGoldHourly = "gold.trades_hourly";
inline constexpr std::string_view kGoldDaily = "gold.trades_daily";
inline constexpr std::string_view kGoldBars1m = "gold.bars_1m";
// Per ETL run and Bronze partition: records, inserted, duplicates, rejected.
inline constexpr std::string_view kAuditQuality = "audit.data_quality";
// Per reconcile run, product and minute: gold.bars_1m against the exchange's
// 1-minute candle (reconcile/reconcile.h). Written by `tradelake reconcile`.
inline constexpr std::string_view kAuditReconciliation = "audit.candle_reconciliation";
// The analyst tables (what `sql` shows and the DDL emits).
std::vector<std::string_view> AllTables();
// AllTables() plus audit.data_quality: every Delta table of the lake (the
// ETL writes all but audit.candle_reconciliation, which it creates empty).
std::vector<std::string_view> EtlTables();
// "silver.trades" -> "silver/trades/" (the Delta table root)
std::string TableFolder(std::string_view table);
// Delta partition columns: {"product_id", "date"} for silver.trades,
// silver.trades_rejected, gold.bars_1m and audit.candle_reconciliation
// (date: the minute's); {"product_id"} for
// gold.trades_hourly (a file per month), gold.trades_daily (a file per year)
// and audit.data_quality.
std::vector<std::string> PartitionColumns(std::string_view table);
// "product_id=BTC-USD/date=2024-05-01"
std::string PartitionName(std::string_view product_id, std::string_view date);
// "product_id=BTC-USD"
std::string ProductPartitionName(std::string_view product_id);

// Data-quality counters. Invariant per run: records = inserted + duplicates + rejected.
struct QualityCounters {
  int64_t records = 0;     // Bronze records read
  int64_t inserted = 0;    // new Silver rows
  int64_t duplicates = 0;  // identical copies of a trade already in Silver
  std::map<std::string, int64_t> rejected;  // by rule
  int64_t rejected_total() const;
  void Add(const QualityCounters& other);
  friend bool operator==(const QualityCounters&, const QualityCounters&) = default;
};

// The format-1 commit content, kept only to upgrade a lake.
struct LegacySnapshot {
  // table -> partition name -> object keys
  std::map<std::string, std::map<std::string, std::vector<std::string>>> tables;
  std::set<std::string> bronze_processed;
  // partition name -> counters
  std::map<std::string, QualityCounters> quality;
};

struct Snapshot {
  int64_t seq = 0;  // 0: nothing committed yet
  TimestampMicros committed_at = 0;
  // table -> the Delta version this snapshot pins (absent: table not created)
  std::map<std::string, int64_t> versions;
  // product -> the next landed-log seq the ETL has not processed
  std::map<std::string, int64_t> bookmarks;
  // product -> counters over every run
  std::map<std::string, QualityCounters> totals;
  // Input of CommitLake: table -> the Delta commit this run makes (empty
  // in a loaded snapshot).
  std::map<std::string, DeltaCommit> commits;
  // As loaded: table -> the JSON lines of the Delta commit this snapshot's
  // run made at versions[table] (what RollForward writes if it is missing).
  std::map<std::string, std::string> commit_text;
  // Set only for a format-1 commit (a lake from before Delta).
  std::shared_ptr<const LegacySnapshot> legacy;
};

// The highest committed snapshot, or an empty one (seq 0). One LIST of the
// few kept commits and one GET.
Result<Snapshot> LoadCurrentSnapshot(ObjectStore* store);

// The seq of the newest commit (0 if none), from one listing; cheap enough
// to ask before deciding to re-read the snapshot.
Result<int64_t> LatestCommitSeq(ObjectStore* store);

// Commits `snapshot` (its seq must be the current seq + 1). Create-only:
// FailedPrecondition when another run committed that seq first.
Status CommitSnapshot(ObjectStore* store, const Snapshot& snapshot);

// Deletes commits older than the newest `keep`.
Status PruneCommits(ObjectStore* store, int keep);

// The whole commit of a run, in order: `next` must be a copy of the current
// snapshot with seq + 1, new bookmarks/totals, and in `next->commits` the
// Delta commit of every table that changes (version 0 of a new table must
// carry protocol and metadata). Sets next->versions for those tables,
// commits the catalog (the commit point: FailedPrecondition if another run
// took the seq), then writes the Delta commits and checkpoints every
// kDeltaCheckpointInterval versions, and prunes old catalog commits. A
// failure after the commit point is logged, not returned: RollForward()
// finishes it (the next run calls it first).
Status CommitLake(ObjectStore* store, Snapshot* next);

// An `add` action for a table file just written at `key` (its size from
// Head, partition values from the key's folders, modification time now).
Result<DeltaAddFile> AddFileFor(ObjectStore* store, std::string_view table, std::string_view key,
                                const DeltaStats& stats);

// Writes the Delta commits `snapshot` pins but the logs do not hold yet
// (after a run died between its catalog commit and its Delta commits), and
// checkpoints where due. Idempotent. Needs write access to the tables.
Status RollForward(ObjectStore* store, const Snapshot& snapshot);

// One consistent view of every table, for readers.
struct LakeState {
  Snapshot catalog;
  std::map<std::string, DeltaTableState> tables;  // table -> state at catalog.versions[table]
};

// Loads the newest snapshot and each table at the version it pins. If a
// pinned version is not in the log yet (the ETL is between its catalog
// commit and its Delta commits, or died there), the previous snapshot is
// used instead: its versions are all in the log. A lake from before Delta
// (Snapshot::legacy) fails with FailedPrecondition: run `tradelake etl` once.
Result<LakeState> LoadLakeState(ObjectStore* store);

// What RefreshLakeState changed, table by table, and what takes it back.
struct LakeRefresh {
  // The whole state was read afresh (the lake was replaced): any table and
  // file may have changed.
  bool reloaded = false;
  // Tables whose version moved, with the paths their commits touched (or
  // reloaded). A table in the new snapshot and not here did not change; one
  // here but no longer in state.tables was dropped.
  std::map<std::string, DeltaTableUpdate> tables;

  // The undo record (UndoLakeRefresh); not for readers.
  Snapshot previous_catalog;
  std::set<std::string> created;                   // tables new in this refresh
  std::map<std::string, DeltaTableState> dropped;  // tables the new snapshot lacks
  std::optional<LakeState> replaced;               // when reloaded
};

// Moves `state` to the newest snapshot, reading only the Delta log entries
// after the versions it holds, in place: the cost is what the new commits
// hold, not the lake's size. Returns true if anything changed. On error (or
// false) `state` is unchanged. With `refresh`, what changed is recorded
// there, and UndoLakeRefresh can take it back.
Result<bool> RefreshLakeState(ObjectStore* store, LakeState* state, LakeRefresh* refresh = nullptr);
// Puts `state` back as it was before the refresh `refresh` recorded (the
// last change made to it).
void UndoLakeRefresh(LakeState* state, LakeRefresh* refresh);

// A live data file of a table, as readers need it.
struct TableFile {
  std::string key;         // object key
  std::string product_id;  // partition value
  std::string date;        // "YYYY-MM-DD" partition value; "" for tables without one
  int64_t size = 0;
  DeltaStats stats;
};
// The live files of `table` in `state` (empty if the table does not exist),
// sorted by key. DataLoss for a file outside the table's partitions.
Result<std::vector<TableFile>> LiveFiles(const LakeState& state, std::string_view table);
// One of them: `add` of `table` at `version` (named in errors).
Result<TableFile> LiveFileOf(std::string_view table, const DeltaAddFile& add, int64_t version);

// Lookups that cost the files they return (plus a search per product), not
// the table's size: a lake's files sort by product, then date.
//
// The live files of `products` (every product when empty) whose date folder
// is in [from_date, to_date] ("YYYY-MM-DD"; "" leaves that end open; a table
// without date folders ignores both), sorted by key.
Result<std::vector<TableFile>> LiveFilesInRange(const LakeState& state, std::string_view table,
                                                const std::vector<std::string>& products,
                                                std::string_view from_date = "", std::string_view to_date = "");
// Per product of a table with date folders (of `products`; every product
// when empty): the files of its first and of its last day.
struct ProductDays {
  std::vector<TableFile> first_day;
  std::vector<TableFile> last_day;
};
Result<std::map<std::string, ProductDays>> ProductEnds(const LakeState& state, std::string_view table,
                                                       const std::vector<std::string>& products = {});

}  // namespace tradelake
