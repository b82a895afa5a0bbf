#include "lambda/step.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/time.h"
#include "etl/compact.h"
#include "etl/lease.h"
#include "pipeline/schedule.h"
#include "reconcile/live_reconciler.h"
#include "reconcile/reconcile.h"
#include "store/counting_store.h"
#include "store/lake.h"

namespace tradelake {

namespace {

int64_t WallMs() { return NowMicros() / 1000; }

// Sets `flag` at `when_ms` (by the config's clock) unless disarmed first.
// The stop flags are what RunIngest and RunEtl already check.
class Alarm {
 public:
  Alarm(std::atomic<bool>* flag, int64_t when_ms, std::function<int64_t()> now)
      : flag_(flag), when_ms_(when_ms), now_(std::move(now)) {
    thread_ = std::thread([this] { Wait(); });
  }
  ~Alarm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool fired() const { return fired_.load(); }

 private:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      const int64_t left = when_ms_ - now_();
      if (left <= 0) {
        fired_.store(true);
        flag_->store(true);
        return;
      }
      // Short waits, so a test clock that jumps is noticed quickly.
      cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(left, 100)));
    }
  }
  std::atomic<bool>* flag_;
  int64_t when_ms_;
  std::function<int64_t()> now_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // GUARDED_BY(mu_)
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

nlohmann::json CountsJson(const StoreCounts& c) {
  return {{"requests", c.requests()}, {"gets", c.gets},         {"puts", c.puts},
          {"lists", c.lists},         {"heads", c.heads},       {"deletes", c.deletes},
          {"bytes_put", c.bytes_put}, {"bytes_got", c.bytes_got}};
}

struct Emitter {
  const StepConfig& config;
  StepOutcome* out;
  const std::string& request_id;
  const std::string& trace_id;
  std::function<int64_t()> now;

  void Emit(std::string_view step, std::vector<EmfMetric> metrics) {
    std::map<std::string, std::string> props{{"RequestId", request_id}};
    if (!trace_id.empty()) props["TraceId"] = trace_id;
    auto line = EmfLine("tradelake", {{"Function", config.function_name}, {"Step", std::string(step)}}, metrics,
                        props, now());
    if (line.ok()) {
      out->emf.push_back(*line);
    } else {
      spdlog::warn("metrics record dropped: {}", line.status().ToString());
    }
  }
};

