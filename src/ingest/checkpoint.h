// Ingest checkpoints and gap reports, under _state/ (hidden from Hive/Athena).
//
//   _state/ingest/source=coinbase/product=<id>/checkpoint.json
//   _state/ingest/source=coinbase/product=<id>/gaps/<first>-<last>.json
//
// A checkpoint says which trade ids of a product are landed: every id in
// [low, high] is in a durable Bronze object or in a gap report. It is written
// only after the objects it covers are durable, so it may lag Bronze after a
// crash but never run ahead of it; RecoverCoverage() closes the lag from
// what Bronze holds. A pending backfill below `low` keeps its own cursor so a
// killed backfill resumes where it stopped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

struct Backfill {
  int64_t from = 0;  // first id wanted
  int64_t next = 0;  // first id not yet landed; done when next == low
};

struct Checkpoint {
  std::string product_id;
  int64_t low = 0;   // first landed id
  int64_t high = 0;  // last landed id (high = low - 1 when nothing landed yet)
  std::optional<TimestampMicros> high_time;  // time of trade `high`
  std::optional<Backfill> backfill;
  TimestampMicros updated_at = 0;
};

std::string CheckpointKey(std::string_view product_id);
std::string GapReportPrefix(std::string_view product_id);

// nullopt if the product has never been ingested; DataLoss if the file is corrupt.
Result<std::optional<Checkpoint>> LoadCheckpoint(ObjectStore* store, std::string_view product_id);
// Atomic overwrite.
Status SaveCheckpoint(ObjectStore* store, const Checkpoint& cp);

struct GapReport {
  std::string product_id;
  int64_t first_id = 0;
  int64_t last_id = 0;
  std::string reason;
  std::string request;  // the request that kept coming back without these ids
  int attempts = 0;
  TimestampMicros detected_at = 0;
};
// Create-only (a repeated report of the same range is accepted).
Status WriteGapReport(ObjectStore* store, const GapReport& gap);

// Id ranges [first, last] already landed for a product according to Bronze
// object keys and gap reports, sorted by first. Objects are listed, not read.
struct LandedRange {
  int64_t first_id = 0;
  int64_t last_id = 0;
  bool is_gap = false;
};
Result<std::vector<LandedRange>> ListLandedRanges(ObjectStore* store, std::string_view product_id);

// Advances `next` over every landed range that starts exactly at `next`
// (recovery after a crash between an object's write and its checkpoint).
// Returns the new `next`.
int64_t AdvanceOverLanded(const std::vector<LandedRange>& ranges, int64_t next);

}  // namespace tradelake
