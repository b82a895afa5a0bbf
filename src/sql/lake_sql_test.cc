#include "sql/lake_sql.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "table/catalog.h"
#include "etl/etl.h"
#include "exchange/simulator.h"
#include "ingest/ingester.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

// A session that read commit N keeps working after an ETL commit N+1
// deleted the files it replaced: the statement runs again on N+1.
TEST(LakeSqlTest, AStatementOnAReplacedSnapshotRunsAgainOnTheNewOne) {
  SimulatorOptions so;
  so.products = {"BTC-USD"};
  so.seed = 3;
  so.history_micros = kMicrosPerHour / 4;
  so.trades_per_second = 2;
  so.live = true;
  so.rate_limit = false;
  auto sim = Simulator::Start(so);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  const fs::path dir = fs::temp_directory_path() / ("tl_lake_sql_" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto store = OpenLocalStore(dir.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto land = [&] {
    IngestOptions io;
    io.products = {"BTC-USD"};
    io.exchange.base_url = (*sim)->url();
    io.rate_per_second = 0;
    io.from_trade_id = 0;
    IngestReport r = RunIngest(store->get(), io);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    auto etl = RunEtl(store->get(), EtlOptions{});
    ASSERT_TRUE(etl.ok()) << etl.status().ToString();
  };
  land();
  auto sql = LakeSql::Open(store->get(), SqlOptions{});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  const int64_t first_seq = (*sql)->snapshot().seq;
  auto before = (*sql)->ExecuteOne("SELECT count(*) FROM silver.trades");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const int64_t rows_before = std::stoll(before->rows.GetStringOr(0, 0, "-1"));

  // New trades: the ETL rewrites the partition and deletes its old file.
  while ((*sim)->LastTradeId("BTC-USD") - (*sim)->FirstTradeId("BTC-USD") + 1 <= rows_before) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  land();
  auto after = (*sql)->ExecuteOne("SELECT count(*) FROM silver.trades");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GT((*sql)->snapshot().seq, first_seq);
  EXPECT_GT(std::stoll(after->rows.GetStringOr(0, 0, "-1")), rows_before);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tradelake
