// libFuzzer target: the schedule object is shared with other processes and
// people (`tradelake schedule`, the API). LoadSchedule must accept any bytes
// or fail with DataLoss; an accepted schedule saves and loads back equal, and
// its JSON rendering is one line a JSON parser accepts.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "pipeline/schedule.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto store = NewMemoryStore();
  Check(store->Put(kScheduleKey, text, WriteMode::kOverwrite).ok());
  auto s = LoadSchedule(store.get());
  if (!s.ok()) {
    Check(s.status().code() == StatusCode::kDataLoss);
    return 0;
  }
  Check(SaveSchedule(store.get(), *s).ok());
  auto again = LoadSchedule(store.get());
  Check(again.ok());
  // simdjson hands over valid UTF-8 only, so the round trip is exact.
  Check(*again == *s);
  const std::string json = ScheduleJson(*s);
  Check(json.find('\n') == std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  Check(parser.parse(json).get(doc) == simdjson::SUCCESS);
  return 0;
}
