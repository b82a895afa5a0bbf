#include "ingest/ingester.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
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

  // Every Bronze object of the product is announced exactly once in its
  // landed log, with the record count and size the object really has, and
  // the product has its marker.
  static void ExpectAnnouncedOnce(ObjectStore* store, const std::string& product) {
    auto objects = store->List(BronzeProductPrefix(product));
    ASSERT_TRUE(objects.ok());
    ASSERT_FALSE(objects->empty());
    auto entries = ReadLanded(store, product, 0);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    std::map<std::string, int> times;
    for (const auto& e : *entries) {
      ++times[e.key];
      auto data = store->Get(e.key);
      ASSERT_TRUE(data.ok()) << e.key << " is announced but not in Bronze";
      auto records = DecodeBronzeObject(*data);
      ASSERT_TRUE(records.ok());
      EXPECT_EQ(e.records, static_cast<int64_t>(records->size())) << e.key;
      EXPECT_EQ(e.bytes, static_cast<int64_t>(data->size())) << e.key;
      EXPECT_EQ(e.first_trade_id, records->front().trade_id) << e.key;
      EXPECT_EQ(e.last_trade_id, records->back().trade_id) << e.key;
    }
    for (const auto& o : *objects) EXPECT_EQ(times[o.key], 1) << o.key << " announced " << times[o.key] << " times";
    EXPECT_EQ(entries->size(), objects->size());
    auto products = ListLandedProducts(store);
    ASSERT_TRUE(products.ok());
    EXPECT_NE(std::find(products->begin(), products->end(), product), products->end());
  }

  std::unique_ptr<Simulator> sim_;
};

// Records every List prefix, so a test can prove what recovery lists.
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
  for (const auto& p : {"BTC-USD", "ETH-USD"}) {
    ExpectAnnouncedOnce(store.get(), p);
    auto cp = LoadCheckpoint(store.get(), p);
    ASSERT_TRUE(cp.ok() && cp->has_value());
    auto entries = ReadLanded(store.get(), p, 0);
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ((*cp)->landed_next_seq, static_cast<int64_t>(entries->size()));
  }
}

TEST_F(IngesterTest, CrashBetweenObjectAndItsAnnouncementIsAnnouncedByRecovery) {
  auto base = NewMemoryStore();
  FaultInjectionStore faulty(base.get());
  // The 3rd log entry fails: its object is durable, unannounced and not
  // checkpointed, as if the process died between the two writes.
  faulty.FailPuts("_state/ingest/landed/", 2, IOError("injected: killed"));
  IngestReport r1 = RunIngest(&faulty, Options({"BTC-USD"}));
  ASSERT_FALSE(r1.status.ok());
  EXPECT_EQ(faulty.injected(), 1);
  auto objects = base->List(BronzeProductPrefix("BTC-USD"));
  auto entries = ReadLanded(base.get(), "BTC-USD", 0);
  ASSERT_TRUE(objects.ok() && entries.ok());
  ASSERT_EQ(objects->size(), 3u);
  ASSERT_EQ(entries->size(), 2u);
  faulty.Heal();
  ListRecordingStore recording(&faulty);
  IngestReport r2 = RunIngest(&recording, Options({"BTC-USD"}));
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectComplete(base.get(), "BTC-USD");
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
  // Recovery listed date partitions, never the product's whole Bronze.
  ASSERT_FALSE(recording.lists.empty());
  for (const auto& l : recording.lists) {
    if (l.starts_with("bronze/")) {
      EXPECT_NE(l.find("/date="), std::string::npos) << "listed " << l;
    }
    EXPECT_NE(l, GapReportPrefix("BTC-USD")) << "listed every gap report";
  }
}

