// StatementWatchdog: a time and memory limit for statements that run on
// another thread, enforced by interrupting them (duckdb_interrupt through
// Connection::Interrupt / LakeSql::Interrupt).
//
// Why a watchdog and not only DuckDB's settings: DuckDB has no statement
// timeout, and its memory_limit bounds the buffer manager only; some state
// lives outside it (string_agg's growing string, list aggregates), so
// `SELECT length(string_agg(repeat('x',1000),'')) FROM range(20000000)`
// grows the process past any memory_limit. The watchdog reads the process's
// resident set (/proc/self/statm) every poll_millis while a statement runs
// and interrupts it once the process has grown by more than
// max_growth_bytes since the statement began, or once it has run for
// max_micros. The statement then fails with Cancelled; Finish() tells why
// and gives the message for the user.
//
// Bounds: the process can grow past the limit by what a statement allocates
// in one poll (about 10 MB at 50 ms for the string_agg above) plus what the
// interrupted statement holds until it unwinds.
//
// Threads: Begin() and Finish() are called by the thread that runs the
// statement, in pairs, one statement at a time; the watchdog's own thread
// calls the interrupt function. All methods are thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"

namespace tradelake {

struct StatementLimits {
  int64_t max_micros = 0;        // 0: no time limit
  int64_t max_growth_bytes = 0;  // 0: no memory limit
  int poll_millis = 50;
};

// The resident set size of this process in bytes (0 if unknown).
int64_t ProcessRssBytes();

class StatementWatchdog {
 public:
  // `interrupt` stops the running statement (called from the watchdog's
  // thread, at most once per statement). Starts no thread when both limits
  // are 0.
  StatementWatchdog(StatementLimits limits, std::function<void()> interrupt);
  ~StatementWatchdog();  // stops the thread

  StatementWatchdog(const StatementWatchdog&) = delete;
  StatementWatchdog& operator=(const StatementWatchdog&) = delete;

  // A statement starts now.
  void Begin();
  // The statement ended with `s`. If the watchdog interrupted it (and `s`
  // is not OK), or `s` is DuckDB's "Out of Memory Error" while a memory
  // limit is set, returns FailedPrecondition naming the limit and the flag
  // that raises it (`time_flag` or `memory_flag`); otherwise `s`.
  Status Finish(Status s, std::string_view time_flag, std::string_view memory_flag);

  // Largest resident set seen while statements ran (0 before any).
  int64_t peak_rss_bytes() const;
  // Statements stopped for time; for memory (interrupted, or DuckDB's own
  // memory_limit).
  int64_t timeouts() const;
  int64_t memory_stops() const;

  const StatementLimits& limits() const { return limits_; }

 private:
  enum class Tripped { kNone, kTime, kMemory };
  void Loop();

  const StatementLimits limits_;
  const std::function<void()> interrupt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;            // GUARDED_BY(mu_)
  bool running_ = false;         // GUARDED_BY(mu_)
  int64_t started_micros_ = 0;   // GUARDED_BY(mu_), steady clock
  int64_t start_rss_ = 0;        // GUARDED_BY(mu_)
  Tripped tripped_ = Tripped::kNone;  // GUARDED_BY(mu_)
  int64_t tripped_rss_ = 0;      // GUARDED_BY(mu_)
  int64_t peak_rss_ = 0;         // GUARDED_BY(mu_)
  int64_t timeouts_ = 0;         // GUARDED_BY(mu_)
  int64_t memory_stops_ = 0;     // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace tradelake
