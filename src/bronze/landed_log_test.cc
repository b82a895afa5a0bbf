#include "bronze/landed_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

// Forwards to a base store and counts every call, so tests can prove what a
// read costs.
class CountingStore final : public ObjectStore {
 public:
  explicit CountingStore(ObjectStore* base) : base_(base) {}
  int64_t calls() const { return calls_.load(); }
  int64_t lists() const { return lists_.load(); }
  void Reset() { calls_ = 0, lists_ = 0; }

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    ++calls_;
    return base_->Put(key, data, mode);
  }
  Result<std::string> Get(std::string_view key) override {
    ++calls_;
    return base_->Get(key);
  }
  Result<ObjectInfo> Head(std::string_view key) override {
    ++calls_;
    return base_->Head(key);
  }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    ++calls_;
    ++lists_;
    return base_->List(prefix);
  }
  Status Delete(std::string_view key) override {
    ++calls_;
    return base_->Delete(key);
  }
  std::string Describe() const override { return "counting(" + base_->Describe() + ")"; }

 private:
  ObjectStore* base_;
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> lists_{0};
};

LandedEntry Entry(std::string key, int64_t first, int64_t last) {
  LandedEntry e;
  e.key = std::move(key);
  e.first_trade_id = first;
  e.last_trade_id = last;
  e.records = last - first + 1;
  e.bytes = 123;
  e.landed_at = 1'714'521'600'123'456;
  return e;
}

TEST(LandedLog, EntriesRoundTripWithTheDocumentedKeysAndFields) {
  auto store = NewMemoryStore();
  int64_t next = 0;
  auto seq = AppendLanded(store.get(), "BTC-USD", Entry("bronze/a", 100, 199), &next);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 0);
  EXPECT_EQ(next, 1);
  EXPECT_EQ(LandedLogPrefix("BTC-USD"), "_state/ingest/landed/source=coinbase/product=BTC-USD/");
  auto raw = store->Get("_state/ingest/landed/source=coinbase/product=BTC-USD/00000000000000000000.json");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw,
            "{\"seq\":0,\"key\":\"bronze/a\",\"first_trade_id\":100,\"last_trade_id\":199,\"records\":100,"
            "\"bytes\":123,\"landed_at\":\"2024-05-01T00:00:00.123456Z\"}\n");
  EXPECT_TRUE(store->Head("_state/ingest/products/source=coinbase/BTC-USD.json").ok());

  auto got = ReadLanded(store.get(), "BTC-USD", 0);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  const LandedEntry& e = (*got)[0];
  EXPECT_EQ(e.seq, 0);
  EXPECT_EQ(e.key, "bronze/a");
  EXPECT_EQ(e.first_trade_id, 100);
  EXPECT_EQ(e.last_trade_id, 199);
  EXPECT_EQ(e.records, 100);
  EXPECT_EQ(e.bytes, 123);
  EXPECT_EQ(e.landed_at, 1'714'521'600'123'456);
}

TEST(LandedLog, TwoRacingAppendersNeverOverwriteEachOtherAndLeaveNoHole) {
  auto store = NewMemoryStore();
  constexpr int kPerWriter = 60;
  auto writer = [&](std::string name) {
    int64_t next = 0;  // both start from the same (stale) bookmark
    for (int i = 0; i < kPerWriter; ++i) {
      auto seq = AppendLanded(store.get(), "BTC-USD", Entry(name + std::to_string(i), i, i), &next);
      ASSERT_TRUE(seq.ok()) << seq.status().ToString();
      EXPECT_EQ(next, *seq + 1);
    }
  };
  std::thread a(writer, "a/");
  std::thread b(writer, "b/");
  a.join();
  b.join();
  auto got = ReadLanded(store.get(), "BTC-USD", 0);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u * kPerWriter);
  std::set<std::string> keys;
  for (size_t i = 0; i < got->size(); ++i) {
    EXPECT_EQ((*got)[i].seq, static_cast<int64_t>(i));
    keys.insert((*got)[i].key);
  }
  EXPECT_EQ(keys.size(), 2u * kPerWriter) << "an entry was overwritten";
}

TEST(LandedLog, AStaleBookmarkTakesTheFirstFreeSeqInFewProbes) {
  auto base = NewMemoryStore();
  int64_t next = 0;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(AppendLanded(base.get(), "ETH-USD", Entry("k", i, i), &next).ok());
  CountingStore counting(base.get());
  int64_t stale = 3;
  auto seq = AppendLanded(&counting, "ETH-USD", Entry("late", 5000, 5001), &stale);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 1000);
  EXPECT_EQ(stale, 1001);
  EXPECT_LT(counting.calls(), 30);  // gallop + bisect, not 997 tries
}

