#include "core/decimal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tradelake {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Decimal D(std::string_view text) {
  Result<Decimal> r = Decimal::Parse(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.value_or(Decimal());
}

std::string RejectionOf(std::string_view text) {
  Result<Decimal> r = Decimal::Parse(text);
  EXPECT_FALSE(r.ok()) << "accepted \"" << text << "\" as " << r.value_or(Decimal()).ToString();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// 10^n as __int128, for building expectations independently of the parser.
__int128 Pow10(int n) {
  __int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

TEST(DecimalParse, KeepsExchangeTextExactly) {
  for (std::string_view s : {"0.00000001", "96500.01", "1.50", "12", "-3.5", "0", "0.0",
                             "12345678901.123456789012", "0.00012345", "-0.10"}) {
    EXPECT_EQ(D(s).ToString(), s);
  }
}

TEST(DecimalParse, StoresUnscaledValueAndScaleAsWritten) {
  const Decimal price = D("96500.01");
  EXPECT_EQ(price.unscaled(), 9650001);
  EXPECT_EQ(price.scale(), 2);
  const Decimal size = D("0.00000001");
  EXPECT_EQ(size.unscaled(), 1);
  EXPECT_EQ(size.scale(), 8);
  EXPECT_EQ(size.digits(), 1);
  EXPECT_TRUE(size.is_positive());
  EXPECT_TRUE(D("-3.5").is_negative());
  EXPECT_TRUE(D("0.000").is_zero());
}

TEST(DecimalParse, DropsLeadingZerosAndTheSignOfZero) {
  EXPECT_EQ(D("007.50").ToString(), "7.50");
  EXPECT_EQ(D("-0").ToString(), "0");
  EXPECT_EQ(D("-0.00").ToString(), "0.00");
  EXPECT_FALSE(D("-0").is_negative());
}

TEST(DecimalParse, AcceptsThirtyEightDigitsAndNoMore) {
  const std::string max38(38, '9');
  EXPECT_EQ(D(max38).unscaled(), Pow10(38) - 1);
  EXPECT_EQ(D(max38).digits(), 38);
  EXPECT_EQ(D("-" + max38).ToString(), "-" + max38);
  EXPECT_EQ(D("123456789012345678.12345678901234567890").digits(), 38);
  // Leading zeros are not significant.
  EXPECT_EQ(D("000" + max38).ToString(), max38);
  EXPECT_THAT(RejectionOf(std::string(39, '1')), HasSubstr("more than 38 significant digits"));
  EXPECT_THAT(RejectionOf("1234567890123456789.12345678901234567890"), HasSubstr("38"));
  EXPECT_THAT(RejectionOf("0." + std::string(38, '0') + "1"), HasSubstr("fractional digits"));
}

TEST(DecimalParse, RejectsNonExchangeSyntaxWithTheReason) {
  EXPECT_THAT(RejectionOf(""), HasSubstr("empty"));
  EXPECT_THAT(RejectionOf("-"), HasSubstr("no digits"));
  EXPECT_THAT(RejectionOf("1e5"), AllOf(HasSubstr("\"1e5\""), HasSubstr("exponent")));
  EXPECT_THAT(RejectionOf("1.5E-3"), HasSubstr("exponent"));
  EXPECT_THAT(RejectionOf("+1"), HasSubstr("'+'"));
  EXPECT_THAT(RejectionOf(" 1"), HasSubstr("whitespace"));
  EXPECT_THAT(RejectionOf("1 "), HasSubstr("whitespace"));
  EXPECT_THAT(RejectionOf("1.2.3"), HasSubstr("more than one '.'"));
  EXPECT_THAT(RejectionOf("1."), HasSubstr("digits on both sides"));
  EXPECT_THAT(RejectionOf(".5"), HasSubstr("digits on both sides"));
  EXPECT_THAT(RejectionOf("-.5"), HasSubstr("digits on both sides"));
  EXPECT_THAT(RejectionOf("."), HasSubstr("digits on both sides"));
  EXPECT_THAT(RejectionOf("--1"), HasSubstr("sign"));
  EXPECT_THAT(RejectionOf("1-"), HasSubstr("sign"));
  EXPECT_THAT(RejectionOf("1,000"), HasSubstr("unexpected character \",\""));
  EXPECT_THAT(RejectionOf("NaN"), HasSubstr("unexpected character"));
  EXPECT_THAT(RejectionOf("0x10"), HasSubstr("unexpected character"));
}

TEST(DecimalCompare, ComparesValuesNotText) {
  EXPECT_EQ(D("1.5"), D("1.50"));
  EXPECT_EQ(D("0"), D("-0.000"));
  EXPECT_LT(D("96500.01"), D("96500.1"));
  EXPECT_LT(D("-2"), D("-1.99999999"));
  EXPECT_GT(D("0.00000001"), D("0"));
  EXPECT_LT(D("-0.00000001"), D("0"));
}

TEST(DecimalCompare, DoesNotOverflowAcrossExtremeScales) {
  // Aligning 38 nines at scale 0 to scale 38 needs 76 digits.
  const Decimal big = D(std::string(38, '9'));
  const Decimal tiny = D("0." + std::string(37, '0') + "1");
  EXPECT_GT(big, tiny);
  EXPECT_LT(tiny, big);
  EXPECT_LT(-big.unscaled(), tiny.unscaled());
  EXPECT_LT(Decimal(-big.unscaled(), 0), Decimal(-tiny.unscaled(), 38));
  EXPECT_GT(Decimal(-tiny.unscaled(), 38), Decimal(-big.unscaled(), 0));
  EXPECT_EQ(Decimal(1, 0), Decimal(Pow10(38), 38));
}

TEST(DecimalRescale, AddsZerosAndRemovesOnlyZeros) {
  EXPECT_EQ(D("1.5").Rescale(8)->ToString(), "1.50000000");
  EXPECT_EQ(D("1.50000000").Rescale(1)->ToString(), "1.5");
  EXPECT_EQ(D("-96500.00").Rescale(0)->ToString(), "-96500");
  EXPECT_EQ(D("0.000").Rescale(0)->ToString(), "0");
}

TEST(DecimalRescale, NeverRounds) {
  Result<Decimal> r = D("1.55").Rescale(1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), AllOf(HasSubstr("1.55"), HasSubstr("never rounds")));
}

TEST(DecimalRescale, RejectsMoreThanThirtyEightDigitsOrBadScales) {
  EXPECT_FALSE(D("123456789012345678901").Rescale(18).ok());  // 39 digits
  EXPECT_TRUE(D("12345678901234567890").Rescale(18).ok());    // 38 digits
  EXPECT_FALSE(D("1").Rescale(-1).ok());
  EXPECT_FALSE(D("1").Rescale(39).ok());
}

TEST(DecimalAdd, IsExactAtTheLargerScale) {
  Result<Decimal> sum = Decimal::Add(D("96500.01"), D("0.00000001"));
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->ToString(), "96500.01000001");
  EXPECT_EQ(Decimal::Add(D("1.50"), D("-1.5"))->ToString(), "0.00");
  EXPECT_EQ(Decimal::Add(D("-2"), D("0.5"))->ToString(), "-1.5");
  EXPECT_EQ(Decimal::Add(D("0.1"), D("0.2"))->ToString(), "0.3");
}

