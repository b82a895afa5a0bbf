// Reconcile: gold.bars_1m against the exchange's own 1-minute candles,
// exactly, minute by minute, with every difference classified.
//
// For each product and each closed minute of [from, to), the candle of
// GET /products/{id}/candles?granularity=60 (300 minutes per request, so a
// product-day costs 5 requests; values read as exact decimals from the JSON
// text, never through a double) is compared with the minute's Gold bar:
// open, high, low, close and volume (Gold's total_volume), exactly.
//
//   match                 both sides have the minute and all five values are equal
//   differs               both have it, a value differs: `detail` names each
//                         field with both values (and, when the bar's trade
//                         ids are not contiguous, how many ids inside the
//                         minute Silver lacks)
//   missing_in_gold       the exchange has a candle, Gold has no bar: the
//                         trades are missing; `detail` names the trade id
//                         range between the neighbouring Gold bars (ids
//                         absent from Silver: a Bronze gap or rejected records)
//   missing_on_exchange   Gold has a bar, the exchange has no candle
// A minute neither side has (no trades) is not a row. Minutes that end less
// than `min_age` before now are still open or too recent for the exchange's
// candles to be final: they are counted as not_final, never compared. So are
// (as outside_gold) minutes before the first complete minute of the
// product's Gold or from its newest bar on: ingestion started inside the
// first, may be inside the last (unless only_complete_minutes is false).
//
// Convention (Coinbase's documented candle shape): [time, low, high, open,
// close, volume], time = the bucket's start in Unix seconds, buckets are
// whole UTC minutes [t, t + 60 s), volume = sum of base sizes. Gold uses the
// same boundaries (period_start = floor of trade_time to the minute).
//
// Results go to audit.candle_reconciliation (one file per product and date
// per run, one Delta commit through the catalog, under the ETL lease) unless
// `commit` is false. Compared rows keep the candle's JSON text as sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "etl/rows.h"
#include "exchange/coinbase_client.h"
#include "store/object_store.h"
#include "table/catalog.h"

namespace tradelake {

inline constexpr std::string_view kReconMatch = "match";
inline constexpr std::string_view kReconDiffers = "differs";
inline constexpr std::string_view kReconMissingInGold = "missing_in_gold";
inline constexpr std::string_view kReconMissingOnExchange = "missing_on_exchange";

struct ReconcileOptions {
  std::vector<std::string> products;
  TimestampMicros from = 0;  // first minute (floored to the minute)
  TimestampMicros to = 0;    // end, exclusive (raised to the minute)
  int64_t min_age = 10 * kMicrosPerMinute;  // minutes ending later than now - min_age are not final
  TimestampMicros now = 0;                  // 0: the wall clock
  bool commit = true;                       // write audit.candle_reconciliation
  const std::atomic<bool>* stop = nullptr;  // checked between requests
  // Compare only the minutes Gold holds completely (GoldCoverage); the
  // others in range are counted as outside_gold. False: every minute.
  bool only_complete_minutes = true;
  // The lake as already loaded by the caller (a long-running process keeps
  // it fresh with RefreshLakeState); null: loaded here.
  const LakeState* state = nullptr;
};

struct ProductReconciliation {
  std::string product_id;
  int64_t compared = 0;  // minutes either side has, closed
  int64_t matched = 0, differs = 0, missing_in_gold = 0, missing_on_exchange = 0;
  int64_t not_final = 0;  // minutes in range too recent to compare
  int64_t outside_gold = 0;  // closed minutes in range before or after what Gold holds completely
  int64_t requests = 0;   // candle requests made
  std::vector<ReconRow> differences;  // every row that is not a match, by minute
  double match_share() const { return compared == 0 ? 1.0 : static_cast<double>(matched) / static_cast<double>(compared); }
};

struct ReconcileReport {
  std::vector<ProductReconciliation> products;
  int64_t seq = 0;            // the catalog commit holding the rows (0: not committed)
  int64_t rows_written = 0;
  int64_t requests = 0;
  double seconds = 0;
  int64_t differences() const;
};

// Exact value of a candle's number text ("37000.01", "1e-05", "0.5E+2");
// InvalidArgument if it is not a JSON number or needs more than 18
// fractional digits or 20 integer digits. Never rounds.
Result<Dec18> CandleDecimal(std::string_view text);

// Compares one minute. REQUIRES: bar or candle. `gap` is the detail for a
// minute Gold lacks (the id range), may be empty.
ReconRow CompareMinute(std::string_view product_id, TimestampMicros minute, const GoldBar* bar,
                       const Candle* candle, std::string_view gap, TimestampMicros now);

// [first, end) of the minutes a product's gold.bars_1m holds completely, from
// its files' period_start statistics: after the first bar's minute
// (ingestion may have started inside it) and before the newest bar's (the
// ingester may be inside it). {0, 0} when the product has no bars, or a file
// lacks the statistics.
std::pair<TimestampMicros, TimestampMicros> GoldCoverage(const LakeState& state, std::string_view product);

// Reconciles, and commits the rows unless !options.commit. Errors: the
// exchange's (NotFound for an unknown product, naming it), the store's, a
// candle whose values are not exact decimals (DataLoss naming it),
// FailedPrecondition when the ETL lease is held elsewhere or another commit
// took the catalog seq (run again).
Result<ReconcileReport> Reconcile(ObjectStore* store, CoinbaseClient* client, const ReconcileOptions& options);

}  // namespace tradelake