TEST_F(IngesterTest, ACheckpointFromBeforeTheLandedLogAnnouncesEveryObjectOnce) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(RunIngest(store.get(), Options({"ETH-USD"})).status.ok());
  // Make the lake look as it did before the landed log: no entries, no
  // marker, a checkpoint without landed_next_seq.
  auto log = store->List("_state/ingest/landed/");
  ASSERT_TRUE(log.ok());
  for (const auto& o : *log) ASSERT_TRUE(store->Delete(o.key).ok());
  ASSERT_TRUE(store->Delete("_state/ingest/products/source=coinbase/ETH-USD.json").ok());
  auto cp = LoadCheckpoint(store.get(), "ETH-USD");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  Checkpoint old = **cp;
  old.landed_next_seq.reset();
  ASSERT_TRUE(SaveCheckpoint(store.get(), old).ok());

  ASSERT_TRUE(RunIngest(store.get(), Options({"ETH-USD"})).status.ok());
  ExpectAnnouncedOnce(store.get(), "ETH-USD");
  // And a run after that announces nothing again.
  ASSERT_TRUE(RunIngest(store.get(), Options({"ETH-USD"})).status.ok());
  ExpectAnnouncedOnce(store.get(), "ETH-USD");
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
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
}

// The crash sweep: a run is killed at each of its store calls in turn (or
// the call is carried out and its reply lost), then run again. Every crash
// point is a call index from a clean run, not a timer, so every run of this
// test tries the same points, all of them.
TEST_F(IngesterTest, AKillOrALostReplyAtEveryStoreCallLosesNothingAndDoublesNothing) {
  SimulatorOptions so;
  so.products = {"BTC-USD"};
  so.seed = 11;
  so.history_micros = 15 * kMicrosPerMinute;
  so.trades_per_second = 3;
  so.live = false;
  so.rate_limit = false;
  auto sim = Simulator::Start(so);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  sim_ = std::move(sim).value();
  IngestOptions o = Options({"BTC-USD"});
  o.object_max_trades = 1000;

  auto clean = NewMemoryStore();
  FaultInjectionStore counter(clean.get());
  ASSERT_TRUE(RunIngest(&counter, o).status.ok());
  const int64_t calls = counter.calls();
  const std::vector<std::string> call_log = counter.call_log();
  ASSERT_GT(calls, 10);
  int64_t points = 0, first_runs_failed = 0, puts = 0;
  for (const FaultMode mode : {FaultMode::kKill, FaultMode::kLostReply}) {
    for (int64_t k = 0; k < calls; ++k) {
      // A lost reply differs from a kill only for a write (the write happened).
      const bool is_put = call_log[static_cast<size_t>(k)].starts_with("Put ");
      if (mode == FaultMode::kLostReply && !is_put) continue;
      if (mode == FaultMode::kLostReply) ++puts;
      SCOPED_TRACE(testing::Message() << (mode == FaultMode::kKill ? "kill" : "lost reply") << " at call " << k
                                      << " of " << calls);
      auto base = NewMemoryStore();
      FaultInjectionStore faulty(base.get());
      faulty.FailCall(k, mode, IOError("injected: crash point"));
      const IngestReport first = RunIngest(&faulty, o);
      if (!first.status.ok()) ++first_runs_failed;
      faulty.Heal();
      const IngestReport again = RunIngest(&faulty, o);
      ASSERT_TRUE(again.status.ok()) << again.status.ToString();
      ExpectComplete(base.get(), "BTC-USD");
      ExpectAnnouncedOnce(base.get(), "BTC-USD");
      if (HasFailure()) return;
      ++points;
    }
  }
  EXPECT_EQ(points, calls + puts);
  EXPECT_GT(first_runs_failed, 0);
  RecordProperty("crash_points", static_cast<int>(points));
  std::printf("crash sweep: %lld store calls, %lld crash points, %lld first runs failed\n",
              static_cast<long long>(calls), static_cast<long long>(points),
              static_cast<long long>(first_runs_failed));
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
  ExpectAnnouncedOnce(base.get(), "BTC-USD");
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
  ExpectAnnouncedOnce(store.get(), "ETH-USD");
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
