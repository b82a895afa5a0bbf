// Time: RFC 3339 timestamps as microseconds since the Unix epoch (UTC).
//
// Coinbase trims trailing zeros from the fraction ("...:44.39Z", "...:30.2Z",
// "...:05Z"); the parser accepts 0-9 fractional digits, "Z"/"z" or a numeric
// offset (+hh:mm / -hh:mm), and rejects anything else with a message quoting
// the input. Digits beyond the sixth are truncated toward the past (floor),
// which is exact for every timestamp Coinbase has published (they carry at
// most 6 digits). All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tradelake {

// Microseconds since 1970-01-01T00:00:00Z.
using TimestampMicros = int64_t;

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr int64_t kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

// "2024-01-02T03:04:05.39Z" -> micros. Years 0001-9999. Fails with
// InvalidArgument naming the input and what is wrong with it.
Result<TimestampMicros> ParseRfc3339(std::string_view text);

// Always 6 fractional digits: "2024-01-02T03:04:05.390000Z".
std::string FormatRfc3339Micros(TimestampMicros t);

// Coinbase's style: fraction with trailing zeros trimmed, none if zero:
// "2024-01-02T03:04:05.39Z", "2024-01-02T03:04:05Z".
std::string FormatRfc3339Trimmed(TimestampMicros t);

// UTC calendar date of t: "2024-01-02".
std::string FormatDate(TimestampMicros t);

// Days since the epoch, floor (negative before 1970).
int64_t DayNumber(TimestampMicros t);

// "500ms", "90s", "15m", "6h", "2d", "1w" -> micros. Fails with InvalidArgument.
Result<int64_t> ParseDuration(std::string_view text);

// A point in time given on a command line: an RFC 3339 timestamp, a date
// "YYYY-MM-DD" (midnight UTC), or a duration meaning "that long before now"
// ("6h" -> now - 6h).
Result<TimestampMicros> ParseTimeOrAgo(std::string_view text, TimestampMicros now);

// Wall clock, UTC.
TimestampMicros NowMicros();

}  // namespace tradelake
