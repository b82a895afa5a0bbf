// Request parameters of the HTTP API (serve/api_server.h), parsed and
// checked with no HTTP types, so they are unit-tested and fuzzed
// (api_params_fuzz.cc) apart from the server.
//
// Every parser returns the value, or InvalidArgument naming the parameter,
// the bad value and what would be accepted (the server answers it as 400).
// All functions are pure and thread-safe; none reads the clock: callers pass
// `now`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

// The query parameters of one request, name -> value. When a name is given
// twice the first value counts (what httplib's get_param_value answers).
using QueryParams = std::map<std::string, std::string, std::less<>>;

// The instants the API accepts in from/to (and as "now"): 0001-01-01T00:00:00Z
// to 9999-12-31T00:00:00Z, inclusive. Both are multiples of every bar
// interval, so aligning a value in range up to an interval keeps it in range,
// and nothing computed from them overflows int64.
inline constexpr TimestampMicros kApiMinTime = -719162 * kMicrosPerDay;
inline constexpr TimestampMicros kApiMaxTime = 2932896 * kMicrosPerDay;

// A half-open time range [from, to).
struct TimeRange {
  TimestampMicros from = 0;
  TimestampMicros to = 0;
  bool operator==(const TimeRange&) const = default;
};

// A bar interval of /api/v1/bars and its limits.
struct BarInterval {
  std::string_view name;     // "1m", "1h", "1d"
  int64_t micros = 0;        // bar length; every period_start is a multiple of it
  int64_t default_span = 0;  // from = to - default_span when from is not given
  int64_t max_span = 0;      // the longest to - from accepted
};
inline constexpr BarInterval kBarIntervals[] = {
    {"1m", kMicrosPerMinute, kMicrosPerDay, 31 * kMicrosPerDay},
    {"1h", kMicrosPerHour, 7 * kMicrosPerDay, 1826 * kMicrosPerDay},
    {"1d", kMicrosPerDay, 365 * kMicrosPerDay, 36525 * kMicrosPerDay},
};
inline constexpr std::string_view kDefaultBarInterval = "1h";

// /api/v1/trades limits.
inline constexpr int64_t kDefaultTradesLimit = 100;
inline constexpr int64_t kMaxTradesLimit = 10'000;
inline constexpr int64_t kDefaultTradesSpan = kMicrosPerDay;
inline constexpr int64_t kMaxTradesSpan = 36525 * kMicrosPerDay;

// product=: required; an id ValidateProductId (core/text.h)
// accepts, so it is safe to put in SQL and paths as is.
Result<std::string> ParseProductParam(const QueryParams& params);

// interval=: one of kBarIntervals by name; "1h" when absent.
Result<BarInterval> ParseIntervalParam(const QueryParams& params);

// from=/to=: each RFC 3339, YYYY-MM-DD (midnight UTC) or a duration meaning
// "that long before now" (core/time.h ParseTimeOrAgo). Defaults: to = now,
// from = to - default_span (never before kApiMinTime). Fails unless
// kApiMinTime <= from < to <= kApiMaxTime and to - from <= max_span; the
// span message names `what` (e.g. "interval=1m") and the limit in days.
// REQUIRES: 0 < default_span, 0 < max_span.
Result<TimeRange> ParseRangeParams(const QueryParams& params, TimestampMicros now,
                                   int64_t default_span, int64_t max_span, std::string_view what);

// limit=: a whole number 1..kMaxTradesLimit; kDefaultTradesLimit when absent.
Result<int64_t> ParseLimitParam(const QueryParams& params);

// The smallest multiple of `interval` that is >= t (intervals count from the
// Unix epoch, as Gold's period_start does). REQUIRES: interval > 0 and
// kApiMinTime <= t <= kApiMaxTime (so nothing overflows).
TimestampMicros AlignUp(TimestampMicros t, int64_t interval);

// {AlignUp(r.from), AlignUp(r.to)}. For bars whose period_start is a
// multiple of `interval`, period_start in r and in the aligned range select
// exactly the same bars (see the .cc), so the aligned range is the cache key
// of a bars answer. The result may be empty (from == to) when r lies inside
// one interval. REQUIRES: as AlignUp, for both ends.
TimeRange AlignRangeUp(TimeRange r, int64_t interval);

// The shape of a /api/v1/bars answer: "rows" (the default: an array of bar
// objects) or "columnar" (one array per field).
enum class BarsFormat { kRows, kColumnar };

// format=: "rows" or "columnar"; kRows when absent.
Result<BarsFormat> ParseFormatParam(const QueryParams& params);

// GET /api/v1/bars parameters: product, interval, from/to with the
// interval's default and longest span, format (checked in that order; the
// first problem is the error).
struct BarsQuery {
  std::string product;
  BarInterval interval;
  TimeRange range;    // as asked for (echoed in the answer)
  TimeRange aligned;  // AlignRangeUp(range, interval.micros): what is queried and cached
  BarsFormat format = BarsFormat::kRows;
};
Result<BarsQuery> ParseBarsQuery(const QueryParams& params, TimestampMicros now);

// GET /api/v1/trades parameters: product, limit, from/to (default span one
// day, longest kMaxTradesSpan).
struct TradesQuery {
  std::string product;
  TimeRange range;
  int64_t limit = kDefaultTradesLimit;
};
Result<TradesQuery> ParseTradesQuery(const QueryParams& params, TimestampMicros now);

// The statement of a POST /api/v1/sql body: the body itself (text/plain),
// or the "sql" string member when the body is JSON (`content_type` contains
// application/json, or the body starts with '{' after white space). Fails if
// the JSON is invalid or has no string "sql", or if the statement is only
// white space and semicolons. The body size limit is the caller's (413).
Result<std::string> ParseSqlBody(std::string_view body, std::string_view content_type);

}  // namespace tradelake
