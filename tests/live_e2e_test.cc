// The live path end to end, in one process: Simulator (REST's truth) +
// SimulatorWs (5% of messages dropped, a disconnect every few seconds, 50
// products) -> WsFeed -> LiveTail, checked against Gold computed by
// tradelake's own Silver validator and Gold aggregation from the REST text of
// every trade the simulator published.
//
// A provisional bar can only be judged complete once a whole minute went by
// on the exchange's clock, so this test runs for about 70 s of wall time: the
// simulator's clock is pinned 2 s before a minute starts, a stand-in for
// Gold commits the minute before it (DropThrough with the last trade id Gold
// would hold, read from REST), and the next minute closes a minute later.
// Bounded: it stops after the first full minute closed, or fails after 150 s.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etl/gold.h"
#include "etl/validate.h"
#include "exchange/simulator.h"
#include "exchange/simulator_ws.h"
#include "exchange/ws_feed.h"
#include "live/live_tail.h"

namespace tradelake {
namespace {

using std::chrono::milliseconds;

// The newest id of `product` whose time lies before `t` (REST's view).
int64_t LastIdBefore(const Simulator& sim, const std::string& product, TimestampMicros t) {
  for (int64_t id = sim.LastTradeId(product); id >= sim.FirstTradeId(product); --id) {
    const nlohmann::json j = nlohmann::json::parse(sim.TradeJson(product, id));
    if (*ParseRfc3339(j["time"].get<std::string>()) < t) return id;
  }
  return sim.FirstTradeId(product) - 1;
}

TEST(LiveE2e, FiftyProductsUnderDropsAndDisconnectsGiveCompleteBarsEqualToGold) {
  std::vector<std::string> products;
  for (int i = 0; i < 50; ++i) products.push_back(fmt::format("P{:02d}-USD", i));

  // The simulator's clock starts 2 s before a minute; heartbeats use the same clock.
  const TimestampMicros wall = NowMicros();
  const TimestampMicros start = PeriodStart(wall, kMicrosPerMinute) + kMicrosPerMinute - 2 * kMicrosPerSecond;
  const TimestampMicros offset = start - wall;
  const TimestampMicros minute0 = start + 2 * kMicrosPerSecond;  // the first minute the feed sees whole

  SimulatorOptions so;
  so.products = products;
  so.now = start;
  so.history_micros = 10 * kMicrosPerMinute;
  so.trades_per_second = 0.3;
  so.rate_limit = false;
  so.threads = 2;
  Result<std::unique_ptr<Simulator>> sim = Simulator::Start(so);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();

  SimulatorWsOptions wo;
  wo.clock = [offset] { return NowMicros() + offset; };
  wo.faults.drop = 0.05;
  wo.faults.disconnect_every_ms = 3000;  // Coinbase-like "every 30 s", scaled down
  wo.seed = 5;
  Result<std::unique_ptr<SimulatorWs>> ws = SimulatorWs::Start(sim->get(), wo);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();

  LiveTail tail;
  std::mutex mu;
  std::vector<std::string> add_errors;
  WsCallbacks cb;
  cb.on_match = [&](const WsMatch& m) {
    if (Status s = tail.Add(m); !s.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      add_errors.push_back(s.ToString());
    }
  };
  cb.on_heartbeat = [&](const WsHeartbeat& h) { tail.ObserveHeartbeat(h); };
  WsFeedOptions fo;
  fo.url = (*ws)->url();
  fo.products = products;
  fo.max_products_per_connection = 20;  // three connections
  fo.backoff_base_ms = 50;
  fo.backoff_max_ms = 500;
  fo.jitter_seed = 1;
  Result<std::unique_ptr<WsFeed>> feed = WsFeed::Start(fo, cb);
  ASSERT_TRUE(feed.ok()) << feed.status().ToString();
  EXPECT_EQ((*feed)->connections(), 3);

  // Once the minute before minute0 is over, "Gold commits" it: its last id
  // comes from REST, as the ETL's would.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(150);
  auto sim_now = [&] { return NowMicros() + offset; };
  while (sim_now() < minute0 + kMicrosPerSecond) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::map<std::string, int64_t> gold_last;
  for (const std::string& p : products) {
    gold_last[p] = LastIdBefore(**sim, p, minute0);
    tail.DropThrough(p, minute0 - kMicrosPerMinute, gold_last[p]);
  }
  // minute0 closes; a few seconds more so heartbeats (2 s grace) and the
  // next trades reach the tail.
  while (sim_now() < minute0 + kMicrosPerMinute + 4 * kMicrosPerSecond) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(milliseconds(100));
  }
  (*feed)->Stop();

  EXPECT_GE((*feed)->stats().reconnects, 10) << "a disconnect every 3 s on each of 3 connections";
  EXPECT_GT((*ws)->counters().dropped, 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(add_errors.empty()) << add_errors.front();
  }

  // Gold from REST: every trade after the committed minute, validated and aggregated.
  int complete = 0, incomplete = 0, incomplete_but_equal = 0;
  for (const std::string& p : products) {
    std::vector<SilverTrade> silver;
    for (int64_t id = gold_last[p] + 1; id <= (*sim)->LastTradeId(p); ++id) {
      TradeContext ctx;
      ctx.product_id = p;
      ctx.now = sim_now() + kMicrosPerHour;
      ValidationOutcome v = ValidateTrade((*sim)->TradeJson(p, id), ctx);
      ASSERT_TRUE(std::holds_alternative<SilverTrade>(v));
      silver.push_back(std::get<SilverTrade>(v));
    }
    Result<std::vector<GoldBar>> gold = AggregateBars(silver, kMicrosPerMinute);
    ASSERT_TRUE(gold.ok()) << gold.status().ToString();
    std::map<TimestampMicros, GoldBar> by_minute;
    for (const GoldBar& b : *gold) by_minute[b.period_start] = b;

    for (const ProvisionalBar& pb : tail.BarsAfter(p, minute0 - kMicrosPerMinute)) {
      const auto g = by_minute.find(pb.bar.period_start);
      ASSERT_NE(g, by_minute.end()) << p << " has a provisional bar for a minute REST has no trade in";
      if (pb.complete) {
        ++complete;
        EXPECT_EQ(pb.bar, g->second) << p << " " << FormatRfc3339Trimmed(pb.bar.period_start);
        EXPECT_EQ(pb.bar.period_start, minute0) << "only minute0 can be known whole";
      } else {
        ++incomplete;
        if (pb.bar == g->second) ++incomplete_but_equal;
        // What it holds is a subset of Gold's trades.
        EXPECT_LE(pb.bar.trade_count, g->second.trade_count);
        EXPECT_GE(pb.bar.first_trade_id, g->second.first_trade_id);
        EXPECT_LE(pb.bar.last_trade_id, g->second.last_trade_id);
      }
    }
  }
  // With ~18 trades per product-minute and 5% drops, a good share of minute0
  // bars hold every trade.
  EXPECT_GT(complete, 5);
  std::printf("live e2e: %d complete provisional bars equal Gold, %d incomplete (%d of them equal anyway); "
              "feed: %lld matches, %lld reconnects; server dropped %lld\n",
              complete, incomplete, incomplete_but_equal, static_cast<long long>((*feed)->stats().matches.load()),
              static_cast<long long>((*feed)->stats().reconnects.load()),
              static_cast<long long>((*ws)->counters().dropped));
}

}  // namespace
}  // namespace tradelake
