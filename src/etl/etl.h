// ETL: Bronze -> Silver -> Gold, incremental, exact, crash-safe.
//
// One run:
//   1. takes the ETL lock (_state/etl/lock) and loads the committed catalog
//      snapshot; deletes table files no snapshot references (left by a run
//      that died before committing);
//   2. lists Bronze and picks the objects the snapshot's bookmark has not
//      processed (all of them with `rebuild`, starting from empty tables);
//   3. validates every record (etl/validate.h) and merges the good ones into
//      the Silver partitions of their trade date, de-duplicating on
//      (product_id, trade_id) against everything already in Silver: an
//      identical copy is a duplicate, a copy whose price, size, side or time
//      differs is a conflict and goes to silver.trades_rejected with rule
//      "conflicting_duplicate". When two copies arrive in one run, the one
//      ingested first (then: smaller Bronze key) wins, so a rebuild chooses
//      as the incremental runs did;
//   4. rewrites each touched Silver partition and recomputes Gold hourly,
//      daily and 1-minute bars for exactly those (product, date) partitions;
//   5. checks the invariant "Bronze records read = inserted + duplicates +
//      rejected" (a run where it does not hold fails and commits nothing);
//   6. commits one new catalog snapshot (tables + bookmark + data-quality
//      counters) atomically, then deletes the files it replaced.
// Killed at any point, the committed snapshot is untouched and the next run
// converges to what an uninterrupted run produces.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

inline constexpr std::string_view kConflictingDuplicateRule = "conflicting_duplicate";

struct EtlOptions {
  bool rebuild = false;
  int threads = 2;                  // products processed in parallel
  TimestampMicros now = 0;          // 0: the wall clock (for the future_time rule)
  bool progress = false;
  const std::atomic<bool>* stop = nullptr;  // checked between partitions
};

struct EtlReport {
  bool nothing_to_do = false;
  int64_t seq = 0;                  // the snapshot committed (or current, if nothing to do)
  int64_t bronze_objects = 0;
  int64_t records = 0, inserted = 0, duplicates = 0, rejected = 0;
  std::map<std::string, int64_t> rejected_by_rule;
  int64_t silver_partitions = 0;    // (product, date) partitions rewritten
  int64_t gold_partitions = 0;
  int64_t files_written = 0, bytes_written = 0;
  int64_t orphans_removed = 0;
  double elapsed_seconds = 0;
  bool invariant_holds() const { return records == inserted + duplicates + rejected; }
};

Result<EtlReport> RunEtl(ObjectStore* store, const EtlOptions& options);

}  // namespace tradelake
