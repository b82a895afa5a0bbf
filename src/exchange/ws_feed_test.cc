// WsFeed against the simulator's WebSocket feed (SimulatorWs) over loopback,
// with and without faults. Each test waits for counters, bounded by a
// deadline it fails on, and never asserts a duration.
#include "exchange/ws_feed.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <functional>
#include <optional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exchange/simulator.h"
#include "exchange/simulator_ws.h"

namespace tradelake {
namespace {

using std::chrono::milliseconds;

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

// Everything the callbacks saw.
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<WsMatch>> matches;
  std::map<std::string, std::vector<WsHeartbeat>> heartbeats;
  std::vector<std::pair<std::string, Status>> errors;
  std::vector<WsStateChange> states;

  WsCallbacks Callbacks() {
    WsCallbacks cb;
    cb.on_match = [this](const WsMatch& m) {
      std::lock_guard<std::mutex> lock(mu);
      matches[m.product].push_back(m);
    };
    cb.on_heartbeat = [this](const WsHeartbeat& h) {
      std::lock_guard<std::mutex> lock(mu);
      heartbeats[h.product].push_back(h);
    };
    cb.on_error = [this](const std::string& product, const Status& s) {
      std::lock_guard<std::mutex> lock(mu);
      errors.emplace_back(product, s);
    };
    cb.on_state = [this](const WsStateChange& s) {
      std::lock_guard<std::mutex> lock(mu);
      states.push_back(s);
    };
    return cb;
  }

  size_t MatchCount(const std::string& product) {
    std::lock_guard<std::mutex> lock(mu);
    return matches[product].size();
  }
  int64_t LastHeartbeatId(const std::string& product) {
    std::lock_guard<std::mutex> lock(mu);
    const auto& h = heartbeats[product];
    return h.empty() ? 0 : h.back().last_trade_id;
  }
};

// Polls `done` every 10 ms for at most `limit`; false if it never held.
bool WaitFor(const std::function<bool()>& done, milliseconds limit = milliseconds(30'000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

std::unique_ptr<WsFeed> StartFeed(WsFeedOptions o, Seen* seen) {
  Result<std::unique_ptr<WsFeed>> feed = WsFeed::Start(std::move(o), seen->Callbacks());
  EXPECT_TRUE(feed.ok()) << feed.status().ToString();
  return feed.ok() ? std::move(feed).value() : nullptr;
}

// The match carries the REST trade's text.
void ExpectSameAsRest(const Simulator& sim, const WsMatch& m) {
  const nlohmann::json rest = nlohmann::json::parse(sim.TradeJson(m.product, m.trade_id));
  EXPECT_EQ(m.price, rest["price"]);
  EXPECT_EQ(m.size, rest["size"]);
  EXPECT_EQ(m.side, rest["side"]);
  EXPECT_EQ(m.time, *ParseRfc3339(rest["time"].get<std::string>()));
}

WsFeedOptions FeedOptions(const SimulatorWs& ws, std::vector<std::string> products) {
  WsFeedOptions o;
  o.url = ws.url();
  o.products = std::move(products);
  o.heartbeat_timeout_ms = 3000;
  o.backoff_base_ms = 20;
  o.backoff_max_ms = 200;
  o.jitter_seed = 7;
  return o;
}

TEST(WsFeed, WithoutFaultsSeesEveryTradeUpToTheHeartbeatsLastTradeId) {
  const std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  auto sim = LiveSim(products, 30);
  ASSERT_TRUE(sim);
  SimulatorWsOptions wo;
  wo.heartbeat_interval_ms = 50;
  wo.poll_interval_ms = 5;
  auto ws = StartWs(sim.get(), wo);
  ASSERT_TRUE(ws);
  Seen seen;
  WsFeedOptions fo = FeedOptions(*ws, products);
  fo.max_products_per_connection = 2;
  auto feed = StartFeed(fo, &seen);
  ASSERT_TRUE(feed);
  EXPECT_EQ(feed->connections(), 2);
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& p : products) {
      if (seen.MatchCount(p) < 40 || seen.LastHeartbeatId(p) == 0) return false;
    }
    return true;
  }));
  feed->Stop();
  for (const auto& p : products) {
    const std::vector<WsMatch>& ms = seen.matches[p];
    ASSERT_FALSE(ms.empty());
    EXPECT_TRUE(ms.front().last_match) << "the first message of a product is its last_match";
    const int64_t first = ms.front().trade_id;
    const int64_t last_beat = seen.heartbeats[p].back().last_trade_id;
    std::vector<int64_t> ids;
    for (const WsMatch& m : ms) {
      ids.push_back(m.trade_id);
      ExpectSameAsRest(*sim, m);
      EXPECT_EQ(m.product, p);
    }
    // In order, none twice, none missing.
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], first + static_cast<int64_t>(i)) << p;
    EXPECT_GE(ids.back(), last_beat);
  }
  EXPECT_EQ(feed->stats().reconnects, 0);
  EXPECT_EQ(feed->stats().queue_drops, 0);
  EXPECT_EQ(feed->stats().connects, 2);
  for (const WsConnectionStatus& st : feed->ConnectionStatus()) {
    EXPECT_EQ(st.failures, 0);
    EXPECT_EQ(st.last_error, "");
  }
  std::lock_guard<std::mutex> lock(seen.mu);
  ASSERT_EQ(seen.states.size(), 2u);
  EXPECT_TRUE(seen.states[0].connected);
  EXPECT_TRUE(seen.errors.empty());
}

