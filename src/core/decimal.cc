#include "core/decimal.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/text.h"

namespace tradelake {
namespace {

using u128 = unsigned __int128;

constexpr int kMaxScale = Decimal::kMaxDigits;

// 10^n for n in [0, 38]; 10^39 does not fit in 128 bits.
constexpr u128 Pow10(int n) {
  u128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// Largest magnitude with kMaxDigits digits: 10^38 - 1.
constexpr u128 kMaxMagnitude = Pow10(Decimal::kMaxDigits) - 1;

// |v| without overflow for the most negative value.
u128 Magnitude(__int128 v) { return v < 0 ? u128{0} - static_cast<u128>(v) : static_cast<u128>(v); }

// REQUIRES: m <= kMaxMagnitude, so the result fits in __int128 either way.
__int128 FromMagnitude(u128 m, bool negative) {
  const auto s = static_cast<__int128>(m);
  return negative ? -s : s;
}

// m * 10^n, or false if that does not fit in 128 bits.
bool ScaleUp(u128 m, int n, u128* out) {
  if (m == 0) {
    *out = 0;
    return true;
  }
  if (n > kMaxScale) return false;  // m * 10^39 >= 2^128
  return !__builtin_mul_overflow(m, Pow10(n), out);
}

std::string MagnitudeToString(u128 m) {
  char buf[40];
  char* end = buf + sizeof(buf);
  char* p = end;
  do {
    *--p = static_cast<char>('0' + static_cast<int>(m % 10));
    m /= 10;
  } while (m != 0);
  return std::string(p, end);
}


bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Status ParseError(std::string_view text, std::string_view why) {
  return InvalidArgument(fmt::format("invalid decimal {}: {}", QuoteForMessage(text), why));
}

std::string Describe(const Decimal& d) { return d.ToString(); }

}  // namespace

Result<Decimal> Decimal::Parse(std::string_view text) {
  if (text.empty()) return ParseError(text, "empty input");
  size_t pos = 0;
  const bool negative = text[0] == '-';
  if (negative) ++pos;
  if (text[0] == '+') return ParseError(text, "a leading '+' is not allowed");

  // Validate the shape first so the message names the actual problem.
  size_t dot = std::string_view::npos;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (IsDigit(c)) continue;
    if (c == '.') {
      if (dot != std::string_view::npos) return ParseError(text, "more than one '.'");
      dot = i;
      continue;
    }
    if (c == 'e' || c == 'E') {
      return ParseError(text, "exponent notation is not allowed; write all digits");
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return ParseError(text, "whitespace is not allowed");
    }
    if (c == '+' || c == '-') {
      return ParseError(text, fmt::format("unexpected sign '{}' at position {}", c, i));
    }
    return ParseError(text, fmt::format("unexpected character {} at position {}",
                                        QuoteForMessage(text.substr(i, 1)), i));
  }
  const size_t int_end = dot == std::string_view::npos ? text.size() : dot;
  if (int_end == pos && dot == std::string_view::npos) return ParseError(text, "no digits");
  if (dot != std::string_view::npos && (int_end == pos || dot + 1 == text.size())) {
    return ParseError(text,
                      "'.' needs digits on both sides (write \"0.5\", not \".5\"; \"1\", not \"1.\")");
  }

  const size_t frac_digits = dot == std::string_view::npos ? 0 : text.size() - dot - 1;
  if (frac_digits > static_cast<size_t>(kMaxScale)) {
    return ParseError(text, fmt::format("{} fractional digits; at most {} are supported",
                                        frac_digits, kMaxScale));
  }

  u128 m = 0;
  int significant = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    if (i == dot) continue;
    const int digit = text[i] - '0';
    if (significant > 0 || digit != 0) ++significant;
    if (significant > kMaxDigits) {
      return ParseError(text, fmt::format("more than {} significant digits", kMaxDigits));
    }
    m = m * 10 + static_cast<u128>(digit);
  }
  return Decimal(FromMagnitude(m, negative), static_cast<int>(frac_digits));
}

int Decimal::digits() const {
  u128 m = Magnitude(unscaled_);
  int n = 1;
  while (m >= 10) {
    m /= 10;
    ++n;
  }
  return n;
}

Result<Decimal> Decimal::Rescale(int new_scale) const {
  if (new_scale < 0 || new_scale > kMaxScale) {
    return InvalidArgument(fmt::format("cannot rescale {} to scale {}: scale must be 0-{}",
                                       Describe(*this), new_scale, kMaxScale));
  }
  const u128 m = Magnitude(unscaled_);
  if (new_scale >= scale_) {
    u128 scaled = 0;
    if (!ScaleUp(m, new_scale - scale_, &scaled) || scaled > kMaxMagnitude) {
      return InvalidArgument(fmt::format("cannot rescale {} to scale {}: more than {} digits",
                                         Describe(*this), new_scale, kMaxDigits));
    }
    return Decimal(FromMagnitude(scaled, is_negative()), new_scale);
  }
  const int drop = scale_ - new_scale;
  // Any non-zero 128-bit magnitude is below 10^39, so dropping 39+ digits loses it.
  if (m != 0 && (drop > kMaxScale || m % Pow10(drop) != 0)) {
    return InvalidArgument(fmt::format(
        "cannot rescale {} to scale {}: that would drop non-zero digits (rescaling never rounds)",
        Describe(*this), new_scale));
  }
  const u128 reduced = m == 0 ? 0 : m / Pow10(drop);
  if (reduced > kMaxMagnitude) {
    return InvalidArgument(fmt::format("cannot rescale {} to scale {}: more than {} digits",
                                       Describe(*this), new_scale, kMaxDigits));
  }
  return Decimal(FromMagnitude(reduced, is_negative()), new_scale);
}

