// Decimal: an exact base-10 number, unscaled integer x 10^-scale.
//
// Prices and sizes never become floating point in tradelake. Parse() accepts
// what exchanges publish: optional '-', digits, optional '.' and digits
// ("0.00012345", "96500.01", "1.50", "12", "-3.5"). It rejects empty input,
// exponents, '+', spaces, more than one '.', a '.' without digits on both
// sides ("1." and ".5" are rejected: write "1" and "0.5"), more than 38
// significant digits and more than 38 fractional digits, each with an
// InvalidArgument message quoting the input. Leading zeros are accepted and
// dropped ("007.5" -> "7.5"); "-0" parses as zero.
// The scale is kept as written ("1.50" has scale 2) so that ToString()
// round-trips the text exactly; Compare() and operator== compare values
// (1.5 == 1.50). Arithmetic is exact or fails with InvalidArgument on overflow.
// Values are immutable; all functions are thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tradelake {

class Decimal {
 public:
  static constexpr int kMaxDigits = 38;  // DuckDB's and Parquet's widest DECIMAL

  Decimal() = default;
  Decimal(__int128 unscaled, int scale) : unscaled_(unscaled), scale_(scale) {}

  static Result<Decimal> Parse(std::string_view text);

  __int128 unscaled() const { return unscaled_; }
  int scale() const { return scale_; }
  bool is_positive() const { return unscaled_ > 0; }
  bool is_negative() const { return unscaled_ < 0; }
  bool is_zero() const { return unscaled_ == 0; }

  // Number of significant digits of the unscaled value (at least 1).
  int digits() const;

  // Same value at another scale (0-38). Fails with InvalidArgument if that
  // would drop a non-zero digit (never rounds) or exceed kMaxDigits.
  Result<Decimal> Rescale(int new_scale) const;

  // Text with exactly scale() fractional digits, as parsed.
  std::string ToString() const;

  // Exact arithmetic; fails with InvalidArgument on overflow of 38 digits.
  // Add's result has scale max(a.scale(), b.scale()), or less when only so
  // does the exact sum fit in 38 digits (trailing zeros dropped); Multiply's has
  // a.scale() + b.scale() (as SQL DECIMAL does) and fails if that exceeds 38.
  static Result<Decimal> Add(const Decimal& a, const Decimal& b);
  static Result<Decimal> Multiply(const Decimal& a, const Decimal& b);

  // Value comparison (scale-independent).
  std::strong_ordering Compare(const Decimal& other) const;
  friend bool operator==(const Decimal& a, const Decimal& b) { return a.Compare(b) == 0; }
  friend std::strong_ordering operator<=>(const Decimal& a, const Decimal& b) {
    return a.Compare(b);
  }

 private:
  __int128 unscaled_ = 0;
  int scale_ = 0;
};

// Text of a signed 128-bit integer.
std::string Int128ToString(__int128 v);
// Text of an unsigned 128-bit integer (e.g. the magnitude of INT128_MIN).
std::string UInt128ToString(unsigned __int128 v);

}  // namespace tradelake
