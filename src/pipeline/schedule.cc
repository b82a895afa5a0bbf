#include "pipeline/schedule.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "core/text.h"
#include "pipeline/json_text.h"

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
  nlohmann::ordered_json j;
  j["paused"] = schedule.paused;
  if (schedule.changed_at) j["changed_at_us"] = *schedule.changed_at;
  j["by"] = schedule.by;
  return store->Put(kScheduleKey, pipeline_internal::SpacedJson(j) + "\n", WriteMode::kOverwrite)
      .WithContext("writing the schedule");
}

nlohmann::ordered_json pipeline_internal::ScheduleJsonValue(const Schedule& schedule) {
  nlohmann::ordered_json j;
  j["paused"] = schedule.paused;
  j["changed_at"] = schedule.changed_at ? nlohmann::ordered_json(FormatRfc3339Trimmed(*schedule.changed_at))
                                        : nlohmann::ordered_json(nullptr);
  j["by"] = schedule.by;
  return j;
}

std::string ScheduleJson(const Schedule& schedule) {
  return pipeline_internal::SpacedJson(pipeline_internal::ScheduleJsonValue(schedule));
}

}  // namespace tradelake
