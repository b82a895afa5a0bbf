// Pipeline: the engine of `tradelake run`, keeping a lake fresh in one process.
//
//   ingest (follow mode) ──Bronze micro-batches──> ETL (debounced) ──> Silver/Gold
//
// Three threads:
//   ingest supervisor  runs one RunIngest (ingest/ingester.h) in follow mode
//                      for all products while the schedule is running: its
//                      bounded pool of ingest.workers threads serves them by
//                      backlog age (with ingest.hints, where the feed shows
//                      new trades). Bronze is flushed every flush interval or
//                      every flush_trades trades, whichever comes first, then
//                      checkpointed. A product that fails (exchange down
//                      after its retries, a store error) is recorded and
//                      started again after a growing wait (1 s .. 60 s) while
//                      the others go on; an unknown product is fatal
//                      (fatal()).
//   ETL worker         runs RunEtl (etl/etl.h) once at start (to catch up on
//                      Bronze landed before), then whenever objects landed:
//                      after `etl_debounce` without a new object, or at the
//                      latest `etl_max_delay` after the first unprocessed one.
//                      A failed run is retried after a growing wait.
//   schedule watcher   re-reads the schedule (pipeline/schedule.h) every
//                      `schedule_poll`, so `tradelake schedule pause` from
//                      another process takes effect without a restart.
// Pausing stops the ingester the same way a shutdown does (pending trades
// flushed and checkpointed) and makes no exchange request until resumed;
// the ETL still processes what has landed.
//
// Stop() (SIGINT/SIGTERM in the CLI): the ingester flushes its pending
// trades to Bronze and checkpoints; a running ETL is told to stop and
// abandons before its commit (the committed snapshot stays as it was, the
// next run cleans its files and redoes the work). Every trade landed is
// therefore either in Bronze with its checkpoint, or will be fetched again;
// a restart resumes from the checkpoints with nothing lost or doubled.
//
// All public methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "etl/etl.h"
#include "ingest/ingester.h"
#include "pipeline/schedule.h"
#include "store/object_store.h"

namespace tradelake {

// Gold's newest 1-minute bar of a product, as an ETL run committed it.
struct GoldNewestBar {
  TimestampMicros minute = 0;  // its period_start
  int64_t first_trade_id = 0, last_trade_id = 0;
};

struct PipelineOptions {
  // products, exchange, rate limits, poll/flush intervals and object_max_trades
  // (the flush_trades setting), and optionally a limiter shared with other
  // exchange clients. follow, stop, stats and on_landed are set by the
  // pipeline.
  IngestOptions ingest;
  EtlOptions etl;                     // threads; stop is set by the pipeline
  int64_t etl_debounce_ms = 1000;
  int64_t etl_max_delay_ms = 10'000;
  int64_t schedule_poll_ms = 2000;
  int64_t retry_min_ms = 1000;
  int64_t retry_max_ms = 60'000;
  // Called on the ETL thread after every successful ETL run, outside the
  // pipeline's lock (`tradelake run` reconciles closed minutes with the
  // exchange's candles here). `stop` is set when the pipeline stops.
  std::function<void(const EtlReport&, const std::atomic<bool>* stop)> after_etl;
  // Called on the ETL thread after an ETL run that moved a product's newest
  // gold.bars_1m minute (before after_etl), with those products. Exact: read
  // from the Delta statistics of the bars_1m files of the day the run
  // inserted that product's newest trades into (the ETL's own state in
  // memory, no store request), so its cost follows the products the run
  // touched, not the lake's age. After a run that compacted (the ETL then
  // reloads its state), its products are reported after the next run.
  std::function<void(const std::map<std::string, GoldNewestBar>& moved)> on_gold_newest;
};

struct EtlRunSummary {
  TimestampMicros started_at = 0, finished_at = 0;
  double seconds = 0;
  bool ok = false;
  bool nothing_to_do = false;
  std::string error;
  int64_t commit = 0;
  int64_t bronze_objects = 0, records = 0, inserted = 0, duplicates = 0, rejected = 0;
};

struct IngestProductStatus {
  std::string product;
  std::string state = "starting";  // "starting", "following", "retrying", "paused", "failed", "stopped"
  std::string last_error;          // its newest failure, "" if none
  int64_t trades_landed = 0, objects_landed = 0, bronze_bytes = 0;
  std::optional<TimestampMicros> last_landed_at, last_trade_time;
};

struct PipelineStatus {
  std::string state;         // "running", "paused", "stopping", "failed"
  Schedule schedule;
  TimestampMicros started_at = 0;
  std::string ingest_state;  // "starting", "following", "paused", "retrying", "stopped", "failed"
  int64_t ingest_runs = 0;
  std::string ingest_last_error;
  int64_t requests = 0, retries = 0, rate_limited = 0, server_errors = 0, transport_errors = 0;
  std::vector<IngestProductStatus> products;
  std::string etl_state;     // "idle", "waiting", "running", "retrying", "stopped"
  // Times the schedule watcher has read the stored schedule: a clock made of
  // the pipeline's own work, so a test can say "for three schedule polls
  // nothing happened" without sleeping.
  int64_t schedule_reads = 0;
  int64_t etl_runs = 0, etl_failures = 0;
  double etl_seconds_total = 0;
  int64_t etl_records_total = 0, etl_inserted_total = 0, etl_duplicates_total = 0, etl_rejected_total = 0;
  std::map<std::string, int64_t> etl_rejected_by_rule;
  std::optional<EtlRunSummary> last_etl;
};

class Pipeline {
 public:
  // Reads the schedule and starts the threads. The stores are the lake as
  // the ingest role and as the etl role (store/lake.h); both must outlive
  // the pipeline. InvalidArgument for bad options.
  static Result<std::unique_ptr<Pipeline>> Start(ObjectStore* ingest_store, ObjectStore* etl_store,
                                                 PipelineOptions options);
  ~Pipeline();  // Stop()s
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Flushes, checkpoints, abandons a running ETL, joins the threads. Idempotent.
  void Stop();

  // Writes the schedule to the lake and applies it at once.
  Result<Schedule> SetPaused(bool paused, std::string_view by);

  PipelineStatus GetStatus() const;
  // A permanent error that stopped the ingester (unknown product), if any.
  std::optional<Status> fatal() const;

  // Renderings for the HTTP API (serve/api_server.h PipelineHooks).
  std::string StatusJson() const;
  std::string ScheduleJson() const;
  std::string MetricsText() const;

 private:
  class Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
