#include "etl/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/decimal.h"
#include "etl/dec18.h"

namespace tradelake {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kObject =
    "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/100-199.jsonl.zst";
constexpr TimestampMicros kIngestedAt = 1714567890123456;  // 2024-05-01T12:51:30.123456Z
constexpr TimestampMicros kNow = 1714568000000000;         // 2024-05-01T12:53:20Z

TradeContext Ctx() {
  return TradeContext{.product_id = "BTC-USD",
                      .date = "2024-05-01",
                      .request = "/products/BTC-USD/trades?limit=1000&after=5001",
                      .bronze_object = kObject,
                      .ingested_at = kIngestedAt,
                      .now = kNow};
}

Dec18 D(std::string_view text) {
  Result<Dec18> r = Dec18FromString(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.value_or(0);
}

SilverTrade Accept(std::string_view raw, const TradeContext& ctx = Ctx()) {
  ValidationOutcome out = ValidateTrade(raw, ctx);
  if (const auto* r = std::get_if<RejectedRecord>(&out)) {
    ADD_FAILURE() << "rejected " << raw << ": " << r->rule << ": " << r->detail;
    return {};
  }
  return std::get<SilverTrade>(out);
}

RejectedRecord Reject(std::string_view raw, const TradeContext& ctx = Ctx()) {
  ValidationOutcome out = ValidateTrade(raw, ctx);
  if (const auto* t = std::get_if<SilverTrade>(&out)) {
    ADD_FAILURE() << "accepted " << raw << " as trade " << t->trade_id;
    return {};
  }
  return std::get<RejectedRecord>(out);
}

// A Coinbase trade with one field replaced (by raw JSON text) or removed (nullopt).
std::string Trade(std::string_view field = "", std::optional<std::string_view> value = {}) {
  const std::pair<std::string_view, std::string_view> fields[] = {
      {"trade_id", "1234"},
      {"side", "\"buy\""},
      {"size", "\"0.00150000\""},
      {"price", "\"65000.01\""},
      {"time", "\"2024-05-01T12:50:44.39Z\""}};
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    std::string_view text = v;
    if (k == field) {
      if (!value) continue;
      text = *value;
    }
    if (out.size() > 1) out += ',';
    out += "\"" + std::string(k) + "\":" + std::string(text);
  }
  return out + "}";
}

TEST(Validate, TurnsACoinbaseTradeIntoASilverRow) {
  const std::string raw = Trade();
  const SilverTrade t = Accept(raw);
  EXPECT_EQ(t.product_id, "BTC-USD");
  EXPECT_EQ(t.trade_id, 1234);
  EXPECT_EQ(t.price, D("65000.01"));
  EXPECT_EQ(t.size, D("0.0015"));
  EXPECT_EQ(Dec18ToString(t.quote_notional), "97.500015");
  EXPECT_EQ(t.time, ParseRfc3339("2024-05-01T12:50:44.39Z").value_or(0));
  EXPECT_EQ(t.ingested_at, kIngestedAt);
  EXPECT_EQ(t.bronze_object, kObject);
}

TEST(Validate, KeepsTheMakerSideAsPublishedAndDerivesTheTakerSide) {
  const SilverTrade buy = Accept(Trade("side", "\"buy\""));
  EXPECT_EQ(buy.side, "buy");
  EXPECT_EQ(buy.taker_side, "sell");
  const SilverTrade sell = Accept(Trade("side", "\"sell\""));
  EXPECT_EQ(sell.side, "sell");
  EXPECT_EQ(sell.taker_side, "buy");
}

TEST(Validate, IgnoresFieldOrderWhitespaceAndFieldsItDoesNotKnow) {
  const SilverTrade t = Accept(
      " {\n \"time\" : \"2024-05-01T12:50:44Z\", \"price\":\"1\",\"size\":\"2\", \"side\":\"sell\","
      "\"trade_id\":7, \"product_id\":\"BTC-USD\", \"new_field\":[1,{\"price\":null}]} ");
  EXPECT_EQ(t.trade_id, 7);
  EXPECT_EQ(t.quote_notional, D("2"));
}

TEST(Validate, KeepsTheRejectedRecordByteForByteWithItsLineage) {
  const std::string raw = Trade("price", "\"-1\"") + "  ";
  const RejectedRecord r = Reject(raw);
  EXPECT_EQ(r.raw, raw);
  EXPECT_EQ(r.rule, dq_rule::kPriceNotPositive);
  EXPECT_EQ(r.product_id, "BTC-USD");
  EXPECT_EQ(r.date, "2024-05-01");
  EXPECT_EQ(r.trade_id, 1234);
  EXPECT_EQ(r.bronze_object, kObject);
  EXPECT_EQ(r.rejected_at, kNow);
}

TEST(Validate, RejectsWhatIsNotOneJsonObject) {
  for (std::string_view raw : {"", " ", "[]", "null", "\"x\"", "{", "{\"trade_id\":1", "{} {}",
                               "{\"a\":1,}", "{'trade_id':1}", "\xff\xfe"}) {
    const RejectedRecord r = Reject(raw);
    EXPECT_EQ(r.rule, dq_rule::kInvalidJson) << raw;
    EXPECT_EQ(r.raw, raw);
    EXPECT_FALSE(r.trade_id.has_value());
  }
}

TEST(Validate, RejectsARepeatedTradeFieldAsAmbiguous) {
  const RejectedRecord r = Reject(Trade("size", "\"1\",\"size\":\"2\""));
  EXPECT_EQ(r.rule, dq_rule::kInvalidJson);
  EXPECT_THAT(r.detail, HasSubstr("\"size\" appears more than once"));
  EXPECT_EQ(r.trade_id, 1234);
  const RejectedRecord id = Reject(Trade("trade_id", "1,\"trade_id\":2"));
  EXPECT_EQ(id.rule, dq_rule::kInvalidJson);
  EXPECT_FALSE(id.trade_id.has_value());
}

TEST(Validate, NamesTheMissingOrMistypedField) {
  for (std::string_view field : {"trade_id", "price", "size", "side", "time"}) {
    const RejectedRecord missing = Reject(Trade(field, std::nullopt));
    EXPECT_EQ(missing.rule, dq_rule::kMissingField);
    EXPECT_THAT(missing.detail, HasSubstr(std::string(field) + " is missing"));
    const RejectedRecord mistyped = Reject(Trade(field, "null"));
    EXPECT_EQ(mistyped.rule, dq_rule::kMissingField);
    EXPECT_THAT(mistyped.detail, HasSubstr(field));
    EXPECT_THAT(mistyped.detail, HasSubstr("null"));
  }
  EXPECT_EQ(Reject(Trade("price", "65000.01")).rule,
            dq_rule::kMissingField);  // a number, not a string
  EXPECT_EQ(Reject(Trade("trade_id", "\"1234\"")).rule, dq_rule::kMissingField);
  EXPECT_EQ(Reject(Trade("trade_id", "1.5")).rule, dq_rule::kMissingField);
  EXPECT_EQ(Reject(Trade("trade_id", "9223372036854775808")).rule, dq_rule::kMissingField);
  EXPECT_EQ(Accept(Trade("trade_id", "9223372036854775807")).trade_id, INT64_MAX);
}

TEST(Validate, CarriesTheTradeIdIntoLaterRejections) {
  EXPECT_EQ(Reject(Trade("side", std::nullopt)).trade_id, 1234);
  EXPECT_EQ(Reject(Trade("side", "\"BUY\"")).trade_id, 1234);
  EXPECT_FALSE(Reject(Trade("trade_id", "\"1234\"")).trade_id.has_value());
}

TEST(Validate, AcceptsTrailingZerosButNeverRounds) {
  EXPECT_EQ(Accept(Trade("price", "\"1.500000000000000000000\"")).price, D("1.5"));
  const std::string smallest =
      "{\"trade_id\":1,\"side\":\"buy\",\"price\":\"2\",\"time\":"
      "\"2024-05-01T12:50:44Z\",\"size\":\"0.000000000000000001\"}";
  EXPECT_EQ(Accept(smallest).size, 1);
  EXPECT_EQ(Accept(smallest).quote_notional, 2);
  const RejectedRecord r = Reject(Trade("price", "\"1.0000000000000000001\""));
  EXPECT_EQ(r.rule, dq_rule::kDecimalOutOfRange);
  EXPECT_THAT(r.detail, HasSubstr("price"));
  EXPECT_THAT(r.detail, HasSubstr("more than 18 fractional digits"));
  EXPECT_EQ(Reject(Trade("size", "\"0.0000000000000000001\"")).rule, dq_rule::kDecimalOutOfRange);
}

TEST(Validate, AllowsTwentyIntegerDigitsAndNoMore) {
  const std::string twenty = "\"" + std::string(20, '9') + "\"";
  const std::string twenty_one = "\"1" + std::string(20, '0') + "\"";
  // 65000.01 * 99999999999999999999 has 25 integer digits: the size fits, its notional does not.
  const RejectedRecord notional = Reject(Trade("size", twenty));
  EXPECT_EQ(notional.rule, dq_rule::kDecimalOutOfRange);
  EXPECT_THAT(notional.detail, HasSubstr("quote notional"));
  const std::string raw =
      "{\"trade_id\":1,\"side\":\"buy\",\"price\":\"0.000001\",\"time\":"
      "\"2024-05-01T12:50:44Z\",\"size\":" +
      twenty + "}";
  EXPECT_EQ(Accept(raw).size, D(std::string(20, '9')));
  const RejectedRecord r = Reject(Trade("size", twenty_one));
  EXPECT_EQ(r.rule, dq_rule::kDecimalOutOfRange);
  EXPECT_THAT(r.detail, HasSubstr("more than 20 integer digits"));
}

TEST(Validate, RejectsANotionalThatIsNotAnExactDecimal38_18) {
  // 0.0000000001 * 0.000000001 = 1e-19 needs 19 fractional digits.
  const std::string raw =
      "{\"trade_id\":1,\"side\":\"buy\",\"price\":\"0.0000000001\",\"size\":"
      "\"0.000000001\",\"time\":\"2024-05-01T12:50:44Z\"}";
  const RejectedRecord r = Reject(raw);
  EXPECT_EQ(r.rule, dq_rule::kDecimalOutOfRange);
  EXPECT_THAT(r.detail, HasSubstr("quote notional"));
  EXPECT_THAT(r.detail, HasSubstr("more than 18 fractional digits"));
  const std::string big =
      "{\"trade_id\":1,\"side\":\"buy\",\"price\":\"10000000000000000000\","
      "\"size\":\"10000000000000000000\",\"time\":\"2024-05-01T12:50:44Z\"}";
  const RejectedRecord b = Reject(big);
  EXPECT_EQ(b.rule, dq_rule::kDecimalOutOfRange);
  EXPECT_THAT(b.detail, HasSubstr("more than 20 integer digits"));
}

TEST(Validate, RejectsWhatIsNotAPlainDecimalString) {
  for (std::string_view bad : {"\"\"", "\"1e5\"", "\"0x10\"", "\" 1\"", "\"1.\"", "\".5\"",
                               "\"+1\"", "\"NaN\"", "\"1,5\"", "\"abc\""}) {
    const RejectedRecord r = Reject(Trade("size", bad));
    EXPECT_EQ(r.rule, dq_rule::kDecimalOutOfRange) << bad;
    EXPECT_THAT(r.detail, HasSubstr("size")) << bad;
  }
}

TEST(Validate, RejectsPricesAndSizesThatAreNotPositive) {
  for (std::string_view bad : {"\"0\"", "\"0.00000000\"", "\"-0\"", "\"-65000.01\""}) {
    EXPECT_EQ(Reject(Trade("price", bad)).rule, dq_rule::kPriceNotPositive) << bad;
    EXPECT_EQ(Reject(Trade("size", bad)).rule, dq_rule::kSizeNotPositive) << bad;
  }
}

TEST(Validate, AcceptsOnlyBuyOrSellExactly) {
  for (std::string_view bad : {"\"BUY\"", "\"Sell\"", "\"\"", "\"buy \"", "\"b\\u0075y\"x"}) {
    const RejectedRecord r = Reject(Trade("side", bad));
    EXPECT_TRUE(r.rule == dq_rule::kInvalidSide || r.rule == dq_rule::kInvalidJson) << bad;
  }
  EXPECT_EQ(Reject(Trade("side", "\"BUY\"")).rule, dq_rule::kInvalidSide);
  // An escaped "buy" is the same JSON string.
  EXPECT_EQ(Accept(Trade("side", "\"b\\u0075y\"")).side, "buy");
}

TEST(Validate, RejectsATimeThatIsNotRfc3339) {
  for (std::string_view bad : {"\"2024-05-01 12:50:44Z\"", "\"2024-05-01T12:50:44\"",
                               "\"1714567844\"", "\"2024-13-01T00:00:00Z\"", "\"\""}) {
    const RejectedRecord r = Reject(Trade("time", bad));
    EXPECT_EQ(r.rule, dq_rule::kInvalidTime) << bad;
    EXPECT_THAT(r.detail, HasSubstr("RFC 3339")) << bad;
  }
  EXPECT_EQ(Accept(Trade("time", "\"2024-05-01T14:50:44.39+02:00\"")).time,
            ParseRfc3339("2024-05-01T12:50:44.39Z").value_or(0));
}

TEST(Validate, AllowsFiveMinutesOfClockSkewAndNoMore) {
  auto at = [](TimestampMicros t) { return Trade("time", "\"" + FormatRfc3339Micros(t) + "\""); };
  EXPECT_EQ(Accept(at(kNow + kMaxFutureSkewMicros)).time, kNow + kMaxFutureSkewMicros);
  const RejectedRecord r = Reject(at(kNow + kMaxFutureSkewMicros + 1));
  EXPECT_EQ(r.rule, dq_rule::kFutureTime);
  EXPECT_THAT(r.detail, HasSubstr("after now"));
  Accept(at(kNow - 10 * kMicrosPerDay));  // old trades are fine (back-fill)
  TradeContext far = Ctx();
  far.now = INT64_MIN;  // a nonsense clock must not overflow the check
  EXPECT_EQ(Reject(Trade(), far).rule, dq_rule::kFutureTime);
}

TEST(Validate, RejectsATradeOfAnotherProduct) {
  TradeContext ctx = Ctx();
  ctx.request = "/products/ETH-USD/trades?limit=1000";
  RejectedRecord r = Reject(Trade(), ctx);
  EXPECT_EQ(r.rule, dq_rule::kProductMismatch);
  EXPECT_THAT(r.detail, HasSubstr("ETH-USD"));

  ctx.request = "/products/BTC-USDT/trades";
  EXPECT_EQ(Reject(Trade(), ctx).rule, dq_rule::kProductMismatch);
  ctx.request = "/products/BTC-USD/candles";
  EXPECT_EQ(Reject(Trade(), ctx).rule, dq_rule::kProductMismatch);

  ctx.request = "/products/BTC-USD/trades";
  Accept(Trade(), ctx);
  ctx.request = "";  // no request recorded: nothing to compare
  Accept(Trade(), ctx);

  const std::string with_product = Trade("trade_id", "1234,\"product_id\":\"ETH-USD\"");
  r = Reject(with_product);
  EXPECT_EQ(r.rule, dq_rule::kProductMismatch);
  EXPECT_THAT(r.detail, HasSubstr("product_id \"ETH-USD\""));
  EXPECT_EQ(Reject(Trade("trade_id", "1234,\"product_id\":7")).rule, dq_rule::kProductMismatch);
  Accept(Trade("trade_id", "1234,\"product_id\":\"BTC-USD\""));
}

TEST(Validate, ReadsTheProductOfATradesRequest) {
  EXPECT_EQ(ProductOfTradesRequest("/products/BTC-USD/trades?limit=1000&after=5001"), "BTC-USD");
  EXPECT_EQ(ProductOfTradesRequest("/products/BTC-USD/trades"), "BTC-USD");
  EXPECT_EQ(ProductOfTradesRequest("/products/BTC-USD/tradesX"), "");
  EXPECT_EQ(ProductOfTradesRequest("/products//trades"), "");
  EXPECT_EQ(ProductOfTradesRequest("/products/BTC-USD"), "");
  EXPECT_EQ(ProductOfTradesRequest("products/BTC-USD/trades"), "");
  EXPECT_EQ(ProductOfTradesRequest(""), "");
}

TEST(Validate, ChecksRulesInTheDocumentedOrder) {
  // A record breaking several rules reports the first one of kDqRules.
  const std::string raw =
      "{\"trade_id\":1,\"side\":\"x\",\"price\":\"-1\",\"size\":\"0\",\"time\":\"bad\"}";
  EXPECT_EQ(Reject(raw).rule, dq_rule::kPriceNotPositive);
  EXPECT_EQ(Reject(Trade("trade_id", "1,\"price\":\"x\"")).rule,
            dq_rule::kInvalidJson);  // price twice
  TradeContext other = Ctx();
  other.product_id = "ETH-USD";
  EXPECT_EQ(
      Reject("{\"trade_id\":1,\"side\":\"x\",\"price\":\"-1\",\"size\":\"x\",\"time\":\"\"}", other)
          .rule,
      dq_rule::kProductMismatch);
  EXPECT_EQ(Reject("{\"trade_id\":1,\"side\":\"x\",\"price\":\"-1\",\"time\":\"\"}", other).rule,
            dq_rule::kMissingField);
  std::set<std::string_view> names;
  for (const DqRuleInfo& rule : kDqRules) {
    EXPECT_FALSE(rule.description.empty());
    names.insert(rule.name);
  }
  EXPECT_EQ(names.size(), kDqRules.size());
}

TEST(Validate, ComputesExactNotionalsForRandomPricesAndSizes) {
  std::mt19937_64 rng(1);
  auto digits = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
    return s;
  };
  int accepted = 0;
  TradeValidator validator;
  for (int i = 0; i < 20000; ++i) {
    const std::string price =
        digits(1 + static_cast<int>(rng() % 8)) + "." + digits(1 + static_cast<int>(rng() % 10));
    const std::string size =
        digits(1 + static_cast<int>(rng() % 6)) + "." + digits(1 + static_cast<int>(rng() % 12));
    const std::string raw = "{\"trade_id\":" + std::to_string(i) +
                            ",\"side\":\"sell\",\"size\":\"" + size + "\",\"price\":\"" + price +
                            "\",\"time\":\"2024-05-01T12:00:00Z\"}";
    ValidationOutcome out = validator.Validate(raw, Ctx());
    // Reference: Decimal's own exact multiplication at scale p+s, then rescaled.
    const Decimal p = Decimal::Parse(price).value();
    const Decimal s = Decimal::Parse(size).value();
    const Decimal product = Decimal::Multiply(p, s).value();
    Result<Decimal> at18 = product.Rescale(18);
    if (p.is_zero() || s.is_zero()) {
      ASSERT_TRUE(std::holds_alternative<RejectedRecord>(out)) << raw;
      continue;
    }
    if (!at18.ok()) {
      ASSERT_TRUE(std::holds_alternative<RejectedRecord>(out)) << raw;
      EXPECT_EQ(std::get<RejectedRecord>(out).rule, dq_rule::kDecimalOutOfRange);
      continue;
    }
    ASSERT_TRUE(std::holds_alternative<SilverTrade>(out))
        << raw << ": " << std::get<RejectedRecord>(out).detail;
    const SilverTrade& t = std::get<SilverTrade>(out);
    ASSERT_EQ(t.quote_notional, at18->unscaled()) << raw;
    ASSERT_EQ(t.price, p.Rescale(18)->unscaled());
    ASSERT_EQ(t.size, s.Rescale(18)->unscaled());
    ++accepted;
  }
  EXPECT_GT(accepted, 10000);
}

TEST(Validate, ValidateTradeIsSafeFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([k, &ok] {
      for (int i = 0; i < 2000; ++i) {
        const std::string raw = Trade("trade_id", std::to_string(k * 10000 + i));
        ValidationOutcome out = ValidateTrade(raw, Ctx());
        if (const auto* t = std::get_if<SilverTrade>(&out); t && t->trade_id == k * 10000 + i)
          ++ok[static_cast<size_t>(k)];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n : ok) EXPECT_EQ(n, 2000);
}

}  // namespace
}  // namespace tradelake