TEST(WsFeed, UnderDropsDuplicatesReordersAndDisconnectsEveryGapIsDetectable) {
  const std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD"};
  auto sim = LiveSim(products, 20);
  ASSERT_TRUE(sim);
  SimulatorWsOptions wo;
  wo.heartbeat_interval_ms = 50;
  wo.poll_interval_ms = 5;
  wo.faults.drop = 0.05;
  wo.faults.duplicate = 0.05;
  wo.faults.reorder = 0.05;
  wo.faults.disconnect_every_ms = 700;
  auto ws = StartWs(sim.get(), wo);
  ASSERT_TRUE(ws);
  Seen seen;
  WsFeedOptions fo = FeedOptions(*ws, products);
  fo.max_products_per_connection = 2;
  auto feed = StartFeed(fo, &seen);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().reconnects >= 6 && ws->counters().dropped >= 20; }));
  // Trades keep coming after the reconnects.
  const size_t before = seen.MatchCount("BTC-USD");
  ASSERT_TRUE(WaitFor([&] { return seen.MatchCount("BTC-USD") >= before + 10; }));
  feed->Stop();

  EXPECT_GE(feed->stats().disconnects, 3);
  int64_t missing_total = 0, duplicates = 0;
  for (const auto& p : products) {
    std::set<int64_t> ids;
    int64_t max_beat = 0;
    for (const WsHeartbeat& h : seen.heartbeats[p]) {
      max_beat = std::max(max_beat, h.last_trade_id);
      EXPECT_LE(h.last_trade_id, sim->LastTradeId(p));
    }
    for (const WsMatch& m : seen.matches[p]) {
      ExpectSameAsRest(*sim, m);
      if (!ids.insert(m.trade_id).second) ++duplicates;
    }
    ASSERT_FALSE(ids.empty()) << p;
    // The heartbeats know how far the tape goes: nothing seen lies beyond
    // what some heartbeat announced or a later one will.
    EXPECT_GE(max_beat, *ids.begin()) << p;
    // Every id below the newest heartbeat is seen, or absent and so known to
    // be missing; an absent one is a real trade REST can fetch.
    for (int64_t id = *ids.begin(); id <= max_beat; ++id) {
      if (ids.count(id) != 0) continue;
      ++missing_total;
      EXPECT_FALSE(sim->TradeJson(p, id).empty()) << p << " " << id;
    }
  }
  EXPECT_GT(missing_total, 0) << "5% drops and disconnects lose some matches";
  EXPECT_GT(duplicates, 0);
  std::lock_guard<std::mutex> lock(seen.mu);
  int down = 0;
  for (const WsStateChange& s : seen.states) down += s.connected ? 0 : 1;
  EXPECT_GE(down, 3);
}

