#include "serve/fair_mutex.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace tradelake {
namespace {

// Waiters get the lock in the order they asked. Each waiter is known to be
// queued (holding a ticket) before the next one starts: no sleeps, no timing.
TEST(FairMutex, WaitersGetTheLockInTheOrderTheyCame) {
  FairMutex mu;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  mu.lock();  // ticket 0
  for (int i = 0; i < 16; ++i) {
    waiters.emplace_back([&, i] {
      std::lock_guard<FairMutex> l(mu);
      order.push_back(i);
    });
    // Thread i holds ticket i + 1 before thread i + 1 starts.
    while (mu.QueuedForTest() != static_cast<uint64_t>(i) + 2) std::this_thread::yield();
  }
  EXPECT_FALSE(mu.try_lock()) << "held, with waiters";
  mu.unlock();
  for (auto& t : waiters) t.join();
  std::vector<int> want;
  for (int i = 0; i < 16; ++i) want.push_back(i);
  EXPECT_EQ(order, want);
  EXPECT_TRUE(mu.try_lock()) << "free, nobody waiting";
  mu.unlock();
}

TEST(FairMutex, UniqueLockTryToLockWorks) {
  FairMutex mu;
  {
    std::unique_lock<FairMutex> a(mu, std::try_to_lock);
    EXPECT_TRUE(a.owns_lock());
    std::thread([&] {
      std::unique_lock<FairMutex> b(mu, std::try_to_lock);
      EXPECT_FALSE(b.owns_lock());
    }).join();
  }
  std::unique_lock<FairMutex> c(mu, std::try_to_lock);
  EXPECT_TRUE(c.owns_lock());
}

}  // namespace
}  // namespace tradelake
