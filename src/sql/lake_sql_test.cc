#include "sql/lake_sql.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

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
TEST(LakeSqlTest, AStatementOnAVacuumedSnapshotRunsAgainOnTheNewOne) {
  const fs::path dir = fs::temp_directory_path() / ("tl_lake_sql_" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto store = OpenLocalStore(dir.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // Trades land in Bronze the way ingest lands them, then the ETL commits.
  int64_t next_id = 1;
  int64_t next_seq = 0;
  auto land = [&](int trades) {
    std::vector<std::string> raws;
    std::vector<BronzeRecord> records;
    const int64_t first = next_id;
    for (int i = 0; i < trades; ++i, ++next_id) {
      raws.push_back(fmt::format(
          "{{\"trade_id\":{},\"side\":\"buy\",\"size\":\"0.5\",\"price\":\"{}.25\",\"time\":"
          "\"2024-05-02T10:{:02d}:{:02d}.5Z\"}}",
          next_id, 60000 + next_id, (next_id / 60) % 60, next_id % 60));
    }
    for (size_t i = 0; i < raws.size(); ++i) records.push_back({first + static_cast<int64_t>(i), raws[i]});
    auto data = EncodeBronzeObject(records, NowMicros(), "/products/BTC-USD/trades?limit=1000");
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    Status s = LandBronzeObject(store->get(), BronzeObjectKey("BTC-USD", "2024-05-02", first, next_id - 1), *data,
                                first, next_id - 1, trades, &next_seq);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto etl = RunEtl(store->get(), EtlOptions{});
    ASSERT_TRUE(etl.ok()) << etl.status().ToString();
  };
  ASSERT_NO_FATAL_FAILURE(land(50));
  auto sql = LakeSql::Open(store->get(), SqlOptions{});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  const int64_t first_seq = (*sql)->commit_seq();
  auto before = (*sql)->ExecuteOne("SELECT count(*) FROM silver.trades");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const int64_t rows_before = std::stoll(before->rows.GetStringOr(0, 0, "-1"));

  ASSERT_EQ(rows_before, 50);
  // New trades of the same hour: the ETL replaces Gold's files (and keeps the old ones).
  ASSERT_NO_FATAL_FAILURE(land(30));
  auto kept = (*sql)->ExecuteOne("SELECT count(*) FROM silver.trades");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(std::stoll(kept->rows.GetStringOr(0, 0, "-1")), rows_before) << "a session reads its snapshot";
  EXPECT_EQ((*sql)->commit_seq(), first_seq);

  // What `tradelake vacuum` does: delete the files no longer live.
  auto now = LoadLakeState(store->get());
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  int vacuumed = 0;
  for (std::string_view table : AllTables()) {
    auto live = LiveFiles(*now, table);
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    std::set<std::string> live_keys;
    for (const auto& f : *live) live_keys.insert(f.key);
    for (const auto& f : (*sql)->Files(table)) {
      if (live_keys.count(f.key) == 0) {
        ASSERT_TRUE((*store)->Delete(f.key).ok());
        ++vacuumed;
      }
    }
  }
  ASSERT_GT(vacuumed, 0) << "the second run replaced no file";
  // Reads every table that had a file replaced (Gold's bars merge).
  auto after = (*sql)->ExecuteOne(
      "SELECT (SELECT count(*) FROM silver.trades), (SELECT sum(trade_count) FROM gold.trades_hourly), "
      "(SELECT sum(trade_count) FROM gold.trades_daily), (SELECT sum(trade_count) FROM gold.bars_1m)");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GT((*sql)->commit_seq(), first_seq);
  EXPECT_GT(std::stoll(after->rows.GetStringOr(0, 0, "-1")), rows_before);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tradelake
