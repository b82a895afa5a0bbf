// Ingester: lands every trade of the named products in Bronze, exactly once.
//
// Products are served by a bounded pool of worker threads (`workers`, all
// sharing one rate limiter): a free worker takes the product that has been
// ready for work longest, gives it a turn of at most `pages_per_turn` pages
// and puts it back in the queue, so hundreds of products need a few threads.
// For each product it:
//   1. loads the checkpoint and recovers from Bronze anything landed after it
//      (a crash between an object's write and its checkpoint loses nothing and
//      writes nothing twice);
//   2. walks forward from the checkpoint with the `after` cursor in steps of
//      one page (after = next + 1000 returns ids next..next+999), verifying
//      that ids are contiguous; a page with missing ids (overlapping or short
//      pages) is fetched again, and ids the exchange still cannot return after
//      `refetch_attempts` go to a gap report, never skipped silently;
//   3. groups trades by UTC trade date into objects of at most
//      `object_max_trades`, written create-only, then advances the checkpoint;
//   4. with a backfill start (--since / --from-trade-id) below what is landed,
//      walks that range first, with its own resumable cursor.
// It stops when caught up (or, with `follow`, keeps polling) or when `stop`
// is set (then it flushes what it has, checkpoints and returns Cancelled).
//
// Gap repair (ingest/gap_index.h): every gap report also enters the
// product's open-gap index; open gaps are fetched again when due (at the start
// of every run, and after every poll with `follow`), on a schedule that grows
// (gap_retry). Trades that come back land in new create-only Bronze objects,
// announced in the landed log like any other (the ETL picks them up); the
// repair is recorded as closed (gap_repairs/), and what is still missing stays
// open. Each poll costs O(open gaps) in memory and nothing in the store unless
// a gap is due.
//
// Before any product is fetched, every product id is checked against
// GET /products; an unknown one fails with NotFound naming it, and nothing is
// written.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "exchange/coinbase_client.h"
#include "exchange/rate_limiter.h"
#include "ingest/gap_index.h"
#include "ingest/trade_hints.h"
#include "store/object_store.h"

namespace tradelake {

// One Bronze object this run wrote (IngestOptions::on_landed).
struct LandedObject {
  std::string product_id;
  std::string key;
  int64_t trades = 0;
  int64_t bytes = 0;
  int64_t last_trade_id = 0;
  // Time of the object's newest trade; nullopt for a gap repair (its trades
  // are older than what is landed: the newest trade time did not move).
  std::optional<TimestampMicros> last_trade_time;
  bool gap_repair = false;  // the object closes (part of) a reported gap
};

struct IngestOptions {
  std::vector<std::string> products;
  std::optional<TimestampMicros> since;   // backfill from the first trade at or after this time
  std::optional<int64_t> from_trade_id;   // backfill from this trade id
  bool follow = false;
  int64_t poll_interval_ms = 2000;
  // Worker threads serving the products (0: min(products, 8)); pages (ranges
  // of up to 1000 ids) one product fetches per turn before others get theirs.
  int workers = 0;
  int pages_per_turn = 50;
  int64_t flush_interval_ms = 30'000;     // follow mode: land a Bronze object at least this often
  int64_t object_max_trades = 50'000;
  // Fetches of one page while ids are missing before they go to a gap report.
  // Overlapping answers are transient, so this is generous; waits grow 25 ms
  // per attempt.
  int refetch_attempts = 10;
  // Reported gaps are retried on this schedule; false: never retried.
  bool repair_gaps = true;
  GapRetryPolicy gap_retry;
  // The clock of the gap schedule (opened, attempted, due); empty: NowMicros.
  // Tests step it instead of sleeping.
  std::function<TimestampMicros()> clock;
  CoinbaseOptions exchange;
  double rate_per_second = 10;  // <= 0: no limit
  double burst = 15;
  bool progress = false;                   // draw a progress bar (if stderr is a terminal)
  const std::atomic<bool>* stop = nullptr; // set from a signal handler to stop cleanly
  // Live observers for a long-running caller (`tradelake run`), both optional:
  // exchange counters are added to *stats as they happen, and on_landed is
  // called (from the product's thread) after each new Bronze object is durable
  // and before its checkpoint advances.
  ClientStats* stats = nullptr;
  // Where new trades are (ingest/trade_hints.h; fed by the WebSocket feed),
  // optional, must outlive the run. With hints a caught-up follower asks
  // REST again only when a trade id above what it landed is notified, or
  // every hint_poll_interval_ms; without, every poll_interval_ms.
  TradeHints* hints = nullptr;
  int64_t hint_poll_interval_ms = 60'000;
  // A limiter shared with other concurrent runs (NewIngestRateLimiter);
  // rate_per_second and burst are then ignored.
  RateLimiter* limiter = nullptr;
  std::function<void(const LandedObject&)> on_landed;
  // Optional, for a long-running caller that serves every product from one
  // run (`tradelake run`): what becomes of a product whose start (Prepare)
  // or turn failed, asked from a worker thread with no lock held, never
  // while stopping. A delay in milliseconds starts that product again after
  // it, as a new run would (checkpoint loaded and recovered; trades it held
  // in memory are fetched again), while the other products go on; nullopt
  // ends the product with the error in its report (the behaviour without
  // the callback).
  std::function<std::optional<int64_t>(const std::string& product, const Status& error)> on_product_failed;
  // Optional: `product` has started (its checkpoint loaded and recovered),
  // the first time or again after a failure; from a worker thread.
  std::function<void(const std::string& product)> on_product_started;
};

struct ProductReport {
  std::string product_id;
  int64_t trades_landed = 0;
  int64_t objects_written = 0;
  int64_t bytes_written = 0;
  int64_t gaps = 0;
  int64_t gap_trades = 0;
  int64_t conflicts = 0;        // same trade id sent twice with different bytes (first kept)
  int64_t gap_repairs = 0;      // repairs that landed trades of a reported gap
  int64_t gap_trades_repaired = 0;
  int64_t gap_attempts_failed = 0;  // due gaps fetched again without getting a trade
  int64_t open_gaps = 0, open_gap_ids = 0;  // still open after the run
  int64_t low = 0, high = -1;   // landed coverage after the run
  std::optional<TimestampMicros> high_time;
  Status status;
};

struct IngestReport {
  std::vector<ProductReport> products;
  int64_t requests = 0, retries = 0, rate_limited = 0, server_errors = 0, transport_errors = 0,
          invalid_bodies = 0, response_bytes = 0;
  double elapsed_seconds = 0;
  // First failing product's status, or OK.
  Status status;
};

// The limiter RunIngest builds from rate_per_second and burst: a few burst
// tokens stay in reserve, because the exchange measures arrivals, we measure
// departures, and network jitter must never push us over its bucket.
std::unique_ptr<RateLimiter> NewIngestRateLimiter(double rate_per_second, double burst);

// Runs ingestion to completion (or until stopped). The report is filled even
// when the run fails; report.status says how it ended.
IngestReport RunIngest(ObjectStore* store, const IngestOptions& options);

}  // namespace tradelake
