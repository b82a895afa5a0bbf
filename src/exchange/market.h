// Market: the synthetic trade tape behind `tradelake simulate`.
//
// A Market is one product's trades, generated from (seed, product id) alone:
// the same seed and product give the same trade ids, prices, sizes, sides and
// inter-arrival gaps on every machine and every run. Only absolute times
// depend on where the tape starts (`tape_start`): trade k arrives at
// tape_start + (sum of the first k gaps).
//
// The model, close enough to a real Coinbase book for ingest and ETL to meet
// what they meet in production:
//   - prices on the product's tick (quote_increment) following a mean-reverting
//     random walk in ticks, often unchanged from one trade to the next;
//   - Poisson arrivals at `trades_per_second`, where about one trade in five
//     shares its predecessor's microsecond (a taker sweeping several makers;
//     the sweep keeps its side and walks the price at most a tick per fill);
//   - heavy-tailed sizes (lognormal body, Pareto tail, often round numbers) on
//     the base increment, always > 0;
//   - `side` as Coinbase publishes it: the MAKER's side (an up-tick is a buyer
//     taking a resting sell, so side "sell");
//   - contiguous trade ids from a product-specific first id.
//
// Trades are kept as 32-byte structs (the id is implicit in the index) and
// formatted into Coinbase's JSON on demand. Generating a million trades takes
// well under a second.
//
// Thread-safety: a Market is not synchronised. Const methods may run
// concurrently with each other; AdvanceTo() needs exclusive access (the
// simulator guards each market with a shared_mutex).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

// What the exchange lists for a product (GET /products/{id}) plus the knobs of
// its synthetic market.
struct ProductProfile {
  std::string id;              // "BTC-USD"
  std::string base_currency;   // "BTC"
  std::string quote_currency;  // "USD"
  int price_decimals = 2;      // quote_increment = 10^-price_decimals
  int size_decimals = 8;       // base_increment = 10^-size_decimals
  std::string min_market_funds = "1";

  int64_t start_price_ticks = 0;   // opening price, in quote increments
  double price_step_ticks = 1;     // standard deviation of a non-zero move, in ticks
  int64_t median_size_units = 1;   // typical trade size, in base increments
  int64_t first_trade_id_base = 0; // first id = base + a seed-derived offset < 10^6
};

// The profile for a product id "BASE-QUOTE". BTC-USD, ETH-USD and SOL-USD get
// realistic prices (65000.00, 3200.00, 150.00; tick 0.01, base increment
// 10^-8); any other id gets a generic profile (1.0000, tick 0.0001, base
// increment 10^-8). Fails with InvalidArgument unless the id is two
// non-empty parts of [A-Z0-9] joined by '-'.
Result<ProductProfile> ProfileFor(std::string_view product_id);

enum class Side : uint8_t { kBuy, kSell };

struct MarketTrade {
  TimestampMicros time = 0;
  int64_t price_ticks = 0;  // price = price_ticks * 10^-price_decimals
  int64_t size_units = 0;   // size = size_units * 10^-size_decimals, > 0
  Side side = Side::kBuy;   // the maker's side
};

class Market {
 public:
  // The tape starts at `tape_start` (the first trade arrives one gap after it)
  // and has no trades until AdvanceTo() is called.
  // REQUIRES: trades_per_second > 0.
  Market(ProductProfile profile, uint64_t seed, TimestampMicros tape_start,
         double trades_per_second);

  const ProductProfile& profile() const { return profile_; }

  // Generates every trade that arrives at or before t. Times only move
  // forward: an earlier t than before is a no-op. Returns how many trades
  // were added.
  size_t AdvanceTo(TimestampMicros t);

  // Arrival time of the next trade AdvanceTo() would add.
  TimestampMicros next_time() const { return pending_.time; }

  int64_t first_trade_id() const { return first_id_; }
  // Id of the newest trade generated so far; first_trade_id() - 1 when none.
  int64_t last_trade_id() const { return first_id_ + static_cast<int64_t>(trades_.size()) - 1; }
  size_t size() const { return trades_.size(); }
  bool empty() const { return trades_.empty(); }

  // REQUIRES: first_trade_id() <= id <= last_trade_id().
  const MarketTrade& trade(int64_t id) const {
    return trades_[static_cast<size_t>(id - first_id_)];
  }

  // Id of the oldest trade with time >= t (last_trade_id() + 1 when none).
  int64_t FirstIdAtOrAfter(TimestampMicros t) const;

  // Appends the trade as Coinbase serves it, e.g.
  // {"trade_id":123,"side":"buy","size":"0.00123","price":"65000.01","time":"2024-05-01T12:00:44.39Z"}
  // Price and size have trailing zeros trimmed, the time is
  // FormatRfc3339Trimmed. REQUIRES: the id exists.
  void AppendTradeJson(int64_t id, std::string* out) const;
  std::string TradeJson(int64_t id) const;

  // Appends a JSON array of these trades, in the given order, each exactly as
  // AppendTradeJson writes it. Faster than one AppendTradeJson per id.
  // REQUIRES: every id exists.
  void AppendTradesJson(const std::vector<int64_t>& ids, std::string* out) const;

  // Text of a price or size held in ticks / base units, in the exchange's
  // style: "65000.01", "0.00123", "65000" (at least one digit, no trailing '.').
  std::string PriceText(int64_t ticks) const;
  std::string SizeText(int64_t units) const;

 private:
  class Rng {
   public:
    explicit Rng(uint64_t seed);
    uint64_t Next();
    double Uniform();     // in (0, 1]
    double Normal();      // standard normal
   private:
    uint64_t s_[4];
    double spare_ = 0;
    bool has_spare_ = false;
  };

  MarketTrade Generate(bool first);

  struct TimeCache;
  static void AppendTime(TimestampMicros t, TimeCache* cache, std::string* out);
  void AppendTradeJson(int64_t id, TimeCache* cache, std::string* out) const;

  ProductProfile profile_;
  Rng rng_;
  double trades_per_second_;
  double mean_gap_micros_;  // of the gaps that are not zero
  int64_t first_id_;
  std::vector<MarketTrade> trades_;
  MarketTrade pending_;     // the next trade, already drawn, not yet arrived
};

// Appends units * 10^-decimals with trailing fractional zeros trimmed:
// (6500001, 2) -> "65000.01", (123000, 8) -> "0.00123", (100, 2) -> "1".
// Negative values get a leading '-'. REQUIRES: 0 <= decimals <= 30.
void AppendScaledDecimal(__int128 units, int decimals, std::string* out);

}  // namespace tradelake
