#include "exchange/simulator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <httplib.h>

#include "exchange/market.h"

namespace tradelake {
namespace {

constexpr TimestampMicros kStart = 1'714'564'800'000'000;  // 2024-05-01T12:00:00Z
constexpr char kRateLimited[] = R"({"message":"Public rate limit exceeded"})";
constexpr char kNotFound[] = R"({"message":"NotFound"})";

// A frozen market: an hour of history, no live trades, no rate limit.
SimulatorOptions Frozen() {
  SimulatorOptions o;
  o.now = kStart;
  o.live = false;
  o.history_micros = kMicrosPerHour;
  o.rate_limit = false;
  o.threads = 4;
  return o;
}

std::unique_ptr<Simulator> StartOrDie(SimulatorOptions options) {
  Result<std::unique_ptr<Simulator>> sim = Simulator::Start(std::move(options));
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return sim.ok() ? std::move(sim).value() : nullptr;
}

httplib::Result Get(const Simulator& sim, const std::string& path) {
  httplib::Client client("127.0.0.1", sim.port());
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  return client.Get(path.c_str());
}

// trade_id of every element of a /trades page, in order; fails the test if the
// body is not a JSON array of objects with integer trade_ids.
std::vector<int64_t> PageIds(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::vector<int64_t> ids;
  EXPECT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body.substr(0, 200);
  simdjson::dom::array array;
  if (doc.get_array().get(array) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not an array: " << body.substr(0, 200);
    return ids;
  }
  for (simdjson::dom::element trade : array) {
    int64_t id = 0;
    EXPECT_EQ(trade["trade_id"].get_int64().get(id), simdjson::SUCCESS);
    ids.push_back(id);
  }
  return ids;
}

bool ParsesAsJson(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(body).get(doc) == simdjson::SUCCESS;
}

// The exact body the simulator should send for these ids.
std::string ExpectedBody(const Simulator& sim, const std::string& product,
                         const std::vector<int64_t>& ids) {
  std::string body = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) body += ',';
    body += sim.TradeJson(product, ids[i]);
  }
  return body + "]";
}

std::vector<int64_t> Descending(int64_t hi, int64_t lo) {
  std::vector<int64_t> ids;
  for (int64_t id = hi; id >= lo; --id) ids.push_back(id);
  return ids;
}

TEST(Simulator, ListsProducts) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  EXPECT_EQ(sim->url(), "http://127.0.0.1:" + std::to_string(sim->port()));

  httplib::Result all = Get(*sim, "/products");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(all->get_header_value("Content-Type"), "application/json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(all->body).get(doc), simdjson::SUCCESS);
  std::vector<std::string> ids;
  for (simdjson::dom::element p : doc.get_array()) {
    std::string_view id, status;
    bool disabled = true;
    ASSERT_EQ(p["id"].get_string().get(id), simdjson::SUCCESS);
    ASSERT_EQ(p["status"].get_string().get(status), simdjson::SUCCESS);
    ASSERT_EQ(p["trading_disabled"].get_bool().get(disabled), simdjson::SUCCESS);
    EXPECT_EQ(status, "online");
    EXPECT_FALSE(disabled);
    ids.emplace_back(id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"BTC-USD", "ETH-USD", "SOL-USD"}));

  httplib::Result btc = Get(*sim, "/products/BTC-USD");
  ASSERT_TRUE(btc);
  EXPECT_EQ(btc->status, 200);
  ASSERT_EQ(parser.parse(btc->body).get(doc), simdjson::SUCCESS);
  std::string_view quote_increment, base_increment, base, quote;
  ASSERT_EQ(doc["quote_increment"].get_string().get(quote_increment), simdjson::SUCCESS);
  ASSERT_EQ(doc["base_increment"].get_string().get(base_increment), simdjson::SUCCESS);
  ASSERT_EQ(doc["base_currency"].get_string().get(base), simdjson::SUCCESS);
  ASSERT_EQ(doc["quote_currency"].get_string().get(quote), simdjson::SUCCESS);
  EXPECT_EQ(quote_increment, "0.01");
  EXPECT_EQ(base_increment, "0.00000001");
  EXPECT_EQ(base, "BTC");
  EXPECT_EQ(quote, "USD");
}

