#include "ingest/checkpoint.h"

#include <gtest/gtest.h>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

TEST(Checkpoint, SavesAndLoadsEveryField) {
  auto store = NewMemoryStore();
  auto none = LoadCheckpoint(store.get(), "BTC-USD");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Checkpoint cp{"BTC-USD", 100, 250, 1'714'521'600'123'456, Backfill{10, 40}, 5};
  ASSERT_TRUE(SaveCheckpoint(store.get(), cp).ok());
  auto got = LoadCheckpoint(store.get(), "BTC-USD");
  ASSERT_TRUE(got.ok() && got->has_value());
  const Checkpoint& c = **got;
  EXPECT_EQ(c.low, 100);
  EXPECT_EQ(c.high, 250);
  EXPECT_EQ(c.high_time, 1'714'521'600'123'456);
  ASSERT_TRUE(c.backfill.has_value());
  EXPECT_EQ(c.backfill->from, 10);
  EXPECT_EQ(c.backfill->next, 40);
}

TEST(Checkpoint, CorruptFileIsDataLossWithAFix) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Put(CheckpointKey("BTC-USD"), "{\"product_id\":\"BTC-USD\",\"lo", WriteMode::kOverwrite).ok());
  auto got = LoadCheckpoint(store.get(), "BTC-USD");
  EXPECT_EQ(got.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(got.status().message().find("re-derive it from Bronze"), std::string::npos);
}

TEST(Checkpoint, RecoveryAdvancesOverObjectsAndGapReportsOnly) {
  auto store = NewMemoryStore();
  for (auto [a, b] : {std::pair{100, 199}, {200, 299}, {306, 400}, {500, 600}}) {
    ASSERT_TRUE(store->Put(BronzeObjectKey("BTC-USD", "2024-05-01", a, b), "x", WriteMode::kCreateOnly).ok());
  }
  ASSERT_TRUE(WriteGapReport(store.get(), {"BTC-USD", 300, 305, "test", "/r", 5, 0}).ok());
  ASSERT_TRUE(store->Put("bronze/source=coinbase/product=BTC-USD/date=2024-05-01/notes.txt", "x",
                         WriteMode::kOverwrite).ok());
  auto ranges = ListLandedRanges(store.get(), "BTC-USD");
  ASSERT_TRUE(ranges.ok());
  ASSERT_EQ(ranges->size(), 5u);
  EXPECT_EQ(AdvanceOverLanded(*ranges, 100), 401);  // 100..400 landed, 401..499 not yet
  EXPECT_EQ(AdvanceOverLanded(*ranges, 150), 401);
  EXPECT_EQ(AdvanceOverLanded(*ranges, 401), 401);
  EXPECT_EQ(AdvanceOverLanded(*ranges, 500), 601);
  EXPECT_EQ(AdvanceOverLanded(*ranges, 50), 50);
}

}  // namespace
}  // namespace tradelake
