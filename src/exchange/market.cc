#include "exchange/market.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace tradelake {
namespace {

// Shares of the tape's shape; see market.h for what they model.
constexpr double kSharedTimestampShare = 0.20;
constexpr double kUnchangedPriceShare = 0.40;
constexpr double kMeanReversion = 2e-5;  // pull toward the opening price, per trade
constexpr double kSizeSigma = 1.1;       // lognormal body of sizes
constexpr double kTailShare = 0.03;      // trades drawn from the Pareto tail
constexpr double kTailAlpha = 1.5;
constexpr double kTailCap = 1000;        // largest tail multiplier
constexpr double kRoundSizeShare = 0.35; // sizes a person typed ("0.01")

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// FNV-1a: a stable hash of the product id (std::hash is not stable across
// standard libraries, and the tape must be).
uint64_t HashProduct(std::string_view id) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return h;
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

int64_t Pow10(int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

bool IsCodeChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

Result<ProductProfile> ProfileFor(std::string_view product_id) {
  const size_t dash = product_id.find('-');
  const auto bad = [&] {
    return InvalidArgument(fmt::format(
        "product id \"{}\" is not BASE-QUOTE in capitals (e.g. BTC-USD)", product_id));
  };
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == product_id.size()) return bad();
  for (size_t i = 0; i < product_id.size(); ++i) {
    if (i != dash && !IsCodeChar(product_id[i])) return bad();
  }
  ProductProfile p;
  p.id = std::string(product_id);
  p.base_currency = std::string(product_id.substr(0, dash));
  p.quote_currency = std::string(product_id.substr(dash + 1));
  p.size_decimals = 8;
  if (product_id == "BTC-USD") {
    p.price_decimals = 2;
    p.start_price_ticks = 6'500'000;  // 65000.00
    p.price_step_ticks = 120;
    p.median_size_units = 200'000;    // 0.002 BTC
    p.first_trade_id_base = 700'000'000;
  } else if (product_id == "ETH-USD") {
    p.price_decimals = 2;
    p.start_price_ticks = 320'000;    // 3200.00
    p.price_step_ticks = 8;
    p.median_size_units = 5'000'000;  // 0.05 ETH
    p.first_trade_id_base = 500'000'000;
  } else if (product_id == "SOL-USD") {
    p.price_decimals = 2;
    p.start_price_ticks = 15'000;       // 150.00
    p.price_step_ticks = 1.5;
    p.median_size_units = 150'000'000;  // 1.5 SOL
    p.first_trade_id_base = 100'000'000;
  } else {
    p.price_decimals = 4;
    p.start_price_ticks = 10'000;            // 1.0000
    p.price_step_ticks = 2;
    p.median_size_units = 10'000'000'000;    // 100 units of base
    p.first_trade_id_base =
        1'000'000 + static_cast<int64_t>(HashProduct(product_id) % 100) * 1'000'000;
  }
  return p;
}

Market::Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& s : s_) s = SplitMix64(state);
}

// xoshiro256**: fast, small state, good enough statistics for a synthetic tape.
uint64_t Market::Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Market::Rng::Uniform() {
  // 53 random bits, shifted by one so that log(Uniform()) is always finite.
  return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53;
}

double Market::Rng::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double r = std::sqrt(-2.0 * std::log(Uniform()));
  const double theta = 2.0 * 3.14159265358979323846 * Uniform();
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

Market::Market(ProductProfile profile, uint64_t seed, TimestampMicros tape_start,
               double trades_per_second)
    : profile_(std::move(profile)),
      rng_(seed ^ Rotl(HashProduct(profile_.id), 17)),
      trades_per_second_(trades_per_second),
      // Shared-timestamp trades add no time, so the others are spaced wider
      // to keep the overall rate at trades_per_second.
      mean_gap_micros_(static_cast<double>(kMicrosPerSecond) /
                       (trades_per_second * (1.0 - kSharedTimestampShare))),
      first_id_(profile_.first_trade_id_base + static_cast<int64_t>(rng_.Next() % 1'000'000)) {
  pending_.time = tape_start;
  pending_.price_ticks = profile_.start_price_ticks;
  pending_ = Generate(/*first=*/true);
}

