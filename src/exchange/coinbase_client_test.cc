#include "exchange/coinbase_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "exchange/http_client.h"
#include "exchange/rate_limiter.h"

namespace tradelake {
namespace {

using ::testing::HasSubstr;

// An exchange on 127.0.0.1 that plays a script: the n-th request gets the n-th
// answer, and the last answer repeats forever.
class ScriptedExchange {
 public:
  struct Answer {
    int status = 200;
    std::string body;
    std::multimap<std::string, std::string> headers = {};
  };
  struct Seen {
    std::string target;  // path and query as sent
    std::string user_agent;
    std::string accept;
    int remote_port = -1;
  };

  explicit ScriptedExchange(std::vector<Answer> script) : script_(std::move(script)) {
    server_.Get(".*", [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back({request.target, request.get_header_value("User-Agent"),
                       request.get_header_value("Accept"), request.remote_port});
      const Answer& answer = script_[std::min(seen_.size(), script_.size()) - 1];
      response.status = answer.status;
      for (const auto& [name, value] : answer.headers) response.set_header(name, value);
      response.set_content(answer.body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ScriptedExchange() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  size_t requests() { return seen().size(); }

 private:
  const std::vector<Answer> script_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Seen> seen_;  // GUARDED_BY(mu_)
};

// A port on 127.0.0.1 with nothing listening: bound once by us, then released.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

constexpr char kPage[] =
    R"([{"trade_id":102,"side":"buy","size":"0.1","price":"42000.01","time":"2024-01-02T03:04:05.39Z"},)"
    R"({"trade_id":101,"side":"sell","size":"0.2","price":"42000.00","time":"2024-01-02T03:04:04Z"}])";

struct Harness {
  explicit Harness(std::vector<ScriptedExchange::Answer> script, int max_attempts = 6)
      : exchange(std::move(script)),
        client(Options(exchange.url(), max_attempts), nullptr, &stats) {}

  CoinbaseOptions Options(std::string url, int max_attempts) {
    CoinbaseOptions options;
    options.base_url = std::move(url);
    options.retry = {max_attempts, /*base_delay_ms=*/2, /*max_delay_ms=*/5};
    options.http.connect_timeout_ms = 2000;
    options.http.timeout_ms = 5000;
    options.jitter_seed = 7;
    options.sleep = [this](std::chrono::milliseconds delay) {
      delays.push_back(delay);
      std::this_thread::sleep_for(delay);
    };
    return options;
  }

  ScriptedExchange exchange;
  ClientStats stats;
  std::vector<std::chrono::milliseconds> delays;
  CoinbaseClient client;
};

TEST(CoinbaseClient, RetriesAfterRateLimitAndSucceeds) {
  Harness h({{429, R"({"message":"Public rate limit exceeded"})"}, {200, kPage}});
  Result<TradePage> page = h.client.GetTrades("BTC-USD", std::nullopt);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->trades.size(), 2u);
  EXPECT_EQ(h.exchange.requests(), 2u);
  EXPECT_EQ(h.stats.requests.load(), 2);
  EXPECT_EQ(h.stats.retries.load(), 1);
  EXPECT_EQ(h.stats.rate_limited.load(), 1);
  EXPECT_EQ(h.delays.size(), 1u);
}

TEST(CoinbaseClient, RetriesServerErrorsAndSucceeds) {
  Harness h({{500, R"({"message":"Internal server error"})"}, {503, ""}, {200, kPage}});
  Result<TradePage> page = h.client.GetTrades("BTC-USD", 103);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->trades[0].trade_id, 102);
  EXPECT_EQ(h.exchange.requests(), 3u);
  EXPECT_EQ(h.stats.retries.load(), 2);
  EXPECT_EQ(h.stats.server_errors.load(), 2);
}

TEST(CoinbaseClient, RetriesATruncatedBodyAndSucceeds) {
  const std::string page_text = kPage;
  Harness h({{200, page_text.substr(0, page_text.size() / 2)}, {200, page_text}});
  Result<TradePage> page = h.client.GetTrades("BTC-USD", std::nullopt);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->body, page_text);
  EXPECT_EQ(h.stats.invalid_bodies.load(), 1);
  EXPECT_EQ(h.stats.retries.load(), 1);
}

TEST(CoinbaseClient, GivesUpOnInvalidJsonAfterMaxAttemptsWithARetryableError) {
  Harness h({{200, "<html>gateway says hi</html>"}}, /*max_attempts=*/3);
  Result<TradePage> page = h.client.GetTrades("BTC-USD", std::nullopt);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(page.status().IsRetryable());
  EXPECT_THAT(page.status().message(),
              HasSubstr("GET " + h.exchange.url() +
                        "/products/BTC-USD/trades?limit=1000 failed after 3 attempts"));
  EXPECT_THAT(page.status().message(), HasSubstr("malformed JSON from exchange"));
  EXPECT_EQ(h.exchange.requests(), 3u);
  EXPECT_EQ(h.stats.retries.load(), 2);
  EXPECT_EQ(h.stats.invalid_bodies.load(), 3);
}

TEST(CoinbaseClient, UnknownProductIsNotFoundAtOnceAndNamesTheProduct) {
  Harness h({{404, R"({"message":"NotFound"})"}});
  Result<TradePage> page = h.client.GetTrades("FOO-USD", std::nullopt);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(page.status().IsRetryable());
  EXPECT_THAT(page.status().message(), HasSubstr("product FOO-USD is not listed by the exchange"));
  EXPECT_THAT(page.status().message(), HasSubstr("GET /products/FOO-USD/trades"));
  EXPECT_THAT(page.status().message(), HasSubstr(R"(404 {"message":"NotFound"})"));
  EXPECT_THAT(page.status().message(), HasSubstr("check --products"));
  EXPECT_EQ(h.exchange.requests(), 1u);
  EXPECT_EQ(h.stats.retries.load(), 0);
}

TEST(CoinbaseClient, BadRequestIsNotRetried) {
  Harness h({{400, R"({"message":"Invalid after"})"}});
  Result<TradePage> page = h.client.GetTrades("BTC-USD", 5);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr(R"(400 {"message":"Invalid after"})"));
  EXPECT_EQ(h.exchange.requests(), 1u);
  EXPECT_EQ(h.stats.retries.load(), 0);
}

TEST(CoinbaseClient, OtherClientErrorsAreNotRetried) {
  Harness h({{403, R"({"message":"Forbidden"})"}});
  Result<std::vector<ProductInfo>> products = h.client.ListProducts();
  ASSERT_FALSE(products.ok());
  EXPECT_EQ(products.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.exchange.requests(), 1u);
}

TEST(CoinbaseClient, ConnectionRefusedIsUnavailableAfterMaxAttempts) {
  ClientStats stats;
  CoinbaseOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(UnusedPort());
  options.retry = {3, 1, 2};
  CoinbaseClient client(options, nullptr, &stats);
  Result<std::vector<ProductInfo>> products = client.ListProducts();
  ASSERT_FALSE(products.ok());
  EXPECT_EQ(products.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(products.status().message(),
              HasSubstr("GET " + options.base_url + "/products failed after 3 attempts"));
  EXPECT_EQ(stats.requests.load(), 3);
  EXPECT_EQ(stats.transport_errors.load(), 3);
  EXPECT_EQ(stats.retries.load(), 2);
}

TEST(CoinbaseClient, SendsUserAgentAndAcceptsJson) {
  Harness h({{200, "[]"}});
  ASSERT_TRUE(h.client.GetTrades("BTC-USD", std::nullopt).ok());
  std::vector<ScriptedExchange::Seen> seen = h.exchange.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].user_agent, "tradelake/" TRADELAKE_VERSION);
  EXPECT_EQ(seen[0].accept, "application/json");
}

TEST(CoinbaseClient, RequestsThePageBeforeTheCursorAndReadsCursorHeaders) {
  Harness h({{200, kPage, {{"CB-AFTER", "101"}, {"Cb-Before", "102"}}}});
  Result<TradePage> page = h.client.GetTrades("BTC-USD", 103, 2);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(h.exchange.seen()[0].target, "/products/BTC-USD/trades?limit=2&after=103");
  EXPECT_EQ(page->request_path, "/products/BTC-USD/trades?limit=2&after=103");
  EXPECT_EQ(page->cb_after, 101);
  EXPECT_EQ(page->cb_before, 102);
}

TEST(CoinbaseClient, MissingOrBrokenCursorHeadersAreNullopt) {
  Harness h({{200, "[]", {{"CB-AFTER", "12x"}}}});
  Result<TradePage> page = h.client.GetTrades("BTC-USD", std::nullopt);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->cb_after, std::nullopt);
  EXPECT_EQ(page->cb_before, std::nullopt);
  EXPECT_TRUE(page->trades.empty());
}