StepOutcome RunStepImpl(const StepConfig& config, const LambdaEvent& event, int64_t deadline_ms,
                        const std::string& request_id, const std::string& trace_id) {
  StepOutcome out;
  auto now = config.now_ms ? config.now_ms : std::function<int64_t()>(WallMs);
  Emitter emit{config, &out, request_id, trace_id, now};
  out.response["action"] = std::string(StepActionName(event.action));
  const int64_t started = now();

  const bool do_ingest = event.action == StepAction::kStep || event.action == StepAction::kIngest;
  const bool do_etl = event.action == StepAction::kStep || event.action == StepAction::kEtl;

  if (event.action == StepAction::kReconcile) {
    // Gold's 1-minute bars against the exchange's candles (reconcile/reconcile.h),
    // as the etl role: audit.candle_reconciliation is etl's to write.
    auto t = ParseTimeOrAgo(event.since.value_or("2h"), now() * 1000);
    if (!t.ok()) {
      out.status = t.status().WithContext("event \"since\"");
      return out;
    }
    auto base = OpenLakeAs(config.lake, "etl", config.policies_dir);
    if (!base.ok()) {
      out.status = base.status();
      emit.Emit("reconcile", {{"Failures", "Count", 1}});
      return out;
    }
    CountingStore store(base->get());
    auto limiter = NewIngestRateLimiter(config.ingest.rate_per_second, config.ingest.burst);
    ClientStats stats;
    CoinbaseClient client(config.ingest.exchange, limiter.get(), &stats);
    std::atomic<bool> stop{false};
    ReconcileOptions ro;
    ro.products = event.products.empty() ? config.ingest.products : event.products;
    ro.from = *t;
    ro.to = now() * 1000;
    ro.stop = &stop;
    Result<ReconcileReport> r = Internal("reconcile did not run");
    {
      std::optional<Alarm> alarm;
      if (deadline_ms > 0) alarm.emplace(&stop, deadline_ms - config.etl_margin_ms, now);
      r = Reconcile(&store, &client, ro);
    }
    if (!r.ok()) {
      out.status = r.status().WithContext("reconcile");
      emit.Emit("reconcile", {{"Failures", "Count", 1}});
      return out;
    }
    int64_t compared = 0, matched = 0;
    for (const auto& p : r->products) {
      compared += p.compared;
      matched += p.matched;
    }
    out.response["reconcile"] = {{"commit", r->seq},          {"compared", compared},
                                 {"matched", matched},        {"differences", r->differences()},
                                 {"requests", r->requests},   {"store", CountsJson(store.counts())}};
    emit.Emit("reconcile", {{"MinutesCompared", "Count", static_cast<double>(compared)},
                            {"ReconcileDifferences", "Count", static_cast<double>(r->differences())},
                            {"Failures", "Count", 0}});
    return out;
  }

  if (do_ingest) {
    IngestOptions o = config.ingest;
    if (!event.products.empty()) o.products = event.products;
    if (event.since) {
      auto t = ParseTimeOrAgo(*event.since, now() * 1000);
      if (!t.ok()) {
        out.status = t.status().WithContext("event \"since\"");
        return out;
      }
      o.since = *t;
    }
    o.follow = false;
    o.progress = false;
    auto base = OpenLakeAs(config.lake, "ingest", config.policies_dir);
    if (!base.ok()) {
      out.status = base.status();
      emit.Emit("ingest", {{"Failures", "Count", 1}});
      return out;
    }
    CountingStore store(base->get());
    nlohmann::json j;
    auto schedule = LoadSchedule(&store);
    if (!schedule.ok()) {
      out.status = schedule.status();
      emit.Emit("ingest", {{"Failures", "Count", 1}});
      return out;
    }
    j["paused"] = schedule->paused;
    if (schedule->paused) {
      // The pause switch of `tradelake schedule pause`: no exchange request.
      spdlog::info("ingest skipped: the schedule is paused (by {}); `tradelake schedule resume` resumes it",
                   schedule->by);
      j["trades_landed"] = 0;
    } else {
      std::atomic<bool> stop{false};
      o.stop = &stop;
      IngestReport r;
      bool by_deadline = false;
      {
        std::optional<Alarm> alarm;
        if (deadline_ms > 0) alarm.emplace(&stop, deadline_ms - config.ingest_margin_ms, now);
        r = RunIngest(&store, o);
        by_deadline = alarm && alarm->fired();
      }
      int64_t landed = 0, objects = 0, bytes = 0;
      double lag_s = -1;
      nlohmann::json products = nlohmann::json::object();
      for (const auto& p : r.products) {
        landed += p.trades_landed;
        objects += p.objects_written;
        bytes += p.bytes_written;
        nlohmann::json pj{{"trades_landed", p.trades_landed}, {"objects", p.objects_written},
                          {"high", p.high}, {"gaps", p.gaps}};
        if (p.high_time) {
          const double lag = static_cast<double>(now() * 1000 - *p.high_time) / 1e6;
          lag_s = std::max(lag_s, lag);
          pj["newest_trade"] = FormatRfc3339Micros(*p.high_time);
        }
        if (!p.status.ok()) pj["error"] = p.status.ToString();
        products[p.product_id] = pj;
      }
      const bool cancelled_by_us = r.status.code() == StatusCode::kCancelled && by_deadline;
      j.update({{"trades_landed", landed},
                {"objects", objects},
                {"bronze_bytes", bytes},
                {"requests", r.requests},
                {"retries", r.retries},
                {"stopped_by_deadline", by_deadline},
                {"products", products}});
      if (lag_s >= 0) j["lag_seconds"] = lag_s;
      j["store"] = CountsJson(store.counts());
      std::vector<EmfMetric> m{{"TradesLanded", "Count", static_cast<double>(landed)},
                               {"BronzeObjects", "Count", static_cast<double>(objects)},
                               {"BronzeBytes", "Bytes", static_cast<double>(bytes)},
                               {"ExchangeRequests", "Count", static_cast<double>(r.requests)},
                               {"StoreRequests", "Count", static_cast<double>(store.counts().requests())},
                               {"StoppedByDeadline", "Count", by_deadline ? 1.0 : 0.0},
                               {"Failures", "Count", (r.status.ok() || cancelled_by_us) ? 0.0 : 1.0}};
      if (lag_s >= 0) m.push_back({"LagSeconds", "Seconds", lag_s});
      emit.Emit("ingest", std::move(m));
      if (!r.status.ok() && !cancelled_by_us) {
        out.response["ingest"] = j;
        out.status = r.status.WithContext("ingest");
        return out;
      }
    }
    out.response["ingest"] = j;
  }

  if (do_etl) {
    nlohmann::json j;
    const int64_t left = deadline_ms > 0 ? deadline_ms - now() : INT64_MAX;
    if (left < config.etl_min_ms) {
      j = {{"ran", false},
           {"reason", fmt::format("{} ms left before the deadline, the ETL needs {} ms; the next step runs it",
                                  left, config.etl_min_ms)}};
      out.response["etl"] = j;
      emit.Emit("etl", {{"EtlSkipped", "Count", 1}, {"Failures", "Count", 0}});
    } else {
      auto base = OpenLakeAs(config.lake, "etl", config.policies_dir);
      if (!base.ok()) {
        out.status = base.status();
        emit.Emit("etl", {{"Failures", "Count", 1}});
        return out;
      }
      CountingStore store(base->get());
      std::atomic<bool> stop{false};
      EtlOptions eo = config.etl;
      eo.stop = &stop;
      eo.progress = false;
      Result<EtlReport> r = Internal("the ETL did not run");
      bool by_deadline = false;
      {
        std::optional<Alarm> alarm;
        if (deadline_ms > 0) alarm.emplace(&stop, deadline_ms - config.etl_margin_ms, now);
        r = RunEtl(&store, eo);
        by_deadline = alarm && alarm->fired();
      }
      j["ran"] = true;
      j["store"] = CountsJson(store.counts());
      j["stopped_by_deadline"] = by_deadline;
      if (r.ok()) {
        j.update({{"nothing_to_do", r->nothing_to_do}, {"commit", r->seq},          {"bronze_objects", r->bronze_objects},
                  {"records", r->records},             {"inserted", r->inserted},   {"duplicates", r->duplicates},
                  {"rejected", r->rejected},           {"files_written", r->files_written},
                  {"bytes_written", r->bytes_written}});
      }
      out.response["etl"] = j;
      const bool ok = r.ok() || (by_deadline && r.status().code() == StatusCode::kCancelled);
      emit.Emit("etl", {{"EtlRecords", "Count", r.ok() ? static_cast<double>(r->records) : 0.0},
                        {"EtlInserted", "Count", r.ok() ? static_cast<double>(r->inserted) : 0.0},
                        {"EtlRejected", "Count", r.ok() ? static_cast<double>(r->rejected) : 0.0},
                        {"StoreRequests", "Count", static_cast<double>(store.counts().requests())},
                        {"StoppedByDeadline", "Count", by_deadline ? 1.0 : 0.0},
                        {"Failures", "Count", ok ? 0.0 : 1.0}});
      if (!ok) {
        out.status = r.status().WithContext("etl");
        return out;
      }
      if (!r.ok()) j["reason"] = "stopped before its commit by the deadline; the next step redoes it";
      out.response["etl"] = j;
      // Closed minutes with the exchange's candles, once each: the reconciler
      // resumes from the lake, so a stateless step batches like `run` does.
      const int64_t left_after = deadline_ms > 0 ? deadline_ms - now() : INT64_MAX;
      if (r.ok() && config.reconcile && left_after >= config.etl_min_ms) {
        LiveReconcileOptions lo;
        lo.products = config.ingest.products;
        lo.delay = config.reconcile_delay_micros;
        lo.every = config.reconcile_every_micros;
        LiveReconciler reconciler(&store, config.ingest.exchange, nullptr, lo);
        std::optional<Alarm> alarm;
        if (deadline_ms > 0) alarm.emplace(&stop, deadline_ms - config.etl_margin_ms, now);
        auto rec = reconciler.Step(*r, now() * 1000, &stop);
        int64_t compared = 0;
        if (rec.ok()) {
          for (const auto& p : rec->products) compared += p.compared;
          out.response["reconcile"] = {{"commit", rec->seq},
                                       {"compared", compared},
                                       {"differences", rec->differences()},
                                       {"requests", rec->requests}};
        } else {
          // Not the step's failure: the same minutes are tried next time.
          out.response["reconcile"] = {{"error", rec.status().ToString()}};
        }
        emit.Emit("reconcile", {{"MinutesCompared", "Count", static_cast<double>(compared)},
                                {"ReconcileDifferences", "Count", rec.ok() ? static_cast<double>(rec->differences()) : 0.0},
                                {"Failures", "Count", rec.ok() ? 0.0 : 1.0}});
      }
    }
  }

  if (event.action == StepAction::kCompact) {
    auto base = OpenLakeAs(config.lake, "etl", config.policies_dir);
    if (!base.ok()) {
      out.status = base.status();
      return out;
    }
    CountingStore store(base->get());
    auto lease = EtlLease::Acquire(&store, LeaseOptions{});
    if (!lease.ok()) {
      out.status = lease.status().WithContext("compact");
      emit.Emit("compact", {{"Failures", "Count", 1}});
      return out;
    }
    CompactOptions co;
    co.lease = lease->get();
    auto r = CompactLake(&store, co);
    if (!r.ok()) {
      out.status = r.status().WithContext("compact");
      emit.Emit("compact", {{"Failures", "Count", 1}});
      return out;
    }
    out.response["compact"] = {{"nothing_to_do", r->nothing_to_do}, {"commit", r->seq},
                               {"files_removed", r->files_removed},  {"files_added", r->files_added},
                               {"store", CountsJson(store.counts())}};
    emit.Emit("compact", {{"FilesCompacted", "Count", static_cast<double>(r->files_removed)},
                          {"StoreRequests", "Count", static_cast<double>(store.counts().requests())},
                          {"Failures", "Count", 0}});
  }
  out.response["seconds"] = static_cast<double>(now() - started) / 1000.0;
  return out;
}

}  // namespace

