// RunEtl on a memory store and a local folder: incremental runs equal one
// rebuild, Gold equals an independent aggregation of all of Silver, the cost
// of a run does not depend on how much was processed before.
#include "etl/etl.h"
#include "etl/validate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include <fmt/format.h>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "etl/gold.h"
#include "etl/table_io.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMicros kDay0 = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z

std::string TradeJson(int64_t id, const std::string& price, const std::string& size, const std::string& side,
                      TimestampMicros t) {
  return fmt::format(R"({{"trade_id":{},"side":"{}","size":"{}","price":"{}","time":"{}"}})", id, side, size, price,
                     FormatRfc3339Micros(t));
}

// Lands trades [first, last] of `product`, one every `step` microseconds from
// `t0 + first * step`, as one Bronze object per trade date.
class Lander {
 public:
  explicit Lander(ObjectStore* store) : store_(store) {}
  void Land(const std::string& product, int64_t first, int64_t last, int64_t step = 997'000'000,
            const std::string& price_override = "") {
    std::map<std::string, std::vector<std::pair<int64_t, std::string>>> by_date;
    for (int64_t id = first; id <= last; ++id) {
      const TimestampMicros t = kDay0 + id * step;
      const std::string price = price_override.empty() ? fmt::format("{}.{:02d}", 60000 + id % 97, id % 100)
                                                       : price_override;
      by_date[FormatDate(t)].emplace_back(id, TradeJson(id, price, fmt::format("0.{:04d}", 1 + id % 500),
                                                        id % 3 ? "buy" : "sell", t));
    }
    for (auto& [date, trades] : by_date) {
      std::vector<BronzeRecord> recs;
      for (auto& [id, raw] : trades) recs.push_back({id, raw});
      auto data = EncodeBronzeObject(recs, kDay0 + 30 * kMicrosPerDay, "/products/" + product + "/trades?limit=1000");
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      const std::string key = BronzeObjectKey(product, date, trades.front().first, trades.back().first) +
                              (copies_++ ? "" : "");
      Status s = LandBronzeObject(store_, key, *data, trades.front().first, trades.back().first,
                                  static_cast<int64_t>(trades.size()), &next_seq_[product]);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

 private:
  ObjectStore* store_;
  std::map<std::string, int64_t> next_seq_;
  int copies_ = 0;
};

EtlOptions Opts() {
  EtlOptions o;
  o.now = kDay0 + 400 * kMicrosPerDay;
  return o;
}

template <typename Row>
std::vector<Row> ReadAll(ObjectStore* store, std::string_view table,
                         Result<std::vector<Row>> (*reader)(const std::string&)) {
  auto state = LoadLakeState(store);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  std::vector<Row> out;
  if (!state.ok()) return out;
  auto files = LiveFiles(*state, table);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  for (const auto& f : *files) {
    auto path = store->LocalPath(f.key);
    EXPECT_TRUE(path.has_value());
    auto rows = reader(*path);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    out.insert(out.end(), rows->begin(), rows->end());
  }
  return out;
}

std::vector<SilverTrade> SilverRows(ObjectStore* store) {
  auto rows = ReadAll<SilverTrade>(store, kSilverTrades, &ReadSilverTrades);
  std::sort(rows.begin(), rows.end(), [](const SilverTrade& a, const SilverTrade& b) {
    return std::tie(a.product_id, a.trade_id) < std::tie(b.product_id, b.trade_id);
  });
  return rows;
}

std::vector<GoldBar> GoldRows(ObjectStore* store, std::string_view table) {
  auto rows = ReadAll<GoldBar>(store, table, &ReadGoldBars);
  std::sort(rows.begin(), rows.end(), [](const GoldBar& a, const GoldBar& b) {
    return std::tie(a.product_id, a.period_start) < std::tie(b.product_id, b.period_start);
  });
  return rows;
}

struct TempLake {
  TempLake() {
    dir = fs::temp_directory_path() / fmt::format("tl-etl-test-{}-{}", ::getpid(), std::random_device{}());
    fs::create_directories(dir);
    store = std::move(OpenLocalStore(dir.string()).value());
  }
  ~TempLake() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
  std::unique_ptr<ObjectStore> store;
};

void ExpectGoldEqualsSilver(ObjectStore* store) {
  const auto silver = SilverRows(store);
  for (auto [table, period] : {std::pair{kGoldBars1m, kMicrosPerMinute}, std::pair{kGoldHourly, kMicrosPerHour},
                               std::pair{kGoldDaily, kMicrosPerDay}}) {
    auto want = AggregateBars(silver, period);
    ASSERT_TRUE(want.ok());
    const auto got = GoldRows(store, table);
    ASSERT_EQ(got.size(), want->size()) << table;
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], (*want)[i]) << table << " row " << i;
  }
}

