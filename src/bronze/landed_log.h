// The landed-object log: how the ETL finds new Bronze objects without ever
// listing Bronze.
//
// Every Bronze object is announced, after it is durable, by one small entry
// in an append-only log of its product:
//   _state/ingest/landed/source=coinbase/product=<id>/<seq, 20 digits>.json
//     {"seq":7,"key":"bronze/...jsonl.zst","first_trade_id":..,"last_trade_id":..,
//      "records":..,"bytes":..,"landed_at":"<RFC 3339>"}
// and a product that has ever landed anything has a marker
//   _state/ingest/products/source=coinbase/<id>.json
// so the set of products is one small listing (proportional to products, not
// to age).
//
// Appending is create-only at the next free seq: two writers of one product
// (a `run` and a backfill) never overwrite each other, the loser of a race
// takes the next seq. Entries are never removed or rewritten, so a reader
// holding a bookmark (the next seq it has not read) finds everything landed
// since, including objects below the trade-id high-water mark (backfill, gap
// repair), with one GET per new entry and one more that answers NotFound.
// An object landed but not yet announced (a crash in between) is announced by
// the ingester's recovery (ingest/checkpoint.h), never lost.
//
// Roles: the ingest role writes the log; the etl role reads it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

struct LandedEntry {
  int64_t seq = 0;
  std::string key;  // the Bronze object
  int64_t first_trade_id = 0;
  int64_t last_trade_id = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  TimestampMicros landed_at = 0;
};

// "_state/ingest/landed/source=coinbase/product=BTC-USD/"
std::string LandedLogPrefix(std::string_view product_id);

// Appends `entry` (its seq is ignored) at the first free seq >= *next_seq and
// sets *next_seq to the seq taken + 1. Writes the product marker the first
// time (when *next_seq is 0). Returns the seq taken.
Result<int64_t> AppendLanded(ObjectStore* store, std::string_view product_id, LandedEntry entry,
                             int64_t* next_seq);

// Entries from `from_seq` on, in seq order, stopping at the first missing seq
// or after `max_entries`. DataLoss naming the key for an entry that does not
// parse.
Result<std::vector<LandedEntry>> ReadLanded(ObjectStore* store, std::string_view product_id, int64_t from_seq,
                                            int64_t max_entries = 100000);

// The products that have a marker, sorted.
Result<std::vector<std::string>> ListLandedProducts(ObjectStore* store);

// Lands one Bronze object the way ingest does: Put(key, data, create-only),
// then AppendLanded. The entry's trade ids and record count come from the
// caller. An object that already exists fails with AlreadyExists and
// appends nothing. For tests and tools that make Bronze objects directly.
Status LandBronzeObject(ObjectStore* store, std::string_view key, std::string_view data, int64_t first_trade_id,
                        int64_t last_trade_id, int64_t records, int64_t* next_seq);

}  // namespace tradelake
