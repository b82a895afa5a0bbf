// The ingest schedule: the cost-governance switch of `tradelake run`.
//
// One small JSON object in the lake, _state/ingest/schedule.json (the ingest
// role's own state, so the same policy that lets it land Bronze lets it
// pause itself):
//   {"paused": true, "changed_at_us": 1714564800000000, "by": "cli"}
// No object means "running". `tradelake schedule pause|resume` writes it,
// the API's POST /api/v1/schedule/pause|resume writes it through the
// running pipeline, and a running pipeline re-reads it every few seconds,
// so a pause from any of them reaches every process on the lake. While
// paused, the pipeline makes no exchange request at all.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

inline constexpr std::string_view kScheduleKey = "_state/ingest/schedule.json";

struct Schedule {
  bool paused = false;
  std::optional<TimestampMicros> changed_at;
  std::string by;  // who changed it: "cli", "api:<role>", ...

  bool operator==(const Schedule&) const = default;
};

// The stored schedule; running (the default) when there is none. DataLoss
// naming the key if the object is not a schedule.
Result<Schedule> LoadSchedule(ObjectStore* store);

// Overwrites the stored schedule.
Status SaveSchedule(ObjectStore* store, const Schedule& schedule);

// {"paused": false, "changed_at": "2024-05-01T12:00:00Z"|null, "by": "cli"}
std::string ScheduleJson(const Schedule& schedule);

}  // namespace tradelake