TEST(WsFeed, ReportsAnUnknownProductByNameAndFollowsTheOthers) {
  auto sim = LiveSim({"BTC-USD", "ETH-USD"}, 20);
  ASSERT_TRUE(sim);
  SimulatorWsOptions wo;
  wo.heartbeat_interval_ms = 50;
  wo.faults.disconnect_every_ms = 400;  // the resubscription must leave FOO-USD out
  auto ws = StartWs(sim.get(), wo);
  ASSERT_TRUE(ws);
  Seen seen;
  auto feed = StartFeed(FeedOptions(*ws, {"BTC-USD", "FOO-USD", "ETH-USD"}), &seen);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] {
    return seen.MatchCount("BTC-USD") >= 20 && seen.MatchCount("ETH-USD") >= 20 && feed->stats().reconnects >= 2;
  }));
  feed->Stop();
  std::lock_guard<std::mutex> lock(seen.mu);
  ASSERT_EQ(seen.errors.size(), 1u);
  EXPECT_EQ(seen.errors[0].first, "FOO-USD");
  EXPECT_EQ(seen.errors[0].second.code(), StatusCode::kNotFound);
  EXPECT_NE(seen.errors[0].second.message().find("FOO-USD is not a valid product"), std::string::npos)
      << seen.errors[0].second.message();
  EXPECT_EQ(feed->refused_products(), std::vector<std::string>{"FOO-USD"});
  const std::vector<WsConnectionStatus> status = feed->ConnectionStatus();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].products, (std::vector<std::string>{"BTC-USD", "ETH-USD"}));
  EXPECT_FALSE(status[0].last_error.empty()) << "the disconnects were recorded";
  EXPECT_EQ(ws->counters().errors, 1) << "reconnects do not ask for the refused product again";
  EXPECT_TRUE(seen.matches["FOO-USD"].empty());
}

// Coinbase refuses a whole subscribe message naming one product it does not
// know (one error, no subscriptions message): the feed asks again at once
// without that product, not after its heartbeat watchdog.
TEST(WsFeed, AWholeSubscriptionRefusedForOneProductIsAskedAgainWithoutIt) {
  auto sim = LiveSim({"BTC-USD", "ETH-USD"}, 20);
  ASSERT_TRUE(sim);
  SimulatorWsOptions wo;
  wo.heartbeat_interval_ms = 50;
  wo.refuse_whole_subscribe = true;
  auto ws = StartWs(sim.get(), wo);
  ASSERT_TRUE(ws);
  Seen seen;
  WsFeedOptions fo = FeedOptions(*ws, {"BTC-USD", "FOO-USD", "BAR-USD", "ETH-USD"});
  fo.heartbeat_timeout_ms = 600'000;  // only a resubscription can bring the matches
  auto feed = StartFeed(fo, &seen);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return seen.MatchCount("BTC-USD") >= 10 && seen.MatchCount("ETH-USD") >= 10; }));
  feed->Stop();
  EXPECT_EQ(feed->stats().reconnects, 0);
  EXPECT_EQ(feed->refused_products(), (std::vector<std::string>{"BAR-USD", "FOO-USD"}));
  std::lock_guard<std::mutex> lock(seen.mu);
  ASSERT_EQ(seen.errors.size(), 2u);
  std::set<std::string> named;
  for (const auto& [product, status] : seen.errors) {
    named.insert(product);
    EXPECT_EQ(status.code(), StatusCode::kNotFound);
    EXPECT_NE(status.message().find(product + " is not a valid product"), std::string::npos) << status.message();
  }
  EXPECT_EQ(named, (std::set<std::string>{"BAR-USD", "FOO-USD"}));
  EXPECT_EQ(ws->counters().errors, 2) << "each subscribe was refused for its first unknown product";
}

TEST(WsFeed, WatchdogReopensAFeedThatStopsBeating) {
  auto sim = LiveSim({"BTC-USD"}, 10);
  ASSERT_TRUE(sim);
  SimulatorWsOptions wo;
  wo.heartbeat_interval_ms = 20;
  wo.faults.stall_every_ms = 300;
  wo.faults.stall_ms = 1500;
  auto ws = StartWs(sim.get(), wo);
  ASSERT_TRUE(ws);
  Seen seen;
  WsFeedOptions fo = FeedOptions(*ws, {"BTC-USD"});
  fo.heartbeat_timeout_ms = 400;
  auto feed = StartFeed(fo, &seen);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().watchdog_timeouts >= 2 && feed->stats().connects >= 3; }));
  feed->Stop();
  EXPECT_EQ(ws->counters().disconnects, 0) << "the server never closed: the watchdog did";
  EXPECT_GE(feed->stats().reconnects, 2);
}