TEST(CoinbaseClient, RejectsUnsafeProductIdsBeforeAnyRequest) {
  Harness h({{200, "[]"}});
  for (std::string_view id : {"", "BTC/USD", "../products", "BTC USD", "BTC-USD?limit=1",
                              "BTC%2DUSD", "BTC-USD#", "BTC\nUSD"}) {
    Result<TradePage> page = h.client.GetTrades(id, std::nullopt);
    ASSERT_FALSE(page.ok()) << id;
    EXPECT_EQ(page.status().code(), StatusCode::kInvalidArgument) << id;
  }
  EXPECT_FALSE(h.client.GetTrades("BTC-USD", std::nullopt, 0).ok());
  EXPECT_FALSE(h.client.GetTrades("BTC-USD", std::nullopt, kMaxTradesPerPage + 1).ok());
  EXPECT_FALSE(h.client.GetTrades("BTC-USD", 0).ok());
  EXPECT_EQ(h.exchange.requests(), 0u);
  EXPECT_TRUE(ValidateProductId("btc-usd2").ok());
}

TEST(CoinbaseClient, ListsProducts) {
  Harness h({{200, R"([{"id":"BTC-USD","base_currency":"BTC","quote_currency":"USD",
                        "quote_increment":"0.01","base_increment":"0.00000001","status":"online",
                        "trading_disabled":false,"max_slippage_percentage":"0.02000000",
                        "status_message":null},
                       {"id":"FOO-USD","status":"delisted"}])"}});
  Result<std::vector<ProductInfo>> products = h.client.ListProducts();
  ASSERT_TRUE(products.ok()) << products.status().ToString();
  ASSERT_EQ(products->size(), 2u);
  EXPECT_EQ((*products)[0].id, "BTC-USD");
  EXPECT_EQ((*products)[0].status, "online");
  EXPECT_EQ((*products)[0].base_increment, "0.00000001");
  EXPECT_EQ((*products)[0].quote_increment, "0.01");
  EXPECT_EQ((*products)[1].id, "FOO-USD");
  EXPECT_EQ((*products)[1].status, "delisted");
  EXPECT_EQ(h.exchange.seen()[0].target, "/products");
}