TEST(Simulator, UnknownProductsAndPathsAre404) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  for (const char* path : {"/products/FOO-USD", "/products/FOO-USD/trades",
                           "/products/FOO-USD/candles", "/products/BTC-USD/book", "/nope", "/"}) {
    httplib::Result res = Get(*sim, path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body, kNotFound) << path;
  }
}

TEST(Simulator, NewestPageComesWithoutACursor) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  const int64_t last = sim->LastTradeId("BTC-USD");
  ASSERT_GT(last - sim->FirstTradeId("BTC-USD"), 5000);  // an hour at 5/s

  httplib::Result res = Get(*sim, "/products/BTC-USD/trades");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  const std::vector<int64_t> expected = Descending(last, last - 999);  // default limit 1000
  EXPECT_EQ(res->body, ExpectedBody(*sim, "BTC-USD", expected));
  EXPECT_EQ(res->get_header_value("CB-BEFORE"), std::to_string(last));
  EXPECT_EQ(res->get_header_value("CB-AFTER"), std::to_string(last - 999));

  res = Get(*sim, "/products/BTC-USD/trades?limit=3");
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(last, last - 2));
}

TEST(Simulator, WalkingTheAfterCursorVisitsEveryTradeOnce) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  const int64_t first = sim->FirstTradeId("ETH-USD");
  const int64_t last = sim->LastTradeId("ETH-USD");
  std::map<int64_t, int> seen;
  std::string path = "/products/ETH-USD/trades?limit=1000";
  for (int pages = 0; pages < 100; ++pages) {
    httplib::Result res = Get(*sim, path);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    const std::vector<int64_t> ids = PageIds(res->body);
    if (ids.empty()) {
      EXPECT_EQ(res->body, "[]");
      EXPECT_FALSE(res->has_header("CB-AFTER"));
      EXPECT_FALSE(res->has_header("CB-BEFORE"));
      break;
    }
    ASSERT_TRUE(std::is_sorted(ids.rbegin(), ids.rend())) << "newest first";
    EXPECT_EQ(res->body, ExpectedBody(*sim, "ETH-USD", ids));
    EXPECT_EQ(res->get_header_value("CB-AFTER"), std::to_string(ids.back()));
    EXPECT_EQ(res->get_header_value("CB-BEFORE"), std::to_string(ids.front()));
    for (int64_t id : ids) ++seen[id];
    path = "/products/ETH-USD/trades?limit=1000&after=" + res->get_header_value("CB-AFTER");
  }
  ASSERT_EQ(static_cast<int64_t>(seen.size()), last - first + 1);
  EXPECT_EQ(seen.begin()->first, first);
  EXPECT_EQ(seen.rbegin()->first, last);
  for (const auto& [id, count] : seen) ASSERT_EQ(count, 1) << id;
}

TEST(Simulator, BeforeReturnsTheOldestNewerTradesNewestFirst) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  const int64_t first = sim->FirstTradeId("SOL-USD");
  const int64_t last = sim->LastTradeId("SOL-USD");

  httplib::Result res = Get(*sim, "/products/SOL-USD/trades?limit=5&before=" + std::to_string(first + 10));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(PageIds(res->body), Descending(first + 15, first + 11));
  EXPECT_EQ(res->get_header_value("CB-AFTER"), std::to_string(first + 11));
  EXPECT_EQ(res->get_header_value("CB-BEFORE"), std::to_string(first + 15));

  // Near the newest trade the page is short; past it, empty.
  res = Get(*sim, "/products/SOL-USD/trades?limit=5&before=" + std::to_string(last - 2));
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(last, last - 1));
  res = Get(*sim, "/products/SOL-USD/trades?before=" + std::to_string(last));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "[]");
  EXPECT_FALSE(res->has_header("CB-AFTER"));

  // after= takes the newest trades older than the cursor.
  res = Get(*sim, "/products/SOL-USD/trades?limit=4&after=" + std::to_string(first + 100));
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(first + 99, first + 96));
  res = Get(*sim, "/products/SOL-USD/trades?limit=4&after=" + std::to_string(first + 2));
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(first + 1, first));
  res = Get(*sim, "/products/SOL-USD/trades?after=" + std::to_string(first));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "[]");
}