MarketTrade Market::Generate(bool first) {
  const MarketTrade& prev = pending_;
  MarketTrade t;
  if (!first && rng_.Uniform() < kSharedTimestampShare) {
    // One taker order filling several makers: same microsecond, same maker
    // side, price walking away from the taker by at most a tick per fill.
    t.time = prev.time;
    t.side = prev.side;
    const int64_t step = rng_.Uniform() < 0.5 ? 0 : 1;
    t.price_ticks = prev.price_ticks + (prev.side == Side::kSell ? step : -step);
  } else {
    const double gap = -std::log(rng_.Uniform()) * mean_gap_micros_;
    t.time = prev.time + std::max<int64_t>(1, std::llround(gap));
    int64_t move = 0;
    if (rng_.Uniform() >= kUnchangedPriceShare) {
      const double pull =
          kMeanReversion * static_cast<double>(profile_.start_price_ticks - prev.price_ticks);
      move = std::llround(rng_.Normal() * profile_.price_step_ticks + pull);
    }
    t.price_ticks = prev.price_ticks + move;
    if (move > 0) {
      t.side = Side::kSell;  // a buyer lifted a resting sell
    } else if (move < 0) {
      t.side = Side::kBuy;
    } else {
      t.side = (rng_.Next() & 1) != 0 ? Side::kSell : Side::kBuy;
    }
  }
  t.price_ticks = std::max<int64_t>(1, t.price_ticks);

  const double median = static_cast<double>(profile_.median_size_units);
  double size = median * std::exp(kSizeSigma * rng_.Normal());
  if (rng_.Uniform() < kTailShare) {
    size *= std::min(kTailCap, std::pow(rng_.Uniform(), -1.0 / kTailAlpha));
  }
  int64_t units = std::llround(size);
  if (rng_.Uniform() < kRoundSizeShare) {
    // Round to 2, 3 or 4 significant decimals of the base currency.
    const int keep = 2 + static_cast<int>(rng_.Next() % 3);
    if (profile_.size_decimals > keep) {
      const int64_t grain = Pow10(profile_.size_decimals - keep);
      units = std::max<int64_t>(grain, (units + grain / 2) / grain * grain);
    }
  }
  t.size_units = std::max<int64_t>(1, units);
  return t;
}

size_t Market::AdvanceTo(TimestampMicros t) {
  const size_t before = trades_.size();
  if (t > pending_.time) {
    // Reserve for the trades expected (plus slack) so a long history grows in
    // one step, while keeping geometric growth for small live increments.
    const double expected = static_cast<double>(t - pending_.time) /
                                static_cast<double>(kMicrosPerSecond) * trades_per_second_ * 1.05 +
                            16;
    const size_t needed = before + static_cast<size_t>(expected);
    if (needed > trades_.capacity()) trades_.reserve(std::max(needed, 2 * trades_.capacity()));
  }
  while (pending_.time <= t) {
    trades_.push_back(pending_);
    pending_ = Generate(/*first=*/false);
  }
  return trades_.size() - before;
}

int64_t Market::FirstIdAtOrAfter(TimestampMicros t) const {
  const auto it = std::lower_bound(trades_.begin(), trades_.end(), t,
                                   [](const MarketTrade& m, TimestampMicros v) { return m.time < v; });
  return first_id_ + (it - trades_.begin());
}

void AppendScaledDecimal(__int128 units, int decimals, std::string* out) {
  const bool negative = units < 0;
  auto magnitude = negative ? -static_cast<unsigned __int128>(units)
                            : static_cast<unsigned __int128>(units);
  char digits[80];  // least significant first
  int n = 0;
  // 128-bit division is a library call; finish in 64 bits once it fits.
  while (magnitude > std::numeric_limits<uint64_t>::max()) {
    digits[n++] = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
  }
  auto small = static_cast<uint64_t>(magnitude);
  do {
    digits[n++] = static_cast<char>('0' + small % 10);
    small /= 10;
  } while (small != 0);
  while (n <= decimals) digits[n++] = '0';
  int trimmed = 0;  // trailing zeros of the fraction
  while (trimmed < decimals && digits[trimmed] == '0') ++trimmed;
  if (negative) out->push_back('-');
  for (int i = n - 1; i >= decimals; --i) out->push_back(digits[i]);
  if (trimmed < decimals) {
    out->push_back('.');
    for (int i = decimals - 1; i >= trimmed; --i) out->push_back(digits[i]);
  }
}