TEST(DecimalAdd, FailsOnOverflowButNotOnCancellation) {
  const std::string max38(38, '9');
  Result<Decimal> over = Decimal::Add(D(max38), D("1"));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(over.status().message(), HasSubstr("overflow"));
  EXPECT_FALSE(Decimal::Add(D("-" + max38), D("-1")).ok());
  // 1 - 10^-38 needs exactly 38 digits even though 1 aligned to scale 38 needs 39.
  Result<Decimal> just = Decimal::Add(D("1"), Decimal(-1, 38));
  ASSERT_TRUE(just.ok()) << just.status().ToString();
  EXPECT_EQ(just->ToString(), "0." + std::string(38, '9'));
}

TEST(DecimalMultiply, IsExactWithSummedScale) {
  // price x size = quote notional.
  Result<Decimal> notional = Decimal::Multiply(D("96500.01"), D("0.00012345"));
  ASSERT_TRUE(notional.ok());
  EXPECT_EQ(notional->ToString(), "11.9129262345");
  EXPECT_EQ(Decimal::Multiply(D("-1.50"), D("2"))->ToString(), "-3.00");
  EXPECT_EQ(Decimal::Multiply(D("-1.5"), D("0"))->ToString(), "0.0");
}

TEST(DecimalMultiply, FailsOnOverflow) {
  EXPECT_FALSE(Decimal::Multiply(D("10000000000000000000"), D("10000000000000000000")).ok());
  EXPECT_FALSE(Decimal::Multiply(D(std::string(38, '9')), D(std::string(38, '9'))).ok());
  Result<Decimal> too_fine = Decimal::Multiply(D("0." + std::string(20, '1')), D("0." + std::string(20, '1')));
  ASSERT_FALSE(too_fine.ok());
  EXPECT_THAT(too_fine.status().message(), HasSubstr("scale 40"));
  EXPECT_TRUE(Decimal::Multiply(D("1000000000000000000"), D("99999999999999999999")).ok());
}

TEST(Int128ToString, PrintsTheFullRange) {
  EXPECT_EQ(Int128ToString(0), "0");
  EXPECT_EQ(Int128ToString(-42), "-42");
  const __int128 max = static_cast<__int128>((static_cast<unsigned __int128>(1) << 127) - 1);
  EXPECT_EQ(Int128ToString(max), "170141183460469231731687303715884105727");
  EXPECT_EQ(Int128ToString(-max - 1), "-170141183460469231731687303715884105728");
}

}  // namespace
namespace {
// Found by decimal_fuzz in CI: a + b fitted, but (a + b) - b at the common
// scale needed 39 digits although the exact value, 10, needs 2.
TEST(DecimalFuzzFinding, AnExactSumDropsTrailingZerosRatherThanOverflow) {
  auto a = Decimal::Parse("10");
  auto b = Decimal::Parse("-0.0312333333331234333333333333335390033");
  ASSERT_TRUE(a.ok() && b.ok());
  auto sum = Decimal::Add(*a, *b);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  auto back = Decimal::Add(*sum, Decimal(-b->unscaled(), b->scale()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, *a);
  EXPECT_LT(back->scale(), 37);
  // Still an overflow when the sum needs 39 digits at scale 0.
  EXPECT_FALSE(Decimal::Add(*Decimal::Parse("99999999999999999999999999999999999999"), *Decimal::Parse("1")).ok());
  // 9999999999999999999999999999999999999.9 + 0.1 = 10^37: fits once its zero goes.
  auto whole = Decimal::Add(*Decimal::Parse("9999999999999999999999999999999999999.9"), *Decimal::Parse("0.1"));
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->ToString(), "10000000000000000000000000000000000000");
}
}  // namespace
}  // namespace tradelake
