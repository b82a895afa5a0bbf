// Dec18: exact DECIMAL(38,18) values (rows.h) as text and in arithmetic.
//
// A Dec18 is an unscaled __int128: value = unscaled / 10^18, and a valid one
// has at most 38 digits (|unscaled| <= 10^38 - 1, so at most 20 integer
// digits). Every function here is exact or fails with InvalidArgument; the
// only rounding is in the divisions, which say so. All functions are pure and
// thread-safe; Dec18Sum is a value type (not synchronized).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/status.h"
#include "etl/rows.h"

namespace tradelake {

// 10^18, the unscaled value of 1.
inline constexpr Dec18 kDec18One = static_cast<Dec18>(1'000'000'000'000'000'000LL);
// 10^38 - 1, the largest unscaled magnitude with 38 digits.
inline constexpr Dec18 kDec18Max = kDec18One * kDec18One * 100 - 1;

// True when |v| <= kDec18Max.
constexpr bool Dec18Fits(Dec18 v) { return v <= kDec18Max && v >= -kDec18Max; }

// Canonical text: the shortest exact form, trailing fractional zeros trimmed
// and no '.' for whole numbers: "65000.01", "0.00000001", "12", "0", "-1.5".
// Dec18FromString(Dec18ToString(v)) == v for every v with Dec18Fits(v).
std::string Dec18ToString(Dec18 v);

// Parses a plain decimal (Decimal::Parse syntax: optional '-', digits, optional
// '.' and digits) exactly. Trailing fractional zeros are ignored however many
// there are ("1.500000000000000000000" == 1.5). InvalidArgument, quoting the
// text, when it is not a plain decimal or its value needs more than 18
// fractional digits or more than 20 integer digits; never rounds.
Result<Dec18> Dec18FromString(std::string_view text);

// Decimal::Parse of `text` after dropping trailing fractional zeros (so the
// scale is the number of significant fractional digits, and any number of
// trailing zeros is accepted). Errors as Decimal::Parse.
Result<Decimal> ParseDecimalTrimmed(std::string_view text);

// `d` at scale 18 exactly; InvalidArgument if that would round or exceed 38 digits.
Result<Dec18> Dec18FromDecimal(const Decimal& d);

// a + b; false (and *out untouched) when the sum does not fit 38 digits.
// REQUIRES: Dec18Fits(a) && Dec18Fits(b).
bool Dec18Add(Dec18 a, Dec18 b, Dec18* out);

// The exact product a * b at scale 18. Fails with InvalidArgument when the
// true product needs more than 18 fractional digits (it is never rounded) or
// more than 20 integer digits. Operands may have any scale 0-38 (e.g. the
// prices and sizes as parsed, which makes the common case cheaper).
Result<Dec18> MultiplyToDec18(const Decimal& a, const Decimal& b);

// The same for two Dec18 values: a * b / 10^18, exact or InvalidArgument.
Result<Dec18> Dec18Multiply(Dec18 a, Dec18 b);

// a / b rounded to 18 fractional digits, half away from zero. InvalidArgument
// when b == 0 or the quotient exceeds 38 digits.
Result<Dec18> Dec18Divide(Dec18 a, Dec18 b);

// An exact running sum of Dec18 values that cannot overflow (256-bit two's
// complement; up to 2^63 terms), for sums that are divided afterwards (a mean
// can fit although the sum of its terms does not) or checked once at the end.
class Dec18Sum {
 public:
  // REQUIRES: Dec18Fits(v); at most 2^63 calls.
  void Add(Dec18 v);

  // The sum, or InvalidArgument if it exceeds 38 digits.
  Result<Dec18> Value() const;

  // sum / n rounded to 18 fractional digits, half away from zero (the mean of
  // n terms). InvalidArgument when n <= 0 or the quotient exceeds 38 digits.
  Result<Dec18> DivideByCount(int64_t n) const;

  // sum / divisor rounded the same way. InvalidArgument when divisor == 0 or
  // the quotient exceeds 38 digits. REQUIRES: Dec18Fits(divisor).
  Result<Dec18> DivideBy(Dec18 divisor) const;

 private:
  uint64_t limb_[4] = {0, 0, 0, 0};  // little-endian, two's complement
};

}  // namespace tradelake
