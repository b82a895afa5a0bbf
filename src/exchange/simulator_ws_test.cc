// SimulatorWs over a real loopback socket, read by a client that shares no
// code with tradelake's WsFeed (tests/support/ws_test_client.h). Every test
// is bounded in messages and time; none asserts a duration.
#include "exchange/simulator_ws.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exchange/simulator.h"
#include "support/ws_test_client.h"

namespace tradelake {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::WsTestClient;

constexpr milliseconds kIo{5000};

std::unique_ptr<Simulator> LiveSim(std::vector<std::string> products, double tps) {
  SimulatorOptions o;
  o.products = std::move(products);
  o.history_micros = kMicrosPerMinute;
  o.trades_per_second = tps;
  o.rate_limit = false;
  o.threads = 2;
  Result<std::unique_ptr<Simulator>> sim = Simulator::Start(std::move(o));
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return sim.ok() ? std::move(sim).value() : nullptr;
}

std::unique_ptr<SimulatorWs> StartWs(const Simulator* sim, SimulatorWsOptions o) {
  Result<std::unique_ptr<SimulatorWs>> ws = SimulatorWs::Start(sim, std::move(o));
  EXPECT_TRUE(ws.ok()) << ws.status().ToString();
  return ws.ok() ? std::move(ws).value() : nullptr;
}

std::string Subscribe(const std::vector<std::string>& products) {
  return json{{"type", "subscribe"}, {"product_ids", products}, {"channels", {"matches", "heartbeat"}}}.dump();
}

// The match's trade fields equal the REST trade's, text for text.
void ExpectSameAsRest(const Simulator& sim, const json& m) {
  const json rest = json::parse(sim.TradeJson(m["product_id"], m["trade_id"].get<int64_t>()));
  EXPECT_EQ(m["price"], rest["price"]);
  EXPECT_EQ(m["size"], rest["size"]);
  EXPECT_EQ(m["side"], rest["side"]);
  EXPECT_EQ(m["time"], rest["time"]);
}

TEST(SimulatorWs, ServesCoinbaseShapesAndRefusesUnknownProductsWhileServingTheOthers) {
  auto sim = LiveSim({"BTC-USD", "ETH-USD"}, 20);
  ASSERT_TRUE(sim);
  SimulatorWsOptions o;
  o.heartbeat_interval_ms = 100;
  o.poll_interval_ms = 5;
  auto ws = StartWs(sim.get(), o);
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->url(), "ws://127.0.0.1:" + std::to_string(ws->port()));

  WsTestClient c;
  ASSERT_TRUE(c.Connect(ws->port(), kIo));
  ASSERT_TRUE(c.Send(Subscribe({"BTC-USD", "FOO-USD"}), kIo));

  std::optional<std::string> first = c.Read(kIo);
  ASSERT_TRUE(first);
  const json err = json::parse(*first);
  EXPECT_EQ(err["type"], "error");
  EXPECT_EQ(err["message"], "Failed to subscribe");
  EXPECT_EQ(err["reason"], "FOO-USD is not a valid product");

  std::optional<std::string> second = c.Read(kIo);
  ASSERT_TRUE(second);
  const json ack = json::parse(*second);
  EXPECT_EQ(ack["type"], "subscriptions");
  EXPECT_EQ(ack["channels"], json::parse(R"([{"name":"matches","product_ids":["BTC-USD"]},
                                              {"name":"heartbeat","product_ids":["BTC-USD"]}])"));

  std::optional<std::string> third = c.Read(kIo);
  ASSERT_TRUE(third);
  const json last = json::parse(*third);
  ASSERT_EQ(last["type"], "last_match");
  ExpectSameAsRest(*sim, last);

  int64_t expect_id = last["trade_id"].get<int64_t>() + 1;
  int64_t last_sequence = last["sequence"].get<int64_t>();
  int matches = 0, heartbeats = 0;
  for (int i = 0; i < 2000 && (matches < 30 || heartbeats < 3); ++i) {
    std::optional<std::string> text = c.Read(kIo);
    ASSERT_TRUE(text) << "feed closed after " << matches << " matches";
    const json m = json::parse(*text);
    ASSERT_EQ(m["product_id"], "BTC-USD") << *text;
    if (m["type"] == "heartbeat") {
      ++heartbeats;
      // Every trade announced so far is at or below last_trade_id.
      EXPECT_GE(m["last_trade_id"].get<int64_t>(), expect_id - 1);
      EXPECT_LE(m["last_trade_id"].get<int64_t>(), sim->LastTradeId("BTC-USD"));
      EXPECT_EQ(m["sequence"].get<int64_t>(), last_sequence);
      EXPECT_TRUE(ParseRfc3339(m["time"].get<std::string>()).ok());
      continue;
    }
    ASSERT_EQ(m["type"], "match") << *text;
    ++matches;
    EXPECT_EQ(m["trade_id"].get<int64_t>(), expect_id) << "matches come in trade id order, none missing";
    EXPECT_EQ(m["sequence"].get<int64_t>(), last_sequence + 1);
    for (const char* k : {"maker_order_id", "taker_order_id"}) EXPECT_EQ(m[k].get<std::string>().size(), 36u);
    ExpectSameAsRest(*sim, m);
    expect_id = m["trade_id"].get<int64_t>() + 1;
    last_sequence = m["sequence"].get<int64_t>();
  }
  EXPECT_GE(matches, 30);
  EXPECT_GE(heartbeats, 3);
  EXPECT_EQ(ws->counters().errors, 1);
  EXPECT_EQ(ws->counters().dropped, 0);
}