TEST(Simulator, RejectsBadParametersWith400) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  const std::map<std::string, std::string> cases = {
      {"/products/BTC-USD/trades?limit=0", R"({"message":"Invalid limit"})"},
      {"/products/BTC-USD/trades?limit=1001", R"({"message":"Invalid limit"})"},
      {"/products/BTC-USD/trades?limit=ten", R"({"message":"Invalid limit"})"},
      {"/products/BTC-USD/trades?limit=-5", R"({"message":"Invalid limit"})"},
      {"/products/BTC-USD/trades?after=abc", R"({"message":"Invalid after"})"},
      {"/products/BTC-USD/trades?before=12x", R"({"message":"Invalid before"})"},
      {"/products/BTC-USD/candles?granularity=61", R"({"message":"Unsupported granularity"})"},
  };
  for (const auto& [path, body] : cases) {
    httplib::Result res = Get(*sim, path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_EQ(res->body, body) << path;
  }
  httplib::Result res = Get(*sim, "/products/BTC-USD/trades?limit=1000");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(Simulator, EnforcesThePublicRateLimit) {
  SimulatorOptions o = Frozen();
  o.rate_limit = true;
  o.rate = 10;
  o.burst = 15;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  int ok = 0, limited = 0;
  for (int i = 0; i < 40; ++i) {
    httplib::Result res = Get(*sim, "/products/BTC-USD/trades?limit=1");
    ASSERT_TRUE(res);
    if (res->status == 200) {
      ++ok;
    } else {
      ASSERT_EQ(res->status, 429);
      EXPECT_EQ(res->body, kRateLimited);
      ++limited;
    }
  }
  EXPECT_GE(ok, 15);    // the burst
  EXPECT_GT(limited, 0);
  const Simulator::Counters c = sim->counters();
  EXPECT_EQ(c.requests, 40);
  EXPECT_EQ(c.ok, ok);
  EXPECT_EQ(c.rate_limited, limited);
  EXPECT_EQ(c.faults, 0);
}

TEST(Simulator, SameSeedServesTheSameTrades) {
  auto a = StartOrDie(Frozen());
  auto b = StartOrDie(Frozen());
  SimulatorOptions other = Frozen();
  other.seed = 43;
  auto c = StartOrDie(other);
  ASSERT_TRUE(a && b && c);
  for (const std::string product : {"BTC-USD", "ETH-USD", "SOL-USD"}) {
    ASSERT_EQ(a->FirstTradeId(product), b->FirstTradeId(product));
    ASSERT_EQ(a->LastTradeId(product), b->LastTradeId(product));
    for (int64_t id = a->FirstTradeId(product); id <= a->LastTradeId(product); ++id) {
      ASSERT_EQ(a->TradeJson(product, id), b->TradeJson(product, id));
    }
    httplib::Result pa = Get(*a, "/products/" + product + "/trades");
    httplib::Result pb = Get(*b, "/products/" + product + "/trades");
    ASSERT_TRUE(pa && pb);
    EXPECT_EQ(pa->body, pb->body);
    EXPECT_NE(a->TradeJson(product, a->FirstTradeId(product)),
              c->TradeJson(product, c->FirstTradeId(product)));
  }
  EXPECT_EQ(a->TradeJson("FOO-USD", 1), "");
  EXPECT_EQ(a->TradeJson("BTC-USD", a->LastTradeId("BTC-USD") + 1), "");
}

TEST(Simulator, TradesKeepArrivingInRealTime) {
  SimulatorOptions o = Frozen();
  o.live = true;
  o.now.reset();
  o.trades_per_second = 200;
  o.history_micros = 0;
  o.products = {"BTC-USD"};
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  const int64_t before = sim->LastTradeId("BTC-USD");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t after = sim->LastTradeId("BTC-USD");
  EXPECT_GT(after, before);
  httplib::Result res = Get(*sim, "/products/BTC-USD/trades?limit=1");
  ASSERT_TRUE(res);
  const std::vector<int64_t> ids = PageIds(res->body);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_GE(ids[0], after);
  // Live trades carry the wall clock's time.
  const std::string json = sim->TradeJson("BTC-USD", ids[0]);
  const size_t at = json.find("\"time\":\"") + 8;
  Result<TimestampMicros> t = ParseRfc3339(json.substr(at, json.find('"', at) - at));
  ASSERT_TRUE(t.ok());
  EXPECT_NEAR(static_cast<double>(*t), static_cast<double>(NowMicros()), 5e6);
}

// --- faults -------------------------------------------------------------------

TEST(SimulatorFaults, ServerErrors) {
  SimulatorOptions o = Frozen();
  o.faults.error_5xx = 1.0;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  std::set<int> statuses;
  for (int i = 0; i < 30; ++i) {
    httplib::Result res = Get(*sim, "/products/BTC-USD/trades");
    ASSERT_TRUE(res);
    statuses.insert(res->status);
    EXPECT_EQ(res->body, R"({"message":"Internal server error"})");
  }
  EXPECT_EQ(statuses, (std::set<int>{500, 502, 503}));
  EXPECT_EQ(sim->counters().faults, 30);
  EXPECT_EQ(sim->counters().ok, 0);
}

TEST(SimulatorFaults, SpuriousRateLimits) {
  SimulatorOptions o = Frozen();
  o.faults.error_429 = 1.0;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  httplib::Result res = Get(*sim, "/products");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->body, kRateLimited);
}

