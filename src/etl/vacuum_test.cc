#include "etl/vacuum.h"

#include <gtest/gtest.h>
#include <sys/time.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "etl/table_io.h"
#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMicros kT0 = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z
constexpr int64_t kDay = kMicrosPerDay;

std::string SilverKey(std::string_view name) {
  return fmt::format("silver/trades/product_id=BTC-USD/date=2024-05-01/{}.parquet", name);
}

// One ETL-like run touching silver.trades: `adds` written now and added,
// `removes` tombstoned with deletionTimestamp = now.
Status CommitRun(ObjectStore* store, TimestampMicros now, const std::vector<std::string>& adds,
                 const std::vector<std::string>& removes) {
  ASSIGN_OR_RETURN(Snapshot next, LoadCurrentSnapshot(store));
  next.seq += 1;
  next.committed_at = now;
  next.commits.clear();
  next.commit_text.clear();
  const std::string table(kSilverTrades);
  DeltaCommit commit;
  if (!next.versions.contains(table)) {
    commit.protocol = DeltaProtocol{};
    commit.metadata = DeltaMetadataFor(table, now / 1000);
  }
  for (const std::string& key : adds) {
    if (!store->Head(key).ok()) {
      RETURN_IF_ERROR(store->Put(key, "parquet bytes of " + key, WriteMode::kCreateOnly));
    }
    ASSIGN_OR_RETURN(DeltaAddFile add, AddFileFor(store, table, key, DeltaStats{}));
    commit.adds.push_back(std::move(add));
  }
  for (const std::string& key : removes) {
    DeltaRemoveFile rm;
    rm.path = KeyToDeltaPath(TableFolder(table), key);
    rm.deletion_timestamp = now / 1000;
    rm.partition_values = {{"product_id", "BTC-USD"}, {"date", "2024-05-01"}};
    commit.removes.push_back(std::move(rm));
  }
  commit.timestamp = now / 1000;
  next.commits[table] = std::move(commit);
  return CommitLake(store, &next);
}

bool Exists(ObjectStore* store, std::string_view key) { return store->Head(key).ok(); }

VacuumOptions At(TimestampMicros now, bool dry_run = false) {
  VacuumOptions o;
  o.retain_micros = 7 * kDay;
  o.dry_run = dry_run;
  o.clock = [now] { return now; };
  return o;
}

// Three runs, each replacing the partition's file: f1 (day 0), f2 (day 1), f3 (day 2).
class VacuumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CommitRun(store_.get(), kT0, {SilverKey("f1")}, {}).ok());
    ASSERT_TRUE(CommitRun(store_.get(), kT0 + 1 * kDay, {SilverKey("f2")}, {SilverKey("f1")}).ok());
    ASSERT_TRUE(CommitRun(store_.get(), kT0 + 2 * kDay, {SilverKey("f3")}, {SilverKey("f2")}).ok());
  }
  std::unique_ptr<ObjectStore> store_ = NewMemoryStore();
};

TEST_F(VacuumTest, KeepsEveryFileAKeptCatalogCommitStillReads) {
  // All three catalog commits are kept: readers may pin version 0 (f1) or 1 (f2).
  auto r = VacuumLake(store_.get(), At(kT0 + 30 * kDay));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_deleted, 0);
  for (auto name : {"f1", "f2", "f3"}) EXPECT_TRUE(Exists(store_.get(), SilverKey(name))) << name;
}

TEST_F(VacuumTest, DeletesFilesRemovedLongerAgoThanTheRetentionOnly) {
  ASSERT_TRUE(PruneCommits(store_.get(), 1).ok());  // only the newest snapshot (version 2) is kept
  // At day 8.5: f1 was removed on day 1 (7.5 days ago), f2 on day 2 (6.5 days ago).
  auto r = VacuumLake(store_.get(), At(kT0 + 8 * kDay + kDay / 2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->deleted, std::vector<std::string>{SilverKey("f1")});
  EXPECT_EQ(r->files_deleted, 1);
  EXPECT_EQ(r->bytes_deleted, static_cast<int64_t>(("parquet bytes of " + SilverKey("f1")).size()));
  EXPECT_EQ(r->tables.at(std::string(kSilverTrades)).files_kept_tombstoned, 1);
  EXPECT_FALSE(Exists(store_.get(), SilverKey("f1")));
  EXPECT_TRUE(Exists(store_.get(), SilverKey("f2")));
  EXPECT_TRUE(Exists(store_.get(), SilverKey("f3")));

  // Later, f2 goes too; the live f3 never does, nor the log.
  r = VacuumLake(store_.get(), At(kT0 + 100 * kDay));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->deleted, std::vector<std::string>{SilverKey("f2")});
  EXPECT_TRUE(Exists(store_.get(), SilverKey("f3")));
  auto lake = LoadLakeState(store_.get());
  ASSERT_TRUE(lake.ok()) << lake.status().ToString();
  auto live = LiveFiles(*lake, kSilverTrades);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].key, SilverKey("f3"));
  EXPECT_TRUE(Exists(store_.get(), DeltaCommitKey(TableFolder(kSilverTrades), 0)));
}

TEST_F(VacuumTest, DryRunListsWhatWouldGoAndDeletesNothing) {
  ASSERT_TRUE(PruneCommits(store_.get(), 1).ok());
  ASSERT_TRUE(store_->Put(SilverKey("orphan"), "x", WriteMode::kCreateOnly).ok());
  auto r = VacuumLake(store_.get(), At(kT0 + 100 * kDay, /*dry_run=*/true));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->dry_run);
  EXPECT_EQ(r->deleted, (std::vector<std::string>{SilverKey("f1"), SilverKey("f2")}));
  for (auto name : {"f1", "f2", "f3", "orphan"}) EXPECT_TRUE(Exists(store_.get(), SilverKey(name))) << name;
  EXPECT_FALSE(Exists(store_.get(), kVacuumFirstSeenKey));
}

