// Ingest checkpoints and gap reports, under _state/ (hidden from Hive/Athena).
//
//   _state/ingest/source=coinbase/product=<id>/checkpoint.json
//   _state/ingest/source=coinbase/product=<id>/gaps/<first>-<last>.json
//
// A checkpoint says which trade ids of a product are landed: every id in
// [low, high] is in a durable Bronze object or in a gap report, and every
// such object is announced in the product's landed-object log
// (bronze/landed_log.h) below `landed_next_seq`. It is written only after the
// objects it covers are durable and announced, so it may lag Bronze and the
// log after a crash but never run ahead of them; the ingester's recovery
// closes the lag from what Bronze holds after the checkpoint (listing only
// the date partitions from the checkpoint's trade date on, see
// ListLandedRangesSince) and announces any object it finds there that the log
// does not. A pending backfill below `low` keeps its own cursor so a killed
// backfill resumes where it stopped.
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

struct Backfill {
  int64_t from = 0;  // first id wanted
  int64_t next = 0;  // first id not yet landed; done when next == low
  // Time of the newest trade the backfill has landed (trade next - 1), so
  // recovery lists Bronze from that date on. nullopt before its first object
  // (and in checkpoints written before this field): recovery lists the
  // product's whole Bronze prefix then.
  std::optional<TimestampMicros> landed_time;
};

struct Checkpoint {
  std::string product_id;
  int64_t low = 0;   // first landed id
  int64_t high = 0;  // last landed id (high = low - 1 when nothing landed yet)
  std::optional<TimestampMicros> high_time;  // time of trade `high`
  std::optional<Backfill> backfill;
  TimestampMicros updated_at = 0;
  // The product's landed-log seq this ingester appends at next: every Bronze
  // object the checkpoint covers is announced at a seq below it, so recovery
  // reads only the entries from here on. nullopt in a checkpoint written
  // before the landed log existed ("landed_next_seq" absent): recovery then
  // lists all of the product's Bronze once and announces every object the
  // log lacks (a one-time migration), and the next checkpoint has the field.
  std::optional<int64_t> landed_next_seq;
};

std::string CheckpointKey(std::string_view product_id);
std::string GapReportPrefix(std::string_view product_id);
std::string GapReportKey(std::string_view product_id, int64_t first_id, int64_t last_id);

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
  std::string key;   // the Bronze object or gap report
  int64_t size = 0;  // its bytes
};
// Every Bronze object and gap report of the product: a full scan, whose cost
// grows with the product's age. Only for `tradelake verify` (an explicit
// audit) and for recovering a product without a usable checkpoint.
Result<std::vector<LandedRange>> ListLandedRanges(ObjectStore* store, std::string_view product_id);

// The Bronze objects of a product whose trade date lies in
// [date(since - 2h), date(max(since, now) + 2h)] (slack for trade times
// slightly out of id order and for clocks that disagree near midnight),
// sorted by first. An object recovery misses anyway (a clock hours off) is
// not lost: the walk fetches its trades again, finds the object already
// written, and announces it if the log lacks it.
// One List per date partition when the span is at most a week; past that,
// one per month ("date=YYYY-MM-") or whole year ("date=YYYY-"), which may
// also return older objects of those months. No gap reports (see
// AdvanceOverLandedAndGaps). Cost is proportional to the time since `since`,
// not to the product's age.
Result<std::vector<LandedRange>> ListLandedRangesSince(ObjectStore* store, std::string_view product_id,
                                                       TimestampMicros since, TimestampMicros now);

// Advances `next` over every landed range that starts exactly at `next`
// (recovery after a crash between an object's write and its checkpoint).
// Returns the new `next`.
int64_t AdvanceOverLanded(const std::vector<LandedRange>& ranges, int64_t next);

// AdvanceOverLanded, then over the gap reports that start exactly where it
// stopped (one List of "gaps/<next>-" per step), repeatedly: gap reports are
// found without listing all of them.
// `gaps_passed` (optional) receives the gap reports it advanced over.
Result<int64_t> AdvanceOverLandedAndGaps(ObjectStore* store, std::string_view product_id,
                                         const std::vector<LandedRange>& ranges, int64_t next,
                                         std::vector<LandedRange>* gaps_passed = nullptr);

}  // namespace tradelake