std::string Decimal::ToString() const {
  std::string digits_text = MagnitudeToString(Magnitude(unscaled_));
  std::string out = is_negative() ? "-" : "";
  if (scale_ <= 0) {
    out += digits_text;
    if (unscaled_ != 0) out.append(static_cast<size_t>(-scale_), '0');
    return out;
  }
  const auto scale = static_cast<size_t>(scale_);
  if (digits_text.size() <= scale) digits_text.insert(0, scale + 1 - digits_text.size(), '0');
  out.append(digits_text, 0, digits_text.size() - scale);
  out += '.';
  out.append(digits_text, digits_text.size() - scale);
  return out;
}

Result<Decimal> Decimal::Add(const Decimal& a, const Decimal& b) {
  const int scale = std::max(a.scale_, b.scale_);
  auto overflow = [&] {
    return InvalidArgument(fmt::format("decimal overflow: {} + {} needs more than {} digits",
                                       Describe(a), Describe(b), kMaxDigits));
  };
  if (scale > kMaxScale) return overflow();
  // Work on magnitudes in unsigned 128 bits: the aligned operands may exceed
  // __int128 even when their difference fits in 38 digits.
  u128 ma = 0, mb = 0;
  if (!ScaleUp(Magnitude(a.unscaled_), scale - a.scale_, &ma) ||
      !ScaleUp(Magnitude(b.unscaled_), scale - b.scale_, &mb)) {
    // One aligned operand is >= 2^128 while the other is < 2^128, so
    // |sum| > 2^127 > 10^38 whatever the signs.
    return overflow();
  }
  u128 m = 0;
  bool negative = false;
  if (a.is_negative() == b.is_negative()) {
    if (__builtin_add_overflow(ma, mb, &m)) return overflow();
    negative = a.is_negative();
  } else if (ma >= mb) {
    m = ma - mb;
    negative = a.is_negative();
  } else {
    m = mb - ma;
    negative = b.is_negative();
  }
  // An exact sum with trailing fractional zeros may fit at a smaller scale
  // (10 + -0.03 + 0.03 at scale 37 needs 39 digits; 10 needs 2): drop them.
  int result_scale = scale;
  while (m > kMaxMagnitude && result_scale > 0 && m % 10 == 0) {
    m /= 10;
    --result_scale;
  }
  if (m > kMaxMagnitude) return overflow();
  return Decimal(FromMagnitude(m, negative && m != 0), result_scale);
}

Result<Decimal> Decimal::Multiply(const Decimal& a, const Decimal& b) {
  const int scale = a.scale_ + b.scale_;
  if (scale > kMaxScale || scale < 0) {
    return InvalidArgument(fmt::format(
        "decimal overflow: {} * {} needs scale {}; at most {} is supported", Describe(a),
        Describe(b), scale, kMaxScale));
  }
  u128 m = 0;
  if (__builtin_mul_overflow(Magnitude(a.unscaled_), Magnitude(b.unscaled_), &m) ||
      m > kMaxMagnitude) {
    return InvalidArgument(fmt::format("decimal overflow: {} * {} needs more than {} digits",
                                       Describe(a), Describe(b), kMaxDigits));
  }
  const bool negative = a.is_negative() != b.is_negative();
  return Decimal(FromMagnitude(m, negative && m != 0), scale);
}

std::strong_ordering Decimal::Compare(const Decimal& other) const {
  const int sign_a = is_negative() ? -1 : (is_zero() ? 0 : 1);
  const int sign_b = other.is_negative() ? -1 : (other.is_zero() ? 0 : 1);
  if (sign_a != sign_b) return sign_a <=> sign_b;
  if (sign_a == 0) return std::strong_ordering::equal;

  // Same non-zero sign: compare magnitudes aligned to the larger scale. If
  // aligning one overflows 128 bits, that one is the larger magnitude.
  u128 ma = Magnitude(unscaled_);
  u128 mb = Magnitude(other.unscaled_);
  std::strong_ordering by_magnitude = std::strong_ordering::equal;
  if (scale_ < other.scale_) {
    by_magnitude = ScaleUp(ma, other.scale_ - scale_, &ma) ? ma <=> mb : std::strong_ordering::greater;
  } else if (scale_ > other.scale_) {
    by_magnitude = ScaleUp(mb, scale_ - other.scale_, &mb) ? ma <=> mb : std::strong_ordering::less;
  } else {
    by_magnitude = ma <=> mb;
  }
  if (sign_a > 0) return by_magnitude;
  return 0 <=> by_magnitude;  // both negative: the larger magnitude is the smaller value
}

std::string Int128ToString(__int128 v) {
  std::string out = MagnitudeToString(Magnitude(v));
  if (v < 0) out.insert(out.begin(), '-');
  return out;
}

std::string UInt128ToString(unsigned __int128 v) { return MagnitudeToString(v); }

}  // namespace tradelake
