// Gold aggregation: Silver trades -> one GoldBar per product and period.
//
// gold.trades_hourly, gold.trades_daily and gold.bars_1m are the same
// aggregation with period kMicrosPerHour, kMicrosPerDay and kMicrosPerMinute
// (core/time.h). Measures are exactly those documented in etl/rows.h:
//   period_start  floor(time / period) * period (UTC; floors before 1970 too)
//   trade_count   number of trades
//   total_volume  sum of size;  quote_volume  sum of quote_notional (exact)
//   avg_price     sum of price / trade_count, and
//   vwap          quote_volume / total_volume, both rounded to 18 fractional
//                 digits, half away from zero (the only rounded measures)
//   open, close   price of the smallest / largest trade_id in the period
//                 (trade_id order, not time order: the exchange's sequence)
//   high, low     largest / smallest price
//   buy_volume    sum of size where taker_side == "buy";  sell_volume likewise
//   first_trade_id, last_trade_id   smallest / largest trade_id
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "etl/rows.h"

namespace tradelake {

// Aggregates `trades` (any number of products) into bars sorted by
// (product_id, period_start). The input order does not matter for the result
// (open/close compare trade_ids), but input sorted by trade_id per product, as
// Silver is, is the fast case.
// REQUIRES: (product_id, trade_id) unique, as in Silver.
//
// Fails with InvalidArgument when period_micros is not in 1..10^18 us, when a
// trade's taker_side is neither "buy" nor "sell" or its time lies outside
// years 0001-9999 (RFC 3339's range, which Silver times are in), or when a
// sum or ratio of a bar does not fit DECIMAL(38,18) (the message names the
// product, the period and the measure); sums are never wrapped or rounded.
Result<std::vector<GoldBar>> AggregateBars(
    const std::vector<SilverTrade>& trades_sorted_by_trade_id, int64_t period_micros);

// Merges `add` (bars of trades not yet in `into`, same product and period)
// into `into` exactly: the result equals AggregateBars over both sets of
// trades, field for field (sums add, high/low compare, open/close follow the
// smaller first / larger last trade_id, avg_price = price_sum / trade_count
// and vwap = quote_volume / total_volume re-rounded from exact sums).
// REQUIRES: the two sets of trades are disjoint.
// InvalidArgument for different products/periods or a sum beyond DECIMAL(38,18).
Status MergeBar(const GoldBar& add, GoldBar* into);

// floor(t / period) * period. REQUIRES: period > 0 and the result fits int64
// (always so for t in years 0001-9999 and period <= 10^18).
TimestampMicros PeriodStart(TimestampMicros t, int64_t period);

}  // namespace tradelake
