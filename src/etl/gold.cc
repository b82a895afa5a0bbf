#include "etl/gold.h"

#include <fmt/format.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "etl/dec18.h"

namespace tradelake {
namespace {

// Running measures of one bar. Sums are exact 256-bit, checked once at the end.
struct BarAccumulator {
  int64_t count = 0;
  Dec18Sum price_sum, total_volume, quote_volume, buy_volume, sell_volume;
  Dec18 high = 0, low = 0;
  int64_t first_id = 0, last_id = 0;
  Dec18 open = 0, close = 0;  // prices at first_id / last_id

  void Add(const SilverTrade& t, bool taker_bought) {
    if (count == 0) {
      high = low = open = close = t.price;
      first_id = last_id = t.trade_id;
    } else {
      if (t.price > high) high = t.price;
      if (t.price < low) low = t.price;
      if (t.trade_id < first_id) {
        first_id = t.trade_id;
        open = t.price;
      }
      if (t.trade_id > last_id) {
        last_id = t.trade_id;
        close = t.price;
      }
    }
    ++count;
    price_sum.Add(t.price);
    total_volume.Add(t.size);
    quote_volume.Add(t.quote_notional);
    (taker_bought ? buy_volume : sell_volume).Add(t.size);
  }
};

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, the range of RFC 3339.
constexpr TimestampMicros kMinTime = -62'135'596'800LL * kMicrosPerSecond;
constexpr TimestampMicros kMaxTime = 253'402'300'800LL * kMicrosPerSecond - 1;

constexpr int64_t kMaxPeriod = 1'000'000'000'000'000'000LL;

std::string PeriodName(int64_t period) {
  if (period == kMicrosPerMinute) return "1m";
  if (period == kMicrosPerHour) return "1h";
  if (period == kMicrosPerDay) return "1d";
  return fmt::format("{}us", period);
}

}  // namespace

TimestampMicros PeriodStart(TimestampMicros t, int64_t period) {
  int64_t q = t / period;
  if (t % period < 0) --q;  // C++ division truncates toward zero; floor instead
  return q * period;
}

Result<std::vector<GoldBar>> AggregateBars(const std::vector<SilverTrade>& trades,
                                           int64_t period_micros) {
  if (period_micros <= 0 || period_micros > kMaxPeriod) {
    return InvalidArgument(
        fmt::format("bar period must be 1 to {} us, got {} us", kMaxPeriod, period_micros));
  }
  // Ordered by (product, period_start): the output order. Consecutive trades
  // almost always fall in the same bar, so remember the last one and only
  // look the map up when the bar changes.
  using Key = std::pair<std::string_view, TimestampMicros>;
  std::map<Key, BarAccumulator> bars;
  BarAccumulator* current = nullptr;
  Key current_key;
  for (const SilverTrade& t : trades) {
    bool taker_bought = false;
    if (t.taker_side == "buy") {
      taker_bought = true;
    } else if (t.taker_side != "sell") {
      return InvalidArgument(
          fmt::format("trade {} of {} has taker_side \"{}\"; expected \"buy\" or \"sell\"",
                      t.trade_id, t.product_id, t.taker_side));
    }
    if (t.time < kMinTime || t.time > kMaxTime) {  // keeps PeriodStart's arithmetic in range
      return InvalidArgument(fmt::format("trade {} of {} has time {} us, outside years 0001-9999",
                                         t.trade_id, t.product_id, t.time));
    }
    const Key key{t.product_id, PeriodStart(t.time, period_micros)};
    if (current == nullptr || key != current_key) {
      current = &bars[key];  // views into `trades`, which outlives the map
      current_key = key;
    }
    current->Add(t, taker_bought);
  }

  std::vector<GoldBar> out;
  out.reserve(bars.size());
  for (const auto& [key, acc] : bars) {
    GoldBar bar;
    bar.product_id = std::string(key.first);
    bar.period_start = key.second;
    auto fail = [&](std::string_view measure, const Status& s) {
      return InvalidArgument(fmt::format("gold bar {} {} ({}): {}: {}", bar.product_id,
                                         FormatRfc3339Trimmed(bar.period_start),
                                         PeriodName(period_micros), measure, s.message()));
    };
    struct {
      std::string_view name;
      const Dec18Sum* sum;
      Dec18* out;
    } const sums[] = {{"total_volume", &acc.total_volume, &bar.total_volume},
                      {"quote_volume", &acc.quote_volume, &bar.quote_volume},
                      {"buy_volume", &acc.buy_volume, &bar.buy_volume},
                      {"sell_volume", &acc.sell_volume, &bar.sell_volume}};
    for (const auto& s : sums) {
      Result<Dec18> v = s.sum->Value();
      if (!v.ok()) return fail(s.name, v.status());
      *s.out = *v;
    }
    Result<Dec18> avg = acc.price_sum.DivideByCount(acc.count);
    if (!avg.ok()) return fail("avg_price", avg.status());
    bar.avg_price = *avg;
    Result<Dec18> price_sum = acc.price_sum.Value();
    if (!price_sum.ok()) return fail("price_sum", price_sum.status());
    bar.price_sum = *price_sum;
    if (bar.total_volume == 0) {
      // Silver sizes are positive, so this cannot happen; never divide by zero.
      return fail("vwap", InvalidArgument("total_volume is zero"));
    }
    Result<Dec18> vwap = acc.quote_volume.DivideBy(bar.total_volume);
    if (!vwap.ok()) return fail("vwap", vwap.status());
    bar.vwap = *vwap;
    bar.trade_count = acc.count;
    bar.open = acc.open;
    bar.high = acc.high;
    bar.low = acc.low;
    bar.close = acc.close;
    bar.first_trade_id = acc.first_id;
    bar.last_trade_id = acc.last_id;
    out.push_back(std::move(bar));
  }
  return out;
}

Status MergeBar(const GoldBar& add, GoldBar* into) {
  if (add.product_id != into->product_id || add.period_start != into->period_start) {
    return InvalidArgument(fmt::format("cannot merge the bar of {} {} into the bar of {} {}", add.product_id,
                                       FormatRfc3339Trimmed(add.period_start), into->product_id,
                                       FormatRfc3339Trimmed(into->period_start)));
  }
  if (add.trade_count <= 0) return Status::OK();
  if (into->trade_count <= 0) {
    *into = add;
    return Status::OK();
  }
  GoldBar m = *into;
  auto fail = [&](std::string_view measure) {
    return InvalidArgument(fmt::format("gold bar {} {}: {} does not fit DECIMAL(38,18) after merging", m.product_id,
                                       FormatRfc3339Trimmed(m.period_start), measure));
  };
  if (!Dec18Add(into->total_volume, add.total_volume, &m.total_volume)) return fail("total_volume");
  if (!Dec18Add(into->quote_volume, add.quote_volume, &m.quote_volume)) return fail("quote_volume");
  if (!Dec18Add(into->buy_volume, add.buy_volume, &m.buy_volume)) return fail("buy_volume");
  if (!Dec18Add(into->sell_volume, add.sell_volume, &m.sell_volume)) return fail("sell_volume");
  if (!Dec18Add(into->price_sum, add.price_sum, &m.price_sum)) return fail("price_sum");
  m.trade_count = into->trade_count + add.trade_count;
  if (add.high > m.high) m.high = add.high;
  if (add.low < m.low) m.low = add.low;
  if (add.first_trade_id < m.first_trade_id) {
    m.first_trade_id = add.first_trade_id;
    m.open = add.open;
  }
  if (add.last_trade_id > m.last_trade_id) {
    m.last_trade_id = add.last_trade_id;
    m.close = add.close;
  }
  Dec18Sum ps;
  ps.Add(m.price_sum);
  Result<Dec18> avg = ps.DivideByCount(m.trade_count);
  if (!avg.ok()) return fail("avg_price");
  m.avg_price = *avg;
  if (m.total_volume == 0) return fail("vwap");
  Result<Dec18> vwap = Dec18Divide(m.quote_volume, m.total_volume);
  if (!vwap.ok()) return fail("vwap");
  m.vwap = *vwap;
  *into = std::move(m);
  return Status::OK();
}

}  // namespace tradelake
