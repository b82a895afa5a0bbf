#include "store/counting_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

namespace tradelake {
namespace {

namespace fs = std::filesystem;

TEST(CountingStore, CountsEveryRequestByKindFailedOnesIncluded) {
  auto base = NewMemoryStore();
  CountingStore store(base.get());
  ASSERT_TRUE(store.Put("a/1", "hello", WriteMode::kCreateOnly).ok());
  EXPECT_EQ(store.Put("a/1", "again", WriteMode::kCreateOnly).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(store.Get("a/1").ok());
  EXPECT_EQ(store.Get("a/missing").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.Head("a/1").ok());
  ASSERT_TRUE(store.List("a/").ok());
  ASSERT_TRUE(store.Delete("a/1").ok());

  const StoreCounts c = store.counts();
  EXPECT_EQ(c.puts, 2);
  EXPECT_EQ(c.gets, 2);
  EXPECT_EQ(c.heads, 1);
  EXPECT_EQ(c.lists, 1);
  EXPECT_EQ(c.deletes, 1);
  EXPECT_EQ(c.requests(), 7);
  EXPECT_EQ(c.bytes_put, 5);  // the refused Put wrote nothing
  EXPECT_EQ(c.bytes_got, 5);
  EXPECT_EQ(c.local_reads + c.local_writes, 0);  // a memory store has no local paths
}

TEST(CountingStore, DifferenceOfTwoReadingsIsTheCostInBetween) {
  auto base = NewMemoryStore();
  CountingStore store(base.get());
  ASSERT_TRUE(store.Put("k", "1234", WriteMode::kOverwrite).ok());
  const StoreCounts before = store.counts();
  ASSERT_TRUE(store.Put("k", "12", WriteMode::kOverwrite).ok());
  ASSERT_TRUE(store.Get("k").ok());
  const StoreCounts d = store.counts() - before;
  EXPECT_EQ(d.puts, 1);
  EXPECT_EQ(d.gets, 1);
  EXPECT_EQ(d.bytes_put, 2);
  EXPECT_EQ(d.requests(), 2);
}

TEST(CountingStore, LogsWritesIncludingThoseThatBypassPut) {
  const fs::path dir = fs::temp_directory_path() / ("tradelake-counting-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto base = OpenLocalStore(dir.string());
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  CountingStore store(base->get(), {.log_writes = true});
  ASSERT_TRUE(store.Put("t/a", "abc", WriteMode::kOverwrite).ok());
  ASSERT_TRUE(store.WritablePath("t/b").has_value());
  ASSERT_TRUE(store.LocalPath("t/a").has_value());

  const StoreCounts c = store.counts();
  EXPECT_EQ(c.puts, 1);
  EXPECT_EQ(c.local_writes, 1);
  EXPECT_EQ(c.local_reads, 1);
  const std::vector<WrittenObject> writes = store.TakeWrites();
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[0].key, "t/a");
  EXPECT_EQ(writes[0].bytes, 3);
  EXPECT_FALSE(writes[0].local);
  EXPECT_EQ(writes[1].key, "t/b");
  EXPECT_TRUE(writes[1].local);
  EXPECT_TRUE(store.TakeWrites().empty());  // taken
  fs::remove_all(dir);
}

TEST(CountingStore, WithoutWritablePathCallersMustPut) {
  const fs::path dir = fs::temp_directory_path() / ("tradelake-counting-test-w-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto base = OpenLocalStore(dir.string());
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  CountingStore store(base->get(), {.allow_writable_path = false});
  EXPECT_FALSE(store.WritablePath("t/b").has_value());
  EXPECT_TRUE(store.LocalPath("t/b").has_value());  // reading in place stays allowed
  EXPECT_EQ(store.counts().local_writes, 0);
  fs::remove_all(dir);
}

TEST(CountingStore, CountsFromManyThreadsAddUp) {
  auto base = NewMemoryStore();
  CountingStore store(base.get());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 100; ++i) {
        (void)store.Put("k" + std::to_string(t), "x", WriteMode::kOverwrite);
        (void)store.Get("k" + std::to_string(t));
      }
    });
  }
  for (auto& th : threads) th.join();
  const StoreCounts c = store.counts();
  EXPECT_EQ(c.puts, 400);
  EXPECT_EQ(c.gets, 400);
  EXPECT_EQ(c.bytes_put, 400);
}

}  // namespace
}  // namespace tradelake
