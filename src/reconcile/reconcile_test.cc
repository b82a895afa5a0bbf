#include "reconcile/reconcile.h"

#include <gtest/gtest.h>

#include "etl/dec18.h"

namespace tradelake {
namespace {

Dec18 D(std::string_view s) { return *Dec18FromString(s); }

TEST(CandleDecimal, ReadsJsonNumberTextExactly) {
  EXPECT_EQ(*CandleDecimal("37000.01"), D("37000.01"));
  EXPECT_EQ(*CandleDecimal("0"), 0);
  EXPECT_EQ(*CandleDecimal("-0.5"), D("-0.5"));
  EXPECT_EQ(*CandleDecimal("12"), D("12"));
  EXPECT_EQ(*CandleDecimal("1e-05"), D("0.00001"));
  EXPECT_EQ(*CandleDecimal("1.5E+3"), D("1500"));
  EXPECT_EQ(*CandleDecimal("2.50000000000000000000000"), D("2.5"));  // zeros beyond 18 digits are exact
  EXPECT_EQ(*CandleDecimal("123456789.123456789012345678"), D("123456789.123456789012345678"));
  // A double would round this: 0.1 + 18 digits stays exact here.
  EXPECT_EQ(*CandleDecimal("0.100000000000000001"), D("0.100000000000000001"));
  EXPECT_EQ(*CandleDecimal("99999999999999999999"), D("99999999999999999999"));
}

TEST(CandleDecimal, RefusesWhatIsNotAnExactJsonNumber) {
  for (std::string_view bad : {"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x10", "1,5", "NaN", "1.5 ", "1..2"}) {
    auto r = CandleDecimal(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(CandleDecimal("0.0000000000000000001").ok());  // 19 fractional digits: would round
  EXPECT_FALSE(CandleDecimal("1e-19").ok());
  EXPECT_FALSE(CandleDecimal("100000000000000000000").ok());  // 21 integer digits
  EXPECT_FALSE(CandleDecimal("1e999999999").ok());
}

GoldBar Bar(int64_t first_id, int64_t last_id, int64_t count) {
  GoldBar b;
  b.product_id = "BTC-USD";
  b.open = D("100.5");
  b.high = D("101");
  b.low = D("100");
  b.close = D("100.25");
  b.total_volume = D("0.3");
  b.trade_count = count;
  b.first_trade_id = first_id;
  b.last_trade_id = last_id;
  return b;
}

Candle CandleOf(std::string low, std::string high, std::string open, std::string close, std::string volume) {
  Candle c;
  c.start = 60 * kMicrosPerSecond;
  c.raw = "[60," + low + "," + high + "," + open + "," + close + "," + volume + "]";
  c.low = std::move(low);
  c.high = std::move(high);
  c.open = std::move(open);
  c.close = std::move(close);
  c.volume = std::move(volume);
  return c;
}

TEST(CompareMinute, EqualValuesWrittenDifferentlyMatch) {
  const GoldBar bar = Bar(10, 12, 3);
  const Candle c = CandleOf("100", "101.00", "100.5", "100.25", "0.30000000");
  ReconRow row = CompareMinute("BTC-USD", 60 * kMicrosPerSecond, &bar, &c, "", 7);
  EXPECT_EQ(row.status, kReconMatch);
  EXPECT_EQ(row.gold, row.exchange);
  EXPECT_EQ(row.candle, c.raw);
  EXPECT_EQ(row.gold_trade_count, 3);
  EXPECT_EQ(row.reconciled_at, 7);
  EXPECT_EQ(row.detail, "");
}

TEST(CompareMinute, ADifferenceNamesEachFieldWithBothValues) {
  const GoldBar bar = Bar(10, 14, 3);  // ids 10..14 but 3 trades: 2 absent
  const Candle c = CandleOf("100", "101", "100.51", "100.25", "0.30000001");
  ReconRow row = CompareMinute("BTC-USD", 60 * kMicrosPerSecond, &bar, &c, "", 0);
  EXPECT_EQ(row.status, kReconDiffers);
  EXPECT_EQ(row.detail,
            "open gold 100.5 exchange 100.51; volume gold 0.3 exchange 0.30000001; 2 of trade ids 10..14 absent "
            "from Silver");
}

TEST(CompareMinute, OneSidedMinutes) {
  const GoldBar bar = Bar(10, 12, 3);
  const Candle c = CandleOf("1", "1", "1", "1", "1");
  ReconRow gold_only = CompareMinute("BTC-USD", 0, &bar, nullptr, "", 0);
  EXPECT_EQ(gold_only.status, kReconMissingOnExchange);
  EXPECT_TRUE(gold_only.gold.has_value());
  EXPECT_FALSE(gold_only.exchange.has_value());
  EXPECT_FALSE(gold_only.candle.has_value());
  ReconRow exchange_only = CompareMinute("BTC-USD", 0, nullptr, &c, "trade ids 13..20 (8) absent", 0);
  EXPECT_EQ(exchange_only.status, kReconMissingInGold);
  EXPECT_EQ(exchange_only.detail, "trade ids 13..20 (8) absent");
  EXPECT_FALSE(exchange_only.gold.has_value());
  EXPECT_EQ(exchange_only.exchange->volume, D("1"));
}

TEST(ParseCandles, KeepsTheNumbersTextAndTheRawCandle) {
  auto c = ParseCandles(R"([[1714521660, 64990.1, 65000, 64995.5, 64999.99, 1.23456789],
                            [1714521600,"64980.01","64990","64985","64989.5","0.5"]])");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].start, 1714521660 * kMicrosPerSecond);
  EXPECT_EQ((*c)[0].low, "64990.1");
  EXPECT_EQ((*c)[0].high, "65000");
  EXPECT_EQ((*c)[0].open, "64995.5");
  EXPECT_EQ((*c)[0].close, "64999.99");
  EXPECT_EQ((*c)[0].volume, "1.23456789");
  EXPECT_EQ((*c)[0].raw, "[1714521660, 64990.1, 65000, 64995.5, 64999.99, 1.23456789]");
  EXPECT_EQ((*c)[1].low, "64980.01");
  EXPECT_TRUE(ParseCandles("[]")->empty());
}

TEST(ParseCandles, RefusesOtherShapesAsRetryable) {
  for (const char* bad : {"", "[", "{}", "[[1,2,3,4,5]]", "[[1,2,3,4,5,6,7]]", "[[\"x\",1,2,3,4,5]]",
                          "[[1,2,3,4,5,null]]", "[[1.5,2,3,4,5,6]]", "[[-60,1,1,1,1,1]]", "[[60,1,1,1,1,1]] x",
                          "[1,2]", R"({"message":"NotFound"})"}) {
    auto r = ParseCandles(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << bad << ": " << r.status().ToString();
  }
}

}  // namespace
}  // namespace tradelake
