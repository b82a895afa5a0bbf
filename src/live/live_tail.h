// LiveTail: provisional 1-minute bars from WebSocket trades, in memory.
//
// The live tail carries freshness until Gold commits a minute; it never
// writes the lake. Each provisional bar is a GoldBar (etl/rows.h) computed
// by Gold's own code (etl/gold.h AggregateBars + MergeBar, prices and sizes
// read as the Silver validator reads them), so a bar that holds every trade of
// its minute equals gold.bars_1m's bar for that minute field for field, to
// the last digit (avg_price and vwap rounded as Gold rounds them).
//
// Trades may come twice (kept once, by trade id), out of order (open/close
// follow trade ids, not arrival), or not at all (a dropped message). Whether
// a bar holds every trade of its minute is judged from trade ids, which the
// exchange assigns contiguously and in time order per product:
//   - its ids first..last are all present (missing_ids == 0), and
//   - id first-1 is known to lie in an earlier minute: it is the last id of
//     the previous provisional bar, or at or below the newest id Gold (or an
//     evicted bar) accounted for, and
//   - id last+1 is known to lie in a later minute: it is the first id of the
//     next provisional bar, or a heartbeat said last_trade_id == last at a
//     time at least heartbeat_grace_micros after the minute's end.
// Such a bar is `complete`; a bar that is not complete may lack trades.
//
// Memory is bounded: only minutes after the newest minute Gold committed
// (DropThrough) are kept, at most max_minutes_per_product per product (the
// oldest are evicted first). Trades of a dropped or evicted minute are
// ignored and counted as late.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "etl/rows.h"
#include "exchange/ws_feed.h"

namespace tradelake {

struct LiveTailOptions {
  int max_minutes_per_product = 180;
  // A heartbeat closes a minute only when its time is this far past the
  // minute's end (clocks of the matching engine and the feed may differ).
  int64_t heartbeat_grace_micros = 2 * kMicrosPerSecond;
};

struct ProvisionalBar {
  GoldBar bar;             // product_id, period_start = the minute, measures as Gold's
  bool closed = false;     // the exchange has moved past the minute (a later trade or heartbeat)
  bool complete = false;   // holds every trade of the minute (see above): equals the Gold bar
  int64_t missing_ids = 0; // ids between first_trade_id and last_trade_id not received
};

class LiveTail {
 public:
  explicit LiveTail(LiveTailOptions options = {});

  // Adds one trade (a match or last_match). OK when added, and for a
  // duplicate id or a trade of a dropped minute (both ignored, counted).
  // InvalidArgument, naming the trade, for one Silver would reject (price or
  // size not an exact positive DECIMAL(38,18), side not buy/sell) or an
  // invalid product id; nothing is added then.
  Status Add(const WsMatch& trade);

  // Records what the heartbeat says (used to close the newest minute).
  void ObserveHeartbeat(const WsHeartbeat& heartbeat);

  // Gold committed every minute of `product` up to and including `minute`:
  // drops their provisional bars. `gold_last_trade_id`, when known, is the
  // newest trade id Gold holds at or before `minute`; it lets the next
  // minute's bar be judged complete.
  void DropThrough(const std::string& product, TimestampMicros minute,
                   std::optional<int64_t> gold_last_trade_id = std::nullopt);

  // Provisional bars of `product` with period_start > `minute`, oldest
  // first; empty for a product without any.
  std::vector<ProvisionalBar> BarsAfter(const std::string& product, TimestampMicros minute) const;

  // The newest trade id of `product` the feed has shown, by a trade or a
  // heartbeat's last_trade_id; nullopt before either. REST can fetch up to
  // it: ids above the newest landed one are new trades.
  std::optional<int64_t> NewestTradeId(const std::string& product) const;

  // Products with at least one provisional bar, sorted.
  std::vector<std::string> Products() const;

  struct Stats {
    int64_t added = 0;       // distinct trades kept
    int64_t duplicates = 0;  // same product and trade id again
    int64_t late = 0;        // trades of minutes already dropped or evicted
    int64_t rejected = 0;    // Add() returned InvalidArgument
    int64_t evicted = 0;     // bars removed by max_minutes_per_product
  };
  Stats stats() const;

 private:
  struct Bar {
    GoldBar bar;
    std::map<int64_t, int64_t> ids;  // disjoint ranges [first, last] of the trade ids held
  };
  struct ProductTail {
    std::map<TimestampMicros, Bar> bars;
    std::optional<TimestampMicros> dropped_through;  // minutes <= this are gone
    std::optional<int64_t> floor_id;                 // every id <= this lies in a dropped minute
    std::optional<int64_t> heartbeat_last_id;
    std::optional<int64_t> newest_id;  // of any trade added (dropped minutes included)
    TimestampMicros heartbeat_time = 0;
  };

  void DropLocked(ProductTail& tail, TimestampMicros minute);
  ProvisionalBar Judge(const ProductTail& tail, std::map<TimestampMicros, Bar>::const_iterator it) const;

  const LiveTailOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, ProductTail> products_;  // GUARDED_BY(mu_)
  Stats stats_;                                  // GUARDED_BY(mu_)
};

}  // namespace tradelake