TEST(SimulatorFaults, TruncatedBodiesAreNotJson) {
  SimulatorOptions o = Frozen();
  o.faults.truncate = 1.0;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  const int64_t last = sim->LastTradeId("BTC-USD");
  const std::string full = ExpectedBody(*sim, "BTC-USD", Descending(last, last - 99));
  for (int i = 0; i < 10; ++i) {
    httplib::Result res = Get(*sim, "/products/BTC-USD/trades?limit=100");
    ASSERT_TRUE(res);  // the transport is fine: Content-Length matches the short body
    EXPECT_EQ(res->status, 200);
    EXPECT_LT(res->body.size(), full.size());
    EXPECT_EQ(full.substr(0, res->body.size()), res->body);
    EXPECT_FALSE(ParsesAsJson(res->body));
  }
}

TEST(SimulatorFaults, DroppedConnectionsGetNoAnswer) {
  SimulatorOptions o = Frozen();
  o.faults.drop = 1.0;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  for (int i = 0; i < 5; ++i) {
    httplib::Result res = Get(*sim, "/products/BTC-USD/trades");
    EXPECT_FALSE(res);
    EXPECT_NE(res.error(), httplib::Error::Success);
    EXPECT_NE(res.error(), httplib::Error::Connection);  // it did connect
  }
  EXPECT_EQ(sim->counters().faults, 5);

  // Not even a status line: the connection just ends.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(sim->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "GET /products HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  char buf[256];
  const ssize_t got = recv(fd, buf, sizeof buf, 0);
  EXPECT_LE(got, 0) << std::string(buf, static_cast<size_t>(std::max<ssize_t>(got, 0)));
  close(fd);
}

TEST(SimulatorFaults, OverlappingPagesRepeatNewerTrades) {
  SimulatorOptions o = Frozen();
  o.faults.overlap = 1.0;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  const int64_t after = sim->LastTradeId("BTC-USD") - 500;
  for (int i = 0; i < 10; ++i) {
    httplib::Result res =
        Get(*sim, "/products/BTC-USD/trades?limit=100&after=" + std::to_string(after));
    ASSERT_TRUE(res);
    const std::vector<int64_t> ids = PageIds(res->body);
    ASSERT_EQ(ids.size(), 100u);  // shifted, not grown
    EXPECT_GE(ids.front(), after) << "includes trades the previous page already had";
    EXPECT_GT(ids.back(), after - 100) << "misses as many of its oldest";
    EXPECT_EQ(ids, Descending(ids.front(), ids.front() - 99));
    EXPECT_EQ(res->get_header_value("CB-AFTER"), std::to_string(ids.back()));
    EXPECT_EQ(res->get_header_value("CB-BEFORE"), std::to_string(ids.front()));
  }
  // Walking forward with before=, the shift goes the other way: back into
  // trades the client already has.
  const int64_t before = sim->FirstTradeId("BTC-USD") + 500;
  httplib::Result res =
      Get(*sim, "/products/BTC-USD/trades?limit=100&before=" + std::to_string(before));
  ASSERT_TRUE(res);
  const std::vector<int64_t> ids = PageIds(res->body);
  ASSERT_EQ(ids.size(), 100u);
  EXPECT_LE(ids.back(), before);
  EXPECT_LT(ids.front(), before + 100);
  EXPECT_EQ(ids, Descending(ids.front(), ids.front() - 99));
  EXPECT_EQ(sim->counters().faults, 11);
}

