#include "etl/gold.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "etl/dec18.h"

namespace tradelake {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Dec18 D(std::string_view text) {
  Result<Dec18> r = Dec18FromString(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.value_or(0);
}

TimestampMicros T(std::string_view rfc3339) {
  Result<TimestampMicros> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.value_or(0);
}

// A Silver row; `taker` is the taker's side.
SilverTrade Row(std::string product, int64_t id, std::string_view price, std::string_view size,
                TimestampMicros time, std::string_view taker = "buy") {
  SilverTrade t;
  t.product_id = std::move(product);
  t.trade_id = id;
  t.price = D(price);
  t.size = D(size);
  Result<Dec18> q = Dec18Multiply(t.price, t.size);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  t.quote_notional = q.value_or(0);
  t.taker_side = std::string(taker);
  t.side = taker == "buy" ? "sell" : "buy";
  t.time = time;
  return t;
}

std::vector<GoldBar> Bars(const std::vector<SilverTrade>& trades, int64_t period) {
  Result<std::vector<GoldBar>> r = AggregateBars(trades, period);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<GoldBar>{};
}

TEST(GoldBars, OpenAndCloseFollowTradeIdsNotTimes) {
  const TimestampMicros t0 = T("2024-05-01T10:00:05Z");
  // Ids out of order in the input, times tied or running against the ids.
  const std::vector<SilverTrade> trades = {
      Row("BTC-USD", 3, "100", "1", t0),
      Row("BTC-USD", 1, "90", "1", t0 + 5 * kMicrosPerSecond),
      Row("BTC-USD", 2, "95", "2", t0),
  };
  const std::vector<GoldBar> bars = Bars(trades, kMicrosPerHour);
  ASSERT_EQ(bars.size(), 1u);
  const GoldBar& b = bars[0];
  EXPECT_EQ(b.product_id, "BTC-USD");
  EXPECT_EQ(b.period_start, T("2024-05-01T10:00:00Z"));
  EXPECT_EQ(b.trade_count, 3);
  EXPECT_EQ(b.open, D("90"));
  EXPECT_EQ(b.close, D("100"));
  EXPECT_EQ(b.high, D("100"));
  EXPECT_EQ(b.low, D("90"));
  EXPECT_EQ(b.first_trade_id, 1);
  EXPECT_EQ(b.last_trade_id, 3);
  EXPECT_EQ(b.total_volume, D("4"));
  EXPECT_EQ(b.quote_volume, D("380"));  // 100 + 90 + 190
  EXPECT_EQ(b.vwap, D("95"));
  EXPECT_EQ(b.avg_price, D("95"));
}

TEST(GoldBars, AveragesArePlainMeanAndVolumeWeighted) {
  const TimestampMicros t = T("2024-05-01T10:00:00Z");
  const std::vector<GoldBar> bars =
      Bars({Row("BTC-USD", 1, "1", "2", t), Row("BTC-USD", 2, "2", "1", t)}, kMicrosPerDay);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0].avg_price, D("1.5"));
  EXPECT_EQ(bars[0].quote_volume, D("4"));
  EXPECT_EQ(bars[0].vwap, D("1.333333333333333333"));  // 4/3, rounded down at the 18th digit
}

TEST(GoldBars, RoundsHalfAwayFromZeroAtTheEighteenthDigit) {
  const TimestampMicros t = T("2024-05-01T10:00:00Z");
  // vwap = 2.000000000000000001 / 2 = 1.0000000000000000005 -> ...001; the mean is the same.
  std::vector<GoldBar> bars =
      Bars({Row("BTC-USD", 1, "1", "1", t), Row("BTC-USD", 2, "1.000000000000000001", "1", t)},
           kMicrosPerHour);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(Dec18ToString(bars[0].vwap), "1.000000000000000001");
  EXPECT_EQ(Dec18ToString(bars[0].avg_price), "1.000000000000000001");
  // Mean of 1e-18, 1e-18, 2e-18 = 1.333e-18 -> 1e-18; of 1e-18 and 2e-18 = 1.5e-18 -> 2e-18.
  bars = Bars(
      {Row("X-Y", 1, "0.000000000000000001", "1", t), Row("X-Y", 2, "0.000000000000000001", "1", t),
       Row("X-Y", 3, "0.000000000000000002", "1", t)},
      kMicrosPerHour);
  EXPECT_EQ(bars.at(0).avg_price, 1);
  bars = Bars({Row("X-Y", 1, "0.000000000000000001", "1", t),
               Row("X-Y", 2, "0.000000000000000002", "1", t)},
              kMicrosPerHour);
  EXPECT_EQ(bars.at(0).avg_price, 2);
}