std::string ErrorTypeFor(const Status& status) {
  return fmt::format("tradelake.{}", StatusCodeName(status.code()));
}

StepOutcome RunLambdaStep(const StepConfig& config, const LambdaEvent& event, int64_t deadline_ms,
                          const std::string& request_id, const std::string& trace_id) {
  try {
    return RunStepImpl(config, event, deadline_ms, request_id, trace_id);
  } catch (const std::exception& e) {  // a third-party throw must become a handler error, not a crash
    StepOutcome out;
    out.status = Internal(fmt::format("unexpected exception: {}", e.what()));
    return out;
  }
}

Status ServeLambdaEvents(RuntimeClient* client, const StepConfig& config, std::optional<int64_t> max_invocations) {
  for (int64_t n = 0; !max_invocations || n < *max_invocations; ++n) {
    auto inv = client->Next();
    if (!inv.ok()) return inv.status();
    // The X-Ray trace header for this invocation, where AWS's SDKs and
    // runtimes put it (a custom runtime's own duty).
    if (!inv->trace_id.empty()) {
      setenv("_X_AMZN_TRACE_ID", inv->trace_id.c_str(), 1);
    } else {
      unsetenv("_X_AMZN_TRACE_ID");
    }
    auto event = ParseLambdaEvent(inv->body);
    StepOutcome out;
    if (!event.ok()) {
      out.status = event.status();
    } else {
      out = RunLambdaStep(config, *event, inv->deadline_ms, inv->request_id, inv->trace_id);
    }
    for (const auto& line : out.emf) std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
    Status posted;
    if (out.status.ok()) {
      posted = client->PostResponse(inv->request_id,
                                    out.response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      spdlog::error("request {}: {}", inv->request_id, out.status.ToString());
      posted = client->PostError(inv->request_id, {ErrorTypeFor(out.status), out.status.ToString()});
    }
    if (!posted.ok()) return posted;
  }
  return Status::OK();
}

}  // namespace tradelake
