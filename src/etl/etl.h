// ETL: Bronze -> Silver -> Gold, incremental, exact, crash-safe, and with a
// cost proportional to new data, never to the lake's age.
//
// One run:
//   1. takes the ETL lease (etl/lease.h, renewed while the run works and
//      checked at the commit point) and loads the committed catalog
//      snapshot (table/catalog.h) with each table's Delta state; finishes the
//      Delta commits of a run that died after its catalog commit;
//   2. finds new Bronze objects from the landed-object log of each product
//      (bronze/landed_log.h), reading from the snapshot's bookmark on: one GET
//      per new object plus one per product, whatever the lake's age (with
//      `rebuild`: lists all of Bronze and starts from empty tables);
//   3. validates every record (etl/validate.h) and de-duplicates on
//      (product_id, trade_id) against Silver: only the Silver files whose
//      trade_id range (Delta stats) holds a new id are read. An identical copy
//      is a duplicate, a copy whose price, size, side or time differs is a
//      conflict and goes to silver.trades_rejected with rule
//      "conflicting_duplicate". When two copies arrive in one run, the one
//      ingested first (then: smaller Bronze key) wins, so a rebuild chooses
//      as the incremental runs did;
//   4. appends the new trades to Silver as a new file per (product, date)
//      and merges their exact partial aggregates into the touched Gold files
//      only (gold.bars_1m: the day's file; gold.trades_hourly: the month's;
//      gold.trades_daily: the year's), each rewritten as a new file;
//   5. checks the invariant "Bronze records read = inserted + duplicates +
//      rejected" (a run where it does not hold fails and commits nothing) and
//      records the counters per Bronze partition in audit.data_quality;
//   6. commits: one catalog snapshot (the commit point), then one Delta
//      version per changed table. Replaced files stay for readers of older
//      versions until `tradelake vacuum`.
// Killed at any point, the committed snapshot is untouched and the next run
// converges to what an uninterrupted run produces. A lake written by the
// release before Delta tables is upgraded in place by the next run.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"
#include "table/catalog.h"

namespace tradelake {

inline constexpr std::string_view kConflictingDuplicateRule = "conflicting_duplicate";

struct EtlOptions {
  bool rebuild = false;
  int threads = 2;                  // products processed in parallel
  TimestampMicros now = 0;          // 0: the wall clock (for the future_time rule)
  bool progress = false;
  const std::atomic<bool>* stop = nullptr;  // checked between partitions
  // At most this many Bronze objects per product in one run (the rest waits
  // for the next run), so one run's memory and time stay bounded.
  int64_t max_objects_per_product = 20000;
  // A process that runs the ETL again and again (`tradelake run`) keeps the
  // tables' Delta state here between runs: a run that finds the catalog
  // where this process left it reads no Delta log at all. Optional; owned by
  // the caller, used by one RunEtl at a time.
  LakeState* state_cache = nullptr;
  // Merge small files (etl/compact.h) after every tenth version of a table,
  // with a bounded budget per run.
  bool compact = true;
};

struct EtlReport {
  bool nothing_to_do = false;
  int64_t seq = 0;                  // the snapshot committed (or current, if nothing to do)
  int64_t bronze_objects = 0;
  int64_t records = 0, inserted = 0, duplicates = 0, rejected = 0;
  std::map<std::string, int64_t> rejected_by_rule;
  // product -> (earliest, latest) trade time of the trades inserted
  std::map<std::string, std::pair<TimestampMicros, TimestampMicros>> inserted_time_range;
  int64_t silver_partitions = 0;    // (product, date) partitions rewritten
  int64_t gold_partitions = 0;
  int64_t files_written = 0, bytes_written = 0;
  int64_t files_replaced = 0;      // files a commit removed (kept until vacuum)
  // Landed-log entries that name no Bronze object of their product: key (why).
  // Reported and skipped; an unreadable object is a rejected record instead.
  std::vector<std::string> skipped_objects;
  bool upgraded = false;           // this run upgraded a lake from before Delta tables
  int64_t files_compacted = 0;     // small files merged after the commit (their own commit: seq)
  double elapsed_seconds = 0;
  bool invariant_holds() const { return records == inserted + duplicates + rejected; }
};

Result<EtlReport> RunEtl(ObjectStore* store, const EtlOptions& options);

}  // namespace tradelake