TEST(CoinbaseClient, ProductListWithoutIdsIsRetriedAsInvalid) {
  Harness h({{200, R"([{"status":"online"}])"}, {200, R"([{"id":"BTC-USD"}])"}});
  Result<std::vector<ProductInfo>> products = h.client.ListProducts();
  ASSERT_TRUE(products.ok()) << products.status().ToString();
  EXPECT_EQ(products->size(), 1u);
  EXPECT_EQ(h.stats.invalid_bodies.load(), 1);
}

// A clock whose sleeps advance it: pacing is counted, not timed.
class SteppingClock final : public RateLimiter::Clock {
 public:
  std::chrono::steady_clock::time_point Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(d);
    now_ += d;
  }
  std::vector<std::chrono::nanoseconds> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }

 private:
  std::mutex mu_;
  std::chrono::steady_clock::time_point now_{};
  std::vector<std::chrono::nanoseconds> sleeps_;
};

TEST(CoinbaseClient, SharedRateLimiterPacesRequests) {
  ScriptedExchange exchange({{200, "[]"}});
  SteppingClock clock;
  RateLimiter limiter(100, 1, &clock);
  CoinbaseOptions options;
  options.base_url = exchange.url();
  CoinbaseClient client(options, &limiter, nullptr);
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(client.GetTrades("BTC-USD", std::nullopt).ok());
  // Every request takes a token: the first from the burst, each of the other
  // ten after exactly one 10 ms wait (the clock moves only when slept on).
  const auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 10u);
  for (auto d : sleeps) EXPECT_EQ(d, std::chrono::milliseconds(10));
  EXPECT_EQ(exchange.seen().size(), 11u);
}

