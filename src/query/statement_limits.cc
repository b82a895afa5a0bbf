#include "query/statement_limits.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

namespace tradelake {
namespace {

int64_t SteadyMicrosNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Mib(int64_t bytes) { return fmt::format("{} MiB", bytes >> 20); }

}  // namespace

int64_t ProcessRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long pages_total = 0, pages_resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &pages_total, &pages_resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<int64_t>(pages_resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

StatementWatchdog::StatementWatchdog(StatementLimits limits, std::function<void()> interrupt)
    : limits_(limits), interrupt_(std::move(interrupt)) {
  if (limits_.max_micros > 0 || limits_.max_growth_bytes > 0) thread_ = std::thread([this] { Loop(); });
}

StatementWatchdog::~StatementWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatementWatchdog::Begin() {
  const int64_t rss = ProcessRssBytes();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = true;
    started_micros_ = SteadyMicrosNow();
    start_rss_ = rss;
    tripped_ = Tripped::kNone;
    peak_rss_ = std::max(peak_rss_, rss);
  }
  cv_.notify_all();
}

Status StatementWatchdog::Finish(Status s, std::string_view time_flag, std::string_view memory_flag) {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  const Tripped t = tripped_;
  tripped_ = Tripped::kNone;
  if (s.ok()) return s;
  if (t == Tripped::kNone) {
    // DuckDB's own memory_limit (set to the same bytes by the callers) hit
    // first: the same limit, said the same way.
    if (limits_.max_growth_bytes > 0 && s.message().find("Out of Memory Error") != std::string::npos) {
      ++memory_stops_;
      return FailedPrecondition(fmt::format(
          "statement stopped: it needs more than the memory limit of {}; aggregate less or raise {} ({})",
          // DuckDB's advice after the first line (SET memory_limit, ...) is refused in the sandbox.
          Mib(limits_.max_growth_bytes), memory_flag, s.message().substr(0, s.message().find('\n'))));
    }
    return s;
  }
  if (t == Tripped::kTime) {
    return FailedPrecondition(fmt::format(
        "statement stopped after the time limit of {:.3g} s; narrow it (a shorter time range, fewer products, "
        "LIMIT) or raise {}",
        static_cast<double>(limits_.max_micros) / 1e6, time_flag));
  }
  return FailedPrecondition(fmt::format(
      "statement stopped: it grew the process by more than the memory limit of {} (resident {} at its start, "
      "{} when stopped); aggregate less (string_agg and list over many rows hold everything in memory) or "
      "raise {}",
      Mib(limits_.max_growth_bytes), Mib(start_rss_), Mib(tripped_rss_), memory_flag));
}

int64_t StatementWatchdog::peak_rss_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_rss_;
}
int64_t StatementWatchdog::timeouts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeouts_;
}
int64_t StatementWatchdog::memory_stops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return memory_stops_;
}

void StatementWatchdog::Loop() {
  const auto poll = std::chrono::milliseconds(limits_.poll_millis > 0 ? limits_.poll_millis : 50);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!running_ || tripped_ != Tripped::kNone) {
      cv_.wait(lock, [this] { return stop_ || (running_ && tripped_ == Tripped::kNone); });
      continue;
    }
    cv_.wait_for(lock, poll, [this] { return stop_ || !running_; });
    if (stop_ || !running_) continue;
    // Reading statm takes microseconds; holding mu_ keeps Finish() from
    // racing the interrupt below (a statement that already finished is never
    // interrupted, so the next one cannot inherit the interrupt).
    const int64_t rss = ProcessRssBytes();
    peak_rss_ = std::max(peak_rss_, rss);
    if (limits_.max_growth_bytes > 0 && rss - start_rss_ > limits_.max_growth_bytes) {
      tripped_ = Tripped::kMemory;
      tripped_rss_ = rss;
      ++memory_stops_;
    } else if (limits_.max_micros > 0 && SteadyMicrosNow() - started_micros_ > limits_.max_micros) {
      tripped_ = Tripped::kTime;
      ++timeouts_;
    }
    if (tripped_ != Tripped::kNone && interrupt_) interrupt_();
  }
}

}  // namespace tradelake