TEST(WsFeed, ASlowConsumerCostsQueuedEventsNotTheConnection) {
  auto sim = LiveSim({"BTC-USD", "ETH-USD"}, 300);
  ASSERT_TRUE(sim);
  SimulatorWsOptions wo;
  wo.poll_interval_ms = 5;
  wo.faults.max_backlog_bytes = 256 << 10;
  auto ws = StartWs(sim.get(), wo);
  ASSERT_TRUE(ws);
  WsFeedOptions fo = FeedOptions(*ws, {"BTC-USD", "ETH-USD"});
  fo.queue_capacity = 16;
  std::atomic<int64_t> handled{0};
  WsCallbacks cb;
  cb.on_match = [&](const WsMatch&) {
    std::this_thread::sleep_for(milliseconds(5));  // a consumer far slower than the feed
    ++handled;
  };
  Result<std::unique_ptr<WsFeed>> feed = WsFeed::Start(fo, cb);
  ASSERT_TRUE(feed.ok());
  ASSERT_TRUE(WaitFor([&] { return (*feed)->stats().queue_drops >= 100 && (*feed)->stats().matches >= 1000; }));
  (*feed)->Stop();
  EXPECT_EQ(ws->counters().slow_consumer_closes, 0);
  EXPECT_EQ((*feed)->stats().reconnects, 0);
  EXPECT_GT(handled.load(), 0);
  // Every match was handed over, counted as dropped, or still queued at Stop().
  const int64_t unaccounted = (*feed)->stats().matches - handled.load() - (*feed)->stats().queue_drops;
  EXPECT_GE(unaccounted, 0);
  EXPECT_LE(unaccounted, 16);
}

TEST(WsFeed, KeepsRetryingWithBackoffWhenNothingListens) {
  // A port that was just free: connections are refused.
  auto sim = LiveSim({"BTC-USD"}, 1);
  ASSERT_TRUE(sim);
  int port = 0;
  {
    auto ws = StartWs(sim.get(), {});
    ASSERT_TRUE(ws);
    port = ws->port();
  }
  Seen seen;
  WsFeedOptions fo;
  fo.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
  fo.products = {"BTC-USD"};
  fo.backoff_base_ms = 5;
  fo.backoff_max_ms = 20;
  auto feed = StartFeed(fo, &seen);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().reconnects >= 5; }));
  const std::vector<WsConnectionStatus> status = feed->ConnectionStatus();
  feed->Stop();
  EXPECT_EQ(feed->stats().connects, 0);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_FALSE(status[0].connected);
  EXPECT_GE(status[0].failures, 5);
  EXPECT_NE(status[0].last_error.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << status[0].last_error;
  std::lock_guard<std::mutex> lock(seen.mu);
  EXPECT_TRUE(seen.states.empty()) << "never connected, so never disconnected";
}