TEST(SimulatorWs, AcceptsChannelObjectsWithTheirOwnProducts) {
  auto sim = LiveSim({"BTC-USD", "ETH-USD"}, 50);
  ASSERT_TRUE(sim);
  SimulatorWsOptions o;
  o.heartbeat_interval_ms = 20;
  o.poll_interval_ms = 5;
  auto ws = StartWs(sim.get(), o);
  ASSERT_TRUE(ws);
  WsTestClient c;
  ASSERT_TRUE(c.Connect(ws->port(), kIo));
  ASSERT_TRUE(c.Send(R"({"type":"subscribe","channels":[{"name":"matches","product_ids":["ETH-USD"]}]})", kIo));
  std::optional<std::string> ack = c.Read(kIo);
  ASSERT_TRUE(ack);
  EXPECT_EQ(json::parse(*ack)["channels"], json::parse(R"([{"name":"matches","product_ids":["ETH-USD"]}])"));
  // 40 matches at 50 trades/s span many 20 ms heartbeat periods: none may
  // come, the connection holds no heartbeat subscription.
  for (int i = 0; i < 40; ++i) {
    std::optional<std::string> text = c.Read(kIo);
    ASSERT_TRUE(text);
    const json m = json::parse(*text);
    EXPECT_EQ(m["product_id"], "ETH-USD");
    EXPECT_TRUE(m["type"] == "match" || m["type"] == "last_match") << *text;
  }
  EXPECT_EQ(ws->counters().heartbeats, 0);
}

TEST(SimulatorWs, DropsDuplicatesAndReordersDetectably) {
  auto sim = LiveSim({"BTC-USD"}, 100);
  ASSERT_TRUE(sim);
  SimulatorWsOptions o;
  o.heartbeat_interval_ms = 50;
  o.poll_interval_ms = 5;
  o.faults.drop = 0.2;
  o.faults.duplicate = 0.2;
  o.faults.reorder = 0.2;
  auto ws = StartWs(sim.get(), o);
  ASSERT_TRUE(ws);
  WsTestClient c;
  ASSERT_TRUE(c.Connect(ws->port(), kIo));
  ASSERT_TRUE(c.Send(Subscribe({"BTC-USD"}), kIo));
  std::set<int64_t> seen;
  int duplicates = 0, out_of_order = 0;
  int64_t max_id = 0, first_id = 0, max_heartbeat = 0;
  for (int i = 0; i < 400; ++i) {
    std::optional<std::string> text = c.Read(kIo);
    ASSERT_TRUE(text);
    const json m = json::parse(*text);
    if (m["type"] == "heartbeat") {
      max_heartbeat = std::max(max_heartbeat, m["last_trade_id"].get<int64_t>());
      continue;
    }
    if (m["type"] != "match") continue;
    ExpectSameAsRest(*sim, m);
    const int64_t id = m["trade_id"];
    if (first_id == 0) first_id = id;
    if (!seen.insert(id).second) ++duplicates;
    if (id < max_id) ++out_of_order;
    max_id = std::max(max_id, id);
  }
  const SimulatorWs::Counters k = ws->counters();
  EXPECT_GT(k.dropped, 0);
  EXPECT_GT(k.duplicated, 0);
  EXPECT_GT(k.reordered, 0);
  EXPECT_GT(duplicates, 0);
  EXPECT_GT(out_of_order, 0);
  // Drops show as ids missing below what the heartbeats announced.
  int64_t missing = 0;
  for (int64_t id = first_id; id <= std::min(max_id, max_heartbeat); ++id) missing += seen.count(id) == 0 ? 1 : 0;
  EXPECT_GT(missing, 0);
}

