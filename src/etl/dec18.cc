#include "etl/dec18.h"

#include <fmt/format.h>

namespace tradelake {
namespace {

using u128 = unsigned __int128;

constexpr u128 kMaxMagnitude = static_cast<u128>(kDec18Max);
constexpr uint64_t kOne = 1'000'000'000'000'000'000ULL;

// 10^n for n in [0, 19], the powers of ten that fit in 64 bits.
constexpr uint64_t Pow10U64(int n) {
  uint64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

u128 Magnitude(__int128 v) { return v < 0 ? u128{0} - static_cast<u128>(v) : static_cast<u128>(v); }

// REQUIRES: m <= kMaxMagnitude.
Dec18 Signed(u128 m, bool negative) {
  const auto s = static_cast<Dec18>(m);
  return negative ? -s : s;
}

uint64_t Lo64(u128 v) { return static_cast<uint64_t>(v); }
uint64_t Hi64(u128 v) { return static_cast<uint64_t>(v >> 64); }

// An unsigned 256-bit integer, little-endian 64-bit limbs. Wide enough for
// the product of two 128-bit magnitudes and for any Dec18Sum times 10^18.
struct U256 {
  uint64_t w[4] = {0, 0, 0, 0};

  static U256 From(u128 v) {
    U256 r;
    r.w[0] = Lo64(v);
    r.w[1] = Hi64(v);
    return r;
  }
  bool FitsU128() const { return w[2] == 0 && w[3] == 0; }
  u128 Low128() const { return (static_cast<u128>(w[1]) << 64) | w[0]; }
  bool IsZero() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
  bool Bit(int i) const { return ((w[i / 64] >> (i % 64)) & 1) != 0; }
  void SetBit(int i) { w[i / 64] |= uint64_t{1} << (i % 64); }
  int HighestBit() const {  // -1 for zero
    for (int i = 3; i >= 0; --i) {
      if (w[i] != 0) return i * 64 + 63 - __builtin_clzll(w[i]);
    }
    return -1;
  }
};

// Full 128 x 128 -> 256-bit product.
U256 MulWide(u128 a, u128 b) {
  const u128 a0 = Lo64(a), a1 = Hi64(a), b0 = Lo64(b), b1 = Hi64(b);
  const u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  // Middle column: three 64-bit terms, whose sum needs at most 66 bits.
  const u128 mid = static_cast<u128>(Hi64(p00)) + Lo64(p01) + Lo64(p10);
  const u128 high = p11 + Hi64(p01) + Hi64(p10) + Hi64(mid);  // < 2^128: the product is < 2^256
  U256 r;
  r.w[0] = Lo64(p00);
  r.w[1] = Lo64(mid);
  r.w[2] = Lo64(high);
  r.w[3] = Hi64(high);
  return r;
}

// *n *= m; false on overflow of 256 bits (then *n is garbage).
bool MulSmall(U256* n, uint64_t m) {
  u128 carry = 0;
  for (uint64_t& limb : n->w) {
    const u128 cur = static_cast<u128>(limb) * m + carry;
    limb = Lo64(cur);
    carry = Hi64(cur);
  }
  return carry == 0;
}

// *n /= d, returns the remainder. REQUIRES: d != 0.
uint64_t DivSmall(U256* n, uint64_t d) {
  u128 rem = 0;
  for (int i = 3; i >= 0; --i) {
    // rem < d < 2^64, so the partial dividend fits in 128 bits.
    const u128 cur = (rem << 64) | n->w[i];
    n->w[i] = static_cast<uint64_t>(cur / d);
    rem = cur % d;
  }
  return static_cast<uint64_t>(rem);
}

// *n /= d, returns the remainder. REQUIRES: 0 < d < 2^127.
u128 DivWide(U256* n, u128 d) {
  if (Hi64(d) == 0) return DivSmall(n, Lo64(d));
  // Restoring binary long division. rem < d < 2^127 before each shift, so
  // (rem << 1) | bit never overflows.
  const U256 num = *n;
  U256 q;
  u128 rem = 0;
  for (int i = num.HighestBit(); i >= 0; --i) {
    rem = (rem << 1) | static_cast<u128>(num.Bit(i));
    if (rem >= d) {
      rem -= d;
      q.SetBit(i);
    }
  }
  *n = q;
  return rem;
}

// *n /= 10^k; false when that leaves a non-zero remainder.
bool DivExactPow10(U256* n, int k) {
  while (k > 0) {
    const int step = k > 19 ? 19 : k;
    if (DivSmall(n, Pow10U64(step)) != 0) return false;
    k -= step;
  }
  return true;
}

// round(num / d) half away from zero, with the given sign. `what` names the
// quotient in an error. REQUIRES: 0 < d < 2^127.
Result<Dec18> DivRound(U256 num, bool negative, u128 d, std::string_view what) {
  const u128 rem = DivWide(&num, d);
  if (rem >= d - rem) {  // 2 * rem >= d without overflowing
    for (uint64_t& limb : num.w) {
      if (++limb != 0) break;
    }
  }
  if (!num.FitsU128() || num.Low128() > kMaxMagnitude) {
    return InvalidArgument(fmt::format("{} exceeds 38 digits (DECIMAL(38,18))", what));
  }
  const u128 m = num.Low128();
  return Signed(m, negative && m != 0);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string Dec18ToString(Dec18 v) {
  std::string digits = UInt128ToString(Magnitude(v));
  if (digits.size() <= static_cast<size_t>(kSilverScale)) {
    digits.insert(0, static_cast<size_t>(kSilverScale) + 1 - digits.size(), '0');
  }
  const size_t int_len = digits.size() - static_cast<size_t>(kSilverScale);
  size_t end = digits.size();
  while (end > int_len && digits[end - 1] == '0') --end;
  std::string out = v < 0 ? "-" : "";
  out.append(digits, 0, int_len);
  if (end > int_len) {
    out += '.';
    out.append(digits, int_len, end - int_len);
  }
  return out;
}

Result<Decimal> ParseDecimalTrimmed(std::string_view text) {
  const size_t dot = text.find('.');
  // Trim only "<digit>.<digits>" so that whatever Decimal::Parse rejects stays rejected.
  if (dot != std::string_view::npos && dot > 0 && IsDigit(text[dot - 1]) && dot + 1 < text.size()) {
    bool all_digits = true;
    for (size_t i = dot + 1; i < text.size() && all_digits; ++i) all_digits = IsDigit(text[i]);
    if (all_digits) {
      size_t end = text.size();
      while (end > dot + 1 && text[end - 1] == '0') --end;
      if (end == dot + 1) end = dot;  // "1.000" -> "1"
      return Decimal::Parse(text.substr(0, end));
    }
  }
  return Decimal::Parse(text);
}

Result<Dec18> Dec18FromDecimal(const Decimal& d) {
  u128 m = Magnitude(d.unscaled());
  const int scale = d.scale();
  if (scale < 0 || scale > Decimal::kMaxDigits) {
    return InvalidArgument(fmt::format("decimal with scale {} is not supported (0-38)", scale));
  }
  if (scale > kSilverScale) {
    U256 n = U256::From(m);
    if (!DivExactPow10(&n, scale - kSilverScale)) {
      return InvalidArgument(fmt::format(
          "{} needs more than 18 fractional digits (DECIMAL(38,18) never rounds)", d.ToString()));
    }
    m = n.Low128();
  } else if (__builtin_mul_overflow(m, static_cast<u128>(Pow10U64(kSilverScale - scale)), &m)) {
    m = kMaxMagnitude + 1;
  }
  if (m > kMaxMagnitude) {
    return InvalidArgument(
        fmt::format("{} needs more than 20 integer digits (DECIMAL(38,18))", d.ToString()));
  }
  return Signed(m, d.is_negative());
}

Result<Dec18> Dec18FromString(std::string_view text) {
  Result<Decimal> d = ParseDecimalTrimmed(text);
  if (!d.ok()) return d.status();
  return Dec18FromDecimal(*d);
}

bool Dec18Add(Dec18 a, Dec18 b, Dec18* out) {
  // Both operands fit 38 digits, so the sum fits __int128 (|a + b| < 2 * 10^38 < 2^127).
  const Dec18 sum = a + b;
  if (!Dec18Fits(sum)) return false;
  *out = sum;
  return true;
}

Result<Dec18> MultiplyToDec18(const Decimal& a, const Decimal& b) {
  const int scale = a.scale() + b.scale();
  if (a.scale() < 0 || b.scale() < 0 || scale > 2 * Decimal::kMaxDigits) {
    return InvalidArgument("decimal scale out of range (0-38)");
  }
  const u128 ma = Magnitude(a.unscaled());
  const u128 mb = Magnitude(b.unscaled());
  const bool negative = a.is_negative() != b.is_negative();
  auto too_fine = [&] {
    return InvalidArgument(
        fmt::format("{} * {} needs more than 18 fractional digits (DECIMAL(38,18) never rounds)",
                    a.ToString(), b.ToString()));
  };
  auto too_big = [&] {
    return InvalidArgument(fmt::format("{} * {} needs more than 20 integer digits (DECIMAL(38,18))",
                                       a.ToString(), b.ToString()));
  };

  u128 m = 0;
  if (scale <= kSilverScale) {
    // The common case (exchange prices and sizes have few decimals): two
    // multiplications, no division. A product beyond 128 bits is beyond 38 digits.
    if (__builtin_mul_overflow(ma, mb, &m) ||
        __builtin_mul_overflow(m, static_cast<u128>(Pow10U64(kSilverScale - scale)), &m) ||
        m > kMaxMagnitude) {
      return too_big();
    }
    return Signed(m, negative && m != 0);
  }
  U256 p = MulWide(ma, mb);
  if (!DivExactPow10(&p, scale - kSilverScale)) return too_fine();
  if (!p.FitsU128() || p.Low128() > kMaxMagnitude) return too_big();
  m = p.Low128();
  return Signed(m, negative && m != 0);
}

Result<Dec18> Dec18Multiply(Dec18 a, Dec18 b) {
  return MultiplyToDec18(Decimal(a, kSilverScale), Decimal(b, kSilverScale));
}

Result<Dec18> Dec18Divide(Dec18 a, Dec18 b) {
  Dec18Sum s;
  s.Add(a);
  Result<Dec18> q = s.DivideBy(b);
  if (!q.ok()) {
    return q.status().WithContext(fmt::format("{} / {}", Dec18ToString(a), Dec18ToString(b)));
  }
  return q;
}

void Dec18Sum::Add(Dec18 v) {
  const uint64_t ext = v < 0 ? ~uint64_t{0} : 0;
  const uint64_t add[4] = {Lo64(static_cast<u128>(v)), Hi64(static_cast<u128>(v)), ext, ext};
  unsigned carry = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t s = 0;
    const unsigned c1 = __builtin_add_overflow(limb_[i], add[i], &s) ? 1U : 0U;
    const unsigned c2 = __builtin_add_overflow(s, static_cast<uint64_t>(carry), &s) ? 1U : 0U;
    limb_[i] = s;
    carry = c1 | c2;
  }
}

namespace {

// |sum| of a two's complement 256-bit value, and whether it was negative.
U256 SumMagnitude(const uint64_t (&limb)[4], bool* negative) {
  U256 r;
  for (int i = 0; i < 4; ++i) r.w[i] = limb[i];
  *negative = (limb[3] >> 63) != 0;
  if (*negative) {
    unsigned carry = 1;
    for (uint64_t& w : r.w) {
      w = ~w + carry;
      carry = (carry != 0 && w == 0) ? 1U : 0U;
    }
  }
  return r;
}

}  // namespace

Result<Dec18> Dec18Sum::Value() const {
  bool negative = false;
  const U256 m = SumMagnitude(limb_, &negative);
  if (!m.FitsU128() || m.Low128() > kMaxMagnitude) {
    return InvalidArgument("sum exceeds 38 digits (DECIMAL(38,18))");
  }
  return Signed(m.Low128(), negative);
}

Result<Dec18> Dec18Sum::DivideByCount(int64_t n) const {
  if (n <= 0) return InvalidArgument(fmt::format("cannot take the mean of {} values", n));
  bool negative = false;
  const U256 m = SumMagnitude(limb_, &negative);
  return DivRound(m, negative, static_cast<u128>(n), "mean");
}

Result<Dec18> Dec18Sum::DivideBy(Dec18 divisor) const {
  if (divisor == 0) return InvalidArgument("division by zero");
  bool negative = false;
  U256 m = SumMagnitude(limb_, &negative);
  // Both scale 18: (m / 10^18) / (d / 10^18) = m * 10^18 / d, at scale 18.
  // |sum| < 2^191, so m * 10^18 < 2^251: this cannot overflow.
  if (!MulSmall(&m, kOne)) return InvalidArgument("quotient exceeds 256 bits");
  return DivRound(m, negative != (divisor < 0), Magnitude(divisor), "quotient");
}

}  // namespace tradelake
