// Gap repair state: which reported gaps are still open, when each is retried
// next, and the history of those that were closed. Under
// _state/ingest/source=coinbase/product=<id>/ (the ingest role's prefix):
//
//   gaps/<first>-<last>.json          the detection report (checkpoint.h;
//                                     create-only, never changed: history)
//   gap_index.json                    the open gaps with their retry schedule
//                                     and closing counters (overwritten)
//   gap_repairs/<first>-<last>.json   one record per repair that landed trades
//                                     (create-only): opened, attempts, closed,
//                                     the Bronze objects that closed it
//
// The index holds only open gaps plus a bounded tail of recent closures, so
// reading it costs one GET whatever the lake's age: the ingester reads it once
// per run and keeps it in memory; it never lists gap history while it polls.
// Retries grow: attempt k is due GapRetryDelayMs(k) after the previous one
// (after detection for k = 1).
//
// Threads: these are plain functions over the store; the index of one
// product has one writer (its ingester).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

// When gaps are retried: first_delay_ms after detection, then doubling,
// capped at max_delay_ms.
struct GapRetryPolicy {
  int64_t first_delay_ms = 60'000;
  int64_t max_delay_ms = 3'600'000;
};

// Delay before repair attempt `attempt` (1-based) counted from the previous
// attempt (or detection): min(max_delay_ms, first_delay_ms * 2^(attempt-1)),
// never negative. REQUIRES: attempt >= 1.
int64_t GapRetryDelayMs(const GapRetryPolicy& policy, int attempt);

struct OpenGap {
  int64_t first_id = 0;   // inclusive range of ids still missing
  int64_t last_id = 0;
  std::string report;     // key of the gap report this range comes from
  TimestampMicros opened_at = 0;
  int attempts = 0;       // repair attempts so far (detection not counted)
  std::optional<TimestampMicros> last_attempt_at;
  TimestampMicros next_attempt_at = 0;
  // Bronze objects a repair was landing when it last saved the index: after
  // a crash, the next run adopts those that exist (never lands them twice).
  std::vector<std::string> landing;
};

struct ClosedGap {
  int64_t first_id = 0;  // lowest and highest id this repair landed
  int64_t last_id = 0;
  int64_t trades = 0;    // ids landed (== last - first + 1 unless the repair was partial)
  std::string report;    // the gap report it closed (all or part of)
  TimestampMicros opened_at = 0;
  TimestampMicros closed_at = 0;
  int attempts = 0;      // repair attempts, this one included
  std::vector<std::string> objects;  // the Bronze objects that hold the trades
  bool partial = false;  // ids of the report's range are still open
};

struct GapIndex {
  std::string product_id;
  std::vector<OpenGap> open;  // sorted by first_id, disjoint
  int64_t closed_repairs = 0;  // closure records written, ever
  int64_t closed_trades = 0;   // trades they landed
  std::vector<ClosedGap> recent_closed;  // the newest kRecentClosedGaps, oldest first

  int64_t open_ids() const;
};

inline constexpr size_t kRecentClosedGaps = 20;

std::string GapIndexKey(std::string_view product_id);
std::string GapRepairPrefix(std::string_view product_id);

// The product's index; an empty one (product_id set) if it has none yet.
// DataLoss naming the key if it does not parse.
Result<GapIndex> LoadGapIndex(ObjectStore* store, std::string_view product_id);
// Atomic overwrite.
Status SaveGapIndex(ObjectStore* store, const GapIndex& index);

// Adds `gap` to the open set unless its range is already open (then the
// existing entry and its schedule stay). Returns whether it was added.
bool AddOpenGap(GapIndex* index, OpenGap gap);

// Writes gap_repairs/<first>-<last>.json create-only (one already there with
// that name is accepted: a rerun after a crash) and counts it in the index's
// closing counters and recent tail.
Status RecordClosedGap(ObjectStore* store, GapIndex* index, const ClosedGap& closed);

// Every closure record of the product (a listing of its repair history: for
// `tradelake verify`, never for polling), sorted by first_id.
Result<std::vector<ClosedGap>> ListClosedGaps(ObjectStore* store, std::string_view product_id);

}  // namespace tradelake