TEST(SimulatorFaults, DuplicatedTradesInAPage) {
  SimulatorOptions o = Frozen();
  o.faults.duplicate = 1.0;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  const int64_t last = sim->LastTradeId("ETH-USD");
  httplib::Result res = Get(*sim, "/products/ETH-USD/trades?limit=200");
  ASSERT_TRUE(res);
  const std::vector<int64_t> ids = PageIds(res->body);
  EXPECT_GT(ids.size(), 200u);
  const std::set<int64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 200u);  // the same 200 trades, some of them twice
  EXPECT_EQ(*unique.begin(), last - 199);
  EXPECT_EQ(*unique.rbegin(), last);
  EXPECT_EQ(res->body, ExpectedBody(*sim, "ETH-USD", ids));
}

TEST(SimulatorFaults, HolesAreNeverReturned) {
  SimulatorOptions probe = Frozen();
  auto plain = StartOrDie(probe);
  ASSERT_NE(plain, nullptr);
  const int64_t last = plain->LastTradeId("BTC-USD");
  plain.reset();

  SimulatorOptions o = Frozen();
  o.faults.holes = {{last - 50, last - 41}, {last - 5, last - 5}};
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  EXPECT_TRUE(sim->IsHole(last - 45));
  EXPECT_TRUE(sim->IsHole(last - 5));
  EXPECT_FALSE(sim->IsHole(last - 40));
  EXPECT_FALSE(sim->IsHole(last));

  httplib::Result res = Get(*sim, "/products/BTC-USD/trades?limit=100");
  ASSERT_TRUE(res);
  std::vector<int64_t> expected;
  for (int64_t id = last; id > last - 100; --id) {
    if (!sim->IsHole(id)) expected.push_back(id);
  }
  ASSERT_EQ(expected.size(), 89u);
  EXPECT_EQ(PageIds(res->body), expected);
  EXPECT_EQ(res->body, ExpectedBody(*sim, "BTC-USD", expected));

  // A page entirely inside a hole is empty.
  res = Get(*sim, "/products/BTC-USD/trades?limit=5&after=" + std::to_string(last - 44));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "[]");
}