TEST(CoinbaseClient, BackoffDelaysStayWithinTheJitterBounds) {
  Harness h({{503, ""}}, /*max_attempts=*/6);
  ASSERT_FALSE(h.client.ListProducts().ok());
  ASSERT_EQ(h.delays.size(), 5u);
  RetryPolicy policy{6, 2, 5};
  for (size_t i = 0; i < h.delays.size(); ++i) {
    EXPECT_GE(h.delays[i].count(), 0);
    EXPECT_LE(h.delays[i].count(), BackoffCeilingMs(policy, static_cast<int>(i) + 1));
  }
}

TEST(Backoff, CeilingDoublesUpToTheCap) {
  RetryPolicy policy{6, 250, 8000};
  EXPECT_EQ(BackoffCeilingMs(policy, 1), 250);
  EXPECT_EQ(BackoffCeilingMs(policy, 2), 500);
  EXPECT_EQ(BackoffCeilingMs(policy, 3), 1000);
  EXPECT_EQ(BackoffCeilingMs(policy, 6), 8000);
  EXPECT_EQ(BackoffCeilingMs(policy, 1000), 8000);  // no overflow
}

TEST(HttpClient, KeepsTheConnectionAliveAndLowerCasesHeaderNames) {
  ScriptedExchange exchange({{200, "{}", {{"X-Custom-Thing", "  Value  "}}}});
  HttpClient http;
  Result<HttpResponse> first = http.Get(exchange.url() + "/a");
  Result<HttpResponse> second = http.Get(exchange.url() + "/b");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "{}");
  EXPECT_EQ(first->headers.at("x-custom-thing"), "Value");
  EXPECT_EQ(first->headers.at("content-type"), "application/json");
  std::vector<ScriptedExchange::Seen> seen = exchange.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].remote_port, seen[1].remote_port);  // one TCP connection
}

TEST(HttpClient, ErrorStatusesAreAnswersNotErrors) {
  ScriptedExchange exchange({{502, "bad gateway"}});
  HttpClient http;
  Result<HttpResponse> response = http.Get(exchange.url() + "/x");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 502);
  EXPECT_EQ(response->body, "bad gateway");
}

TEST(HttpClient, RefusedConnectionIsUnavailableAndNamesTheUrl) {
  HttpClient http;
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/products";
  Result<HttpResponse> response = http.Get(url);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr(url));
}

TEST(HttpClient, MalformedUrlIsInvalidArgument) {
  HttpClient http;
  Result<HttpResponse> response = http.Get("ftp://example.com/x");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
}

// --- ParseTradePage ------------------------------------------------------------

TEST(ParseTradePage, KeepsEachObjectByteForByte) {
  const std::string first =
      R"({ "time" : "2024-01-02T03:04:05.39Z" ,"trade_id":7,  "side":"buy",)"
      R"("note":"caf\u00e9 \"q\" \ud83d\ude00","nested":{"a":[1,{"b":null}]},"n":1.5e3 })";
  const std::string second = R"({"trade_id":6})";
  const std::string body = "\n [ " + first + " \t,\r\n" + second + "\n]\n";
  TradePage page;
  ASSERT_TRUE(ParseTradePage(body, &page).ok());
  ASSERT_EQ(page.trades.size(), 2u);
  EXPECT_EQ(page.trades[0].raw, first);
  EXPECT_EQ(page.trades[0].trade_id, 7);
  EXPECT_EQ(page.trades[1].raw, second);
  EXPECT_EQ(page.trades[1].trade_id, 6);
  EXPECT_EQ(page.body, body);
  EXPECT_EQ(page.trades[0].raw.data(), page.body.data() + body.find('{'));
}

TEST(ParseTradePage, ParsesTimesAndLeavesBadOnesEmpty) {
  const std::string body = R"([{"trade_id":4,"time":"2024-01-02T03:04:05.39Z"},)"
                           R"({"trade_id":3,"time":"yesterday"},{"trade_id":2,"time":12},)"
                           R"({"trade_id":1},{"trade_id":0,"time":null}])";
  TradePage page;
  ASSERT_TRUE(ParseTradePage(body, &page).ok());
  ASSERT_EQ(page.trades.size(), 5u);
  EXPECT_EQ(page.trades[0].time, ParseRfc3339("2024-01-02T03:04:05.39Z").value());
  for (size_t i = 1; i < 5; ++i) EXPECT_EQ(page.trades[i].time, std::nullopt) << i;
}