// A wss:// server for one product on 127.0.0.1 with the repository's test
// certificate (tests/testdata/tls: DNS:localhost only): it answers a
// subscription with the ack and then a heartbeat every 20 ms. Test-only.
class TlsHeartbeatServer {
 public:
  TlsHeartbeatServer() : ctx_(boost::asio::ssl::context::tls_server), acceptor_(ioc_) {
    const std::filesystem::path dir = TlsDir();
    ctx_.use_certificate_chain_file((dir / "localhost.pem").string());
    ctx_.use_private_key_file((dir / "localhost.key").string(), boost::asio::ssl::context::pem);
    const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsHeartbeatServer() {
    boost::asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      ioc_.stop();
    });
    thread_.join();
  }
  static std::filesystem::path TlsDir() {
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "testdata" / "tls";
  }
  int port() const { return port_; }
  std::atomic<int> tls_handshakes{0};
  std::atomic<bool> last_offered_deflate{false};  // the newest upgrade request offered permessage-deflate

 private:
  using Ws = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;
  struct Session : std::enable_shared_from_this<Session> {
    Session(boost::asio::ip::tcp::socket s, boost::asio::ssl::context& ctx, TlsHeartbeatServer* server)
        : ws(std::move(s), ctx), timer(ws.get_executor()), owner(server) {}
    Ws ws;
    boost::asio::steady_timer timer;
    TlsHeartbeatServer* owner;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> upgrade;
    std::string out;
    int64_t last_trade_id = 100;

    // TLS handshake, then the HTTP upgrade request (read here to see what
    // the client offered), the WebSocket accept, the subscription, the ack.
    void Start() {
      boost::beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
      ws.next_layer().async_handshake(boost::asio::ssl::stream_base::server,
                                      [self = shared_from_this()](boost::system::error_code ec) {
                                        if (!ec) self->ReadUpgrade();
                                      });
    }
    void ReadUpgrade() {
      ++owner->tls_handshakes;
      boost::beast::get_lowest_layer(ws).expires_never();
      boost::beast::http::async_read(ws.next_layer(), buffer, upgrade,
                                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                                       if (!ec) self->Accept();
                                     });
    }
    void Accept() {
      const auto ext = upgrade[boost::beast::http::field::sec_websocket_extensions];
      owner->last_offered_deflate = ext.find("permessage-deflate") != boost::beast::string_view::npos;
      boost::beast::websocket::permessage_deflate deflate;
      deflate.server_enable = true;
      ws.set_option(deflate);
      ws.async_accept(upgrade, [self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        self->ws.async_read(self->buffer, [self](boost::system::error_code e, size_t) {
          if (e) return;
          self->Send(R"({"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]},)"
                     R"({"name":"heartbeat","product_ids":["BTC-USD"]}]})");
        });
      });
    }
    void Send(std::string text) {
      out = std::move(text);
      ws.text(true);
      ws.async_write(boost::asio::buffer(out), [self = shared_from_this()](boost::system::error_code ec, size_t) {
        if (ec) return;
        self->timer.expires_after(std::chrono::milliseconds(20));
        self->timer.async_wait([self](boost::system::error_code e) {
          if (e) return;
          self->Send(fmt::format(R"({{"type":"heartbeat","sequence":1,"last_trade_id":{},"product_id":"BTC-USD",)"
                                 R"("time":"2024-05-01T12:00:00.000001Z"}})",
                                 ++self->last_trade_id));
        });
      });
    }
  };
  void Accept() {
    acceptor_.async_accept(ioc_, [this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      std::make_shared<Session>(std::move(s), ctx_, this)->Start();
      Accept();
    });
  }
  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  int port_ = 0;
};

// Sets SSL_CERT_FILE for a scope, then restores it.
class ScopedCertFile {
 public:
  explicit ScopedCertFile(const std::string& path) {
    if (const char* old = std::getenv("SSL_CERT_FILE")) saved_ = old;
    ::setenv("SSL_CERT_FILE", path.c_str(), 1);
  }
  ~ScopedCertFile() {
    if (saved_) {
      ::setenv("SSL_CERT_FILE", saved_->c_str(), 1);
    } else {
      ::unsetenv("SSL_CERT_FILE");
    }
  }

 private:
  std::optional<std::string> saved_;
};

TEST(WsFeed, SpeaksWssWithSniAndVerifiesTheCertificateAgainstSslCertFile) {
  TlsHeartbeatServer server;
  Seen seen;
  WsFeedOptions fo;
  fo.url = "wss://localhost:" + std::to_string(server.port()) + "/";
  fo.products = {"BTC-USD"};
  fo.backoff_base_ms = 5;
  fo.backoff_max_ms = 20;
  std::unique_ptr<WsFeed> feed;
  {
    ScopedCertFile trust((TlsHeartbeatServer::TlsDir() / "localhost.pem").string());
    feed = StartFeed(fo, &seen);  // reads SSL_CERT_FILE here
  }
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().heartbeats >= 5; }));
  feed->Stop();
  EXPECT_EQ(feed->stats().connects, 1);
  EXPECT_EQ(feed->stats().reconnects, 0);
  EXPECT_GE(seen.LastHeartbeatId("BTC-USD"), 105);
  EXPECT_TRUE(server.last_offered_deflate) << "permessage-deflate is offered by default";

  // Without compression: not offered, and the feed works the same.
  fo.permessage_deflate = false;
  Seen plain;
  {
    ScopedCertFile trust((TlsHeartbeatServer::TlsDir() / "localhost.pem").string());
    feed = StartFeed(fo, &plain);
  }
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().heartbeats >= 3; }));
  feed->Stop();
  EXPECT_FALSE(server.last_offered_deflate);
}

