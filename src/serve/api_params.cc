#include "serve/api_params.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/text.h"

namespace tradelake {
namespace {

const std::string* Find(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

std::optional<int64_t> ParseWholeNumber(std::string_view text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool InApiTimes(TimestampMicros t) { return kApiMinTime <= t && t <= kApiMaxTime; }

Status OutOfRange(std::string_view name, const std::string* text) {
  return InvalidArgument(
      fmt::format("parameter {}: {} is outside the times the API accepts ({} .. {})", name,
                  text != nullptr ? QuoteForMessage(*text) : std::string("now"),
                  FormatRfc3339Trimmed(kApiMinTime), FormatRfc3339Trimmed(kApiMaxTime)));
}

}  // namespace

Result<std::string> ParseProductParam(const QueryParams& params) {
  const std::string* product = Find(params, "product");
  if (product == nullptr) {
    return InvalidArgument(
        "missing parameter product (e.g. product=BTC-USD; GET /api/v1/products lists them)");
  }
  Status s = ValidateProductId(*product);
  if (!s.ok()) return InvalidArgument(fmt::format("parameter product: {}", s.message()));
  return *product;
}

Result<BarInterval> ParseIntervalParam(const QueryParams& params) {
  const std::string* text = Find(params, "interval");
  const std::string_view name = text != nullptr ? std::string_view(*text) : kDefaultBarInterval;
  for (const BarInterval& i : kBarIntervals) {
    if (i.name == name) return i;
  }
  return InvalidArgument(
      fmt::format("parameter interval: {} is not one of 1m, 1h, 1d", QuoteForMessage(name)));
}

Result<BarsFormat> ParseFormatParam(const QueryParams& params) {
  const std::string* text = Find(params, "format");
  if (text == nullptr || *text == "rows") return BarsFormat::kRows;
  if (*text == "columnar") return BarsFormat::kColumnar;
  return InvalidArgument(fmt::format("parameter format: {} is not rows or columnar", QuoteForMessage(*text)));
}

Result<TimeRange> ParseRangeParams(const QueryParams& params, TimestampMicros now,
                                   int64_t default_span, int64_t max_span, std::string_view what) {
  TimeRange r;
  const std::string* to = Find(params, "to");
  r.to = now;
  if (to != nullptr) {
    auto t = ParseTimeOrAgo(*to, now);
    if (!t.ok()) return t.status().WithContext("parameter to");
    r.to = *t;
  }
  if (!InApiTimes(r.to)) return OutOfRange("to", to);
  const std::string* from = Find(params, "from");
  // r.to >= kApiMinTime and default_span is at most a century, so no overflow.
  r.from = std::max(kApiMinTime, r.to - default_span);
  if (from != nullptr) {
    auto t = ParseTimeOrAgo(*from, now);
    if (!t.ok()) return t.status().WithContext("parameter from");
    r.from = *t;
    if (!InApiTimes(r.from)) return OutOfRange("from", from);
  }
  if (r.from >= r.to) {
    return InvalidArgument(fmt::format("empty time range: from {} is not before to {}",
                                       FormatRfc3339Trimmed(r.from), FormatRfc3339Trimmed(r.to)));
  }
  // Both ends are within kApiMinTime..kApiMaxTime, so the difference fits.
  if (r.to - r.from > max_span) {
    return InvalidArgument(
        fmt::format("time range {} .. {} is {:.1f} days; {} allows at most {} days per request: "
                    "narrow from/to{}",
                    FormatRfc3339Trimmed(r.from), FormatRfc3339Trimmed(r.to),
                    static_cast<double>(r.to - r.from) / static_cast<double>(kMicrosPerDay), what,
                    max_span / kMicrosPerDay,
                    what == "interval=1m" ? " or use interval=1h"
                                          : (what == "interval=1h" ? " or use interval=1d" : "")));
  }
  return r;
}

Result<int64_t> ParseLimitParam(const QueryParams& params) {
  const std::string* text = Find(params, "limit");
  if (text == nullptr) return kDefaultTradesLimit;
  auto limit = ParseWholeNumber(*text);
  if (!limit || *limit < 1 || *limit > kMaxTradesLimit) {
    return InvalidArgument(fmt::format("parameter limit: {} is not a whole number from 1 to {}",
                                       QuoteForMessage(*text), kMaxTradesLimit));
  }
  return *limit;
}

TimestampMicros AlignUp(TimestampMicros t, int64_t interval) {
  // C++ division truncates toward zero: for t < 0 the quotient times the
  // interval is already >= t, for t > 0 with a remainder it is one short.
  const int64_t q = t / interval;
  return q * interval + (t % interval > 0 ? interval : 0);
}

// Why the aligned range selects the same bars. Let I be the interval and p a
// bar's period_start, a multiple of I. ceil(x) is the smallest multiple of I
// that is >= x, so ceil(x) - I < x <= ceil(x).
//  - p >= from  <=>  p >= ceil(from): p is a multiple of I that is >= from,
//    so it is >= the smallest such multiple; and ceil(from) >= from.
//  - p < to  <=>  p < ceil(to): p < to <= ceil(to); conversely, p and
//    ceil(to) are both multiples of I, so p < ceil(to) means
//    p <= ceil(to) - I < to.
// So WHERE period_start >= from AND period_start < to returns the same rows
// with the aligned bounds, and requests differing only inside one interval
// share one cache entry.
TimeRange AlignRangeUp(TimeRange r, int64_t interval) {
  return {AlignUp(r.from, interval), AlignUp(r.to, interval)};
}

Result<BarsQuery> ParseBarsQuery(const QueryParams& params, TimestampMicros now) {
  BarsQuery q;
  ASSIGN_OR_RETURN(q.product, ParseProductParam(params));
  ASSIGN_OR_RETURN(q.interval, ParseIntervalParam(params));
  ASSIGN_OR_RETURN(q.range,
                   ParseRangeParams(params, now, q.interval.default_span, q.interval.max_span,
                                    fmt::format("interval={}", q.interval.name)));
  q.aligned = AlignRangeUp(q.range, q.interval.micros);
  ASSIGN_OR_RETURN(q.format, ParseFormatParam(params));
  return q;
}

Result<TradesQuery> ParseTradesQuery(const QueryParams& params, TimestampMicros now) {
  TradesQuery q;
  ASSIGN_OR_RETURN(q.product, ParseProductParam(params));
  ASSIGN_OR_RETURN(q.limit, ParseLimitParam(params));
  ASSIGN_OR_RETURN(q.range,
                   ParseRangeParams(params, now, kDefaultTradesSpan, kMaxTradesSpan, "trades"));
  return q;
}

Result<std::string> ParseSqlBody(std::string_view body, std::string_view content_type) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t start = body.find_first_not_of(kSpace);
  const bool json = content_type.find("application/json") != std::string_view::npos ||
                    (start != std::string_view::npos && body[start] == '{');
  std::string sql;
  if (json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view text;
    // parse(ptr, len) copies the body into a padded buffer of its own (and
    // must not be given the null data() of an empty view).
    if (body.empty() || parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc["sql"].get_string().get(text) != simdjson::SUCCESS) {
      return InvalidArgument("the body is not the SQL text nor JSON {\"sql\": \"...\"}");
    }
    sql = std::string(text);
  } else {
    sql = std::string(body);
  }
  if (sql.find_first_not_of(" \t\r\n;") == std::string::npos) {
    return InvalidArgument(
        "no SQL statement in the body; POST the statement (text/plain) or {\"sql\": \"...\"}");
  }
  return sql;
}

}  // namespace tradelake
