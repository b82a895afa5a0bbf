#include "etl/dec18.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tradelake {
namespace {

using ::testing::HasSubstr;

Dec18 D(std::string_view text) {
  Result<Dec18> r = Dec18FromString(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.value_or(0);
}

std::string RejectionOf(std::string_view text) {
  Result<Dec18> r = Dec18FromString(text);
  EXPECT_FALSE(r.ok()) << "accepted \"" << text << "\"";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// --- an independent reference: non-negative integers as decimal digit strings ---

std::string Strip(std::string s) {
  const size_t nz = s.find_first_not_of('0');
  return nz == std::string::npos ? "0" : s.substr(nz);
}

std::string MulStr(const std::string& a, const std::string& b) {
  std::vector<int> acc(a.size() + b.size(), 0);
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) acc[i + j + 1] += (a[i] - '0') * (b[j] - '0');
  }
  for (size_t k = acc.size(); k-- > 1;) {
    acc[k - 1] += acc[k] / 10;
    acc[k] %= 10;
  }
  std::string out;
  for (int d : acc) out += static_cast<char>('0' + d);
  return Strip(out);
}

TEST(Dec18Text, IsTheShortestExactForm) {
  EXPECT_EQ(Dec18ToString(0), "0");
  EXPECT_EQ(Dec18ToString(kDec18One), "1");
  EXPECT_EQ(Dec18ToString(1), "0.000000000000000001");
  EXPECT_EQ(Dec18ToString(-kDec18One * 3 / 2), "-1.5");
  EXPECT_EQ(Dec18ToString(D("65000.010000")), "65000.01");
  EXPECT_EQ(Dec18ToString(kDec18Max), "99999999999999999999.999999999999999999");
  EXPECT_EQ(Dec18ToString(-kDec18Max), "-99999999999999999999.999999999999999999");
}

TEST(Dec18Text, RoundTripsRandomValues) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    const auto hi = static_cast<unsigned __int128>(rng()) << 64;
    Dec18 v = static_cast<Dec18>((hi | rng()) % static_cast<unsigned __int128>(kDec18Max + 1));
    v >>= static_cast<int>(rng() % 120);  // all magnitudes, not only 38-digit ones
    if (rng() % 2 == 0) v = -v;
    const std::string text = Dec18ToString(v);
    ASSERT_EQ(D(text), v) << text;
    ASSERT_TRUE(text.find('.') == std::string::npos || text.back() != '0') << text;
  }
}

TEST(Dec18Parse, AcceptsAnyNumberOfTrailingZeros) {
  EXPECT_EQ(D("1.500000000000000000000"), kDec18One * 3 / 2);
  EXPECT_EQ(D("1." + std::string(60, '0')), kDec18One);
  EXPECT_EQ(D("0.000000000000000001000"), 1);
  EXPECT_EQ(D("-0.000"), 0);
  EXPECT_EQ(D("007.5"), kDec18One * 75 / 10);
}

TEST(Dec18Parse, RejectsWhatWouldHaveToBeRounded) {
  EXPECT_THAT(RejectionOf("1.0000000000000000001"), HasSubstr("more than 18 fractional digits"));
  EXPECT_THAT(RejectionOf("0.0000000000000000005"), HasSubstr("more than 18 fractional digits"));
}

TEST(Dec18Parse, AllowsTwentyIntegerDigitsAndNoMore) {
  EXPECT_EQ(D("99999999999999999999.999999999999999999"), kDec18Max);
  EXPECT_EQ(D("-99999999999999999999"), -(kDec18Max / kDec18One) * kDec18One);
  EXPECT_THAT(RejectionOf("100000000000000000000"), HasSubstr("more than 20 integer digits"));
  EXPECT_THAT(RejectionOf(std::string(40, '9')), HasSubstr("invalid decimal"));
}

TEST(Dec18Parse, RejectsWhatIsNotAPlainDecimal) {
  for (std::string_view bad : {"", "1.", ".5", "1e5", "+1", " 1", "1 ", "0x10", "1.0.0", "-",
                               "1.0e0", "NaN", "1,5", "--1", "-.0", "1.00a"}) {
    RejectionOf(bad);
  }
}

TEST(Dec18Multiply, IsExactAtScale18) {
  EXPECT_EQ(Dec18Multiply(D("65000.01"), D("0.5")).value_or(-1), D("32500.005"));
  EXPECT_EQ(Dec18Multiply(D("0.000000001"), D("0.000000001")).value_or(-1), 1);
  EXPECT_EQ(Dec18Multiply(D("-2"), D("3.25")).value_or(-1), D("-6.5"));
  EXPECT_EQ(Dec18Multiply(D("0"), D("99999999999999999999")).value_or(-1), 0);
  // 2^18 * 5^18 = 10^18: exact although neither factor ends in a zero.
  EXPECT_EQ(Dec18Multiply(D("0.000000000000262144"), D("0.000003814697265625")).value_or(-1), 1);
}

TEST(Dec18Multiply, RefusesToRoundOrOverflow) {
  Result<Dec18> fine = Dec18Multiply(D("0.0000000001"), D("0.000000001"));
  ASSERT_FALSE(fine.ok());
  EXPECT_THAT(fine.status().message(), HasSubstr("more than 18 fractional digits"));
  Result<Dec18> big = Dec18Multiply(D("10000000000000000000"), D("10000000000000000000"));
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("more than 20 integer digits"));
  Result<Dec18> huge = Dec18Multiply(kDec18Max, kDec18Max);
  EXPECT_FALSE(huge.ok());
}

