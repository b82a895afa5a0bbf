#include "pipeline/pipeline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/text.h"
#include "exchange/rate_limiter.h"
#include "pipeline/etl_trigger.h"
#include "pipeline/json_text.h"
#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Errors that another attempt cannot fix: the user must change something.
bool IsPermanent(const Status& s) {
  return s.code() == StatusCode::kNotFound || s.code() == StatusCode::kInvalidArgument ||
         s.code() == StatusCode::kPermissionDenied;
}

double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// A Prometheus label value: backslash, quote and newline escaped.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

class Pipeline::Impl {
 public:
  Impl(ObjectStore* ingest_store, ObjectStore* etl_store, PipelineOptions options)
      : ingest_store_(ingest_store), etl_store_(etl_store), options_(std::move(options)) {}

  ~Impl() { Stop(); }

  Status Init() {
    if (options_.ingest.products.empty()) return InvalidArgument("no products; pass --products BTC-USD,ETH-USD");
    if (options_.etl_debounce_ms < 0 || options_.etl_max_delay_ms < options_.etl_debounce_ms) {
      return InvalidArgument("the ETL's maximum delay must be at least its debounce");
    }
    ASSIGN_OR_RETURN(schedule_, LoadSchedule(ingest_store_));
    // A limiter the caller shares with other exchange clients, or our own.
    if (options_.ingest.limiter == nullptr) {
      limiter_ = NewIngestRateLimiter(options_.ingest.rate_per_second, options_.ingest.burst);
    }
    started_at_ = NowMicros();
    // The first ETL run is due at once: it catches up on whatever Bronze an
    // earlier process landed and did not transform.
    etl_trigger_.DueAt(Clock::now());
    std::vector<std::string> seen;
    for (const auto& p : options_.ingest.products) {
      if (std::find(seen.begin(), seen.end(), p) != seen.end()) continue;
      seen.push_back(p);
      auto product = std::make_unique<Product>();
      product->status.product = p;
      products_.push_back(std::move(product));
    }
    if (schedule_.paused) {
      spdlog::info("the schedule is paused (since {}, by {}): no exchange requests until `tradelake schedule resume`",
                   schedule_.changed_at ? FormatRfc3339Trimmed(*schedule_.changed_at) : "?", schedule_.by);
    }
    ingest_thread_ = std::thread([this] { IngestLoop(); });
    etl_thread_ = std::thread([this] { EtlLoop(); });
    schedule_thread_ = std::thread([this] { ScheduleLoop(); });
    return Status::OK();
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopping_ = true;
      ingest_stop_ = true;
      etl_stop_ = true;
    }
    cv_.notify_all();
    if (ingest_thread_.joinable()) ingest_thread_.join();
    if (etl_thread_.joinable()) etl_thread_.join();
    if (schedule_thread_.joinable()) schedule_thread_.join();
    std::lock_guard lock(mu_);
    stopped_ = true;
  }

  Result<Schedule> SetPaused(bool paused, std::string_view by) {
    Schedule s{paused, NowMicros(), std::string(by)};
    std::lock_guard save_lock(save_mu_);
    RETURN_IF_ERROR(SaveSchedule(ingest_store_, s));
    Apply(s);
    return s;
  }

  Schedule schedule() const {
    std::lock_guard lock(mu_);
    return schedule_;
  }

  std::optional<Status> fatal() const {
    std::lock_guard lock(mu_);
    return fatal_;
  }

  PipelineStatus GetStatus() const {
    std::lock_guard lock(mu_);
    PipelineStatus s;
    s.schedule = schedule_;
    s.started_at = started_at_;
    s.state = fatal_ ? "failed" : stopping_ ? "stopping" : schedule_.paused ? "paused" : "running";
    // The ingester's state is its products' worst.
    int following = 0, retrying = 0, failed = 0, paused = 0;
    for (const auto& p : products_) {
      s.products.push_back(p->status);
      s.products.back().state = p->state;
      s.products.back().last_error = p->last_error;
      s.ingest_runs += p->starts;
      if (!p->last_error.empty()) s.ingest_last_error = fmt::format("{}: {}", p->status.product, p->last_error);
      following += p->state == "following";
      retrying += p->state == "retrying";
      failed += p->state == "failed";
      paused += p->state == "paused";
    }
    s.ingest_state = failed      ? "failed"
                     : retrying  ? "retrying"
                     : stopping_ ? "stopped"
                     : paused == static_cast<int>(products_.size()) ? "paused"
                     : following == static_cast<int>(products_.size()) ? "following"
                                                                        : "starting";
    s.requests = stats_.requests;
    s.retries = stats_.retries;
    s.rate_limited = stats_.rate_limited;
    s.server_errors = stats_.server_errors;
    s.transport_errors = stats_.transport_errors;
    s.etl_state = etl_state_;
    s.schedule_reads = schedule_reads_;
    s.etl_runs = etl_runs_finished_;
    s.etl_failures = etl_failures_;
    s.etl_seconds_total = etl_seconds_total_;
    s.etl_records_total = etl_totals_.records;
    s.etl_inserted_total = etl_totals_.inserted;
    s.etl_duplicates_total = etl_totals_.duplicates;
    s.etl_rejected_total = etl_totals_.rejected;
    s.etl_rejected_by_rule = etl_rejected_by_rule_;
    s.last_etl = last_etl_;
    return s;
  }

  std::string StatusJson() const {
    using Json = nlohmann::ordered_json;
    const PipelineStatus s = GetStatus();
    const IngestOptions& in = options_.ingest;
    auto time_or_null = [](const std::optional<TimestampMicros>& t) {
      return t ? Json(FormatRfc3339Trimmed(*t)) : Json(nullptr);
    };
    auto string_or_null = [](const std::string& v) { return v.empty() ? Json(nullptr) : Json(v); };
    Json out;
    out["state"] = s.state;
    out["schedule"] = pipeline_internal::ScheduleJsonValue(s.schedule);
    Json settings;
    settings["products"] = Json::array();
    for (const auto& p : products_) settings["products"].push_back(p->status.product);
    settings["poll_interval_seconds"] = Seconds(in.poll_interval_ms);
    settings["flush_interval_seconds"] = Seconds(in.flush_interval_ms);
    settings["flush_trades"] = in.object_max_trades;
    settings["etl_debounce_seconds"] = Seconds(options_.etl_debounce_ms);
    settings["etl_max_delay_seconds"] = Seconds(options_.etl_max_delay_ms);
    settings["rate_limit_per_second"] = in.rate_per_second;
    out["settings"] = std::move(settings);
    out["started_at"] = time_or_null(s.started_at);
    Json ingest;
    ingest["state"] = s.ingest_state;
    ingest["runs"] = s.ingest_runs;
    ingest["last_error"] = string_or_null(s.ingest_last_error);
    ingest["requests"] = s.requests;
    ingest["retries"] = s.retries;
    ingest["rate_limited"] = s.rate_limited;
    ingest["server_errors"] = s.server_errors;
    ingest["transport_errors"] = s.transport_errors;
    ingest["products"] = Json::array();
    for (const auto& p : s.products) {
      Json product;
      product["product"] = p.product;
      product["state"] = p.state;
      product["last_error"] = string_or_null(p.last_error);
      product["trades_landed"] = p.trades_landed;
      product["objects_landed"] = p.objects_landed;
      product["bronze_bytes"] = p.bronze_bytes;
      product["last_landed_at"] = time_or_null(p.last_landed_at);
      product["last_trade_time"] = time_or_null(p.last_trade_time);
      ingest["products"].push_back(std::move(product));
    }
    out["ingest"] = std::move(ingest);
    Json etl;
    etl["state"] = s.etl_state;
    etl["runs"] = s.etl_runs;
    etl["failures"] = s.etl_failures;
    if (!s.last_etl) {
      etl["last_run"] = nullptr;
    } else {
      const EtlRunSummary& r = *s.last_etl;
      Json run;
      run["started_at"] = time_or_null(r.started_at);
      run["finished_at"] = time_or_null(r.finished_at);
      run["seconds"] = std::round(r.seconds * 1000.0) / 1000.0;  // milliseconds are enough
      run["ok"] = r.ok;
      run["nothing_to_do"] = r.nothing_to_do;
      run["error"] = string_or_null(r.error);
      run["commit"] = r.commit;
      run["bronze_objects"] = r.bronze_objects;
      run["records"] = r.records;
      run["inserted"] = r.inserted;
      run["duplicates"] = r.duplicates;
      run["rejected"] = r.rejected;
      etl["last_run"] = std::move(run);
    }
    out["etl"] = std::move(etl);
    return pipeline_internal::SpacedJson(out);
  }

  std::string MetricsText() const {
    const PipelineStatus s = GetStatus();
    std::string out;
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    family("tradelake_ingest_trades_total", "counter", "Trades landed in Bronze by this process.");
    for (const auto& p : s.products) {
      out += fmt::format("tradelake_ingest_trades_total{{product=\"{}\"}} {}\n", Label(p.product), p.trades_landed);
    }
    family("tradelake_bronze_objects_total", "counter", "Bronze objects written by this process.");
    for (const auto& p : s.products) {
      out += fmt::format("tradelake_bronze_objects_total{{product=\"{}\"}} {}\n", Label(p.product), p.objects_landed);
    }
    family("tradelake_bronze_bytes_total", "counter", "Bytes of Bronze objects written by this process.");
    for (const auto& p : s.products) {
      out += fmt::format("tradelake_bronze_bytes_total{{product=\"{}\"}} {}\n", Label(p.product), p.bronze_bytes);
    }
    family("tradelake_exchange_requests_total", "counter", "Requests sent to the exchange, retries included.");
    out += fmt::format("tradelake_exchange_requests_total {}\n", s.requests);
    family("tradelake_exchange_retries_total", "counter", "Exchange requests retried.");
    out += fmt::format("tradelake_exchange_retries_total {}\n", s.retries);
    family("tradelake_exchange_rate_limited_total", "counter", "Exchange answers 429 (rate limited).");
    out += fmt::format("tradelake_exchange_rate_limited_total {}\n", s.rate_limited);
    family("tradelake_exchange_server_errors_total", "counter", "Exchange answers 5xx.");
    out += fmt::format("tradelake_exchange_server_errors_total {}\n", s.server_errors);
    family("tradelake_exchange_transport_errors_total", "counter", "Exchange requests that got no answer.");
    out += fmt::format("tradelake_exchange_transport_errors_total {}\n", s.transport_errors);
    family("tradelake_etl_runs_total", "counter", "ETL runs finished, by outcome.");
    out += fmt::format("tradelake_etl_runs_total{{outcome=\"ok\"}} {}\n", s.etl_runs - s.etl_failures);
    out += fmt::format("tradelake_etl_runs_total{{outcome=\"failed\"}} {}\n", s.etl_failures);
    family("tradelake_etl_duration_seconds", "summary", "Time spent in ETL runs.");
    out += fmt::format("tradelake_etl_duration_seconds_sum {:.6f}\n", s.etl_seconds_total);
    out += fmt::format("tradelake_etl_duration_seconds_count {}\n", s.etl_runs);
    family("tradelake_etl_rows_total", "counter", "Bronze records the ETL read, by what became of them.");
    out += fmt::format("tradelake_etl_rows_total{{kind=\"records\"}} {}\n", s.etl_records_total);
    out += fmt::format("tradelake_etl_rows_total{{kind=\"inserted\"}} {}\n", s.etl_inserted_total);
    out += fmt::format("tradelake_etl_rows_total{{kind=\"duplicates\"}} {}\n", s.etl_duplicates_total);
    out += fmt::format("tradelake_etl_rows_total{{kind=\"rejected\"}} {}\n", s.etl_rejected_total);
    family("tradelake_etl_rejected_total", "counter", "Records rejected by the ETL, by data-quality rule.");
    for (const auto& [rule, n] : s.etl_rejected_by_rule) {
      out += fmt::format("tradelake_etl_rejected_total{{rule=\"{}\"}} {}\n", Label(rule), n);
    }
    family("tradelake_etl_last_success_timestamp_seconds", "gauge", "When the last successful ETL run finished.");
    out += fmt::format("tradelake_etl_last_success_timestamp_seconds {}\n",
                       last_success_at_ ? static_cast<double>(last_success_at_.load()) / 1e6 : 0.0);
    family("tradelake_pipeline_paused", "gauge", "1 while the ingest schedule is paused.");
    out += fmt::format("tradelake_pipeline_paused {}\n", s.schedule.paused ? 1 : 0);
    return out;
  }

 private:
  struct Product {
    IngestProductStatus status;   // guarded by mu_
    std::string state = "starting";
    std::string last_error;
    int64_t starts = 0;           // times its ingestion was started (first, after a failure, after a pause)
    bool started = false;         // its checkpoint was loaded at least once
    int64_t backoff_ms = 0;       // the wait before its next start after a failure
  };

  Product* Find(std::string_view id) {
    for (auto& p : products_) {
      if (p->status.product == id) return p.get();
    }
    return nullptr;
  }

  // The ingest supervisor: one RunIngest (ingest/ingester.h) in follow mode
  // serves every product from its bounded worker pool while the schedule
  // runs. A product that fails is started again inside that run after a
  // growing wait (on_product_failed) while the others go on; a permanent
  // error (unknown product, access denied) stops everything (fatal()).
  void IngestLoop() {
    std::unique_lock lock(mu_);
    int64_t backoff_ms = options_.retry_min_ms;
    bool backfill_asked = false;
    while (!stopping_) {
      if (fatal_) {
        for (auto& p : products_) p->state = "failed";
        cv_.wait(lock, [&] { return stopping_; });
        break;
      }
      if (schedule_.paused) {
        for (auto& p : products_) p->state = "paused";
        cv_.wait(lock, [&] { return stopping_ || !schedule_.paused; });
        continue;
      }
      ingest_stop_ = false;
      std::vector<std::string> ids;
      for (auto& p : products_) {
        ids.push_back(p->status.product);
        ++p->starts;
        if (p->state != "retrying") p->state = "starting";
      }
      IngestOptions o = options_.ingest;
      o.products = std::move(ids);
      // The backfill start (--since) is searched until every product has
      // started once; later runs resume from the checkpoints (and their
      // backfill cursors), without a new search.
      if (backfill_asked) {
        o.since.reset();
        o.from_trade_id.reset();
      }
      o.follow = true;
      o.progress = false;
      o.stop = &ingest_stop_;
      o.stats = &stats_;
      o.limiter = options_.ingest.limiter != nullptr ? options_.ingest.limiter : limiter_.get();
      o.on_landed = [this](const LandedObject& landed) { OnLanded(landed); };
      o.on_product_started = [this](const std::string& product) { OnProductStarted(product); };
      o.on_product_failed = [this](const std::string& product, const Status& error) {
        return OnProductFailed(product, error);
      };
      lock.unlock();
      const IngestReport report = RunIngest(ingest_store_, o);
      lock.lock();
      backfill_asked = std::all_of(products_.begin(), products_.end(), [](const auto& p) { return p->started; });
      if (fatal_ || stopping_) continue;
      if (report.status.ok() || report.status.code() == StatusCode::kCancelled) {
        // Stopped on request (pause): the loop waits for the resume.
        backoff_ms = options_.retry_min_ms;
        if (!schedule_.paused) cv_.wait_for(lock, milliseconds(options_.retry_min_ms), [&] { return stopping_; });
        continue;
      }
      // The run as a whole failed (the product listing could not be read).
      if (IsPermanent(report.status)) {
        spdlog::error("ingest stopped: {}", report.status.ToString());
        fatal_ = report.status;
        cv_.notify_all();
        continue;
      }
      for (auto& p : products_) {
        p->state = "retrying";
        p->last_error = report.status.ToString();
      }
      spdlog::warn("ingest failed ({}); starting again in {:.1f} s", report.status.ToString(),
                   static_cast<double>(backoff_ms) / 1000.0);
      cv_.wait_for(lock, milliseconds(backoff_ms), [&] { return stopping_ || schedule_.paused; });
      backoff_ms = std::min(backoff_ms * 2, options_.retry_max_ms);
    }
    for (auto& p : products_) p->state = "stopped";
  }

  void OnProductStarted(const std::string& id) {
    std::lock_guard lock(mu_);
    Product* p = Find(id);
    if (p == nullptr) return;
    p->started = true;
    p->state = "following";
  }

  // A product's ingestion failed inside the run: when to start it again
  // (ms), or nullopt for a permanent error, which stops every product.
  std::optional<int64_t> OnProductFailed(const std::string& id, const Status& error) {
    std::optional<int64_t> delay;
    {
      std::lock_guard lock(mu_);
      Product* p = Find(id);
      if (p == nullptr || stopping_) return std::nullopt;
      p->last_error = error.ToString();
      if (IsPermanent(error)) {
        spdlog::error("ingest stopped: {}", error.ToString());
        p->state = "failed";
        if (!fatal_) fatal_ = error;
        ingest_stop_ = true;
      } else {
        p->backoff_ms = p->backoff_ms == 0 ? options_.retry_min_ms : std::min(p->backoff_ms * 2, options_.retry_max_ms);
        delay = p->backoff_ms;
        p->state = "retrying";
        ++p->starts;
        spdlog::warn("ingest of {} failed ({}); starting it again in {:.1f} s", id, error.ToString(),
                     static_cast<double>(*delay) / 1000.0);
      }
    }
    cv_.notify_all();
    return delay;
  }

  void OnLanded(const LandedObject& landed) {
    {
      std::lock_guard lock(mu_);
      for (auto& p : products_) {
        if (p->status.product != landed.product_id) continue;
        p->backoff_ms = 0;  // it makes progress: a later failure waits the least again
        p->status.trades_landed += landed.trades;
        ++p->status.objects_landed;
        p->status.bronze_bytes += landed.bytes;
        p->status.last_landed_at = NowMicros();
        if (landed.last_trade_time) p->status.last_trade_time = landed.last_trade_time;
      }
      etl_trigger_.Landed(Clock::now());
    }
    cv_.notify_all();
  }

  void EtlLoop() {
    std::unique_lock lock(mu_);
    int64_t backoff_ms = options_.retry_min_ms;
    while (!stopping_) {
      if (!etl_trigger_.pending()) {
        etl_state_ = "idle";
        cv_.wait(lock, [&] { return stopping_ || etl_trigger_.pending(); });
        continue;
      }
      if (!etl_trigger_.Take(Clock::now())) {
        etl_state_ = "waiting";
        cv_.wait_until(lock, etl_trigger_.due(), [&] { return stopping_; });
        continue;
      }
      etl_state_ = "running";
      EtlRunSummary summary;
      summary.started_at = NowMicros();
      EtlOptions eo = options_.etl;
      eo.stop = &etl_stop_;
      eo.progress = false;
      eo.state_cache = &etl_cache_;  // only this thread runs the ETL
      lock.unlock();
      auto report = RunEtl(etl_store_, eo);
      lock.lock();
      summary.finished_at = NowMicros();
      summary.seconds = static_cast<double>(summary.finished_at - summary.started_at) / 1e6;
      if (report.ok()) {
        summary.ok = true;
        summary.nothing_to_do = report->nothing_to_do;
        summary.commit = report->seq;
        summary.bronze_objects = report->bronze_objects;
        summary.records = report->records;
        summary.inserted = report->inserted;
        summary.duplicates = report->duplicates;
        summary.rejected = report->rejected;
        etl_totals_.records += report->records;
        etl_totals_.inserted += report->inserted;
        etl_totals_.duplicates += report->duplicates;
        etl_totals_.rejected += report->rejected;
        for (const auto& [rule, n] : report->rejected_by_rule) etl_rejected_by_rule_[rule] += n;
        last_success_at_ = summary.finished_at;
        backoff_ms = options_.retry_min_ms;
        if (!report->nothing_to_do) {
          spdlog::info("etl: commit {}: {} Bronze objects, {} records -> {} inserted, {} duplicates, {} rejected "
                       "({:.2f} s)",
                       report->seq, report->bronze_objects, report->records, report->inserted, report->duplicates,
                       report->rejected, summary.seconds);
        }
      } else {
        summary.error = report.status().ToString();
      }
      if (report.ok() && options_.on_gold_newest) {
        auto moved = GoldNewestMoved(*report);
        if (!moved.empty()) {
          lock.unlock();
          options_.on_gold_newest(moved);
          lock.lock();
        }
      }
      if (report.ok() && options_.after_etl) {
        lock.unlock();
        options_.after_etl(*report, &etl_stop_);
        lock.lock();
      }
      etl_seconds_total_ += summary.seconds;
      ++etl_runs_finished_;
      const bool abandoned = !report.ok() && stopping_;
      if (!report.ok() && !abandoned) ++etl_failures_;
      last_etl_ = summary;
      etl_state_ = "idle";
      cv_.notify_all();
      if (abandoned) {
        spdlog::info("etl: stopped before its commit; the next run redoes it");
        break;
      }
      if (!report.ok()) {
        spdlog::warn("etl failed ({}); trying again in {:.1f} s", summary.error,
                     static_cast<double>(backoff_ms) / 1000.0);
        etl_trigger_.DueAt(Clock::now());
        etl_state_ = "retrying";
        cv_.wait_for(lock, milliseconds(backoff_ms), [&] { return stopping_; });
        backoff_ms = std::min(backoff_ms * 2, options_.retry_max_ms);
      }
    }
    etl_state_ = "stopped";
  }

  // The products whose newest gold.bars_1m minute `report`'s run moved,
  // from the ETL's state in memory (etl_cache_, which only this thread
  // touches): the bars of one product and day are in that day's files, and
  // since trade ids grow with time, the newest bar holds the largest
  // period_start, first_trade_id and last_trade_id of the product's files.
  std::map<std::string, GoldNewestBar> GoldNewestMoved(const EtlReport& report) {
    std::map<std::string, GoldNewestBar> moved;
    // Products with trades inserted and not looked up yet: their newest
    // inserted trade's time.
    for (const auto& [product, range] : report.inserted_time_range) {
      auto [it, inserted] = gold_pending_.try_emplace(product, range.second);
      if (!inserted) it->second = std::max(it->second, range.second);
    }
    // The ETL reloads its state on its next run (after a compaction): the
    // products wait for a run whose state is in memory.
    if (etl_cache_.catalog.seq != report.seq) return moved;
    auto table = etl_cache_.tables.find(std::string(kGoldBars1m));
    if (table == etl_cache_.tables.end()) return moved;
    const auto& files = table->second.files;
    std::map<std::string, TimestampMicros> pending;
    pending.swap(gold_pending_);
    for (const auto& [product, newest_inserted] : pending) {
      const std::string prefix = PartitionName(product, FormatDate(newest_inserted)) + "/";
      std::optional<GoldNewestBar> newest;
      for (auto it = files.lower_bound(prefix); it != files.end() && it->first.starts_with(prefix); ++it) {
        auto stats = ParseDeltaStats(it->second.stats);
        if (!stats.ok()) continue;
        const auto minute = StatTime(stats->max_values, "period_start");
        const auto first = StatInt(stats->max_values, "first_trade_id");
        const auto last = StatInt(stats->max_values, "last_trade_id");
        if (!minute || !first || !last) continue;
        if (!newest) newest = GoldNewestBar{*minute, *first, *last};
        newest->minute = std::max(newest->minute, *minute);
        newest->first_trade_id = std::max(newest->first_trade_id, *first);
        newest->last_trade_id = std::max(newest->last_trade_id, *last);
      }
      if (!newest) continue;
      auto [known, inserted] = gold_newest_.try_emplace(product, *newest);
      if (!inserted) {
        if (newest->minute < known->second.minute ||
            (newest->minute == known->second.minute && newest->last_trade_id <= known->second.last_trade_id)) {
          continue;  // a repair of older minutes: the newest did not move
        }
        known->second = *newest;
      }
      moved[product] = *newest;
    }
    return moved;
  }

  void ScheduleLoop() {
    std::unique_lock lock(mu_);
    bool warned = false;
    while (!stopping_) {
      cv_.wait_for(lock, milliseconds(options_.schedule_poll_ms), [&] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      {
        // Load and apply under save_mu_, so a SetPaused cannot land between
        // them and be undone by the older value read here.
        std::lock_guard save_lock(save_mu_);
        Result<Schedule> stored = LoadSchedule(ingest_store_);
        {
          std::lock_guard count_lock(mu_);
          ++schedule_reads_;
        }
        if (stored.ok()) {
          warned = false;
          Apply(*stored);
        } else if (!warned) {
          spdlog::warn("cannot read the schedule: {}; keeping the current one", stored.status().ToString());
          warned = true;
        }
      }
      lock.lock();
    }
  }

  void Apply(const Schedule& s) {
    {
      std::lock_guard lock(mu_);
      if (s == schedule_) return;
      const bool was_paused = schedule_.paused;
      schedule_ = s;
      if (s.paused != was_paused) {
        spdlog::info("schedule {} by {}", s.paused ? "paused" : "resumed", s.by.empty() ? "?" : s.by);
      }
      if (s.paused) ingest_stop_ = true;
    }
    cv_.notify_all();
  }

  ObjectStore* const ingest_store_;
  ObjectStore* const etl_store_;
  const PipelineOptions options_;
  std::unique_ptr<RateLimiter> limiter_;
  ClientStats stats_;
  std::atomic<bool> ingest_stop_{false};  // ends the running RunIngest (pause, stop, a fatal error)
  std::atomic<bool> etl_stop_{false};
  LakeState etl_cache_;  // the ETL thread's Delta state between runs (only it touches this)
  // By product; only the ETL thread touches these (GoldNewestMoved).
  std::map<std::string, GoldNewestBar> gold_newest_;
  std::map<std::string, TimestampMicros> gold_pending_;
  std::atomic<TimestampMicros> last_success_at_{0};
  TimestampMicros started_at_ = 0;

  std::mutex save_mu_;  // one schedule save-and-apply at a time
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false, stopped_ = false;
  Schedule schedule_;
  std::optional<Status> fatal_;
  std::vector<std::unique_ptr<Product>> products_;
  EtlTrigger etl_trigger_{milliseconds(options_.etl_debounce_ms), milliseconds(options_.etl_max_delay_ms)};
  int64_t schedule_reads_ = 0;
  std::string etl_state_ = "idle";
  int64_t etl_runs_finished_ = 0, etl_failures_ = 0;
  double etl_seconds_total_ = 0;
  EtlRunSummary etl_totals_;
  std::map<std::string, int64_t> etl_rejected_by_rule_;
  std::optional<EtlRunSummary> last_etl_;
  std::thread ingest_thread_, etl_thread_, schedule_thread_;
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Result<std::unique_ptr<Pipeline>> Pipeline::Start(ObjectStore* ingest_store, ObjectStore* etl_store,
                                                  PipelineOptions options) {
  auto impl = std::make_unique<Impl>(ingest_store, etl_store, std::move(options));
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

void Pipeline::Stop() { impl_->Stop(); }
Result<Schedule> Pipeline::SetPaused(bool paused, std::string_view by) { return impl_->SetPaused(paused, by); }
PipelineStatus Pipeline::GetStatus() const { return impl_->GetStatus(); }
std::optional<Status> Pipeline::fatal() const { return impl_->fatal(); }
std::string Pipeline::StatusJson() const { return impl_->StatusJson(); }
std::string Pipeline::ScheduleJson() const { return tradelake::ScheduleJson(impl_->schedule()); }
std::string Pipeline::MetricsText() const { return impl_->MetricsText(); }

}  // namespace tradelake