TEST(WsFeed, RefusesACertificateItDoesNotTrustOrThatNamesAnotherHost) {
  TlsHeartbeatServer server;
  // Trusted certificate, but the URL's host (127.0.0.1) is not the one it names.
  Seen seen;
  WsFeedOptions fo;
  fo.url = "wss://127.0.0.1:" + std::to_string(server.port()) + "/";
  fo.products = {"BTC-USD"};
  fo.backoff_base_ms = 5;
  fo.backoff_max_ms = 20;
  std::unique_ptr<WsFeed> feed;
  {
    ScopedCertFile trust((TlsHeartbeatServer::TlsDir() / "localhost.pem").string());
    feed = StartFeed(fo, &seen);
  }
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().reconnects >= 3; }));
  feed->Stop();
  EXPECT_EQ(feed->stats().connects, 0);
  EXPECT_EQ(feed->stats().heartbeats, 0);

  // The right host, but a bundle that does not hold the certificate (the
  // system's, when it has one; else an unrelated PEM).
  fo.url = "wss://localhost:" + std::to_string(server.port()) + "/";
  const std::string system = std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")
                                 ? "/etc/ssl/certs/ca-certificates.crt"
                                 : "";
  if (system.empty()) GTEST_SKIP() << "no system CA bundle to distrust the test certificate with";
  {
    ScopedCertFile trust(system);
    feed = StartFeed(fo, &seen);
  }
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().reconnects >= 3; }));
  feed->Stop();
  EXPECT_EQ(feed->stats().connects, 0);
}

TEST(WsFeed, WssToAServerWithoutTlsFailsTheHandshakeAndRetries) {
  auto sim = LiveSim({"BTC-USD"}, 1);
  ASSERT_TRUE(sim);
  auto ws = StartWs(sim.get(), {});
  ASSERT_TRUE(ws);
  Seen seen;
  WsFeedOptions fo;
  fo.url = "wss://127.0.0.1:" + std::to_string(ws->port());
  fo.products = {"BTC-USD"};
  fo.backoff_base_ms = 5;
  fo.backoff_max_ms = 20;
  auto feed = StartFeed(fo, &seen);
  ASSERT_TRUE(feed);
  ASSERT_TRUE(WaitFor([&] { return feed->stats().reconnects >= 3; }));
  feed->Stop();
  EXPECT_EQ(feed->stats().connects, 0);
  EXPECT_EQ(ws->counters().connections, 0) << "no WebSocket handshake without TLS";
}