// The calendar part of a timestamp is the slow part of a page of trades, and
// a page rarely spans more than a day: format each day's date once.
struct Market::TimeCache {
  int64_t day = std::numeric_limits<int64_t>::min();
  std::string date;  // "2024-05-01T", as FormatRfc3339Trimmed writes it
};

void Market::AppendTime(TimestampMicros t, TimeCache* cache, std::string* out) {
  const int64_t day = DayNumber(t);
  if (day != cache->day) {
    cache->date = FormatRfc3339Trimmed(day * kMicrosPerDay).substr(0, 11);
    cache->day = day;
  }
  out->append(cache->date);
  // The rest as FormatRfc3339Trimmed writes it (market_test compares every
  // trade against it): "HH:MM:SS", the fraction without trailing zeros, 'Z'.
  int64_t in_day = t - day * kMicrosPerDay;
  int64_t seconds = in_day / kMicrosPerSecond;
  int64_t micros = in_day % kMicrosPerSecond;
  char text[17] = {'0', '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', '0', '0', '0', 'Z'};
  const auto two = [&text](int at, int64_t v) {
    text[at] = static_cast<char>('0' + v / 10);
    text[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, seconds / 3600);
  two(3, seconds / 60 % 60);
  two(6, seconds % 60);
  size_t n = 8;
  if (micros != 0) {
    for (int i = 14; i >= 9; --i) {
      text[i] = static_cast<char>('0' + micros % 10);
      micros /= 10;
    }
    n = 15;
    while (text[n - 1] == '0') --n;
  }
  out->append(text, n);
  out->push_back('Z');
}

// Written by hand, not through nlohmann-json like the rest of tradelake's
// JSON, on purpose: this is the simulator's hot path (a page is 1000 trades,
// and the benches serve millions), and every value is digits, a fixed word or
// a formatted time, so there is nothing to escape (market_test checks the
// exact text of every trade).
void Market::AppendTradeJson(int64_t id, TimeCache* cache, std::string* out) const {
  const MarketTrade& t = trade(id);
  const fmt::format_int id_text(id);
  out->append("{\"trade_id\":");
  out->append(id_text.data(), id_text.size());
  out->append(t.side == Side::kBuy ? ",\"side\":\"buy\",\"size\":\"" : ",\"side\":\"sell\",\"size\":\"");
  AppendScaledDecimal(t.size_units, profile_.size_decimals, out);
  out->append("\",\"price\":\"");
  AppendScaledDecimal(t.price_ticks, profile_.price_decimals, out);
  out->append("\",\"time\":\"");
  AppendTime(t.time, cache, out);
  out->append("\"}");
}

void Market::AppendTradeJson(int64_t id, std::string* out) const {
  TimeCache cache;
  AppendTradeJson(id, &cache, out);
}

void Market::AppendTradesJson(const std::vector<int64_t>& ids, std::string* out) const {
  TimeCache cache;
  out->reserve(out->size() + ids.size() * 120 + 2);
  out->push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out->push_back(',');
    AppendTradeJson(ids[i], &cache, out);
  }
  out->push_back(']');
}

std::string Market::TradeJson(int64_t id) const {
  std::string out;
  AppendTradeJson(id, &out);
  return out;
}

std::string Market::PriceText(int64_t ticks) const {
  std::string out;
  AppendScaledDecimal(ticks, profile_.price_decimals, &out);
  return out;
}

std::string Market::SizeText(int64_t units) const {
  std::string out;
  AppendScaledDecimal(units, profile_.size_decimals, &out);
  return out;
}

}  // namespace tradelake
