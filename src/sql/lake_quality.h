// Data quality per partition, as `tradelake dq` and the API's status show it,
// from a LakeState (table/catalog.h) without scanning Silver:
//   - silver rows and trade-id gaps of a (product, trade date) from the Delta
//     statistics of silver.trades' live files: rows = sum of numRecords,
//     id gaps = max(trade_id) - min(trade_id) + 1 - rows;
//   - records, inserted, duplicates and rejected (by rule) of a (product,
//     Bronze date) summed over the audit.data_quality rows of every run
//     (its live files are read; they are small: a row per run and partition).
// Per-product totals over every run are in state.catalog.totals.
//   - the share of reconciled minutes that match the exchange's candles
//     (audit.candle_reconciliation, reconcile/reconcile.h) since a time,
//     reading only the files of the dates from then on.
//
// Errors: a Silver file without numRecords or trade_id min/max statistics,
// or an audit row whose rejected_by_rule is not a JSON object of counts ->
// DataLoss naming the file; a store failure is passed on with the key.
//
// Threads: no state; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <utility>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"
#include "table/catalog.h"

namespace tradelake {

// (product_id, "YYYY-MM-DD")
using PartitionKey = std::pair<std::string, std::string>;

struct SilverPartitionStats {
  int64_t rows = 0;
  int64_t id_gaps = 0;  // trade ids missing between the partition's first and last id
  // A lower bound of the partition's newest trade_time: its statistics,
  // which Delta keeps in milliseconds (truncated). nullopt without them.
  std::optional<TimestampMicros> newest_time_floor;
};

struct PartitionQuality {
  QualityCounters counters;  // by Bronze date, from audit.data_quality
  SilverPartitionStats silver;  // by trade date, from Silver's statistics
};

// Silver's rows and id gaps per partition, from the Delta statistics only.
Result<std::map<PartitionKey, SilverPartitionStats>> SilverStatsByPartition(const LakeState& state);
// The same for `partitions` only (a partition without files is absent).
Result<std::map<PartitionKey, SilverPartitionStats>> SilverStatsOfPartitions(const LakeState& state,
                                                                             const std::set<PartitionKey>& partitions);

// audit.data_quality summed per partition. Reads the table's live files
// through `store` (downloaded to a private temporary file when the lake is
// not a local folder).
Result<std::map<PartitionKey, QualityCounters>> QualityByPartition(ObjectStore* store, const LakeState& state);

// Reconciled minutes of a product since a time: each minute counted once,
// with the newest verdict (a minute reconciled again after a gap repair).
struct CandleMatch {
  int64_t compared = 0, matched = 0;
  TimestampMicros last_minute = 0, last_reconciled_at = 0;
  std::map<TimestampMicros, std::string> mismatches;  // minute -> status, for minutes that do not match
  double share() const { return compared == 0 ? 0.0 : static_cast<double>(matched) / static_cast<double>(compared); }
};
Result<std::map<std::string, CandleMatch>> CandleMatchSince(ObjectStore* store, const LakeState& state,
                                                          TimestampMicros since);

// Both, for every partition either of them knows.
Result<std::map<PartitionKey, PartitionQuality>> LoadPartitionQuality(ObjectStore* store, const LakeState& state);

}  // namespace tradelake
