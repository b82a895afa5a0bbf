// The JSON text of the pipeline's status and schedule: built as
// nlohmann::ordered_json values (one JSON library for everything tradelake
// writes), rendered on one line with a space after ':' and ',' as
// `tradelake schedule` and the HTTP API have always printed it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/schedule.h"

namespace tradelake::pipeline_internal {

// `{"a": 1, "b": [true, null]}`; strings escaped by nlohmann (UTF-8 kept,
// invalid bytes replaced by U+FFFD instead of throwing).
std::string SpacedJson(const nlohmann::ordered_json& value);

// The value ScheduleJson renders (pipeline/schedule.h), for embedding.
nlohmann::ordered_json ScheduleJsonValue(const Schedule& schedule);

}  // namespace tradelake::pipeline_internal