TEST(LandedLog, ReadingFromABookmarkReturnsOnlyNewerEntries) {
  auto store = NewMemoryStore();
  int64_t next = 0;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(AppendLanded(store.get(), "BTC-USD", Entry("old", i, i), &next).ok());
  const int64_t bookmark = next;
  for (int i = 5; i < 8; ++i) ASSERT_TRUE(AppendLanded(store.get(), "BTC-USD", Entry("new", i, i), &next).ok());
  auto got = ReadLanded(store.get(), "BTC-USD", bookmark);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  for (size_t i = 0; i < got->size(); ++i) {
    EXPECT_EQ((*got)[i].seq, bookmark + static_cast<int64_t>(i));
    EXPECT_EQ((*got)[i].key, "new");
  }
  auto none = ReadLanded(store.get(), "BTC-USD", next);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto capped = ReadLanded(store.get(), "BTC-USD", 0, 2);
  ASSERT_TRUE(capped.ok());
  ASSERT_EQ(capped->size(), 2u);
  EXPECT_EQ((*capped)[1].seq, 1);
  auto other = ReadLanded(store.get(), "ETH-USD", 0);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST(LandedLog, ReadCostsOneCallPerNewEntryPlusOneWhateverTheLogsAge) {
  for (int old_entries : {0, 10, 500}) {
    auto base = NewMemoryStore();
    int64_t next = 0;
    for (int i = 0; i < old_entries; ++i) {
      ASSERT_TRUE(AppendLanded(base.get(), "BTC-USD", Entry("old", i, i), &next).ok());
    }
    const int64_t bookmark = next;
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(AppendLanded(base.get(), "BTC-USD", Entry("new", i, i), &next).ok());
    CountingStore counting(base.get());
    auto got = ReadLanded(&counting, "BTC-USD", bookmark);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->size(), 4u);
    EXPECT_EQ(counting.calls(), 4 + 1) << "with " << old_entries << " older entries";
    EXPECT_EQ(counting.lists(), 0);
  }
}

TEST(LandedLog, ACorruptEntryIsDataLossNamingItsKey) {
  auto store = NewMemoryStore();
  int64_t next = 0;
  ASSERT_TRUE(AppendLanded(store.get(), "BTC-USD", Entry("ok", 1, 1), &next).ok());
  const std::string bad = LandedLogPrefix("BTC-USD") + "00000000000000000001.json";
  ASSERT_TRUE(store->Put(bad, "{\"seq\":1,\"key\":", WriteMode::kCreateOnly).ok());
  auto got = ReadLanded(store.get(), "BTC-USD", 0);
  EXPECT_EQ(got.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(got.status().message().find(bad), std::string::npos) << got.status().ToString();

  // An entry whose seq disagrees with its name is corrupt too.
  const std::string misnamed = LandedLogPrefix("ETH-USD") + "00000000000000000000.json";
  ASSERT_TRUE(store->Put(misnamed,
                         "{\"seq\":4,\"key\":\"k\",\"first_trade_id\":1,\"last_trade_id\":1,\"records\":1,"
                         "\"bytes\":1,\"landed_at\":\"2024-05-01T00:00:00Z\"}",
                         WriteMode::kCreateOnly)
                  .ok());
  auto got2 = ReadLanded(store.get(), "ETH-USD", 0);
  EXPECT_EQ(got2.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(got2.status().message().find(misnamed), std::string::npos) << got2.status().ToString();
}

TEST(LandedLog, ProductsAreListedFromTheirMarkersSorted) {
  auto store = NewMemoryStore();
  auto empty = ListLandedProducts(store.get());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  for (const char* p : {"SOL-USD", "BTC-USD", "ETH-USD"}) {
    int64_t next = 0;
    ASSERT_TRUE(AppendLanded(store.get(), p, Entry("k", 1, 1), &next).ok());
    ASSERT_TRUE(AppendLanded(store.get(), p, Entry("k", 2, 2), &next).ok());
  }
  ASSERT_TRUE(store->Put("_state/ingest/products/source=coinbase/notes.txt", "x", WriteMode::kOverwrite).ok());
  auto got = ListLandedProducts(store.get());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (std::vector<std::string>{"BTC-USD", "ETH-USD", "SOL-USD"}));
}

TEST(LandedLog, LandingAnExistingObjectFailsAndAppendsNothing) {
  auto store = NewMemoryStore();
  auto data = EncodeBronzeObject({{7, R"({"trade_id":7})"}, {8, R"({"trade_id":8})"}}, 0, "/r");
  ASSERT_TRUE(data.ok());
  const std::string key = BronzeObjectKey("BTC-USD", "2024-05-01", 7, 8);
  int64_t next = 0;
  ASSERT_TRUE(LandBronzeObject(store.get(), key, *data, 7, 8, 2, &next).ok());
  EXPECT_EQ(next, 1);
  Status again = LandBronzeObject(store.get(), key, *data, 7, 8, 2, &next);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_EQ(next, 1);
  auto got = ReadLanded(store.get(), "BTC-USD", 0);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].key, key);
  EXPECT_EQ((*got)[0].records, 2);
  EXPECT_EQ((*got)[0].bytes, static_cast<int64_t>(data->size()));
  EXPECT_GT((*got)[0].landed_at, 0);

  Status stranger = LandBronzeObject(store.get(), "bronze/notes.txt", "x", 1, 1, 1, &next);
  EXPECT_EQ(stranger.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(store->Head("bronze/notes.txt").ok()) << "nothing is written for a key that is not Bronze";
}

}  // namespace
}  // namespace tradelake