TEST(Etl, IncrementalRunsEqualOneRunOverEverything) {
  TempLake inc, once;
  Lander a(inc.store.get()), b(once.store.get());
  // Five steps of new trades crossing midnight, plus a backfill below the
  // high-water mark and a re-landed overlap (duplicates).
  const std::vector<std::pair<int64_t, int64_t>> steps = {{100, 180}, {181, 190}, {191, 260}, {20, 99}, {250, 270}};
  for (auto [first, last] : steps) {
    a.Land("BTC-USD", first, last);
    b.Land("BTC-USD", first, last);
    a.Land("ETH-USD", first, last, 61'000'000);
    b.Land("ETH-USD", first, last, 61'000'000);
    auto r = RunEtl(inc.store.get(), Opts());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->invariant_holds());
  }
  auto r = RunEtl(once.store.get(), Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(SilverRows(inc.store.get()), SilverRows(once.store.get()));
  const auto silver = SilverRows(inc.store.get());
  EXPECT_EQ(silver.size(), 2u * (270 - 20 + 1));
  for (auto t : {kGoldBars1m, kGoldHourly, kGoldDaily}) {
    EXPECT_EQ(GoldRows(inc.store.get(), t), GoldRows(once.store.get(), t)) << t;
  }
  ExpectGoldEqualsSilver(inc.store.get());

  auto snap = LoadCurrentSnapshot(inc.store.get());
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->totals["BTC-USD"].inserted, 251);
  EXPECT_EQ(snap->totals["BTC-USD"].duplicates, 11);  // 250..260 landed twice
  EXPECT_EQ(snap->totals["BTC-USD"].records, 262);

  // Nothing new: nothing to do, nothing committed.
  auto again = RunEtl(inc.store.get(), Opts());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->nothing_to_do);
}

TEST(Etl, ConflictingCopyIsRejectedAndCounted) {
  TempLake lake;
  Lander l(lake.store.get());
  l.Land("BTC-USD", 1, 10);
  ASSERT_TRUE(RunEtl(lake.store.get(), Opts()).ok());
  l.Land("BTC-USD", 5, 5, 997'000'000, "1.00");
  auto r = RunEtl(lake.store.get(), Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rejected_by_rule["conflicting_duplicate"], 1);
  auto rejected = ReadAll<RejectedRecord>(lake.store.get(), kSilverRejected, &ReadRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].trade_id, 5);
  auto quality = ReadAll<QualityRow>(lake.store.get(), kAuditQuality, &ReadQualityRows);
  int64_t records = 0, inserted = 0, rej = 0;
  for (const auto& q : quality) {
    records += q.records;
    inserted += q.inserted;
    rej += q.rejected;
  }
  EXPECT_EQ(records, 11);
  EXPECT_EQ(inserted, 10);
  EXPECT_EQ(rej, 1);
}

TEST(Etl, ARunReadsOnlyTheSilverFilesItsTradesOverlap) {
  TempLake lake;
  Lander l(lake.store.get());
  EtlOptions no_compaction = Opts();
  no_compaction.compact = false;
  for (int64_t i = 0; i < 12; ++i) {
    l.Land("BTC-USD", 1 + i * 10, 10 + i * 10, 1'000'000);  // all on one day
    ASSERT_TRUE(RunEtl(lake.store.get(), no_compaction).ok());
  }
  auto state = LoadLakeState(lake.store.get());
  ASSERT_TRUE(state.ok());
  auto files = LiveFiles(*state, kSilverTrades);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 12u);  // appended, never rewritten
  EXPECT_EQ(LiveFiles(*state, kGoldBars1m)->size(), 1u);  // one file per day, replaced
  EXPECT_GE(state->tables.at(std::string(kSilverTrades)).version, 11);
  // The catalog commit is small: versions, bookmarks, totals and one run's commits.
  auto commits = lake.store->List("_catalog/commits/");
  ASSERT_TRUE(commits.ok());
  EXPECT_LT(commits->back().size, 16 * 1024);
  ExpectGoldEqualsSilver(lake.store.get());
}