TEST_F(VacuumTest, FilesOfAKilledRunGoOnceOlderThanTheRetentionWithoutModificationTimes) {
  // A run that died before committing left a file; the memory store reports
  // no modification time, so vacuum ages it from when it first saw it.
  ASSERT_TRUE(store_->Put(SilverKey("killed-run"), "x", WriteMode::kCreateOnly).ok());
  auto first = VacuumLake(store_.get(), At(kT0 + 3 * kDay));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->files_deleted, 0);
  EXPECT_EQ(first->tables.at(std::string(kSilverTrades)).files_kept_young, 1);
  EXPECT_TRUE(Exists(store_.get(), kVacuumFirstSeenKey));

  // A file that appears later (a commit in flight) is young and stays.
  ASSERT_TRUE(store_->Put(SilverKey("in-flight"), "x", WriteMode::kCreateOnly).ok());
  auto second = VacuumLake(store_.get(), At(kT0 + 10 * kDay + 1));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->deleted, std::vector<std::string>{SilverKey("killed-run")});
  EXPECT_TRUE(Exists(store_.get(), SilverKey("in-flight")));
  EXPECT_TRUE(Exists(store_.get(), SilverKey("f1")));  // still pinned by a kept commit
}

TEST_F(VacuumTest, ACommittedFileIsNeverAgedAsAnOrphan) {
  // A file seen unreferenced while its commit was in flight, then committed:
  // live, so kept, and forgotten by the record.
  const std::string key = SilverKey("f4");
  ASSERT_TRUE(store_->Put(key, "x", WriteMode::kCreateOnly).ok());
  auto r = VacuumLake(store_.get(), At(kT0 + 3 * kDay));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tables.at(std::string(kSilverTrades)).files_kept_young, 1);
  ASSERT_TRUE(CommitRun(store_.get(), kT0 + 3 * kDay, {key}, {}).ok());
  r = VacuumLake(store_.get(), At(kT0 + 50 * kDay));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Exists(store_.get(), key));
  EXPECT_EQ(r->tables.at(std::string(kSilverTrades)).files_kept_young, 0);
}

TEST(Vacuum, AnEmptyLakeHasNothingToDo) {
  auto store = NewMemoryStore();
  auto r = VacuumLake(store.get(), At(kT0));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_deleted, 0);
  EXPECT_EQ(r->files_kept, 0);
}

TEST(Vacuum, NegativeRetentionIsInvalid) {
  auto store = NewMemoryStore();
  VacuumOptions o = At(kT0);
  o.retain_micros = -1;
  EXPECT_EQ(VacuumLake(store.get(), o).status().code(), StatusCode::kInvalidArgument);
}

void SetModificationTime(const std::string& path, TimestampMicros t) {
  struct timeval tv[2];
  tv[0].tv_sec = tv[1].tv_sec = static_cast<time_t>(t / kMicrosPerSecond);
  tv[0].tv_usec = tv[1].tv_usec = static_cast<suseconds_t>(t % kMicrosPerSecond);
  ASSERT_EQ(::utimes(path.c_str(), tv), 0) << path;
}

TEST(Vacuum, OnALocalFolderAnOldOrphanGoesAtOnceAndAYoungOneStays) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("tl-vacuum-{}", std::random_device{}());
  auto store = OpenLocalStore(dir.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ObjectStore* s = store->get();
  const TimestampMicros now = NowMicros();
  ASSERT_TRUE(CommitRun(s, now - 20 * kDay, {SilverKey("a")}, {}).ok());
  ASSERT_TRUE(CommitRun(s, now - 10 * kDay, {SilverKey("b")}, {SilverKey("a")}).ok());
  ASSERT_TRUE(PruneCommits(s, 1).ok());
  ASSERT_TRUE(s->Put(SilverKey("old-orphan"), "x", WriteMode::kCreateOnly).ok());
  ASSERT_TRUE(s->Put(SilverKey("young-orphan"), "x", WriteMode::kCreateOnly).ok());
  SetModificationTime(*s->LocalPath(SilverKey("old-orphan")), now - 8 * kDay);
  SetModificationTime(*s->LocalPath(SilverKey("young-orphan")), now - 6 * kDay);

  auto dry = VacuumLake(s, At(now, /*dry_run=*/true));
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(dry->deleted, (std::vector<std::string>{SilverKey("a"), SilverKey("old-orphan")}));
  EXPECT_TRUE(fs::exists(*s->LocalPath(SilverKey("a"))));

  auto r = VacuumLake(s, At(now));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->deleted, dry->deleted);
  EXPECT_FALSE(Exists(s, SilverKey("a")));
  EXPECT_FALSE(Exists(s, SilverKey("old-orphan")));
  EXPECT_TRUE(Exists(s, SilverKey("b")));
  EXPECT_TRUE(Exists(s, SilverKey("young-orphan")));
  auto lake = LoadLakeState(s);
  ASSERT_TRUE(lake.ok()) << lake.status().ToString();
  EXPECT_EQ(lake->tables.at(std::string(kSilverTrades)).files.size(), 1u);
  // No record is needed where the folder gives modification times.
  EXPECT_FALSE(Exists(s, kVacuumFirstSeenKey));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace tradelake
