// The rows of Silver and Gold tables, as C++ values (DESIGN.md "Tables").
//
// Every price, size and sum is an exact decimal held as an unscaled 128-bit
// integer at a fixed scale of 18 (Parquet/DuckDB DECIMAL(38,18)): 20 integer
// digits and 18 fractional digits, wide enough for every Coinbase product
// (increments down to 1e-8, sizes above 1e10). A value that does not fit is
// rejected by the data-quality layer, never rounded. Ratios (avg_price, vwap)
// are the only rounded values: to 18 fractional digits, half away from zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/time.h"

namespace tradelake {

inline constexpr int kSilverScale = 18;
// DECIMAL(38,18) as an unscaled integer: value = unscaled / 10^18.
using Dec18 = __int128;

// silver.trades: unique on (product_id, trade_id).
struct SilverTrade {
  std::string product_id;
  int64_t trade_id = 0;
  Dec18 price = 0;
  Dec18 size = 0;
  Dec18 quote_notional = 0;  // price * size, exact
  std::string side;          // as published: Coinbase Exchange gives the MAKER's side
  std::string taker_side;    // the opposite of `side`
  TimestampMicros time = 0;  // trade time, UTC
  TimestampMicros ingested_at = 0;
  std::string bronze_object;  // lineage: the Bronze key the row came from

  friend bool operator==(const SilverTrade&, const SilverTrade&) = default;
};

// silver.trades_rejected: a record that broke a data-quality rule.
struct RejectedRecord {
  std::string product_id;     // of the Bronze partition
  std::string date;           // of the Bronze partition, "YYYY-MM-DD"
  std::optional<int64_t> trade_id;  // when it could be read
  std::string rule;           // e.g. "price_not_positive" (see validate.h)
  std::string detail;         // what exactly was wrong
  std::string raw;            // the record as found in Bronze
  std::string bronze_object;
  TimestampMicros rejected_at = 0;

  friend bool operator==(const RejectedRecord&, const RejectedRecord&) = default;
};

// gold.trades_hourly / gold.trades_daily / gold.bars_1m: one row per product
// and period (period_start = start of the hour, day or minute, UTC).
// open/close are the prices of the first/last trade by trade_id.
struct GoldBar {
  std::string product_id;
  TimestampMicros period_start = 0;
  int64_t trade_count = 0;
  Dec18 avg_price = 0;     // plain mean of price, rounded
  Dec18 total_volume = 0;  // sum of size (base currency)
  Dec18 quote_volume = 0;  // sum of price * size
  Dec18 vwap = 0;          // quote_volume / total_volume, rounded
  Dec18 open = 0, high = 0, low = 0, close = 0;
  Dec18 buy_volume = 0;    // size where the TAKER bought
  Dec18 sell_volume = 0;   // size where the TAKER sold
  int64_t first_trade_id = 0;
  int64_t last_trade_id = 0;
  Dec18 price_sum = 0;     // sum of price (avg_price = price_sum / trade_count), so bars merge exactly

  friend bool operator==(const GoldBar&, const GoldBar&) = default;
};

// audit.data_quality: what one ETL run did with one Bronze partition
// (product, Bronze date). Summed over runs it gives the partition's counters;
// records = inserted + duplicates + rejected holds in every row.
struct QualityRow {
  std::string product_id;
  std::string date;  // of the Bronze partition, "YYYY-MM-DD"
  int64_t etl_seq = 0;  // the catalog commit of the run
  TimestampMicros committed_at = 0;
  int64_t records = 0, inserted = 0, duplicates = 0, rejected = 0;
  std::string rejected_by_rule;  // JSON object, e.g. {"price_not_positive":2}

  friend bool operator==(const QualityRow&, const QualityRow&) = default;
};

// audit.candle_reconciliation: one closed minute of one product compared
// with the exchange's own 1-minute candle, by one reconcile run.
struct Ohlcv {
  Dec18 open = 0, high = 0, low = 0, close = 0, volume = 0;
  friend bool operator==(const Ohlcv&, const Ohlcv&) = default;
};
struct ReconRow {
  std::string product_id;
  TimestampMicros minute = 0;  // the minute's start, UTC
  std::string status;          // reconcile/reconcile.h: match, differs, missing_in_gold, missing_on_exchange
  std::optional<Ohlcv> gold;   // gold.bars_1m's values (volume = total_volume)
  std::optional<int64_t> gold_trade_count;
  std::optional<Ohlcv> exchange;        // the candle's values, exactly
  std::optional<std::string> candle;    // the candle's JSON array exactly as sent
  std::string detail;                   // which fields differ, missing trade ids, ...
  TimestampMicros reconciled_at = 0;

  friend bool operator==(const ReconRow&, const ReconRow&) = default;
};

}  // namespace tradelake
