// libFuzzer target: HTTP query parameters and bodies come from anyone who
// can reach the server, so every parser in serve/api_params.h must return a
// value or a clean InvalidArgument for any input, never crash or overflow,
// and what it accepts must hold the documented invariants: from < to inside
// the API's times, the span within the maximum, limits in 1..10,000, aligned
// bounds multiples of the interval, >= the input and less than one interval
// above it, selecting exactly the bars the given range selects.
//
// Input layout: byte 0 picks "now" and the content type; the rest, up to
// the first empty line, is "name=value" lines (the query parameters, first
// value of a name wins); everything after the empty line is the body.
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "core/text.h"
#include "serve/api_params.h"

namespace {

using namespace tradelake;

void Check(bool ok) {
  if (!ok) std::abort();
}

template <typename V>
void CheckError(const Result<V>& r) {
  if (r.ok()) return;
  Check(r.status().code() == StatusCode::kInvalidArgument);
  Check(!r.status().message().empty());
}

void CheckRange(const TimeRange& r, int64_t max_span) {
  Check(kApiMinTime <= r.from && r.from < r.to && r.to <= kApiMaxTime);
  Check(r.to - r.from <= max_span);
}

void CheckAligned(const TimeRange& given, const TimeRange& aligned, int64_t interval) {
  for (auto [t, a] : {std::pair{given.from, aligned.from}, std::pair{given.to, aligned.to}}) {
    Check(a % interval == 0);
    Check(a >= t && a - t < interval);
    Check(a <= kApiMaxTime);
  }
  Check(aligned.from <= aligned.to);
  // Bar starts around both ends are in the given range exactly when they are
  // in the aligned one (the cache-key claim of api_params.cc).
  for (TimestampMicros edge : {aligned.from, aligned.to}) {
    for (int64_t k = -2; k <= 1; ++k) {
      const TimestampMicros p = edge + k * interval;
      Check((given.from <= p && p < given.to) == (aligned.from <= p && p < aligned.to));
    }
  }
}

constexpr TimestampMicros kNows[] = {
    1714654800LL * kMicrosPerSecond,  // 2024-05-02T13:00:00Z
    0,
    kApiMinTime,
    kApiMaxTime,
    kApiMinTime + 1,
    kApiMaxTime - 1,
    std::numeric_limits<int64_t>::min() + 1,
    std::numeric_limits<int64_t>::max(),
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const TimestampMicros now = kNows[data[0] % std::size(kNows)];
  const std::string_view content_type = (data[0] & 0x80) != 0 ? "application/json" : "text/plain";
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  QueryParams params;
  std::string_view body;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) {
      body = rest;
      break;
    }
    const size_t eq = line.find('=');
    const std::string_view name = line.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1);
    params.emplace(std::string(name), std::string(value));
  }

  auto product = ParseProductParam(params);
  CheckError(product);
  if (product.ok()) Check(ValidateProductId(*product).ok());

  auto interval = ParseIntervalParam(params);
  CheckError(interval);
  if (interval.ok()) Check(interval->micros > 0 && interval->max_span >= interval->default_span);

  for (const BarInterval& i : kBarIntervals) {
    auto r = ParseRangeParams(params, now, i.default_span, i.max_span, i.name);
    CheckError(r);
    if (r.ok()) {
      CheckRange(*r, i.max_span);
      CheckAligned(*r, AlignRangeUp(*r, i.micros), i.micros);
    }
  }

  auto limit = ParseLimitParam(params);
  CheckError(limit);
  if (limit.ok()) Check(1 <= *limit && *limit <= kMaxTradesLimit);

  auto bars = ParseBarsQuery(params, now);
  CheckError(bars);
  if (bars.ok()) {
    Check(product.ok() && interval.ok() && bars->product == *product &&
          bars->interval.name == interval->name);
    CheckRange(bars->range, bars->interval.max_span);
    CheckAligned(bars->range, bars->aligned, bars->interval.micros);
  }

  auto trades = ParseTradesQuery(params, now);
  CheckError(trades);
  if (trades.ok()) {
    Check(product.ok() && limit.ok() && trades->limit == *limit);
    CheckRange(trades->range, kMaxTradesSpan);
  }

  for (std::string_view type : {content_type, std::string_view("")}) {
    auto sql = ParseSqlBody(body, type);
    CheckError(sql);
    if (sql.ok()) {
      Check(sql->find_first_not_of(" \t\r\n;") != std::string::npos);
      Check(sql->size() <= body.size());  // the statement is the body or a JSON string in it
    }
  }

  // Alignment over every instant the API accepts, from raw bytes.
  if (size >= 9) {
    uint64_t raw = 0;
    for (size_t k = 1; k < 9; ++k) raw = raw << 8 | data[k];
    const uint64_t width = static_cast<uint64_t>(kApiMaxTime - kApiMinTime) + 1;
    const TimestampMicros t = kApiMinTime + static_cast<int64_t>(raw % width);
    for (const BarInterval& i : kBarIntervals) {
      const TimestampMicros a = AlignUp(t, i.micros);
      Check(a % i.micros == 0 && a >= t && a - t < i.micros && a <= kApiMaxTime);
    }
  }
  return 0;
}
