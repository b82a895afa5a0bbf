// One Lambda invocation of tradelake: the same code paths as `tradelake run`
// (ingest/ingester.h RunIngest, etl/etl.h RunEtl), run once per event under
// the invocation's deadline, plus the event loop over the Runtime API.
//
// The scheduled step: ingest catch-up (unless the lake's schedule is paused,
// pipeline/schedule.h), then the ETL if enough time is left. The deadline
// (Lambda-Runtime-Deadline-Ms) is honoured so that nothing is lost when time
// runs out: ingest is told to stop `ingest_margin_ms` before it (it flushes
// what it holds to Bronze and checkpoints, the same clean stop as Ctrl-C),
// the ETL runs only if `etl_min_ms` is left after that, and is told to stop
// `etl_margin_ms` before the deadline (it then abandons before its commit,
// leaving the committed snapshot as it was). Lambda killing the process at
// the deadline anyway loses nothing either (both steps are crash-safe), but
// costs a rerun of the work.
//
// Each step runs as its own role (store/lake.h): ingest as `ingest`; etl,
// compact and reconcile (Gold against the exchange's candles,
// reconcile/reconcile.h, window from the event's "since", default 2h) as `etl`, with the role's policy enforced by tradelake on every
// storage call, on top of whatever IAM enforces.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "etl/etl.h"
#include "ingest/ingester.h"
#include "lambda/event.h"
#include "lambda/runtime_client.h"

namespace tradelake {

struct StepConfig {
  std::string lake;          // s3://bucket/prefix or a folder
  std::string policies_dir;  // --policies ("" = built in)
  IngestOptions ingest;      // products, exchange, limits; stop/since set per event
  EtlOptions etl;            // stop set per event
  int64_t ingest_margin_ms = 20'000;
  int64_t etl_min_ms = 15'000;
  int64_t etl_margin_ms = 5'000;
  // After a step's ETL, if time is left: reconcile Gold's closed minutes with
  // the exchange's candles (reconcile/live_reconciler.h), once each.
  bool reconcile = true;
  int64_t reconcile_delay_micros = 10 * kMicrosPerMinute;
  int64_t reconcile_every_micros = 10 * kMicrosPerMinute;
  std::string function_name = "tradelake";  // the EMF dimension
  // Clock in Unix milliseconds (tests pin it); the wall clock when empty.
  std::function<int64_t()> now_ms;
};

// What one event did: `response` is the JSON answered to Lambda, `status`
// how it ended (a handler error if not OK), `emf` the metrics lines printed.
struct StepOutcome {
  Status status;
  nlohmann::json response = nlohmann::json::object();
  std::vector<std::string> emf;
};

// Runs one event. deadline_ms: Unix epoch milliseconds (0: no deadline).
// Never throws; every failure is in outcome.status.
StepOutcome RunLambdaStep(const StepConfig& config, const LambdaEvent& event, int64_t deadline_ms,
                          const std::string& request_id = "", const std::string& trace_id = "");

// The runtime loop: Next, RunLambdaStep, PostResponse or PostError, for ever
// (or `max_invocations` events when set). Every EMF line goes to stdout
// (Lambda sends stdout to CloudWatch Logs). Returns only when the Runtime
// API fails (its status) or after max_invocations (OK).
Status ServeLambdaEvents(RuntimeClient* client, const StepConfig& config,
                         std::optional<int64_t> max_invocations = std::nullopt);

// The Lambda-Runtime-Function-Error-Type of a failed step: "tradelake.<StatusCode>".
std::string ErrorTypeFor(const Status& status);

}  // namespace tradelake
