#include "sql/lake_sql.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "core/time.h"
#include "etl/etl.h"
#include "store/object_store.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

// A session that read commit N keeps working after an ETL commit N+1
// replaced its files and a vacuum deleted them: the statement runs again on
// N+1.
// A local lake where trades land in Bronze the way ingest lands them, then
// the ETL commits (BTC-USD, 2024-05-02, one trade a second from 10:00).
class EtlLake {
 public:
  EtlLake() : dir_(fs::temp_directory_path() / ("tl_lake_sql_" + std::to_string(getpid()))) {
    fs::remove_all(dir_);
    auto store = OpenLocalStore(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (store.ok()) store_ = std::move(*store);
  }
  ~EtlLake() { fs::remove_all(dir_); }
  ObjectStore* store() const { return store_.get(); }

  void Land(int trades) {
    std::vector<std::string> raws;
    std::vector<BronzeRecord> records;
    const int64_t first = next_id_;
    for (int i = 0; i < trades; ++i, ++next_id_) {
      raws.push_back(fmt::format(
          "{{\"trade_id\":{},\"side\":\"buy\",\"size\":\"0.5\",\"price\":\"{}.25\",\"time\":"
          "\"2024-05-02T10:{:02d}:{:02d}.5Z\"}}",
          next_id_, 60000 + next_id_, (next_id_ / 60) % 60, next_id_ % 60));
    }
    for (size_t i = 0; i < raws.size(); ++i)
      records.push_back({first + static_cast<int64_t>(i), raws[i]});
    auto data = EncodeBronzeObject(records, NowMicros(), "/products/BTC-USD/trades?limit=1000");
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    Status s = LandBronzeObject(store_.get(),
                                BronzeObjectKey("BTC-USD", "2024-05-02", first, next_id_ - 1),
                                *data, first, next_id_ - 1, trades, &next_seq_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto etl = RunEtl(store_.get(), EtlOptions{});
    ASSERT_TRUE(etl.ok()) << etl.status().ToString();
  }

 private:
  fs::path dir_;
  std::unique_ptr<ObjectStore> store_;
  int64_t next_id_ = 1;
  int64_t next_seq_ = 0;
};

std::string One(LakeSql* sql, std::string_view statement) {
  auto r = sql->ExecuteOne(statement);
  EXPECT_TRUE(r.ok()) << statement << ": " << r.status().ToString();
  if (!r.ok()) return "";
  std::string row;
  for (uint64_t c = 0; c < r->rows.column_count(); ++c)
    row += (c ? "|" : "") + r->rows.GetStringOr(0, c, "NULL");
  return row;
}

// Every table's files, partitions, counts and bytes agree.
void ExpectSameFiles(const LakeSql& a, const LakeSql& b) {
  ASSERT_EQ(a.Tables().size(), b.Tables().size());
  for (size_t i = 0; i < a.Tables().size(); ++i) {
    const TableInfo& x = a.Tables()[i];
    const TableInfo& y = b.Tables()[i];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.files, y.files);
    EXPECT_EQ(x.partitions, y.partitions);
    EXPECT_EQ(x.bytes, y.bytes);
    const auto& fx = a.Files(x.name);
    const auto& fy = b.Files(y.name);
    ASSERT_EQ(fx.size(), fy.size());
    for (auto i1 = fx.begin(), i2 = fy.begin(); i1 != fx.end(); ++i1, ++i2) {
      EXPECT_EQ(i1->first, i2->first);
      EXPECT_EQ(i1->second.key, i2->second.key);
      EXPECT_EQ(i1->second.partition, i2->second.partition);
      EXPECT_EQ(i1->second.first_day, i2->second.first_day);
      EXPECT_EQ(i1->second.last_day, i2->second.last_day);
      EXPECT_EQ(i1->second.size, i2->second.size);
    }
    EXPECT_EQ(a.ProductDays(x.name), b.ProductDays(y.name));
  }
}

// Refresh keeps the session's databases and its cache of Gold rows, and drops
// only the rows of files that left the snapshot: after the ETL rewrote a Gold
// partition the session read, every table answers as a fresh session does
// (no row of the replaced file is counted twice), many refreshes over.
TEST(LakeSqlTest, RefreshAfterGoldFilesWereReplacedAnswersAsAFreshSession) {
  EtlLake lake;
  ASSERT_NO_FATAL_FAILURE(lake.Land(40));
  for (const int64_t rewrite_bytes : {int64_t{16} << 20, int64_t{0}}) {
    SCOPED_TRACE(fmt::format("cache_rewrite_bytes {}", rewrite_bytes));
    SqlOptions options;
    options.cache_rewrite_bytes = rewrite_bytes;
    auto sql = LakeSql::Open(lake.store(), options);
    ASSERT_TRUE(sql.ok()) << sql.status().ToString();
    const std::string q =
        "SELECT (SELECT count(*) FROM silver.trades), (SELECT sum(trade_count) FROM "
        "gold.trades_hourly), "
        "(SELECT sum(trade_count) FROM gold.trades_daily), (SELECT sum(trade_count) FROM "
        "gold.bars_1m), "
        "(SELECT sum(total_volume) FROM gold.bars_1m), (SELECT max(close) FROM gold.trades_hourly)";
    if (rewrite_bytes != 0) {
      EXPECT_EQ(One(sql->get(), q), "40|40|40|40|20.000000000000000000|60040.250000000000000000");
    }
    for (int round = 1; round <= 12; ++round) {
      ASSERT_NO_FATAL_FAILURE(lake.Land(25));  // the same hour and day: Gold's files are replaced
      const int64_t seq = (*sql)->commit_seq();
      ASSERT_TRUE((*sql)->Refresh().ok());
      ASSERT_GT((*sql)->commit_seq(), seq);
      auto fresh = LakeSql::Open(lake.store(), SqlOptions{});
      ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
      // The files a refresh keeps up to date, change by change, are those a
      // fresh session reads from the whole log.
      ASSERT_NO_FATAL_FAILURE(ExpectSameFiles(**sql, **fresh));
      const std::string expected = One(fresh->get(), q);
      EXPECT_EQ(One(sql->get(), q), expected) << "round " << round;
      const int64_t n = 40 + 25 * round + (rewrite_bytes == 0 ? 25 * 12 : 0);
      EXPECT_TRUE(expected.starts_with(fmt::format("{0}|{0}|{0}|{0}|", n))) << expected;
    }
    if (rewrite_bytes == 0) {
      EXPECT_GT((*sql)->cache_rewrites(), 0) << "the cache tables were never copied afresh";
    } else {
      EXPECT_EQ((*sql)->cache_rewrites(), 0);
    }
  }
}

TEST(LakeSqlTest, AStatementOnAVacuumedSnapshotRunsAgainOnTheNewOne) {
  EtlLake lake;
  auto* store = lake.store();
  ASSERT_NO_FATAL_FAILURE(lake.Land(50));
  auto sql = LakeSql::Open(store, SqlOptions{});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  const int64_t first_seq = (*sql)->commit_seq();
  auto before = (*sql)->ExecuteOne("SELECT count(*) FROM silver.trades");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const int64_t rows_before = std::stoll(before->rows.GetStringOr(0, 0, "-1"));

  ASSERT_EQ(rows_before, 50);
  // New trades of the same hour: the ETL replaces Gold's files (and keeps the old ones).
  ASSERT_NO_FATAL_FAILURE(lake.Land(30));
  auto kept = (*sql)->ExecuteOne("SELECT count(*) FROM silver.trades");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(std::stoll(kept->rows.GetStringOr(0, 0, "-1")), rows_before)
      << "a session reads its snapshot";
  EXPECT_EQ((*sql)->commit_seq(), first_seq);

  // What `tradelake vacuum` does: delete the files no longer live.
  auto now = LoadLakeState(store);
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  int vacuumed = 0;
  for (std::string_view table : AllTables()) {
    auto live = LiveFiles(*now, table);
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    std::set<std::string> live_keys;
    for (const auto& f : *live) live_keys.insert(f.key);
    for (const auto& [key, f] : (*sql)->Files(table)) {
      if (live_keys.count(key) == 0) {
        ASSERT_TRUE(store->Delete(key).ok());
        ++vacuumed;
      }
    }
  }
  ASSERT_GT(vacuumed, 0) << "the second run replaced no file";
  // Reads every table that had a file replaced (Gold's bars merge).
  auto after = (*sql)->ExecuteOne(
      "SELECT (SELECT count(*) FROM silver.trades), (SELECT sum(trade_count) FROM "
      "gold.trades_hourly), "
      "(SELECT sum(trade_count) FROM gold.trades_daily), (SELECT sum(trade_count) FROM "
      "gold.bars_1m)");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GT((*sql)->commit_seq(), first_seq);
  EXPECT_GT(std::stoll(after->rows.GetStringOr(0, 0, "-1")), rows_before);
}

// Bronze has no catalog and grows all the time: it is listed for each
// statement that reads it, as far as the statement's filters allow (one day
// folder, not every object ever landed), and sees objects landed after the
// session's snapshot.
TEST(LakeSqlTest, BronzeIsListedPerStatementOnlyWhereItsFiltersPoint) {
  EtlLake lake;
  ASSERT_NO_FATAL_FAILURE(lake.Land(10));
  // An object of another day and product, never processed by the ETL.
  auto data = EncodeBronzeObject(
      {{900, R"({"trade_id":900,"side":"buy","size":"1","price":"2.5","time":"2024-05-03T00:00:01Z"})"}}, NowMicros(),
      "/products/ETH-USD/trades?limit=1000");
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(lake.store()->Put(BronzeObjectKey("ETH-USD", "2024-05-03", 900, 900), *data, WriteMode::kCreateOnly).ok());
  auto sql = LakeSql::Open(lake.store(), SqlOptions{});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_TRUE((*sql)->Files("bronze.trades_raw").empty()) << "Bronze is not listed as a whole";

  auto one_day = (*sql)->ExecuteOne(
      "SELECT count(*) FROM bronze.trades_raw WHERE product = 'BTC-USD' AND date = DATE '2024-05-02'");
  ASSERT_TRUE(one_day.ok()) << one_day.status().ToString();
  EXPECT_EQ(one_day->rows.GetStringOr(0, 0, ""), "10");
  EXPECT_EQ(one_day->scan.files_total, 1) << "only the day folder of the product was listed";

  auto all = (*sql)->ExecuteOne("SELECT count(*), count(DISTINCT product) FROM bronze.trades_raw");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->rows.GetStringOr(0, 0, "") + "|" + all->rows.GetStringOr(0, 1, ""), "11|2");
  EXPECT_EQ(all->scan.files_total, 2);

  // A filter value that is no product id lists nothing (it would be a path).
  for (const char* hostile : {"../../..", "BTC-USD/../../x", ""}) {
    auto none = (*sql)->ExecuteOne(fmt::format("SELECT count(*) FROM bronze.trades_raw WHERE product = '{}'", hostile));
    ASSERT_TRUE(none.ok()) << hostile << ": " << none.status().ToString();
    EXPECT_EQ(none->rows.GetStringOr(0, 0, ""), "0") << hostile;
    EXPECT_EQ(none->scan.files_total, 0) << hostile;
  }

  // Landed after the session opened (and after its snapshot): listed by the next statement.
  ASSERT_NO_FATAL_FAILURE(lake.Land(5));
  auto later = (*sql)->ExecuteOne("SELECT count(*) FROM bronze.trades_raw WHERE product = 'BTC-USD'");
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(later->rows.GetStringOr(0, 0, ""), "15");
  EXPECT_EQ(later->scan.files_total, 2);
}

}  // namespace
}  // namespace tradelake
