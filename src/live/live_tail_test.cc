// LiveTail against Gold: provisional bars are checked against bars that
// tradelake's Silver validator (etl/validate.h) and Gold aggregation
// (etl/gold.h) compute from the very same exchange JSON, field for field.
#include "live/live_tail.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "etl/dec18.h"
#include "etl/gold.h"
#include "etl/validate.h"
#include "exchange/market.h"

namespace tradelake {
namespace {

constexpr TimestampMicros kStart = 1'714'564'800'000'000;  // 2024-05-01T12:00:00Z

// A tape of `minutes` minutes of one product, and its trades as the feed
// would deliver them and as Silver holds them.
struct Tape {
  std::string product;
  std::vector<WsMatch> matches;           // by trade id
  std::map<TimestampMicros, GoldBar> gold;  // AggregateBars over Silver rows
};

Tape MakeTape(const std::string& product, int minutes, double tps, uint64_t seed = 3) {
  Result<ProductProfile> profile = ProfileFor(product);
  EXPECT_TRUE(profile.ok());
  Market market(*profile, seed, kStart, tps);
  market.AdvanceTo(kStart + minutes * kMicrosPerMinute - 1);
  Tape tape;
  tape.product = product;
  std::vector<SilverTrade> silver;
  for (int64_t id = market.first_trade_id(); id <= market.last_trade_id(); ++id) {
    const std::string json = market.TradeJson(id);
    const nlohmann::json j = nlohmann::json::parse(json);
    WsMatch m;
    m.product = product;
    m.trade_id = id;
    m.price = j["price"];
    m.size = j["size"];
    m.side = j["side"];
    m.time = *ParseRfc3339(j["time"].get<std::string>());
    tape.matches.push_back(m);
    TradeContext ctx;
    ctx.product_id = product;
    ctx.now = kStart + kMicrosPerDay;
    ValidationOutcome v = ValidateTrade(json, ctx);
    EXPECT_TRUE(std::holds_alternative<SilverTrade>(v)) << json;
    silver.push_back(std::get<SilverTrade>(v));
  }
  Result<std::vector<GoldBar>> bars = AggregateBars(silver, kMicrosPerMinute);
  EXPECT_TRUE(bars.ok()) << bars.status().ToString();
  for (GoldBar& b : *bars) tape.gold[b.period_start] = std::move(b);
  return tape;
}

std::string Show(const GoldBar& b) {
  return FormatRfc3339Trimmed(b.period_start) + " n=" + std::to_string(b.trade_count) + " o=" +
         Dec18ToString(b.open) + " h=" + Dec18ToString(b.high) + " l=" + Dec18ToString(b.low) + " c=" +
         Dec18ToString(b.close) + " v=" + Dec18ToString(b.total_volume) + " qv=" + Dec18ToString(b.quote_volume) +
         " vwap=" + Dec18ToString(b.vwap) + " avg=" + Dec18ToString(b.avg_price) + " ids " +
         std::to_string(b.first_trade_id) + ".." + std::to_string(b.last_trade_id);
}

TEST(LiveTail, EveryCompleteBarEqualsGoldsBarOfTheSameTradesToTheLastDigit) {
  for (const std::string product : {"BTC-USD", "DOGE-USD"}) {
    Tape tape = MakeTape(product, 6, 3.0);
    ASSERT_GE(tape.gold.size(), 5u);
    // Out of order, a tenth of them twice.
    std::vector<WsMatch> feed = tape.matches;
    std::mt19937_64 rng(11);
    for (size_t i = 0; i < tape.matches.size(); i += 10) feed.push_back(tape.matches[i]);
    std::shuffle(feed.begin(), feed.end(), rng);
    LiveTail tail;
    for (const WsMatch& m : feed) ASSERT_TRUE(tail.Add(m).ok());
    std::vector<ProvisionalBar> bars = tail.BarsAfter(product, 0);
    ASSERT_EQ(bars.size(), tape.gold.size());
    int complete = 0;
    for (size_t i = 0; i < bars.size(); ++i) {
      const GoldBar& gold = tape.gold.at(bars[i].bar.period_start);
      EXPECT_EQ(bars[i].bar, gold) << "provisional " << Show(bars[i].bar) << "\ngold        " << Show(gold);
      EXPECT_EQ(bars[i].missing_ids, 0);
      // The first minute's earlier neighbour and the last minute's later one
      // are unknown: only the minutes between are known to be complete.
      const bool inner = i > 0 && i + 1 < bars.size();
      EXPECT_EQ(bars[i].complete, inner) << i;
      EXPECT_EQ(bars[i].closed, i + 1 < bars.size()) << i;
      complete += bars[i].complete ? 1 : 0;
    }
    EXPECT_EQ(complete, static_cast<int>(bars.size()) - 2);
    EXPECT_EQ(tail.stats().added, static_cast<int64_t>(tape.matches.size()));
    EXPECT_EQ(tail.stats().duplicates, static_cast<int64_t>(feed.size() - tape.matches.size()));
  }
}

TEST(LiveTail, ADroppedTradeLeavesItsBarIncompleteUntilItArrives) {
  Tape tape = MakeTape("ETH-USD", 4, 3.0);
  // A trade inside the second minute.
  const GoldBar& second = std::next(tape.gold.begin())->second;
  const int64_t lost = second.first_trade_id + 1;
  ASSERT_LT(lost, second.last_trade_id);
  LiveTail tail;
  for (const WsMatch& m : tape.matches) {
    if (m.trade_id != lost) {
      ASSERT_TRUE(tail.Add(m).ok());
    }
  }
  std::vector<ProvisionalBar> bars = tail.BarsAfter("ETH-USD", 0);
  ASSERT_EQ(bars.size(), tape.gold.size());
  EXPECT_FALSE(bars[1].complete);
  EXPECT_EQ(bars[1].missing_ids, 1);
  EXPECT_NE(bars[1].bar, second);
  EXPECT_TRUE(bars[2].complete) << "its neighbours are whole";

  ASSERT_TRUE(tail.Add(tape.matches[static_cast<size_t>(lost - tape.matches.front().trade_id)]).ok());
  bars = tail.BarsAfter("ETH-USD", 0);
  EXPECT_TRUE(bars[1].complete);
  EXPECT_EQ(bars[1].bar, second);
}

TEST(LiveTail, ALostTradeAtAMinutesEdgeLeavesBothNeighboursIncomplete) {
  Tape tape = MakeTape("SOL-USD", 5, 3.0);
  auto it = std::next(tape.gold.begin());
  const int64_t lost = it->second.last_trade_id;  // last trade of the second minute
  LiveTail tail;
  for (const WsMatch& m : tape.matches) {
    if (m.trade_id != lost) {
      ASSERT_TRUE(tail.Add(m).ok());
    }
  }
  std::vector<ProvisionalBar> bars = tail.BarsAfter("SOL-USD", 0);
  ASSERT_EQ(bars.size(), 5u);
  EXPECT_EQ(bars[1].missing_ids, 0) << "the loss is not inside first..last";
  EXPECT_FALSE(bars[1].complete) << "trade last+1 is unknown: it may belong to this minute";
  EXPECT_FALSE(bars[2].complete) << "trade first-1 is unknown: it may belong to this minute";
  EXPECT_TRUE(bars[3].complete);
  EXPECT_EQ(bars[3].bar, std::next(it, 2)->second);
}

TEST(LiveTail, GoldsLastIdAndAHeartbeatCompleteTheNewestMinute) {
  Tape tape = MakeTape("BTC-USD", 3, 3.0);
  auto first = tape.gold.begin();
  auto newest = std::prev(tape.gold.end());
  LiveTail tail;
  for (const WsMatch& m : tape.matches) ASSERT_TRUE(tail.Add(m).ok());
  // Gold committed the first minute.
  tail.DropThrough("BTC-USD", first->first, first->second.last_trade_id);
  std::vector<ProvisionalBar> bars = tail.BarsAfter("BTC-USD", first->first);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_TRUE(bars[0].complete) << "its earlier neighbour is Gold's last trade";
  EXPECT_EQ(bars[0].bar, std::next(first)->second);
  EXPECT_FALSE(bars[1].complete);
  EXPECT_FALSE(bars[1].closed);

  const TimestampMicros end = newest->first + kMicrosPerMinute;
  WsHeartbeat h;
  h.product = "BTC-USD";
  h.last_trade_id = newest->second.last_trade_id + 1;  // a trade we do not have
  h.time = end + 5 * kMicrosPerSecond;
  tail.ObserveHeartbeat(h);
  bars = tail.BarsAfter("BTC-USD", first->first);
  EXPECT_TRUE(bars[1].closed);
  EXPECT_FALSE(bars[1].complete) << "trade last+1 exists and may be in this minute";

  LiveTail exact;
  for (const WsMatch& m : tape.matches) ASSERT_TRUE(exact.Add(m).ok());
  exact.DropThrough("BTC-USD", std::next(first)->first);  // no Gold id: dropped bars tell
  h.last_trade_id = newest->second.last_trade_id;
  h.time = end;  // within the grace: not yet
  exact.ObserveHeartbeat(h);
  bars = exact.BarsAfter("BTC-USD", 0);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_FALSE(bars[0].complete);
  h.time = end + 2 * kMicrosPerSecond;
  exact.ObserveHeartbeat(h);
  bars = exact.BarsAfter("BTC-USD", 0);
  EXPECT_TRUE(bars[0].complete);
  EXPECT_EQ(bars[0].bar, newest->second);
}

TEST(LiveTail, DropThroughForgetsCommittedMinutesAndIgnoresTheirLateTrades) {
  Tape tape = MakeTape("BTC-USD", 4, 2.0);
  LiveTail tail;
  for (const WsMatch& m : tape.matches) ASSERT_TRUE(tail.Add(m).ok());
  const TimestampMicros second = std::next(tape.gold.begin())->first;
  tail.DropThrough("BTC-USD", second + 17 * kMicrosPerSecond);  // any time inside the minute
  std::vector<ProvisionalBar> bars = tail.BarsAfter("BTC-USD", 0);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_GT(bars[0].bar.period_start, second);
  ASSERT_TRUE(tail.Add(tape.matches.front()).ok());
  EXPECT_EQ(tail.stats().late, 1);
  EXPECT_EQ(tail.BarsAfter("BTC-USD", 0).size(), 2u);
  EXPECT_EQ(tail.BarsAfter("BTC-USD", bars[0].bar.period_start).size(), 1u);
  EXPECT_TRUE(tail.BarsAfter("ETH-USD", 0).empty());
  EXPECT_EQ(tail.Products(), std::vector<std::string>{"BTC-USD"});
  EXPECT_EQ(tail.NewestTradeId("BTC-USD"), tape.matches.back().trade_id);
  EXPECT_EQ(tail.NewestTradeId("ETH-USD"), std::nullopt);
  WsHeartbeat h;
  h.product = "BTC-USD";
  h.last_trade_id = tape.matches.back().trade_id + 5;
  h.time = kStart;
  tail.ObserveHeartbeat(h);
  EXPECT_EQ(tail.NewestTradeId("BTC-USD"), tape.matches.back().trade_id + 5) << "a heartbeat announces trades not seen";
}

TEST(LiveTail, KeepsAtMostTheConfiguredMinutes) {
  Tape tape = MakeTape("BTC-USD", 6, 2.0);
  LiveTailOptions o;
  o.max_minutes_per_product = 3;
  LiveTail tail(o);
  for (const WsMatch& m : tape.matches) ASSERT_TRUE(tail.Add(m).ok());
  std::vector<ProvisionalBar> bars = tail.BarsAfter("BTC-USD", 0);
  ASSERT_EQ(bars.size(), 3u);
  EXPECT_EQ(tail.stats().evicted, static_cast<int64_t>(tape.gold.size()) - 3);
  EXPECT_EQ(bars.back().bar.period_start, std::prev(tape.gold.end())->first);
  EXPECT_TRUE(bars[0].complete) << "the evicted bar's last id still vouches for its neighbour";
  EXPECT_EQ(bars[0].bar, tape.gold.at(bars[0].bar.period_start));
}

TEST(LiveTail, RefusesWhatSilverWouldRejectAndOrdersByTradeId) {
  LiveTail tail;
  WsMatch m;
  m.product = "BTC-USD";
  m.trade_id = 10;
  m.price = "100.5";
  m.size = "2";
  m.side = "sell";
  m.time = kStart + 30 * kMicrosPerSecond;
  const std::vector<std::pair<std::string, std::function<void(WsMatch&)>>> breaks = {
      {"price 1e5", [](WsMatch& x) { x.price = "1e5"; }},
      {"price 0", [](WsMatch& x) { x.price = "0"; }},
      {"size -1", [](WsMatch& x) { x.size = "-1"; }},
      {"size with 19 fractional digits", [](WsMatch& x) { x.size = "0.0000000000000000001"; }},
      {"side up", [](WsMatch& x) { x.side = "up"; }}};
  for (const auto& [what, spoil] : breaks) {
    WsMatch bad = m;
    spoil(bad);
    Status s = tail.Add(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(s.message().find("live trade 10 of BTC-USD"), std::string::npos) << s.message();
  }
  EXPECT_EQ(tail.stats().rejected, 5);
  EXPECT_TRUE(tail.BarsAfter("BTC-USD", 0).empty());

  // Arriving newest first: open and close still follow trade ids.
  WsMatch later = m;
  later.trade_id = 12;
  later.price = "101.25";
  later.time = m.time - kMicrosPerSecond;  // an earlier time does not make it the open
  WsMatch middle = m;
  middle.trade_id = 11;
  middle.price = "99.00";
  ASSERT_TRUE(tail.Add(later).ok());
  ASSERT_TRUE(tail.Add(middle).ok());
  ASSERT_TRUE(tail.Add(m).ok());
  ASSERT_TRUE(tail.Add(middle).ok());
  std::vector<ProvisionalBar> bars = tail.BarsAfter("BTC-USD", 0);
  ASSERT_EQ(bars.size(), 1u);
  const GoldBar& b = bars[0].bar;
  EXPECT_EQ(Dec18ToString(b.open), "100.5");
  EXPECT_EQ(Dec18ToString(b.close), "101.25");
  EXPECT_EQ(Dec18ToString(b.high), "101.25");
  EXPECT_EQ(Dec18ToString(b.low), "99");
  EXPECT_EQ(b.trade_count, 3);
  EXPECT_EQ(Dec18ToString(b.total_volume), "6");
  EXPECT_EQ(Dec18ToString(b.quote_volume), "601.5");
  EXPECT_EQ(Dec18ToString(b.vwap), "100.25");
  EXPECT_EQ(Dec18ToString(b.buy_volume), "6") << "maker sold: the taker bought";
  EXPECT_EQ(b.first_trade_id, 10);
  EXPECT_EQ(b.last_trade_id, 12);
  EXPECT_EQ(tail.stats().duplicates, 1);
}

}  // namespace
}  // namespace tradelake
