// EtlTrigger: when the pipeline's ETL worker runs next, as a function of
// time passed in by the caller (so tests drive it with made-up time points,
// never the wall clock).
//
// An ETL run is due `debounce` after the last Bronze object landed, and at
// the latest `max_delay` after the first object not yet transformed landed:
// a steady stream of objects cannot postpone the ETL forever. Not
// thread-safe: the pipeline calls it under its own mutex.
#pragma once

#include <algorithm>
#include <chrono>

namespace tradelake {

class EtlTrigger {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // REQUIRES: 0 <= debounce <= max_delay.
  EtlTrigger(std::chrono::milliseconds debounce, std::chrono::milliseconds max_delay)
      : debounce_(debounce), max_delay_(max_delay) {}

  // A Bronze object landed at `now`.
  void Landed(TimePoint now) {
    if (!pending_) first_pending_ = now;
    pending_ = true;
    last_landed_ = now;
  }
  // A run is due at `now` whatever landed (at start, to catch up; after a
  // failed run's wait).
  void DueAt(TimePoint now) {
    pending_ = true;
    first_pending_ = last_landed_ = now - max_delay_;
  }
  bool pending() const { return pending_; }
  // When the pending run is due. REQUIRES: pending().
  TimePoint due() const { return std::min(last_landed_ + debounce_, first_pending_ + max_delay_); }
  // True, and no longer pending, if a run is due at `now`.
  bool Take(TimePoint now) {
    if (!pending_ || now < due()) return false;
    pending_ = false;
    return true;
  }

 private:
  const std::chrono::milliseconds debounce_, max_delay_;
  bool pending_ = false;
  TimePoint first_pending_{}, last_landed_{};
};

}  // namespace tradelake