TEST(SimulatorFaults, ShortPagesHoldAtMostNTradesAndFollowingCbAfterReachesEveryTrade) {
  SimulatorOptions o = Frozen();
  o.faults.short_page_max = 7;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  const int64_t first = sim->FirstTradeId("BTC-USD");
  const int64_t last = sim->LastTradeId("BTC-USD");

  // after=: the newest 7 below the cursor, whatever the limit asked.
  httplib::Result res = Get(*sim, "/products/BTC-USD/trades?limit=1000&after=" + std::to_string(first + 500));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(PageIds(res->body), Descending(first + 499, first + 493));
  EXPECT_EQ(res->body, ExpectedBody(*sim, "BTC-USD", Descending(first + 499, first + 493)));
  EXPECT_EQ(res->get_header_value("CB-AFTER"), std::to_string(first + 493));
  EXPECT_EQ(res->get_header_value("CB-BEFORE"), std::to_string(first + 499));
  // A smaller limit is still honoured.
  res = Get(*sim, "/products/BTC-USD/trades?limit=3&after=" + std::to_string(first + 500));
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(first + 499, first + 497));
  // before=: the oldest 7 above the cursor; no cursor: the newest 7.
  res = Get(*sim, "/products/BTC-USD/trades?before=" + std::to_string(first + 10));
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(first + 17, first + 11));
  res = Get(*sim, "/products/BTC-USD/trades");
  ASSERT_TRUE(res);
  EXPECT_EQ(PageIds(res->body), Descending(last, last - 6));

  // Following CB-AFTER from the newest page visits every trade of a stretch once.
  std::map<int64_t, int> seen;
  std::string path = "/products/BTC-USD/trades?after=" + std::to_string(first + 300);
  while (true) {
    res = Get(*sim, path);
    ASSERT_TRUE(res);
    const std::vector<int64_t> ids = PageIds(res->body);
    if (ids.empty()) break;
    ASSERT_LE(ids.size(), 7u);
    for (int64_t id : ids) ++seen[id];
    path = "/products/BTC-USD/trades?after=" + res->get_header_value("CB-AFTER");
  }
  ASSERT_EQ(static_cast<int64_t>(seen.size()), 300);
  EXPECT_EQ(seen.begin()->first, first);
  EXPECT_EQ(seen.rbegin()->first, first + 299);
  for (const auto& [id, count] : seen) ASSERT_EQ(count, 1) << id;

  o.faults.short_page_max = -1;
  EXPECT_EQ(Simulator::Start(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(SimulatorFaults, LatencyDelaysEveryAnswer) {
  SimulatorOptions o = Frozen();
  o.faults.latency_ms = 150;
  auto sim = StartOrDie(o);
  ASSERT_NE(sim, nullptr);
  const auto begin = std::chrono::steady_clock::now();
  httplib::Result res = Get(*sim, "/products");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(150));
}

TEST(SimulatorFaults, FaultPatternDependsOnlyOnTheSeed) {
  const auto pattern = [] {
    SimulatorOptions o = Frozen();
    o.faults.error_5xx = 0.3;
    o.faults.error_429 = 0.2;
    auto sim = StartOrDie(o);
    std::vector<int> statuses;
    for (int i = 0; i < 30; ++i) {
      httplib::Result res = Get(*sim, "/products");
      statuses.push_back(res ? res->status : -1);
    }
    return statuses;
  };
  const std::vector<int> a = pattern();
  EXPECT_EQ(a, pattern());
  EXPECT_NE(std::count(a.begin(), a.end(), 200), 30);
  EXPECT_NE(std::count(a.begin(), a.end(), 200), 0);
}

// --- candles ------------------------------------------------------------------

struct ExpectedCandle {
  int64_t low = 0, high = 0, open = 0, close = 0;
  __int128 volume = 0;
};

// "65000.01" at 2 decimals -> 6500001.
int64_t Units(std::string_view text, int decimals) {
  int64_t units = 0;
  int fraction = -1;
  for (char c : text) {
    if (c == '.') {
      fraction = 0;
      continue;
    }
    units = units * 10 + (c - '0');
    if (fraction >= 0) ++fraction;
  }
  for (int i = std::max(fraction, 0); i < decimals; ++i) units *= 10;
  return units;
}

std::string Field(const std::string& json, const std::string& key) {
  const std::string open = "\"" + key + "\":\"";
  const size_t from = json.find(open) + open.size();
  return json.substr(from, json.find('"', from) - from);
}

TEST(Simulator, CandlesAgreeWithTheTrades) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  constexpr int64_t kGranularity = 300;
  std::map<int64_t, ExpectedCandle> expected;  // by bucket start, seconds
  for (int64_t id = sim->FirstTradeId("BTC-USD"); id <= sim->LastTradeId("BTC-USD"); ++id) {
    const std::string json = sim->TradeJson("BTC-USD", id);
    Result<TimestampMicros> t = ParseRfc3339(Field(json, "time"));
    ASSERT_TRUE(t.ok());
    const int64_t bucket = *t / kMicrosPerSecond / kGranularity * kGranularity;
    const int64_t price = Units(Field(json, "price"), 2);
    const int64_t size = Units(Field(json, "size"), 8);
    auto [it, inserted] = expected.try_emplace(bucket);
    ExpectedCandle& c = it->second;
    if (inserted) c.low = c.high = c.open = price;
    c.low = std::min(c.low, price);
    c.high = std::max(c.high, price);
    c.close = price;
    c.volume += size;
  }
  ASSERT_GE(expected.size(), 12u);

  const int64_t start = kStart / kMicrosPerSecond - 3600;
  httplib::Result res =
      Get(*sim, "/products/BTC-USD/candles?granularity=300&start=" + std::to_string(start) +
                    "&end=" + std::to_string(kStart / kMicrosPerSecond));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  ASSERT_TRUE(ParsesAsJson(res->body));
  // Compare the numbers as text: exact, no floating point. The body is
  // [[time,low,high,open,close,volume],...].
  const auto scaled = [](__int128 units, int decimals) {
    std::string s;
    AppendScaledDecimal(units, decimals, &s);
    return s;
  };
  ASSERT_GE(res->body.size(), 4u);
  const std::string rows = res->body.substr(2, res->body.size() - 4);
  std::vector<int64_t> buckets;
  for (size_t from = 0; from < rows.size();) {
    size_t to = rows.find("],[", from);
    if (to == std::string::npos) to = rows.size();
    std::vector<std::string> cells;
    const std::string row = rows.substr(from, to - from);
    for (size_t a = 0; a <= row.size();) {
      size_t b = row.find(',', a);
      if (b == std::string::npos) b = row.size();
      cells.push_back(row.substr(a, b - a));
      a = b + 1;
    }
    from = to + 3;
    ASSERT_EQ(cells.size(), 6u) << row;
    const int64_t bucket = std::stoll(cells[0]);
    buckets.push_back(bucket);
    ASSERT_EQ(expected.count(bucket), 1u) << bucket;
    const ExpectedCandle& c = expected[bucket];
    EXPECT_EQ(cells[1], scaled(c.low, 2));
    EXPECT_EQ(cells[2], scaled(c.high, 2));
    EXPECT_EQ(cells[3], scaled(c.open, 2));
    EXPECT_EQ(cells[4], scaled(c.close, 2));
    EXPECT_EQ(cells[5], scaled(c.volume, 8));
  }
  EXPECT_TRUE(std::is_sorted(buckets.rbegin(), buckets.rend())) << "newest first";
  EXPECT_EQ(buckets.size(), expected.size());

  // Without start/end: the latest candles up to now.
  res = Get(*sim, "/products/BTC-USD/candles?granularity=60");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS);
  EXPECT_GE(doc.get_array().size(), 59u);
  EXPECT_LE(doc.get_array().size(), 61u);

  // More than 300 candles is refused.
  res = Get(*sim, "/products/BTC-USD/candles?granularity=60&start=" + std::to_string(start - 86400) +
                      "&end=" + std::to_string(start));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  // RFC 3339 bounds are accepted too.
  res = Get(*sim, "/products/BTC-USD/candles?granularity=3600&start=2024-05-01T11:00:00Z"
                  "&end=2024-05-01T12:00:00Z");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// --- lifecycle ----------------------------------------------------------------

