#include "exchange/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace tradelake {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// A clock that moves only when told: time is advanced by the test (Advance)
// or, if `sleep_advances`, by the limiter's own SleepFor. Every sleep is
// recorded, so "the limiter did not wait" is a count of zero, not a timing.
class FakeClock final : public RateLimiter::Clock {
 public:
  explicit FakeClock(bool sleep_advances) : sleep_advances_(sleep_advances) {}

  std::chrono::steady_clock::time_point Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void SleepFor(nanoseconds d) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(d);
    if (sleep_advances_) now_ += d;
  }
  void Advance(nanoseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }
  std::vector<nanoseconds> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  nanoseconds elapsed() {
    std::lock_guard lock(mu_);
    return now_ - std::chrono::steady_clock::time_point{};
  }

 private:
  const bool sleep_advances_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point now_{};
  std::vector<nanoseconds> sleeps_;
};

// Sleeps are computed in floating point and rounded up to whole nanoseconds.
int64_t Micros(nanoseconds d) { return (d.count() + 500) / 1000; }

TEST(RateLimiter, FullBucketAllowsExactlyBurstThenRefuses) {
  FakeClock clock(/*sleep_advances=*/false);
  RateLimiter limiter(10, 15, &clock);
  int taken = 0;
  for (int i = 0; i < 100; ++i) {
    if (limiter.TryAcquire()) ++taken;
  }
  EXPECT_EQ(taken, 15);
  EXPECT_FALSE(limiter.TryAcquire());
  EXPECT_TRUE(clock.sleeps().empty());  // TryAcquire never waits
}

TEST(RateLimiter, TokensRefillAtTheRate) {
  FakeClock clock(/*sleep_advances=*/false);
  RateLimiter limiter(50, 2, &clock);  // one token every 20 ms
  EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_FALSE(limiter.TryAcquire());
  clock.Advance(milliseconds(19));
  EXPECT_FALSE(limiter.TryAcquire()) << "0.95 tokens after 19 ms";
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(limiter.TryAcquire()) << "one token after 20 ms";
  EXPECT_FALSE(limiter.TryAcquire());
}

TEST(RateLimiter, RefillIsCappedAtBurst) {
  FakeClock clock(/*sleep_advances=*/false);
  RateLimiter limiter(1000, 3, &clock);
  clock.Advance(milliseconds(20));  // 20 tokens' worth
  int taken = 0;
  while (limiter.TryAcquire() && taken < 100) ++taken;
  EXPECT_EQ(taken, 3);
}

TEST(RateLimiter, ClockGoingBackwardsAddsNoTokens) {
  FakeClock clock(/*sleep_advances=*/false);
  clock.Advance(std::chrono::seconds(10));
  RateLimiter limiter(1, 1, &clock);
  EXPECT_TRUE(limiter.TryAcquire());
  clock.Advance(-std::chrono::seconds(5));
  EXPECT_FALSE(limiter.TryAcquire());
}

TEST(RateLimiter, AcquireSleepsOnceForEachTokenBeyondTheBurst) {
  FakeClock clock(/*sleep_advances=*/true);
  RateLimiter limiter(100, 1, &clock);
  for (int i = 0; i < 20; ++i) limiter.Acquire();
  // The first token is in the bucket; each of the other 19 is 10 ms away.
  const auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 19u);
  for (const nanoseconds d : sleeps) EXPECT_EQ(Micros(d), 10'000);
  EXPECT_EQ(Micros(clock.elapsed()), 190'000);
}

TEST(RateLimiter, AcquireDoesNotSleepWhileTokensRemain) {
  FakeClock clock(/*sleep_advances=*/false);
  RateLimiter limiter(10, 15, &clock);
  for (int i = 0; i < 15; ++i) limiter.Acquire();
  EXPECT_TRUE(clock.sleeps().empty());
  limiter.Acquire();
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_EQ(Micros(clock.sleeps()[0]), 100'000);
}

TEST(RateLimiter, ConcurrentCallersEachReserveTheirOwnSlot) {
  // Time stands still, so every caller but the first goes into debt: the
  // n-th reservation sleeps n slots (5 ms each), once, whichever thread made it.
  FakeClock clock(/*sleep_advances=*/false);
  RateLimiter limiter(200, 1, &clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) limiter.Acquire();
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> got;
  for (const nanoseconds d : clock.sleeps()) got.push_back(Micros(d));
  std::sort(got.begin(), got.end());
  std::vector<int64_t> want;
  for (int n = 1; n <= 39; ++n) want.push_back(n * 5'000);
  EXPECT_EQ(got, want);
}

TEST(RateLimiter, NonPositiveRateIsUnlimited) {
  FakeClock clock(/*sleep_advances=*/false);
  RateLimiter limiter(0, 1, &clock);
  EXPECT_TRUE(limiter.unlimited());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.TryAcquire());
  for (int i = 0; i < 10000; ++i) limiter.Acquire();
  EXPECT_TRUE(clock.sleeps().empty());
  RateLimiter negative(-1, 0, &clock);
  EXPECT_TRUE(negative.unlimited());
  EXPECT_TRUE(negative.TryAcquire());
}

}  // namespace
}  // namespace tradelake