TEST(Dec18Multiply, MatchesSchoolbookMultiplicationOnRandomOperands) {
  std::mt19937_64 rng(7);
  auto random_decimal = [&](int int_digits, int frac_digits) {
    std::string s;
    for (int i = 0; i < int_digits; ++i) s += static_cast<char>('0' + rng() % 10);
    if (s.empty()) s = "0";
    if (frac_digits > 0) {
      s += '.';
      for (int i = 0; i < frac_digits; ++i) s += static_cast<char>('0' + rng() % 10);
    }
    return s;
  };
  int exact = 0, inexact = 0, too_big = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string a =
        random_decimal(static_cast<int>(rng() % 21), static_cast<int>(rng() % 19));
    const std::string b =
        random_decimal(static_cast<int>(rng() % 21), static_cast<int>(rng() % 19));
    // Both at scale 18 as digit strings: the true product has scale 36.
    auto unscaled = [](const std::string& s) {
      const size_t dot = s.find('.');
      std::string digits = s;
      size_t frac = 0;
      if (dot != std::string::npos) {
        digits.erase(dot, 1);
        frac = s.size() - dot - 1;
      }
      return Strip(digits + std::string(18 - frac, '0'));
    };
    const std::string p = MulStr(unscaled(a), unscaled(b));
    Result<Decimal> da = Decimal::Parse(a), db = Decimal::Parse(b);
    ASSERT_TRUE(da.ok() && db.ok());
    // Both entry points: as parsed (small scales) and at scale 18.
    Result<Dec18> r1 = MultiplyToDec18(*da, *db);
    Result<Dec18> r2 = Dec18Multiply(D(a), D(b));
    ASSERT_EQ(r1.ok(), r2.ok()) << a << " * " << b;
    const bool divisible =
        p == "0" || (p.size() > 18 && p.substr(p.size() - 18) == std::string(18, '0'));
    if (!divisible) {
      ASSERT_FALSE(r1.ok()) << a << " * " << b;
      ++inexact;
      continue;
    }
    const std::string q = p == "0" ? "0" : p.substr(0, p.size() - 18);
    if (q.size() > 38) {
      ASSERT_FALSE(r1.ok()) << a << " * " << b;
      ++too_big;
      continue;
    }
    ASSERT_TRUE(r1.ok()) << a << " * " << b << ": " << r1.status().ToString();
    ASSERT_EQ(Int128ToString(*r1), q) << a << " * " << b;
    ASSERT_EQ(*r2, *r1);
    ++exact;
  }
  // The generator must exercise every outcome.
  EXPECT_GT(exact, 1000);
  EXPECT_GT(inexact, 1000);
  EXPECT_GT(too_big, 1000);
}

TEST(Dec18Divide, RoundsHalfAwayFromZero) {
  EXPECT_EQ(Dec18Divide(D("1"), D("3")).value_or(-1), D("0.333333333333333333"));
  EXPECT_EQ(Dec18Divide(D("2"), D("3")).value_or(-1), D("0.666666666666666667"));
  EXPECT_EQ(Dec18Divide(D("-2"), D("3")).value_or(-1), D("-0.666666666666666667"));
  EXPECT_EQ(Dec18Divide(D("0.000000000000000001"), D("2")).value_or(-1), 1);    // 0.5e-18 -> 1e-18
  EXPECT_EQ(Dec18Divide(D("-0.000000000000000001"), D("2")).value_or(-1), -1);  // away from zero
  EXPECT_EQ(Dec18Divide(D("0.000000000000000001"), D("3")).value_or(-1), 0);
  EXPECT_EQ(Dec18Divide(D("1"), D("-0.000000000000000004")).value_or(-1), D("-250000000000000000"));
  EXPECT_EQ(Dec18Divide(kDec18Max, kDec18Max).value_or(-1), kDec18One);
  EXPECT_EQ(Dec18Divide(kDec18Max, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Dec18Divide(D("1"), 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(Dec18Sum, NeverWrapsAndCanTakeTheMeanOfAnOverlongSum) {
  Dec18Sum s;
  for (int i = 0; i < 1000; ++i) s.Add(kDec18Max);
  EXPECT_FALSE(s.Value().ok());
  EXPECT_EQ(s.DivideByCount(1000).value_or(-1), kDec18Max);
  Dec18Sum back = s;
  for (int i = 0; i < 1000; ++i) back.Add(-kDec18Max);
  EXPECT_EQ(back.Value().value_or(-1), 0);
  for (int i = 0; i < 1000; ++i) back.Add(-kDec18Max);
  EXPECT_FALSE(back.Value().ok());
  EXPECT_EQ(back.DivideByCount(1000).value_or(-1), -kDec18Max);
  EXPECT_FALSE(back.DivideByCount(0).ok());
  Dec18Sum small;
  small.Add(D("1.5"));
  small.Add(D("-4"));
  EXPECT_EQ(small.Value().value_or(-1), D("-2.5"));
  EXPECT_EQ(small.DivideByCount(2).value_or(-1), D("-1.25"));
  EXPECT_EQ(small.DivideBy(D("0.5")).value_or(-1), D("-5"));
}

}  // namespace
}  // namespace tradelake