TEST(Etl, RebuildEqualsIncremental) {
  TempLake lake;
  Lander l(lake.store.get());
  l.Land("BTC-USD", 1, 50);
  ASSERT_TRUE(RunEtl(lake.store.get(), Opts()).ok());
  l.Land("BTC-USD", 40, 90);
  ASSERT_TRUE(RunEtl(lake.store.get(), Opts()).ok());
  const auto before = SilverRows(lake.store.get());
  const auto gold_before = GoldRows(lake.store.get(), kGoldHourly);
  EtlOptions o = Opts();
  o.rebuild = true;
  auto r = RunEtl(lake.store.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(SilverRows(lake.store.get()), before);
  EXPECT_EQ(GoldRows(lake.store.get(), kGoldHourly), gold_before);
  auto snap = LoadCurrentSnapshot(lake.store.get());
  EXPECT_EQ(snap->totals["BTC-USD"].records, 101);
  // And nothing is processed twice afterwards.
  auto again = RunEtl(lake.store.get(), Opts());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->nothing_to_do);
}

TEST(Etl, SmallFilesAreCompactedAsTheyAccumulateAndNothingChanges) {
  TempLake plain, compacted;
  Lander a(plain.store.get()), b(compacted.store.get());
  EtlOptions no_compaction = Opts();
  no_compaction.compact = false;
  int64_t files_compacted = 0;
  for (int64_t i = 0; i < 25; ++i) {
    a.Land("BTC-USD", 1 + i * 10, 10 + i * 10, 1'000'000);
    b.Land("BTC-USD", 1 + i * 10, 10 + i * 10, 1'000'000);
    ASSERT_TRUE(RunEtl(plain.store.get(), no_compaction).ok());
    auto r = RunEtl(compacted.store.get(), Opts());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    files_compacted += r->files_compacted;
  }
  EXPECT_GT(files_compacted, 0);
  auto state = LoadLakeState(compacted.store.get());
  ASSERT_TRUE(state.ok());
  EXPECT_LT(LiveFiles(*state, kSilverTrades)->size(), 25u);
  EXPECT_EQ(SilverRows(compacted.store.get()), SilverRows(plain.store.get()));
  for (auto t : {kGoldBars1m, kGoldHourly, kGoldDaily}) {
    EXPECT_EQ(GoldRows(compacted.store.get(), t), GoldRows(plain.store.get(), t)) << t;
  }
  ExpectGoldEqualsSilver(compacted.store.get());
}

}  // namespace
}  // namespace tradelake

namespace tradelake {
namespace {

TEST(Etl, AnUnreadableObjectIsOneRejectedRecordAndAForeignKeyIsSkippedTheRunGoesOn) {
  TempLake lake;
  Lander l(lake.store.get());
  l.Land("BTC-USD", 1, 10);
  // Bytes that are no zstd frame, announced like any object.
  int64_t seq = 0;
  const std::string date = FormatDate(kDay0 + 11 * int64_t{997'000'000});
  const std::string bad_key = BronzeObjectKey("BTC-USD", date, 11, 12);
  ASSERT_TRUE(LandBronzeObject(lake.store.get(), bad_key, "definitely not zstd", 11, 12, 2, &seq).ok());
  // A landed-log entry naming something that is not a Bronze key of the product.
  for (const char* foreign : {"bronze/source=coinbase/product=BTC-USD/date=2024-02-30/13-14.jsonl.zst",
                              "bronze/source=coinbase/product=ETH-USD/date=2024-05-01/13-14.jsonl.zst"}) {
    LandedEntry e;
    e.key = foreign;
    e.first_trade_id = 13;
    e.last_trade_id = 14;
    e.records = 2;
    ASSERT_TRUE(AppendLanded(lake.store.get(), "BTC-USD", e, &seq).ok());
  }
  l.Land("BTC-USD", 15, 20);

  auto r = RunEtl(lake.store.get(), Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inserted, 16);
  EXPECT_EQ(r->rejected, 1);
  EXPECT_EQ(r->rejected_by_rule[std::string(dq_rule::kInvalidJson)], 1);
  EXPECT_TRUE(r->invariant_holds());
  ASSERT_EQ(r->skipped_objects.size(), 2u);
  EXPECT_NE(r->skipped_objects[0].find("date=2024-02-30"), std::string::npos) << r->skipped_objects[0];
  EXPECT_NE(r->skipped_objects[1].find("belongs to ETH-USD"), std::string::npos) << r->skipped_objects[1];
  auto rejected = ReadAll<RejectedRecord>(lake.store.get(), kSilverRejected, &ReadRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].bronze_object, bad_key);
  EXPECT_NE(rejected[0].detail.find("cannot be read"), std::string::npos) << rejected[0].detail;
  EXPECT_FALSE(rejected[0].trade_id.has_value());
  // Nothing is read twice: the next run has nothing to do.
  auto again = RunEtl(lake.store.get(), Opts());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->nothing_to_do);
}

}  // namespace
}  // namespace tradelake
