// Catalog: what tradelake's own readers treat as committed.
//
// Each ETL run ends with one atomic commit: a snapshot of every table's
// partitions and files, the exact set of Bronze objects already processed
// (the ETL bookmark) and the data-quality counters, written create-only as
//   _catalog/commits/<seq, 20 digits>.json
// The current state is the commit with the highest seq. Parquet files of a
// run that died before its commit are in no snapshot, so no reader sees
// them; the next run deletes them. Two ETL runs racing for the same seq
// cannot both commit (create-only): the loser fails with FailedPrecondition.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

// Tables and the folders that hold them.
inline constexpr std::string_view kSilverTrades = "silver.trades";
inline constexpr std::string_view kSilverRejected = "silver.trades_rejected";
inline constexpr std::string_view kGoldHourly = "gold.trades_hourly";
inline constexpr std::string_view kGoldDaily = "gold.trades_daily";
inline constexpr std::string_view kGoldBars1m = "gold.bars_1m";
std::vector<std::string_view> AllTables();
// "silver.trades" -> "silver/trades/"
std::string TableFolder(std::string_view table);
// "product_id=BTC-USD/date=2024-05-01"
std::string PartitionName(std::string_view product_id, std::string_view date);

// Data-quality counters of one (product, date), cumulative over runs.
// Invariant per run: records = inserted + duplicates + rejected.
struct PartitionQuality {
  int64_t records = 0;     // Bronze records read (dated by their Bronze partition)
  int64_t inserted = 0;    // new Silver rows
  int64_t duplicates = 0;  // identical copies of a trade already in Silver
  std::map<std::string, int64_t> rejected;  // by rule
  int64_t silver_rows = 0;  // rows now in the Silver partition (by trade date)
  int64_t id_gaps = 0;      // trade ids missing between the partition's first and last id
  int64_t rejected_total() const;
};

struct Snapshot {
  int64_t seq = 0;  // 0: nothing committed yet
  TimestampMicros committed_at = 0;
  // table -> partition name -> object keys
  std::map<std::string, std::map<std::string, std::vector<std::string>>> tables;
  std::set<std::string> bronze_processed;
  std::map<std::string, PartitionQuality> quality;  // partition name -> counters

  // Every object key the snapshot references.
  std::set<std::string> Files() const;
};

// The highest committed snapshot, or an empty one (seq 0).
Result<Snapshot> LoadCurrentSnapshot(ObjectStore* store);

// The seq of the newest commit (0 if none), from one listing; cheap enough
// to ask before deciding to re-read the snapshot.
Result<int64_t> LatestCommitSeq(ObjectStore* store);

// Commits `snapshot` (its seq must be the current seq + 1). Create-only.
Status CommitSnapshot(ObjectStore* store, const Snapshot& snapshot);

// Deletes commits older than the newest `keep`.
Status PruneCommits(ObjectStore* store, int keep);

}  // namespace tradelake
