#include "serve/lake_thread.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace tradelake {
namespace {

// Every task runs on the one thread, whichever thread asked, one at a time,
// and Run returns only after its task ran.
TEST(LakeThread, TasksFromManyThreadsRunOnOneThreadOneAtATime) {
  LakeThread lake;
  std::set<std::thread::id> ran_on;  // touched only by tasks
  std::atomic<int> running{0};
  int most_at_once = 0;  // touched only by tasks
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        bool ran = false;
        lake.Run([&] {
          most_at_once = std::max(most_at_once, running.fetch_add(1) + 1);
          ran_on.insert(std::this_thread::get_id());
          std::this_thread::yield();
          running.fetch_sub(1);
          ran = true;
        });
        EXPECT_TRUE(ran) << "Run returned before its task ran";
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ran_on.size(), 1u);
  EXPECT_EQ(most_at_once, 1);
  EXPECT_NE(*ran_on.begin(), std::this_thread::get_id());
}

// A task may ask for more work on the thread: it runs at once instead of
// waiting for itself.
TEST(LakeThread, RunFromTheThreadItselfRunsAtOnce) {
  LakeThread lake;
  std::vector<int> order;
  lake.Run([&] {
    order.push_back(1);
    lake.Run([&] { order.push_back(2); });
    order.push_back(3);
  });
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace tradelake
