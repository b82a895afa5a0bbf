#include "exchange/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace tradelake {
namespace {

using Clock = std::chrono::steady_clock;

// Timing assertions are lower bounds only: a busy machine may make things
// slower, never faster.

TEST(RateLimiter, FullBucketAllowsExactlyBurstThenRefuses) {
  // A rate low enough that no token refills during the loop.
  RateLimiter limiter(0.001, 15);
  int taken = 0;
  for (int i = 0; i < 100; ++i) {
    if (limiter.TryAcquire()) ++taken;
  }
  EXPECT_EQ(taken, 15);
  EXPECT_FALSE(limiter.TryAcquire());
}

TEST(RateLimiter, TokensRefillOverTime) {
  RateLimiter limiter(50, 2);
  EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_FALSE(limiter.TryAcquire());
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // >= 3 tokens' worth, capped at 2
  EXPECT_TRUE(limiter.TryAcquire());
}

TEST(RateLimiter, RefillIsCappedAtBurst) {
  RateLimiter limiter(1000, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // 20 tokens' worth
  int taken = 0;
  while (limiter.TryAcquire() && taken < 100) ++taken;
  // Refill during the loop itself may add one token on a slow machine.
  EXPECT_GE(taken, 3);
  EXPECT_LE(taken, 5);
}

TEST(RateLimiter, AcquireWaitsForTheRate) {
  RateLimiter limiter(100, 1);
  const auto start = Clock::now();
  for (int i = 0; i < 20; ++i) limiter.Acquire();
  // The first token is in the bucket; the other 19 take 10 ms each.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(150));
}

TEST(RateLimiter, AcquireIsSharedFairlyAcrossThreads) {
  RateLimiter limiter(200, 1);
  std::atomic<int> done{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        limiter.Acquire();
        done.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(done.load(), 40);
  // 39 tokens beyond the first at 5 ms each, whichever thread took them.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(170));
}

TEST(RateLimiter, NonPositiveRateIsUnlimited) {
  RateLimiter limiter(0, 1);
  EXPECT_TRUE(limiter.unlimited());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.TryAcquire());
  for (int i = 0; i < 10000; ++i) limiter.Acquire();  // returns at once
  RateLimiter negative(-1, 0);
  EXPECT_TRUE(negative.unlimited());
  EXPECT_TRUE(negative.TryAcquire());
}

}  // namespace
}  // namespace tradelake
