#include "core/time.h"

#include <chrono>
#include <limits>

#include <fmt/format.h>

#include "core/text.h"

namespace tradelake {
namespace {


bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly n ASCII digits at s[pos..pos+n); false if any is not a digit.
bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date. Counts in 400-year
// eras (146097 days each) with the year starting in March, so that the leap
// day is the last day of the shifted year and needs no special case.
constexpr int64_t DaysFromCivil(int64_t y, int m, int d) {
  if (m <= 2) --y;
  const int64_t era = FloorDiv(y, 400);
  const int64_t year_of_era = y - era * 400;                            // [0, 399]
  const int64_t month_from_march = m > 2 ? m - 3 : m + 9;               // [0, 11]
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;  // [0, 365]
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}
static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);

struct CivilDate {
  int64_t year;
  int month;
  int day;
};

// Inverse of DaysFromCivil.
CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const int64_t day_of_era = days - era * 146097;  // [0, 146096]
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

// First and last microsecond this module parses and formats symmetrically.
// constexpr, so that other translation units' static initializers may parse.
constexpr int64_t kMinParsedMicros = DaysFromCivil(1, 1, 1) * kMicrosPerDay;
constexpr int64_t kMaxParsedMicros = DaysFromCivil(10000, 1, 1) * kMicrosPerDay - 1;

// Parses "YYYY-MM-DD" at the start of s. On failure returns a reason (no
// input quoted); on success stores the day number.
std::string ParseDatePrefix(std::string_view s, int64_t* day_number) {
  int y = 0, m = 0, d = 0;
  if (!ReadDigits(s, 0, 4, &y) || s.size() < 5 || s[4] != '-' || !ReadDigits(s, 5, 2, &m) ||
      s.size() < 8 || s[7] != '-' || !ReadDigits(s, 8, 2, &d)) {
    return "expected a date YYYY-MM-DD at the start";
  }
  if (y < 1) return "year 0000 is out of range (0001-9999)";
  if (m < 1 || m > 12) return fmt::format("month {:02d} is out of range (01-12)", m);
  const int dim = DaysInMonth(y, m);
  if (d < 1 || d > dim) {
    return fmt::format("day {:02d} is out of range for {:04d}-{:02d} (01-{:02d})", d, y, m, dim);
  }
  *day_number = DaysFromCivil(y, m, d);
  return {};
}

// Returns a reason on failure, empty on success.
std::string ParseRfc3339Impl(std::string_view s, TimestampMicros* out) {
  if (s.empty()) return "empty input";
  int64_t days = 0;
  if (std::string reason = ParseDatePrefix(s, &days); !reason.empty()) return reason;
  if (s.size() == 10) return "missing time: expected 'T' and hh:mm:ss followed by 'Z' or an offset";
  if (s[10] == ' ') {
    return "date and time must be separated by 'T', not a space (RFC 3339 section 5.6)";
  }
  if (s[10] != 'T' && s[10] != 't') return "expected 'T' between the date and the time";

  int hh = 0, mi = 0, ss = 0;
  if (!ReadDigits(s, 11, 2, &hh) || s.size() < 14 || s[13] != ':' || !ReadDigits(s, 14, 2, &mi) ||
      s.size() < 17 || s[16] != ':' || !ReadDigits(s, 17, 2, &ss)) {
    return "expected a time hh:mm:ss after 'T'";
  }
  if (hh > 23) return fmt::format("hour {:02d} is out of range (00-23)", hh);
  if (mi > 59) return fmt::format("minute {:02d} is out of range (00-59)", mi);
  if (ss == 60) return "second 60 (a leap second) is not supported; seconds must be 00-59";
  if (ss > 59) return fmt::format("second {:02d} is out of range (00-59)", ss);

  size_t pos = 19;
  int64_t frac_micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t first = pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    const size_t n = pos - first;
    if (n == 0) return "'.' must be followed by 1-9 fractional digits";
    if (n > 9) return fmt::format("{} fractional digits; at most 9 are allowed", n);
    // Keep the first 6 digits (microseconds); later ones are dropped (floor).
    for (size_t i = 0; i < 6; ++i) {
      frac_micros = frac_micros * 10 + (i < n ? s[first + i] - '0' : 0);
    }
  }

