#include "ingest/ingester.h"

#include <gtest/gtest.h>

#include "exchange/simulator.h"
#include "ingest/checkpoint.h"
#include "ingest/verify.h"
#include "store/fault_store.h"

namespace tradelake {
namespace {

class IngesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions o;
    o.products = {"BTC-USD", "ETH-USD"};
    o.seed = 5;
    o.history_micros = 2 * kMicrosPerHour;
    o.trades_per_second = 3;
    o.live = false;
    o.rate_limit = false;
    auto sim = Simulator::Start(o);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(sim).value();
  }

  IngestOptions Options(std::vector<std::string> products) const {
    IngestOptions o;
    o.products = std::move(products);
    o.exchange.base_url = sim_->url();
    o.exchange.retry.base_delay_ms = 1;
    o.exchange.retry.max_delay_ms = 5;
    o.rate_per_second = 0;
    o.from_trade_id = 0;
    o.object_max_trades = 2000;
    return o;
  }

  void ExpectComplete(ObjectStore* store, const std::string& product) {
    std::vector<int64_t> ids;
    auto sum = VerifyBronze(store, product, &ids);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_TRUE(sum->ok()) << product << " duplicates=" << sum->duplicates;
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), sim_->FirstTradeId(product));
    EXPECT_EQ(ids.back(), sim_->LastTradeId(product));
    EXPECT_EQ(static_cast<int64_t>(ids.size()), sim_->LastTradeId(product) - sim_->FirstTradeId(product) + 1);
  }

  std::unique_ptr<Simulator> sim_;
};

TEST_F(IngesterTest, CatchesUpEveryProductAndCheckpointsTheEnd) {
  auto store = NewMemoryStore();
  IngestReport r = RunIngest(store.get(), Options({"BTC-USD", "ETH-USD"}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  for (const auto& p : {"BTC-USD", "ETH-USD"}) {
    ExpectComplete(store.get(), p);
    auto cp = LoadCheckpoint(store.get(), p);
    ASSERT_TRUE(cp.ok() && cp->has_value());
    EXPECT_EQ((*cp)->high, sim_->LastTradeId(p));
  }
  EXPECT_EQ(r.products[0].trades_landed, sim_->LastTradeId("BTC-USD") - sim_->FirstTradeId("BTC-USD") + 1);
}

TEST_F(IngesterTest, CrashBetweenObjectAndCheckpointLosesNothingAndWritesNothingTwice) {
  auto base = NewMemoryStore();
  FaultInjectionStore faulty(base.get());
  // The 4th checkpoint write fails: objects after the 3rd checkpoint are
  // durable but not yet recorded, as if the process died right there.
  faulty.FailPuts("checkpoint.json", 3, IOError("injected: disk full"));
  IngestReport r1 = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_FALSE(r1.status.ok());
  EXPECT_NE(r1.status.message().find("injected: disk full"), std::string::npos) << r1.status.ToString();
  EXPECT_EQ(faulty.injected(), 1);
  faulty.Heal();
  IngestReport r2 = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectComplete(base.get(), "BTC-USD");
}

TEST_F(IngesterTest, FullDiskWhileLandingIsAnIOErrorNamingTheObject) {
  auto base = NewMemoryStore();
  FaultInjectionStore faulty(base.get());
  faulty.FailPuts("bronze/", 1, IOError("write: No space left on device"));
  IngestReport r = RunIngest(&faulty, Options({"BTC-USD"}));
  EXPECT_EQ(r.status.code(), StatusCode::kIOError);
  EXPECT_NE(r.status.message().find("writing Bronze object bronze/source=coinbase/product=BTC-USD/"),
            std::string::npos)
      << r.status.ToString();
  faulty.Heal();
  IngestReport again = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ExpectComplete(base.get(), "BTC-USD");
}

TEST_F(IngesterTest, BackfillBelowTheCheckpointFillsTheRangeOnce) {
  auto store = NewMemoryStore();
  const int64_t first = sim_->FirstTradeId("ETH-USD");
  IngestOptions o = Options({"ETH-USD"});
  o.from_trade_id = first + 5000;
  ASSERT_TRUE(RunIngest(store.get(), o).status.ok());
  o.from_trade_id = first;
  ASSERT_TRUE(RunIngest(store.get(), o).status.ok());
  ExpectComplete(store.get(), "ETH-USD");
  auto cp = LoadCheckpoint(store.get(), "ETH-USD");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->low, first);
  EXPECT_FALSE((*cp)->backfill.has_value());
}

TEST_F(IngesterTest, UnknownProductFailsBeforeAnythingIsWritten) {
  auto store = NewMemoryStore();
  IngestReport r = RunIngest(store.get(), Options({"BTC-USD", "NOPE-USD"}));
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);
  EXPECT_NE(r.status.message().find("NOPE-USD"), std::string::npos);
  auto all = store->List("");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

}  // namespace
}  // namespace tradelake
