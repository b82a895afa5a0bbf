#include "exchange/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace tradelake {
namespace {

class SteadyClock final : public RateLimiter::Clock {
 public:
  std::chrono::steady_clock::time_point Now() override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::nanoseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

RateLimiter::Clock* RateLimiter::RealClock() {
  static SteadyClock clock;  // stateless: safe to share
  return &clock;
}

RateLimiter::RateLimiter(double rate_per_second, double burst, Clock* clock)
    : rate_(rate_per_second),
      // A bucket that cannot hold one whole token would never let TryAcquire succeed.
      burst_(std::max(burst, 1.0)),
      clock_(clock != nullptr ? clock : RealClock()),
      tokens_(burst_),
      last_(clock_->Now()) {}

void RateLimiter::RefillLocked(std::chrono::steady_clock::time_point now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

void RateLimiter::Acquire() {
  if (unlimited()) return;
  std::chrono::duration<double> wait{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    RefillLocked(clock_->Now());
    // Take the token now even if the bucket goes into debt: each waiter reserves
    // its own slot in time, so concurrent callers are served in arrival order and
    // every caller sleeps exactly once, for exactly as long as its slot is away.
    tokens_ -= 1.0;
    if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / rate_);
  }
  if (wait.count() > 0) clock_->SleepFor(std::chrono::ceil<std::chrono::nanoseconds>(wait));
}

bool RateLimiter::TryAcquire() {
  if (unlimited()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(clock_->Now());
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace tradelake