TEST(GoldBars, SplitsAtMidnightAndAtEveryPeriodBoundary) {
  const std::vector<SilverTrade> trades = {
      Row("BTC-USD", 10, "100", "1", T("2024-05-01T23:59:59.999999Z")),
      Row("BTC-USD", 11, "101", "1", T("2024-05-02T00:00:00Z")),
      Row("BTC-USD", 12, "102", "1", T("2024-05-02T00:00:59.999999Z")),
      Row("BTC-USD", 13, "103", "1", T("2024-05-02T00:01:00Z")),
  };
  std::vector<GoldBar> days = Bars(trades, kMicrosPerDay);
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0].period_start, T("2024-05-01T00:00:00Z"));
  EXPECT_EQ(days[0].trade_count, 1);
  EXPECT_EQ(days[1].period_start, T("2024-05-02T00:00:00Z"));
  EXPECT_EQ(days[1].trade_count, 3);
  EXPECT_EQ(days[1].open, D("101"));
  EXPECT_EQ(days[1].close, D("103"));

  std::vector<GoldBar> hours = Bars(trades, kMicrosPerHour);
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0].period_start, T("2024-05-01T23:00:00Z"));
  EXPECT_EQ(hours[1].period_start, T("2024-05-02T00:00:00Z"));

  std::vector<GoldBar> minutes = Bars(trades, kMicrosPerMinute);
  ASSERT_EQ(minutes.size(), 3u);
  EXPECT_EQ(minutes[0].period_start, T("2024-05-01T23:59:00Z"));
  EXPECT_EQ(minutes[1].period_start, T("2024-05-02T00:00:00Z"));
  EXPECT_EQ(minutes[1].trade_count, 2);
  EXPECT_EQ(minutes[2].period_start, T("2024-05-02T00:01:00Z"));
}

TEST(GoldBars, FloorsTimesBefore1970) {
  EXPECT_EQ(PeriodStart(-1, kMicrosPerMinute), -kMicrosPerMinute);
  EXPECT_EQ(PeriodStart(-kMicrosPerMinute, kMicrosPerMinute), -kMicrosPerMinute);
  EXPECT_EQ(PeriodStart(-kMicrosPerMinute - 1, kMicrosPerMinute), -2 * kMicrosPerMinute);
  EXPECT_EQ(PeriodStart(0, kMicrosPerDay), 0);
  EXPECT_EQ(PeriodStart(kMicrosPerDay - 1, kMicrosPerDay), 0);
  const std::vector<GoldBar> bars =
      Bars({Row("BTC-USD", 1, "1", "1", -1), Row("BTC-USD", 2, "1", "1", 0)}, kMicrosPerDay);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[0].period_start, T("1969-12-31T00:00:00Z"));
  EXPECT_EQ(bars[1].period_start, 0);
  EXPECT_EQ(Bars({Row("BTC-USD", 1, "1", "1", T("0001-01-01T00:00:00.5Z"))}, kMicrosPerHour)
                .at(0)
                .period_start,
            T("0001-01-01T00:00:00Z"));
}

TEST(GoldBars, SplitsVolumeByTheTakersSide) {
  const TimestampMicros t = T("2024-05-01T10:00:00Z");
  const std::vector<GoldBar> bars =
      Bars({Row("BTC-USD", 1, "10", "1.5", t, "buy"), Row("BTC-USD", 2, "10", "0.25", t, "sell"),
            Row("BTC-USD", 3, "10", "2", t, "buy")},
           kMicrosPerHour);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0].buy_volume, D("3.5"));
  EXPECT_EQ(bars[0].sell_volume, D("0.25"));
  EXPECT_EQ(bars[0].total_volume, D("3.75"));
}

TEST(GoldBars, SortsByProductThenPeriod) {
  const TimestampMicros t = T("2024-05-01T10:00:00Z");
  const std::vector<GoldBar> bars =
      Bars({Row("ETH-USD", 1, "1", "1", t + kMicrosPerHour),
            Row("BTC-USD", 1, "1", "1", t + kMicrosPerHour), Row("ETH-USD", 2, "1", "1", t),
            Row("BTC-USD", 2, "1", "1", t)},
           kMicrosPerHour);
  ASSERT_EQ(bars.size(), 4u);
  EXPECT_EQ(bars[0].product_id, "BTC-USD");
  EXPECT_EQ(bars[0].period_start, t);
  EXPECT_EQ(bars[0].first_trade_id, 2);
  EXPECT_EQ(bars[1].product_id, "BTC-USD");
  EXPECT_EQ(bars[1].period_start, t + kMicrosPerHour);
  EXPECT_EQ(bars[2].product_id, "ETH-USD");
  EXPECT_EQ(bars[3].product_id, "ETH-USD");
  EXPECT_EQ(bars[3].period_start, t + kMicrosPerHour);
}

