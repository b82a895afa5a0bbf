// Compaction: many small files of a partition become few files of about a
// target size, as one Delta commit per table with dataChange=false (the
// rows do not change, only the files holding them), made through the
// catalog (CommitLake) with the snapshot's bookmarks and totals unchanged,
// so every reader answers every query the same before and after.
//
// Policy, per table:
//   silver.trades, silver.trades_rejected, audit.data_quality,
//   audit.candle_reconciliation: tiered, so
//     that a row is rewritten O(log n) times. In each partition, files
//     smaller than the target are grouped by size tier (tier 0 below
//     min_tier_bytes, then one tier per factor `tier_factor`); a tier holding
//     at least `min_files_per_merge` files is merged. Silver rows come out
//     sorted by trade_id (unique in a partition); rejected rows keep their
//     order (files in key order, rows in file order); quality rows come out
//     ordered by (etl_seq, date), reconciliation rows by (reconciled_at,
//     minute).
//   gold.bars_1m (a file per (product, date)), gold.trades_hourly (a file
//     per (product, month)), gold.trades_daily (a file per (product, year)):
//     files are merged only when several cover the same period range (the
//     range is read from the files' period_start statistics; a file without
//     them, or spanning several ranges, is left alone). Rows keep their
//     order by period_start.
// Outputs are split into ceil(input bytes / target) files of consecutive
// rows (one file for Gold). A call rewrites at most `max_input_files` files
// (a budget, so the ETL can call it after each run without unbounded work);
// the rest waits for the next call.
//
// REQUIRES: the caller holds the ETL lease (etl/lease.h); the ETL calls this
// after its run, `tradelake compact` takes the lease first. The files
// replaced stay until `tradelake vacuum`.
//
// Returns the report (nothing_to_do when no group qualified: nothing is
// written or committed). Errors: the store's and table_io's (with the key);
// FailedPrecondition when another commit took the next catalog seq (the
// files written are deleted again; run again); DataLoss when a Silver
// partition holds a trade_id twice.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "etl/lease.h"
#include "store/object_store.h"

namespace tradelake {

struct CompactOptions {
  int64_t target_file_bytes = int64_t{128} << 20;
  int64_t min_tier_bytes = int64_t{64} << 10;
  int tier_factor = 8;
  int min_files_per_merge = 8;
  int max_input_files = 256;               // files rewritten per call, at most
  std::function<TimestampMicros()> clock;  // NowMicros if empty
  // If set, the lease the caller holds: renewed after each group merged and
  // checked right before the commit (FailedPrecondition if lost; the files
  // written are deleted again). Not owned.
  EtlLease* lease = nullptr;
};

struct CompactTableReport {
  int64_t groups = 0;  // groups of files merged
  int64_t files_removed = 0, bytes_removed = 0;
  int64_t files_added = 0, bytes_added = 0;
  int64_t rows = 0;
};

struct CompactReport {
  bool nothing_to_do = true;
  int64_t seq = 0;  // the catalog commit made (or the current one, if nothing to do)
  std::map<std::string, CompactTableReport> tables;  // tables that changed
  int64_t files_removed = 0, bytes_removed = 0;
  int64_t files_added = 0, bytes_added = 0;
  bool budget_exhausted = false;  // more groups qualified than the budget allowed
};

Result<CompactReport> CompactLake(ObjectStore* store, const CompactOptions& options);

}  // namespace tradelake
