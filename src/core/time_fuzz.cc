// libFuzzer target: RFC 3339 parsing must never crash, and whatever it
// accepts must format and re-parse to the same instant.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/time.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  Result<TimestampMicros> t = ParseRfc3339(text);
  if (t.ok()) {
    const std::string micros = FormatRfc3339Micros(*t);
    Result<TimestampMicros> again = ParseRfc3339(micros);
    Check(again.ok() && *again == *t);
    const std::string trimmed = FormatRfc3339Trimmed(*t);
    Result<TimestampMicros> again_trimmed = ParseRfc3339(trimmed);
    Check(again_trimmed.ok() && *again_trimmed == *t);
    Check(FormatRfc3339Trimmed(*again_trimmed) == trimmed);
    // The date is the prefix of the formatted time and agrees with DayNumber.
    Check(micros.compare(0, 10, FormatDate(*t)) == 0);
    Check(DayNumber(*t) * kMicrosPerDay <= *t && *t < (DayNumber(*t) + 1) * kMicrosPerDay);
  } else {
    Check(t.status().code() == StatusCode::kInvalidArgument);
    Check(!t.status().message().empty());
  }

  Result<int64_t> d = ParseDuration(text);
  if (d.ok()) Check(*d >= 0);

  // Must not crash or overflow for any input and any "now".
  (void)ParseTimeOrAgo(text, 1714564800 * kMicrosPerSecond);
  (void)ParseTimeOrAgo(text, INT64_MIN + 1);

  // Formatting is total over int64: any 8 bytes are a valid instant.
  if (size >= 8) {
    int64_t raw = 0;
    for (size_t i = 0; i < 8; ++i) raw = static_cast<int64_t>(static_cast<uint64_t>(raw) << 8 | data[i]);
    (void)FormatRfc3339Micros(raw);
    (void)FormatRfc3339Trimmed(raw);
    (void)FormatDate(raw);
  }
  return 0;
}