  if (pos >= s.size()) return "missing time zone: end with 'Z' or an offset such as +00:00";
  int64_t offset_minutes = 0;
  const char z = s[pos];
  if (z == 'Z' || z == 'z') {
    ++pos;
  } else if (z == '+' || z == '-') {
    int oh = 0, om = 0;
    if (!ReadDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadDigits(s, pos + 4, 2, &om)) {
      return "expected a time zone offset as +hh:mm or -hh:mm";
    }
    if (oh > 23) return fmt::format("offset hour {:02d} is out of range (00-23)", oh);
    if (om > 59) return fmt::format("offset minute {:02d} is out of range (00-59)", om);
    offset_minutes = (z == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return "expected 'Z' or an offset such as +00:00 after the time";
  }
  if (pos != s.size()) {
    return fmt::format("unexpected characters {} after the time zone", QuoteForMessage(s.substr(pos)));
  }

  // Local time minus its offset is UTC.
  const int64_t t = days * kMicrosPerDay + hh * kMicrosPerHour + mi * kMicrosPerMinute +
                    ss * kMicrosPerSecond + frac_micros - offset_minutes * kMicrosPerMinute;
  // An offset can carry 0001-01-01 or 9999-12-31 across the range edge; such
  // an instant could not be formatted back into a parseable timestamp.
  if (t < kMinParsedMicros || t > kMaxParsedMicros) {
    return "the UTC instant falls outside years 0001-9999";
  }
  *out = t;
  return {};
}

struct Parts {
  CivilDate date;
  int hour, minute, second;
  int64_t micros;
};

Parts Split(TimestampMicros t) {
  const int64_t days = FloorDiv(t, kMicrosPerDay);
  // Not t - days * kMicrosPerDay: that product overflows near INT64_MIN.
  int64_t rem = t % kMicrosPerDay;
  if (rem < 0) rem += kMicrosPerDay;  // [0, kMicrosPerDay)
  Parts p{};
  p.date = CivilFromDays(days);
  p.hour = static_cast<int>(rem / kMicrosPerHour);
  rem %= kMicrosPerHour;
  p.minute = static_cast<int>(rem / kMicrosPerMinute);
  rem %= kMicrosPerMinute;
  p.second = static_cast<int>(rem / kMicrosPerSecond);
  p.micros = rem % kMicrosPerSecond;
  return p;
}

std::string FormatDateTime(const Parts& p) {
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", p.date.year, p.date.month,
                     p.date.day, p.hour, p.minute, p.second);
}

}  // namespace

Result<TimestampMicros> ParseRfc3339(std::string_view text) {
  TimestampMicros t = 0;
  std::string reason = ParseRfc3339Impl(text, &t);
  if (!reason.empty()) {
    return InvalidArgument(
        fmt::format("invalid RFC 3339 timestamp {}: {} (expected e.g. \"2024-05-01T12:00:05.39Z\")",
                    QuoteForMessage(text), reason));
  }
  return t;
}

std::string FormatRfc3339Micros(TimestampMicros t) {
  const Parts p = Split(t);
  return fmt::format("{}.{:06d}Z", FormatDateTime(p), p.micros);
}

std::string FormatRfc3339Trimmed(TimestampMicros t) {
  const Parts p = Split(t);
  std::string out = FormatDateTime(p);
  if (p.micros != 0) {
    std::string frac = fmt::format("{:06d}", p.micros);
    while (frac.back() == '0') frac.pop_back();
    out += '.';
    out += frac;
  }
  out += 'Z';
  return out;
}

std::string FormatDate(TimestampMicros t) {
  const CivilDate d = CivilFromDays(DayNumber(t));
  return fmt::format("{:04d}-{:02d}-{:02d}", d.year, d.month, d.day);
}

int64_t DayNumber(TimestampMicros t) { return FloorDiv(t, kMicrosPerDay); }

Result<int64_t> ParseDuration(std::string_view text) {
  auto fail = [&](std::string_view why) -> Status {
    return InvalidArgument(fmt::format(
        "invalid duration {}: {}; expected a whole number and a unit ms, s, m, h, d or w "
        "(e.g. \"500ms\", \"90s\", \"15m\", \"6h\", \"2d\", \"1w\")",
        QuoteForMessage(text), why));
  };
  size_t pos = 0;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  if (pos == 0) return fail(text.empty() ? "empty input" : "it does not start with a digit");
  const std::string_view unit = text.substr(pos);
  int64_t per_unit = 0;
  if (unit == "ms") {
    per_unit = 1000;
  } else if (unit == "s") {
    per_unit = kMicrosPerSecond;
  } else if (unit == "m") {
    per_unit = kMicrosPerMinute;
  } else if (unit == "h") {
    per_unit = kMicrosPerHour;
  } else if (unit == "d") {
    per_unit = kMicrosPerDay;
  } else if (unit == "w") {
    per_unit = 7 * kMicrosPerDay;
  } else {
    return fail(unit.empty() ? "missing unit" : "unknown unit");
  }
  const int64_t max_count = std::numeric_limits<int64_t>::max() / per_unit;
  int64_t count = 0;
  for (size_t i = 0; i < pos; ++i) {
    const int digit = text[i] - '0';
    if (count > (max_count - digit) / 10) return fail("too large");
    count = count * 10 + digit;
  }
  return count * per_unit;
}

Result<TimestampMicros> ParseTimeOrAgo(std::string_view text, TimestampMicros now) {
  if (text.size() == 10 && text[4] == '-') {
    int64_t days = 0;
    std::string reason = ParseDatePrefix(text, &days);
    if (!reason.empty()) {
      return InvalidArgument(fmt::format("invalid date {}: {}", QuoteForMessage(text), reason));
    }
    return days * kMicrosPerDay;
  }
  if (!text.empty() && IsDigit(text[0]) && text.size() > 10 && text[4] == '-') {
    return ParseRfc3339(text);
  }
  Result<int64_t> ago = ParseDuration(text);
  if (!ago.ok()) {
    return InvalidArgument(fmt::format(
        "invalid time {}: expected an RFC 3339 timestamp (\"2024-05-01T12:00:00Z\"), a date "
        "(\"2024-05-01\") or a duration meaning that long ago (\"6h\", \"2d\")",
        QuoteForMessage(text)));
  }
  if (now < std::numeric_limits<int64_t>::min() + *ago) {
    return InvalidArgument(fmt::format("invalid time {}: too far in the past", QuoteForMessage(text)));
  }
  return now - *ago;
}

TimestampMicros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tradelake
