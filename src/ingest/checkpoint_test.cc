#include "ingest/checkpoint.h"

#include <gtest/gtest.h>

#include <tuple>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

TEST(Checkpoint, SavesAndLoadsEveryField) {
  auto store = NewMemoryStore();
  auto none = LoadCheckpoint(store.get(), "BTC-USD");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Checkpoint cp{"BTC-USD", 100, 250, 1'714'521'600'123'456, Backfill{10, 40, 1'714'000'000'000'000}, 5, 17};
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
  EXPECT_EQ(c.backfill->landed_time, 1'714'000'000'000'000);
  EXPECT_EQ(c.landed_next_seq, 17);
}

TEST(Checkpoint, ACheckpointFromBeforeTheLandedLogLoadsWithoutItsNewFields) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Put(CheckpointKey("BTC-USD"),
                         R"({"product_id":"BTC-USD","low":100,"high":250,"high_time_us":5,)"
                         R"("backfill":{"from":10,"next":40},"updated_at_us":7})",
                         WriteMode::kOverwrite)
                  .ok());
  auto got = LoadCheckpoint(store.get(), "BTC-USD");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  EXPECT_FALSE((*got)->landed_next_seq.has_value());
  ASSERT_TRUE((*got)->backfill.has_value());
  EXPECT_FALSE((*got)->backfill->landed_time.has_value());
  EXPECT_EQ((*got)->high, 250);
}

TEST(Checkpoint, GapReportsAreValidJsonWhateverTheirText) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(WriteGapReport(store.get(), {"BTC-USD", 3, 4, "said \"no\"", "/p?a=\\", 2, 0}).ok());
  auto data = store->Get(GapReportPrefix("BTC-USD") + "3-4.json");
  ASSERT_TRUE(data.ok());
  EXPECT_NE(data->find(R"("reason":"said \"no\"")"), std::string::npos) << *data;
}

TEST(Checkpoint, AProductIdNeedingEscapesIsWrittenAsJsonAndReadBack) {
  // Product ids are validated before ingest, but the checkpoint must not
  // depend on that: what it writes is JSON whatever the id holds.
  auto store = NewMemoryStore();
  for (const std::string& id : {std::string("A\"B-USD"), std::string("A'<&>-USD"), std::string("\xC3\x84-USD")}) {
    Checkpoint cp{id, 1, 2, std::nullopt, std::nullopt, 3, std::nullopt};
    const Status saved = SaveCheckpoint(store.get(), cp);
    ASSERT_TRUE(saved.ok()) << id << ": " << saved.ToString();
    auto got = LoadCheckpoint(store.get(), id);
    ASSERT_TRUE(got.ok()) << id << ": " << got.status().ToString();
    ASSERT_TRUE(got->has_value()) << id;
    EXPECT_EQ((*got)->product_id, id);
    EXPECT_EQ((*got)->high, 2);
  }
  // A backslash or a control character cannot be in an object key at all.
  for (const std::string& id : {std::string("A\\B-USD"), std::string("A\tB-USD")}) {
    Checkpoint cp{id, 1, 2, std::nullopt, std::nullopt, 3, std::nullopt};
    EXPECT_EQ(SaveCheckpoint(store.get(), cp).code(), StatusCode::kInvalidArgument) << id;
  }
}