TEST(Simulator, RefusesBadOptions) {
  SimulatorOptions o = Frozen();
  o.products = {"btc-usd"};
  Result<std::unique_ptr<Simulator>> sim = Simulator::Start(o);
  ASSERT_FALSE(sim.ok());
  EXPECT_EQ(sim.status().code(), StatusCode::kInvalidArgument);

  o = Frozen();
  o.products = {"BTC-USD", "BTC-USD"};
  EXPECT_FALSE(Simulator::Start(o).ok());

  o = Frozen();
  o.faults.drop = 1.5;
  EXPECT_FALSE(Simulator::Start(o).ok());
}

TEST(Simulator, ReportsAPortInUse) {
  auto first = StartOrDie(Frozen());
  ASSERT_NE(first, nullptr);
  SimulatorOptions o = Frozen();
  o.port = first->port();
  Result<std::unique_ptr<Simulator>> second = Simulator::Start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(std::to_string(first->port())), std::string::npos);
}

TEST(Simulator, StopsServing) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  ASSERT_TRUE(Get(*sim, "/products"));
  sim->Stop();
  EXPECT_FALSE(Get(*sim, "/products"));
  sim->Stop();  // idempotent; the destructor stops again
}

TEST(Simulator, ServesConcurrentClients) {
  auto sim = StartOrDie(Frozen());
  ASSERT_NE(sim, nullptr);
  const int64_t last = sim->LastTradeId("BTC-USD");
  const std::string expected = ExpectedBody(*sim, "BTC-USD", Descending(last, last - 999));
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        httplib::Result res = Get(*sim, "/products/BTC-USD/trades");
        if (res && res->status == 200 && res->body == expected) ++good;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good.load(), 40);
  EXPECT_EQ(sim->counters().requests, 40);
  EXPECT_EQ(sim->counters().ok, 40);
}

}  // namespace
}  // namespace tradelake