TEST(WsFeed, AnUnreadableSslCertFileIsRefusedAtStartNamingIt) {
  const char* old = std::getenv("SSL_CERT_FILE");
  const std::string saved = old ? old : "";
  ::setenv("SSL_CERT_FILE", "/nonexistent/tradelake-ca.pem", 1);
  WsFeedOptions o;
  o.products = {"BTC-USD"};  // the default URL is wss://: nothing is connected before trust is set up
  Result<std::unique_ptr<WsFeed>> feed = WsFeed::Start(o, {});
  if (old) {
    ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
  } else {
    ::unsetenv("SSL_CERT_FILE");
  }
  ASSERT_FALSE(feed.ok());
  EXPECT_EQ(feed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(feed.status().message().find("SSL_CERT_FILE=/nonexistent/tradelake-ca.pem"), std::string::npos)
      << feed.status().message();
}

TEST(WsFeed, RefusesBadOptions) {
  WsCallbacks cb;
  WsFeedOptions o;
  o.products = {"BTC-USD"};
  o.url = "http://127.0.0.1:1/";
  EXPECT_EQ(WsFeed::Start(o, cb).status().code(), StatusCode::kInvalidArgument);
  o.url = "ws://127.0.0.1:99999999/";
  EXPECT_EQ(WsFeed::Start(o, cb).status().code(), StatusCode::kInvalidArgument);
  o.url = "ws://127.0.0.1:1/";
  o.products = {};
  EXPECT_EQ(WsFeed::Start(o, cb).status().code(), StatusCode::kInvalidArgument);
  o.products = {"BTC-USD", "BTC-USD"};
  EXPECT_EQ(WsFeed::Start(o, cb).status().code(), StatusCode::kInvalidArgument);
  o.products = {"btc usd"};
  EXPECT_EQ(WsFeed::Start(o, cb).status().code(), StatusCode::kInvalidArgument);
}

TEST(ParseWsMessage, ReadsCoinbaseShapesKeepingDecimalTextExact) {
  const std::string match =
      R"({"type":"match","trade_id":10,"maker_order_id":"a","taker_order_id":"b","side":"sell",)"
      R"("size":"5.23512000","price":"400.230","product_id":"BTC-USD","sequence":50,"time":"2014-11-07T08:19:27.028459Z"})";
  Result<WsMessage> m = ParseWsMessage(match, 42);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const WsMatch& w = std::get<WsMatch>(*m);
  EXPECT_EQ(w.product, "BTC-USD");
  EXPECT_EQ(w.trade_id, 10);
  EXPECT_EQ(w.price, "400.230") << "trailing zeros kept as sent";
  EXPECT_EQ(w.size, "5.23512000");
  EXPECT_EQ(w.side, "sell");
  EXPECT_EQ(w.sequence, 50);
  EXPECT_EQ(w.time, *ParseRfc3339("2014-11-07T08:19:27.028459Z"));
  EXPECT_FALSE(w.last_match);
  EXPECT_EQ(w.received_at, 42);
  EXPECT_EQ(w.raw, match);

  Result<WsMessage> h = ParseWsMessage(
      R"({"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"})", 1);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(std::get<WsHeartbeat>(*h).last_trade_id, 20);

  Result<WsMessage> sub = ParseWsMessage(
      R"({"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD","ETH-USD"]},)"
      R"({"name":"heartbeat","product_ids":["SOL-USD"]}]})", 1);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(std::get<WsSubscriptions>(*sub).matches, (std::vector<std::string>{"BTC-USD", "ETH-USD"}));

  Result<WsMessage> err =
      ParseWsMessage(R"({"type":"error","message":"Failed to subscribe","reason":"FOO-USD is not a valid product"})", 1);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(std::get<WsErrorMessage>(*err).reason, "FOO-USD is not a valid product");

  Result<WsMessage> other = ParseWsMessage(R"({"type":"ticker"})", 1);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(std::get<WsOtherMessage>(*other).type, "ticker");
}

TEST(ParseWsMessage, RefusesMalformedMessagesWithDataLoss) {
  const std::string good_time = R"("time":"2014-11-07T08:19:27Z")";
  for (const std::string& bad : {
           std::string("not json"),
           std::string(R"({"no":"type"})"),
           std::string(R"({"type":7})"),
           R"({"type":"match","trade_id":"10","side":"sell","size":"1","price":"1","product_id":"BTC-USD",)" + good_time + "}",
           R"({"type":"match","trade_id":10,"side":"sell","size":1,"price":"1","product_id":"BTC-USD",)" + good_time + "}",
           R"({"type":"match","trade_id":10,"side":"sell","size":"1e3","price":"1","product_id":"BTC-USD",)" + good_time + "}",
           R"({"type":"match","trade_id":10,"side":"BUY","size":"1","price":"1","product_id":"BTC-USD",)" + good_time + "}",
           R"({"type":"match","trade_id":10,"side":"buy","size":"1","price":"1","product_id":"btc usd",)" + good_time + "}",
           std::string(R"({"type":"match","trade_id":10,"side":"buy","size":"1","price":"1","product_id":"BTC-USD","time":"yesterday"})"),
           std::string(R"({"type":"heartbeat","last_trade_id":-1.5,"product_id":"BTC-USD","time":"2014-11-07T08:19:27Z"})"),
       }) {
    Result<WsMessage> m = ParseWsMessage(bad, 1);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kDataLoss) << bad;
  }
}

TEST(WsFeed, BackoffCeilingDoublesUpToTheCap) {
  EXPECT_EQ(WsBackoffCeilingMs(250, 30'000, 1), 250);
  EXPECT_EQ(WsBackoffCeilingMs(250, 30'000, 2), 500);
  EXPECT_EQ(WsBackoffCeilingMs(250, 30'000, 5), 4000);
  EXPECT_EQ(WsBackoffCeilingMs(250, 30'000, 8), 30'000);
  EXPECT_EQ(WsBackoffCeilingMs(250, 30'000, 1000), 30'000);
}

}  // namespace
}  // namespace tradelake