TEST(GoldBars, NothingInNothingOut) { EXPECT_TRUE(Bars({}, kMicrosPerDay).empty()); }

TEST(GoldBars, ReportsASumBeyond38DigitsInsteadOfWrapping) {
  const TimestampMicros t = T("2024-05-01T10:00:00Z");
  Result<std::vector<GoldBar>> r =
      AggregateBars({Row("BTC-USD", 1, "0.000001", "60000000000000000000", t),
                     Row("BTC-USD", 2, "0.000001", "60000000000000000000", t)},
                    kMicrosPerHour);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              AllOf(HasSubstr("BTC-USD"), HasSubstr("2024-05-01T10:00:00Z"), HasSubstr("1h"),
                    HasSubstr("total_volume"), HasSubstr("38 digits")));
}

TEST(GoldBars, RejectsBadInputWithAMessage) {
  const TimestampMicros t = T("2024-05-01T10:00:00Z");
  EXPECT_EQ(AggregateBars({Row("BTC-USD", 1, "1", "1", t)}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(AggregateBars({Row("BTC-USD", 1, "1", "1", t)}, -kMicrosPerHour).status().code(),
            StatusCode::kInvalidArgument);
  SilverTrade odd = Row("BTC-USD", 1, "1", "1", t);
  odd.taker_side = "BUY";
  Result<std::vector<GoldBar>> r = AggregateBars({odd}, kMicrosPerHour);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("taker_side"));
  odd = Row("BTC-USD", 1, "1", "1", INT64_MIN);
  EXPECT_FALSE(AggregateBars({odd}, kMicrosPerHour).ok());
}

// --- randomized check against an independent, slow recomputation ---------------
//
// Sums through Decimal::Add; ratios by schoolbook long division on decimal
// digit strings; open/close by sorting on trade_id.

std::string Strip(std::string s) {
  const size_t nz = s.find_first_not_of('0');
  return nz == std::string::npos ? "0" : s.substr(nz);
}

int CmpStr(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

std::string SubStr(const std::string& a, const std::string& b) {  // REQUIRES a >= b
  std::string out = a;
  int borrow = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t ia = out.size() - 1 - i;
    int d = (a[ia] - '0') - borrow - (i < b.size() ? b[b.size() - 1 - i] - '0' : 0);
    borrow = d < 0 ? 1 : 0;
    out[ia] = static_cast<char>('0' + d + 10 * borrow);
  }
  return Strip(out);
}

// round(num / den) half up, for non-negative digit strings.
std::string DivRoundStr(const std::string& num, const std::string& den) {
  std::string q, rem = "0";
  for (char c : num) {
    rem = Strip(rem + c);
    int digit = 0;
    while (CmpStr(rem, den) >= 0) {
      rem = SubStr(rem, den);
      ++digit;
    }
    q += static_cast<char>('0' + digit);
  }
  q = Strip(q);
  // Round up when 2 * rem >= den, i.e. rem >= den - rem.
  if (CmpStr(rem, SubStr(den, rem)) >= 0) {
    int carry = 1;
    for (size_t i = q.size(); i-- > 0 && carry;) {
      int d = q[i] - '0' + carry;
      carry = d / 10;
      q[i] = static_cast<char>('0' + d % 10);
    }
    if (carry) q.insert(q.begin(), '1');
  }
  return q;
}

void CheckAgainstReference(const std::vector<SilverTrade>& trades, int64_t period,
                           const std::vector<GoldBar>& bars) {
  std::map<std::pair<std::string, int64_t>, std::vector<SilverTrade>> groups;
  for (const SilverTrade& t : trades) {
    // Floor written differently from PeriodStart: shift into positive range.
    const int64_t offset = (int64_t{1} << 40) / period * period + period * 1000;
    const int64_t start = (t.time + offset) / period * period - offset;
    groups[{t.product_id, start}].push_back(t);
  }
  ASSERT_EQ(bars.size(), groups.size());
  size_t i = 0;
  for (auto& [key, group] : groups) {
    const GoldBar& b = bars[i++];
    ASSERT_EQ(b.product_id, key.first);
    ASSERT_EQ(b.period_start, key.second);
    std::sort(group.begin(), group.end(),
              [](const SilverTrade& x, const SilverTrade& y) { return x.trade_id < y.trade_id; });
    Decimal total, quote, buy, sell, price_sum;
    Dec18 high = group.front().price, low = group.front().price;
    for (const SilverTrade& t : group) {
      total = Decimal::Add(total, Decimal(t.size, 18)).value();
      quote = Decimal::Add(quote, Decimal(t.quote_notional, 18)).value();
      price_sum = Decimal::Add(price_sum, Decimal(t.price, 18)).value();
      if (t.taker_side == "buy") {
        buy = Decimal::Add(buy, Decimal(t.size, 18)).value();
      } else {
        sell = Decimal::Add(sell, Decimal(t.size, 18)).value();
      }
      high = std::max(high, t.price);
      low = std::min(low, t.price);
    }
    ASSERT_EQ(b.trade_count, static_cast<int64_t>(group.size()));
    ASSERT_EQ(Decimal(b.total_volume, 18), total);
    ASSERT_EQ(Decimal(b.quote_volume, 18), quote);
    ASSERT_EQ(Decimal(b.buy_volume, 18), buy);
    ASSERT_EQ(Decimal(b.sell_volume, 18), sell);
    ASSERT_EQ(b.open, group.front().price);
    ASSERT_EQ(b.close, group.back().price);
    ASSERT_EQ(b.high, high);
    ASSERT_EQ(b.low, low);
    ASSERT_EQ(b.first_trade_id, group.front().trade_id);
    ASSERT_EQ(b.last_trade_id, group.back().trade_id);
    const std::string price_sum_digits = Int128ToString(price_sum.Rescale(18)->unscaled());
    ASSERT_EQ(Int128ToString(b.avg_price),
              DivRoundStr(price_sum_digits, std::to_string(group.size())));
    const std::string quote_digits =
        Int128ToString(quote.Rescale(18)->unscaled()) + std::string(18, '0');
    const std::string total_digits = Int128ToString(total.Rescale(18)->unscaled());
    ASSERT_EQ(Int128ToString(b.vwap), DivRoundStr(Strip(quote_digits), total_digits))
        << b.product_id << " " << b.period_start;
  }
}

TEST(GoldBars, MatchAnIndependentRecomputationOnRandomTrades) {
  std::mt19937_64 rng(2024);
  auto digits = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
    return s;
  };
  const std::string products[] = {"BTC-USD", "ETH-USD", "SHIB-USD"};
  std::vector<SilverTrade> trades;
  std::map<std::string, int64_t> next_id = {{"BTC-USD", 1}, {"ETH-USD", 1000}, {"SHIB-USD", 77}};
  // Around the epoch and around a midnight, so negative floors and day edges are covered.
  const TimestampMicros bases[] = {-kMicrosPerDay, T("2024-05-01T22:00:00Z")};
  for (int i = 0; i < 6000; ++i) {
    const std::string& product = products[rng() % 3];
    const int price_frac = static_cast<int>(rng() % 3) * 4;  // 0, 4 or 8 decimals
    const int size_frac =
        static_cast<int>(rng() % static_cast<uint64_t>(19 - price_frac));  // exact notional
    std::string price = digits(1 + static_cast<int>(rng() % 6));
    if (price_frac > 0) price += "." + digits(price_frac);
    std::string size = digits(1 + static_cast<int>(rng() % 4));
    if (size_frac > 0) size += "." + digits(size_frac);
    if (D(price) == 0) price = "1";
    if (D(size) == 0) size = "0.5";
    const TimestampMicros base = bases[rng() % 2];
    const auto jitter = static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * kMicrosPerDay));
    // Ids rise per product; times wander (and sometimes go back), like a real feed.
    trades.push_back(
        Row(product, next_id[product]++, price, size, base + jitter, rng() % 2 ? "buy" : "sell"));
  }
  for (int64_t period :
       {kMicrosPerMinute, kMicrosPerHour, kMicrosPerDay, int64_t{7} * kMicrosPerSecond}) {
    SCOPED_TRACE(period);
    const std::vector<GoldBar> bars = Bars(trades, period);
    CheckAgainstReference(trades, period, bars);
    // The input order does not change the result.
    std::vector<SilverTrade> shuffled = trades;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    ASSERT_EQ(Bars(shuffled, period), bars);
  }
}

}  // namespace
}  // namespace tradelake
