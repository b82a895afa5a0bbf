// FairMutex: a mutex that hands itself to waiters in the order they came
// (a ticket lock over std::mutex and a condition variable).
//
// `serve` runs every statement under one lock on its DuckDB session. With
// std::mutex, which lets any waiter win, some of 64 clients waited over 10 s
// while others were served again and again (serve_soak_bench: 86 timeouts in
// 10 minutes at ~47 requests/s); in turn, a request waits for the ones ahead
// of it only.
//
// Meets Lockable: std::lock_guard and std::unique_lock (std::try_to_lock)
// work with it. try_lock succeeds only when nobody holds or waits.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace tradelake {

class FairMutex {
 public:
  FairMutex() = default;
  FairMutex(const FairMutex&) = delete;
  FairMutex& operator=(const FairMutex&) = delete;

  void lock() {
    std::unique_lock<std::mutex> l(mu_);
    const uint64_t ticket = next_++;
    cv_.wait(l, [&] { return serving_ == ticket; });
  }
  bool try_lock() {
    std::lock_guard<std::mutex> l(mu_);
    if (next_ != serving_) return false;
    ++next_;
    return true;
  }
  void unlock() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++serving_;
    }
    cv_.notify_all();
  }

  // Tickets handed out and not yet served, holder included (for tests).
  uint64_t QueuedForTest() {
    std::lock_guard<std::mutex> l(mu_);
    return next_ - serving_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ = 0;     // GUARDED_BY(mu_): the next ticket handed out
  uint64_t serving_ = 0;  // GUARDED_BY(mu_): the ticket that may hold the lock
};

}  // namespace tradelake