TEST(SimulatorWs, DisconnectsEveryIntervalAndStallsWithoutClosing) {
  auto sim = LiveSim({"BTC-USD"}, 20);
  ASSERT_TRUE(sim);
  SimulatorWsOptions o;
  o.heartbeat_interval_ms = 20;
  o.faults.disconnect_every_ms = 300;
  auto ws = StartWs(sim.get(), o);
  ASSERT_TRUE(ws);
  for (int round = 0; round < 2; ++round) {
    WsTestClient c;
    ASSERT_TRUE(c.Connect(ws->port(), kIo));
    ASSERT_TRUE(c.Send(Subscribe({"BTC-USD"}), kIo));
    int messages = 0;
    while (messages < 100'000 && c.Read(kIo)) ++messages;
    EXPECT_TRUE(c.closed());
    EXPECT_GT(messages, 0);
  }
  EXPECT_EQ(ws->counters().disconnects, 2);

  SimulatorWsOptions s;
  s.heartbeat_interval_ms = 20;
  s.faults.stall_every_ms = 100;
  s.faults.stall_ms = 300;
  auto stalling = StartWs(sim.get(), s);
  ASSERT_TRUE(stalling);
  WsTestClient c;
  ASSERT_TRUE(c.Connect(stalling->port(), kIo));
  ASSERT_TRUE(c.Send(Subscribe({"BTC-USD"}), kIo));
  int heartbeats = 0;
  for (int i = 0; i < 5000 && (stalling->counters().stalls < 2 || heartbeats < 30); ++i) {
    std::optional<std::string> text = c.Read(kIo);
    ASSERT_TRUE(text) << "a stall must keep the connection open";
    if (json::parse(*text)["type"] == "heartbeat") ++heartbeats;
  }
  EXPECT_GE(stalling->counters().stalls, 2);
  EXPECT_EQ(stalling->counters().disconnects, 0);
}

TEST(SimulatorWs, ClosesASlowConsumer) {
  auto sim = LiveSim({"BTC-USD", "ETH-USD", "SOL-USD"}, 2000);
  ASSERT_TRUE(sim);
  SimulatorWsOptions o;
  o.poll_interval_ms = 5;
  o.faults.max_backlog_bytes = 64 << 10;
  o.faults.send_buffer_bytes = 4096;
  auto ws = StartWs(sim.get(), o);
  ASSERT_TRUE(ws);
  WsTestClient c;
  ASSERT_TRUE(c.Connect(ws->port(), kIo, /*receive_buffer_bytes=*/4096));
  ASSERT_TRUE(c.Send(Subscribe({"BTC-USD", "ETH-USD", "SOL-USD"}), kIo));
  // Do not read: wait (bounded) for the server to give up on us.
  for (int i = 0; i < 300 && ws->counters().slow_consumer_closes == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(ws->counters().slow_consumer_closes, 1);
  int messages = 0;
  while (messages < 1'000'000 && c.Read(kIo)) ++messages;
  EXPECT_TRUE(c.closed());
}

TEST(SimulatorWs, SkipsHolesInMatchesButCountsThemInHeartbeats) {
  // Two simulators with the same seed and pinned start publish the same ids;
  // the second one has a hole a few ids past the first one's newest trade.
  SimulatorOptions o;
  o.products = {"BTC-USD"};
  o.now = NowMicros();
  o.history_micros = kMicrosPerMinute;
  o.trades_per_second = 50;
  o.rate_limit = false;
  o.threads = 1;
  int64_t newest = 0;
  {
    Result<std::unique_ptr<Simulator>> probe = Simulator::Start(o);
    ASSERT_TRUE(probe.ok());
    newest = (*probe)->LastTradeId("BTC-USD");
  }
  o.faults.holes = {{newest + 20, newest + 22}};
  Result<std::unique_ptr<Simulator>> sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok());
  SimulatorWsOptions wo;
  wo.heartbeat_interval_ms = 20;
  wo.poll_interval_ms = 5;
  auto ws = StartWs(sim->get(), wo);
  ASSERT_TRUE(ws);
  WsTestClient c;
  ASSERT_TRUE(c.Connect(ws->port(), kIo));
  ASSERT_TRUE(c.Send(Subscribe({"BTC-USD"}), kIo));
  std::set<int64_t> ids;
  int64_t beat = 0, first = 0;
  for (int i = 0; i < 5000 && beat < newest + 30; ++i) {
    std::optional<std::string> text = c.Read(kIo);
    ASSERT_TRUE(text);
    const json m = json::parse(*text);
    if (m["type"] == "heartbeat") beat = m["last_trade_id"].get<int64_t>();
    if (m["type"] == "match") {
      ids.insert(m["trade_id"].get<int64_t>());
      if (first == 0) first = m["trade_id"].get<int64_t>();
    }
  }
  ASSERT_GE(beat, newest + 30);
  ASSERT_LT(first, newest + 20) << "subscribed after the hole: nothing to check";
  for (int64_t id = first; id <= beat; ++id) {
    const bool hole = id >= newest + 20 && id <= newest + 22;
    EXPECT_EQ(ids.count(id), hole ? 0u : 1u) << id;
  }
}

TEST(SimulatorWs, RefusesInvalidFaultOptions) {
  auto sim = LiveSim({"BTC-USD"}, 1);
  ASSERT_TRUE(sim);
  SimulatorWsOptions o;
  o.faults.drop = 1.5;
  Result<std::unique_ptr<SimulatorWs>> ws = SimulatorWs::Start(sim.get(), o);
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ws.status().message().find("drop"), std::string::npos);
}

}  // namespace
}  // namespace tradelake
