#include "pipeline/schedule.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "core/text.h"

namespace tradelake {

Result<Schedule> LoadSchedule(ObjectStore* store) {
  auto data = store->Get(kScheduleKey);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound) return Schedule{};
    return data.status().WithContext("reading the schedule");
  }
  auto corrupt = [](std::string_view why) {
    return DataLoss(fmt::format("{} is not a schedule ({}); rewrite it with `tradelake schedule resume`",
                                kScheduleKey, why));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*data).get(doc) != simdjson::SUCCESS) return corrupt("not JSON");
  Schedule s;
  if (doc["paused"].get_bool().get(s.paused) != simdjson::SUCCESS) return corrupt("no boolean \"paused\"");
  int64_t at = 0;
  if (doc["changed_at_us"].get_int64().get(at) == simdjson::SUCCESS) s.changed_at = at;
  std::string_view by;
  if (doc["by"].get_string().get(by) == simdjson::SUCCESS) s.by = std::string(by);
  return s;
}

Status SaveSchedule(ObjectStore* store, const Schedule& schedule) {
  std::string out = fmt::format("{{\"paused\": {}", schedule.paused);
  if (schedule.changed_at) out += fmt::format(", \"changed_at_us\": {}", *schedule.changed_at);
  out += ", \"by\": ";
  AppendJsonString(&out, schedule.by);
  out += "}\n";
  return store->Put(kScheduleKey, out, WriteMode::kOverwrite).WithContext("writing the schedule");
}

std::string ScheduleJson(const Schedule& schedule) {
  std::string out = fmt::format("{{\"paused\": {}, \"changed_at\": ", schedule.paused);
  if (schedule.changed_at) {
    AppendJsonString(&out, FormatRfc3339Trimmed(*schedule.changed_at));
  } else {
    out += "null";
  }
  out += ", \"by\": ";
  AppendJsonString(&out, schedule.by);
  out += "}";
  return out;
}

}  // namespace tradelake
