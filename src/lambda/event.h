// What a Lambda invocation of tradelake asks for, and the one-line metrics
// record each step leaves in CloudWatch Logs.
//
// Events (the body of GET .../invocation/next):
//   - a scheduled step: an EventBridge (Scheduler) event ({"source":
//     "aws.events", "detail-type": "Scheduled Event", ...}), an empty body,
//     `{}` or {"action":"step"}: ingest catch-up, then the ETL if time is left;
//   - {"action": "ingest" | "etl" | "compact" | "reconcile", ...} with the
//     optional keys "products" (array of ids, or "A,B") and, for ingest,
//     "since" (as `tradelake ingest --since`; for reconcile the start of the
//     minutes compared, default 2h). An unknown key or action is
//     InvalidArgument naming what is accepted (a typo never silently runs
//     the default step).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

enum class StepAction { kStep, kIngest, kEtl, kCompact, kReconcile };

std::string_view StepActionName(StepAction action);

struct LambdaEvent {
  StepAction action = StepAction::kStep;
  std::vector<std::string> products;  // empty: the configured products
  std::optional<std::string> since;   // ingest backfill start, as --since
  bool scheduled = false;             // came from EventBridge
};

// Parses an invocation body. InvalidArgument for anything not described above.
Result<LambdaEvent> ParseLambdaEvent(std::string_view body);

// One metric of an Embedded Metric Format record.
struct EmfMetric {
  std::string name;
  std::string unit;  // CloudWatch unit: "Count", "Seconds", "Bytes", "Milliseconds"
  double value = 0;
};

// One CloudWatch Embedded Metric Format line (no newline): CloudWatch Logs
// turns it into metrics in `name_space` with the given dimensions, and keeps
// `properties` as searchable log fields. Metric and dimension names must not
// collide with each other or with properties (InvalidArgument otherwise,
// since CloudWatch would drop the record).
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
Result<std::string> EmfLine(std::string_view name_space, const std::map<std::string, std::string>& dimensions,
                            const std::vector<EmfMetric>& metrics,
                            const std::map<std::string, std::string>& properties, int64_t timestamp_ms);

}  // namespace tradelake