TEST(Checkpoint, TextThatIsNotUtf8IsWrittenNotThrown) {
  // A gap report carries the exchange's own words; an exchange answering in
  // Latin-1 must not make the JSON writer throw out of the ingester.
  auto store = NewMemoryStore();
  Status s = Status::OK();
  EXPECT_NO_THROW(s = WriteGapReport(store.get(), {"BTC-USD", 5, 6, "caf\xE9 \xFF", "/p?x=\xC3(", 1, 0}));
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto data = store->Get(GapReportPrefix("BTC-USD") + "5-6.json");
  ASSERT_TRUE(data.ok());
  EXPECT_NE(data->find("caf\xEF\xBF\xBD \xEF\xBF\xBD"), std::string::npos) << *data;
  Checkpoint cp{"BTC-\xFF", 1, 2, std::nullopt, std::nullopt, 3, std::nullopt};
  EXPECT_NO_THROW(s = SaveCheckpoint(store.get(), cp));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
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

// Records every List prefix, so tests can prove what recovery lists.
class ListRecordingStore final : public ObjectStore {
 public:
  explicit ListRecordingStore(ObjectStore* base) : base_(base) {}
  std::vector<std::string> lists;
  Status Put(std::string_view k, std::string_view d, WriteMode m) override { return base_->Put(k, d, m); }
  Result<std::string> Get(std::string_view k) override { return base_->Get(k); }
  Result<ObjectInfo> Head(std::string_view k) override { return base_->Head(k); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    lists.emplace_back(prefix);
    return base_->List(prefix);
  }
  Status Delete(std::string_view k) override { return base_->Delete(k); }
  std::string Describe() const override { return "recording"; }

 private:
  ObjectStore* base_;
};

TEST(Checkpoint, RecoveryListsOnlyTheDatesFromTheCheckpointOn) {
  auto base = NewMemoryStore();
  for (auto [date, a, b] : {std::tuple{"2020-01-01", 1, 99}, {"2024-04-30", 100, 199}, {"2024-05-01", 200, 299},
                            {"2024-05-02", 300, 399}}) {
    ASSERT_TRUE(base->Put(BronzeObjectKey("BTC-USD", date, a, b), "x", WriteMode::kCreateOnly).ok());
  }
  ListRecordingStore store(base.get());
  const std::string p = BronzeProductPrefix("BTC-USD");
  auto since = ParseRfc3339("2024-05-01T12:00:00Z");
  auto now = ParseRfc3339("2024-05-01T12:05:00Z");
  ASSERT_TRUE(since.ok() && now.ok());
  auto ranges = ListLandedRangesSince(&store, "BTC-USD", *since, *now);
  ASSERT_TRUE(ranges.ok()) << ranges.status().ToString();
  EXPECT_EQ(store.lists, (std::vector<std::string>{p + "date=2024-05-01/"}));  // the usual case: one List
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ((*ranges)[0].first_id, 200);

  // Near midnight, the neighbouring day too; after a day away, each day since.
  store.lists.clear();
  since = ParseRfc3339("2024-05-01T00:30:00Z");
  now = ParseRfc3339("2024-05-02T08:00:00Z");
  ranges = ListLandedRangesSince(&store, "BTC-USD", *since, *now);
  ASSERT_TRUE(ranges.ok()) << ranges.status().ToString();
  EXPECT_EQ(store.lists, (std::vector<std::string>{p + "date=2024-04-30/", p + "date=2024-05-01/",
                                                   p + "date=2024-05-02/"}));
  ASSERT_EQ(ranges->size(), 3u);
  EXPECT_EQ((*ranges)[0].first_id, 100);
  EXPECT_EQ((*ranges)[2].key, BronzeObjectKey("BTC-USD", "2024-05-02", 300, 399));

  // A long absence lists months, and whole years as one.
  store.lists.clear();
  auto long_ago = ParseRfc3339("2021-11-20T00:00:00Z");
  ASSERT_TRUE(ListLandedRangesSince(&store, "BTC-USD", *long_ago, *now).ok());
  EXPECT_EQ(store.lists,
            (std::vector<std::string>{p + "date=2021-11-", p + "date=2021-12-", p + "date=2022-", p + "date=2023-",
                                      p + "date=2024-01-", p + "date=2024-02-", p + "date=2024-03-",
                                      p + "date=2024-04-", p + "date=2024-05-"}));
}

TEST(Checkpoint, GapReportsAreFoundByTheirFirstIdWithoutListingThemAll) {
  auto base = NewMemoryStore();
  ASSERT_TRUE(base->Put(BronzeObjectKey("BTC-USD", "2024-05-01", 100, 199), "x", WriteMode::kCreateOnly).ok());
  ASSERT_TRUE(base->Put(BronzeObjectKey("BTC-USD", "2024-05-01", 206, 300), "x", WriteMode::kCreateOnly).ok());
  for (auto [a, b] : {std::pair{200, 205}, {2000, 2005}, {20, 30}}) {
    ASSERT_TRUE(WriteGapReport(base.get(), {"BTC-USD", a, b, "test", "/r", 5, 0}).ok());
  }
  ListRecordingStore store(base.get());
  auto all = ListLandedRanges(base.get(), "BTC-USD");
  ASSERT_TRUE(all.ok());
  std::vector<LandedRange> objects;
  for (const auto& r : *all) {
    if (!r.is_gap) objects.push_back(r);
  }
  store.lists.clear();
  auto next = AdvanceOverLandedAndGaps(&store, "BTC-USD", objects, 100);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, 301);
  const std::string g = GapReportPrefix("BTC-USD");
  EXPECT_EQ(store.lists, (std::vector<std::string>{g + "200-", g + "301-"}));
}

}  // namespace
}  // namespace tradelake