TEST(ParseTradePage, EmptyArrayIsAnEmptyPage) {
  TradePage page;
  ASSERT_TRUE(ParseTradePage(" [ ] ", &page).ok());
  EXPECT_TRUE(page.trades.empty());
}

TEST(ParseTradePage, RejectsPagesThatAreNotArraysOfTradesAsRetryable) {
  for (const char* body : {
           R"([{"trade_id":1},{"side":"buy"}])",      // no trade_id
           R"([{"trade_id":"5"}])",                   // numeric string
           R"([{"trade_id":1.5}])",                   // not an integer
           R"([{"trade_id":99999999999999999999}])",  // beyond int64
           R"([{"trade_id":1,"trade_id":2}])",        // ambiguous
           R"({"message":"not a page"})",
           R"([1,2])",
           R"([{"trade_id":1},[]])",
       }) {
    TradePage page;
    Status status = ParseTradePage(body, &page);
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << body;
    EXPECT_TRUE(page.trades.empty()) << body;
  }
}

TEST(ParseTradePage, RejectsInvalidJsonAnywhereInTheBody) {
  for (const char* body : {
           "",
           "   ",
           R"([{"trade_id":1,"x":tru}])",
           R"([{"trade_id":1,"x":nul}])",
           R"([{"trade_id":1,"x":"\q"}])",
           R"([{"trade_id":1,"x":01}])",
           R"([{"trade_id":1,"x":[1,]}])",
           R"([{"trade_id":1,"x":{"a" 1}}])",
           R"([{"trade_id":1}] trailing)",
           R"([{"trade_id":1}]])",
           R"([{"trade_id":1}{"trade_id":2}])",
           R"([{"trade_id":1},])",
           "[{\"trade_id\":1,\"x\":\"raw\ncontrol\"}]",
           "[{\"trade_id\":1,\"x\":\"\xff\xfe\"}]",
       }) {
    TradePage page;
    Status status = ParseTradePage(body, &page);
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << body;
    EXPECT_THAT(status.message(), HasSubstr("malformed JSON from exchange")) << body;
  }
}

TEST(ParseTradePage, EveryTruncationOfAPageIsRejected) {
  const std::string body = kPage;
  for (size_t n = 0; n < body.size(); ++n) {
    TradePage page;
    Status status = ParseTradePage(body.substr(0, n), &page);
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << body.substr(0, n);
  }
}

TEST(ParseTradePage, AcceptsValuesItDoesNotRead) {
  TradePage page;
  ASSERT_TRUE(ParseTradePage(R"([{"trade_id":1,"big":123456789012345678901234567890,)"
                             R"("deep":[[[{"x":[true,false,null]}]]],"e":-0.5E-3}])",
                             &page)
                  .ok());
  EXPECT_EQ(page.trades.size(), 1u);
}

TEST(TradePage, MovingAPageKeepsItsViewsValid) {
  TradePage page;
  ASSERT_TRUE(ParseTradePage(R"([{"trade_id":1}])", &page).ok());
  TradePage moved(std::move(page));
  ASSERT_EQ(moved.trades.size(), 1u);
  EXPECT_EQ(moved.trades[0].raw, R"({"trade_id":1})");
  EXPECT_GE(moved.trades[0].raw.data(), moved.body.data());
  EXPECT_TRUE(page.trades.empty());  // NOLINT(bugprone-use-after-move): moved-from is emptied

  TradePage assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.trades[0].raw, R"({"trade_id":1})");
  EXPECT_GE(assigned.trades[0].raw.data(), assigned.body.data());
}

TEST(TradePage, MovingAShortInlineBodyRepointsTheViews) {
  // Two bytes stay in std::string's inline buffer, which a move copies.
  TradePage page;
  page.body = "{}";
  page.trades.push_back({1, std::nullopt, std::string_view(page.body)});
  TradePage moved(std::move(page));
  EXPECT_EQ(moved.trades[0].raw.data(), moved.body.data());
  EXPECT_EQ(moved.trades[0].raw, "{}");
  TradePage assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.trades[0].raw.data(), assigned.body.data());
  EXPECT_EQ(assigned.trades[0].raw, "{}");
}

}  // namespace
}  // namespace tradelake
