// RateLimiter: a token bucket shared by every request to one exchange.
//
// Coinbase's public REST limit is 10 requests/s with bursts of 15, per IP, so
// one limiter serves all products of a process. Tokens refill continuously at
// `rate` per second up to `burst` (at least 1); the bucket starts full.
// rate <= 0 disables limiting. Thread-safe: any thread may call any method.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace tradelake {

class RateLimiter {
 public:
  // Where the limiter reads the time and how it waits. The default is
  // steady_clock and std::this_thread::sleep_for; tests pass a fake clock whose
  // SleepFor advances its time, so nothing in a test depends on the wall clock.
  // Implementations must be thread-safe.
  class Clock {
   public:
    virtual ~Clock() = default;
    virtual std::chrono::steady_clock::time_point Now() = 0;
    virtual void SleepFor(std::chrono::nanoseconds d) = 0;
  };
  // The process-wide real clock (steady_clock, sleep_for).
  static Clock* RealClock();

  // `clock` is not owned and must outlive the limiter; nullptr means RealClock().
  RateLimiter(double rate_per_second, double burst, Clock* clock = nullptr);

  // Takes a token, sleeping (once, without polling) until it is due. Concurrent
  // callers are served in arrival order: each reserves the next free slot.
  void Acquire();
  // Takes a token if one is available now; never blocks. Returns false (and
  // takes nothing) otherwise.
  bool TryAcquire();

  double rate() const { return rate_; }
  double burst() const { return burst_; }
  bool unlimited() const { return rate_ <= 0; }

 private:
  void RefillLocked(std::chrono::steady_clock::time_point now);

  const double rate_;
  const double burst_;
  Clock* const clock_;
  std::mutex mu_;
  double tokens_;                                 // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_;    // GUARDED_BY(mu_)
};

}  // namespace tradelake
