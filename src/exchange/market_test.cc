#include "exchange/market.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/time.h"

namespace tradelake {
namespace {

constexpr TimestampMicros kStart = 1'714'564'800'000'000;  // 2024-05-01T12:00:00Z

Market MakeMarket(const std::string& product, uint64_t seed = 42, double tps = 5,
                  TimestampMicros start = kStart) {
  Result<ProductProfile> profile = ProfileFor(product);
  EXPECT_TRUE(profile.ok()) << profile.status().ToString();
  return Market(*profile, seed, start, tps);
}

std::string Scaled(__int128 units, int decimals) {
  std::string out;
  AppendScaledDecimal(units, decimals, &out);
  return out;
}

// The text between `"key":"` and the next quote of a trade's JSON.
std::string Field(const std::string& json, const std::string& key) {
  const std::string open = "\"" + key + "\":\"";
  const size_t at = json.find(open);
  if (at == std::string::npos) return "";
  const size_t from = at + open.size();
  return json.substr(from, json.find('"', from) - from);
}

TEST(Market, FormatsDecimalsTheWayCoinbaseDoes) {
  EXPECT_EQ(Scaled(6'500'001, 2), "65000.01");
  EXPECT_EQ(Scaled(6'500'010, 2), "65000.1");
  EXPECT_EQ(Scaled(6'500'000, 2), "65000");
  EXPECT_EQ(Scaled(123'000, 8), "0.00123");
  EXPECT_EQ(Scaled(1, 8), "0.00000001");
  EXPECT_EQ(Scaled(0, 8), "0");
  EXPECT_EQ(Scaled(7, 0), "7");
  EXPECT_EQ(Scaled(-150, 2), "-1.5");
  EXPECT_EQ(Scaled(static_cast<__int128>(INT64_MAX) * 10, 8), "922337203685.4775807");
}

TEST(Market, ProfilesMatchTheListedProducts) {
  Result<ProductProfile> btc = ProfileFor("BTC-USD");
  ASSERT_TRUE(btc.ok());
  EXPECT_EQ(btc->base_currency, "BTC");
  EXPECT_EQ(btc->quote_currency, "USD");
  EXPECT_EQ(btc->price_decimals, 2);
  EXPECT_EQ(btc->size_decimals, 8);
  EXPECT_EQ(btc->start_price_ticks, 6'500'000);

  Result<ProductProfile> other = ProfileFor("DOGE-EUR");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->base_currency, "DOGE");
  EXPECT_EQ(other->quote_currency, "EUR");
  EXPECT_EQ(other->price_decimals, 4);
  EXPECT_EQ(other->start_price_ticks, 10'000);
}

TEST(Market, RejectsProductIdsThatAreNotBaseDashQuote) {
  for (const char* bad : {"", "BTCUSD", "-USD", "BTC-", "btc-usd", "BTC USD", "BTC-US$"}) {
    Result<ProductProfile> p = ProfileFor(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(Market, SameSeedAndProductGiveTheSameTape) {
  Market a = MakeMarket("BTC-USD");
  Market b = MakeMarket("BTC-USD");
  a.AdvanceTo(kStart + kMicrosPerHour);
  // Advancing in small steps must not change what is drawn.
  for (TimestampMicros t = kStart; t <= kStart + kMicrosPerHour; t += 7 * kMicrosPerSecond) {
    b.AdvanceTo(t);
  }
  b.AdvanceTo(kStart + kMicrosPerHour);
  ASSERT_GT(a.size(), 1000u);
  ASSERT_EQ(a.first_trade_id(), b.first_trade_id());
  ASSERT_EQ(a.last_trade_id(), b.last_trade_id());
  for (int64_t id = a.first_trade_id(); id <= a.last_trade_id(); ++id) {
    ASSERT_EQ(a.TradeJson(id), b.TradeJson(id));
  }
}

TEST(Market, SeedsAndProductsGiveDifferentTapes) {
  Market a = MakeMarket("ETH-USD", 1);
  Market b = MakeMarket("ETH-USD", 2);
  Market c = MakeMarket("SOL-USD", 1);
  a.AdvanceTo(kStart + kMicrosPerMinute);
  b.AdvanceTo(kStart + kMicrosPerMinute);
  c.AdvanceTo(kStart + kMicrosPerMinute);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_NE(a.TradeJson(a.first_trade_id()), b.TradeJson(b.first_trade_id()));
  EXPECT_NE(a.first_trade_id(), c.first_trade_id());
}

TEST(Market, StartTimeOnlyShiftsTheTimes) {
  Market a = MakeMarket("SOL-USD", 7, 5, kStart);
  Market b = MakeMarket("SOL-USD", 7, 5, kStart + kMicrosPerDay);
  a.AdvanceTo(kStart + kMicrosPerHour);
  b.AdvanceTo(kStart + kMicrosPerDay + kMicrosPerHour);
  ASSERT_EQ(a.size(), b.size());
  for (int64_t id = a.first_trade_id(); id <= a.last_trade_id(); ++id) {
    EXPECT_EQ(a.trade(id).time + kMicrosPerDay, b.trade(id).time);
    EXPECT_EQ(a.trade(id).price_ticks, b.trade(id).price_ticks);
    EXPECT_EQ(a.trade(id).size_units, b.trade(id).size_units);
  }
}

TEST(Market, IdsAreContiguousFromAProductSpecificFirstId) {
  Market btc = MakeMarket("BTC-USD");
  EXPECT_GE(btc.first_trade_id(), 700'000'000);
  EXPECT_LT(btc.first_trade_id(), 701'000'000);
  EXPECT_EQ(btc.last_trade_id(), btc.first_trade_id() - 1);  // nothing has arrived yet
  btc.AdvanceTo(kStart + 10 * kMicrosPerMinute);
  EXPECT_EQ(btc.last_trade_id() - btc.first_trade_id() + 1, static_cast<int64_t>(btc.size()));
  for (int64_t id = btc.first_trade_id(); id <= btc.last_trade_id(); ++id) {
    EXPECT_NE(btc.TradeJson(id).find("{\"trade_id\":" + std::to_string(id) + ","),
              std::string::npos);
  }
}

TEST(Market, TradesArriveInTimeOrderAtTheRequestedRate) {
  Market m = MakeMarket("BTC-USD", 42, 20);
  m.AdvanceTo(kStart + kMicrosPerHour);
  // 72000 expected; Poisson spread is ~270.
  EXPECT_NEAR(static_cast<double>(m.size()), 72'000, 2'000);
  int64_t shared = 0;
  for (int64_t id = m.first_trade_id() + 1; id <= m.last_trade_id(); ++id) {
    ASSERT_LE(m.trade(id - 1).time, m.trade(id).time);
    if (m.trade(id - 1).time == m.trade(id).time) ++shared;
  }
  EXPECT_GT(m.trade(m.first_trade_id()).time, kStart);
  EXPECT_LE(m.trade(m.last_trade_id()).time, kStart + kMicrosPerHour);
  EXPECT_GT(m.next_time(), kStart + kMicrosPerHour);
  // About one trade in five shares its predecessor's microsecond.
  EXPECT_NEAR(static_cast<double>(shared) / static_cast<double>(m.size()), 0.2, 0.02);
}

TEST(Market, PricesSitOnTheTickAndSizesAreHeavyTailedAndPositive) {
  Market m = MakeMarket("ETH-USD");
  m.AdvanceTo(kStart + 6 * kMicrosPerHour);
  std::vector<int64_t> sizes;
  for (int64_t id = m.first_trade_id(); id <= m.last_trade_id(); ++id) {
    const MarketTrade& t = m.trade(id);
    ASSERT_GT(t.price_ticks, 0);
    ASSERT_GT(t.size_units, 0);
    sizes.push_back(t.size_units);
    const std::string json = m.TradeJson(id);
    const std::string price = Field(json, "price");
    const size_t dot = price.find('.');
    if (dot != std::string::npos) {
      ASSERT_LE(price.size() - dot - 1, 2u) << json;  // at most the tick's 2 decimals
      ASSERT_NE(price.back(), '0') << json;           // trailing zeros trimmed
    }
    const std::string size = Field(json, "size");
    ASSERT_NE(size.back(), '.') << json;
    if (size.find('.') != std::string::npos) {
      ASSERT_NE(size.back(), '0') << json;
    }
  }
  std::sort(sizes.begin(), sizes.end());
  const int64_t median = sizes[sizes.size() / 2];
  EXPECT_GT(sizes.back(), 50 * median);  // a heavy tail, not a bell
  // The price wanders but stays near where it opened.
  const double last = static_cast<double>(m.trade(m.last_trade_id()).price_ticks);
  EXPECT_GT(last, 320'000 * 0.8);
  EXPECT_LT(last, 320'000 * 1.2);
}

TEST(Market, ServesTradesInCoinbaseJson) {
  Market m = MakeMarket("BTC-USD");
  m.AdvanceTo(kStart + kMicrosPerHour);
  int trimmed_times = 0, whole_seconds_or_fewer_digits = 0, buys = 0, sells = 0;
  for (int64_t id = m.first_trade_id(); id <= m.last_trade_id(); ++id) {
    const MarketTrade& t = m.trade(id);
    const std::string json = m.TradeJson(id);
    const std::string expected =
        "{\"trade_id\":" + std::to_string(id) + ",\"side\":\"" +
        (t.side == Side::kBuy ? "buy" : "sell") + "\",\"size\":\"" + m.SizeText(t.size_units) +
        "\",\"price\":\"" + m.PriceText(t.price_ticks) + "\",\"time\":\"" +
        FormatRfc3339Trimmed(t.time) + "\"}";
    ASSERT_EQ(json, expected);
    const std::string time = Field(json, "time");
    Result<TimestampMicros> parsed = ParseRfc3339(time);
    ASSERT_TRUE(parsed.ok()) << time;
    ASSERT_EQ(*parsed, t.time);
    // "2024-05-01T12:00:44.123456Z" is 27 characters; trimmed times are shorter.
    if (time.size() < 27) ++trimmed_times;
    if (time.size() < 26) ++whole_seconds_or_fewer_digits;
    (t.side == Side::kBuy ? buys : sells) += 1;
  }
  EXPECT_GT(trimmed_times, 0);
  EXPECT_GT(whole_seconds_or_fewer_digits, 0);
  EXPECT_GT(buys, 0);
  EXPECT_GT(sells, 0);
}

TEST(Market, FormatsTimesAcrossMidnightAndBefore1970LikeTheTimeLibrary) {
  for (TimestampMicros start : {kStart + 12 * kMicrosPerHour - 2 * kMicrosPerSecond,
                                TimestampMicros{-kMicrosPerSecond}}) {
    Market m = MakeMarket("DOGE-EUR", 3, 50, start);
    m.AdvanceTo(start + 4 * kMicrosPerSecond);
    ASSERT_GT(m.size(), 100u);
    for (int64_t id = m.first_trade_id(); id <= m.last_trade_id(); ++id) {
      const std::string json = m.TradeJson(id);
      ASSERT_EQ(Field(json, "time"), FormatRfc3339Trimmed(m.trade(id).time)) << json;
    }
  }
}

TEST(Market, MakerSideFollowsThePriceMove) {
  Market m = MakeMarket("BTC-USD");
  m.AdvanceTo(kStart + kMicrosPerHour);
  for (int64_t id = m.first_trade_id() + 1; id <= m.last_trade_id(); ++id) {
    const MarketTrade& prev = m.trade(id - 1);
    const MarketTrade& t = m.trade(id);
    if (t.price_ticks > prev.price_ticks) {
      ASSERT_EQ(t.side, Side::kSell) << id;
    } else if (t.price_ticks < prev.price_ticks) {
      ASSERT_EQ(t.side, Side::kBuy) << id;
    }
  }
}

TEST(Market, FindsTradesByTime) {
  Market m = MakeMarket("SOL-USD");
  m.AdvanceTo(kStart + kMicrosPerHour);
  const TimestampMicros mid = kStart + kMicrosPerHour / 2;
  const int64_t id = m.FirstIdAtOrAfter(mid);
  ASSERT_GT(id, m.first_trade_id());
  ASSERT_LE(id, m.last_trade_id());
  EXPECT_GE(m.trade(id).time, mid);
  EXPECT_LT(m.trade(id - 1).time, mid);
  EXPECT_EQ(m.FirstIdAtOrAfter(kStart), m.first_trade_id());
  EXPECT_EQ(m.FirstIdAtOrAfter(kStart + kMicrosPerDay), m.last_trade_id() + 1);
}

TEST(Market, HoldsMillionsOfTradesPerProduct) {
  Market m = MakeMarket("BTC-USD", 42, 1000);
  m.AdvanceTo(kStart + 2100 * kMicrosPerSecond);
  EXPECT_GE(m.size(), 2'000'000u);
  EXPECT_EQ(m.last_trade_id() - m.first_trade_id() + 1, static_cast<int64_t>(m.size()));
}

}  // namespace
}  // namespace tradelake
