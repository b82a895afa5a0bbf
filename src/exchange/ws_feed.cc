#include "exchange/ws_feed.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "core/decimal.h"
#include "core/text.h"

namespace tradelake {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct ParsedUrl {
  bool tls = false;
  std::string host, port, target;
};

Result<ParsedUrl> ParseWsUrl(std::string_view url) {
  ParsedUrl u;
  std::string_view rest;
  if (url.substr(0, 6) == "wss://") {
    u.tls = true;
    rest = url.substr(6);
  } else if (url.substr(0, 5) == "ws://") {
    rest = url.substr(5);
  } else {
    return InvalidArgument(fmt::format("WebSocket URL {} must start with ws:// or wss://", url));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    u.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos || u.port.size() > 5) {
      return InvalidArgument(fmt::format("WebSocket URL {} has an invalid port", url));
    }
  } else {
    u.port = u.tls ? "443" : "80";
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);
  }
  if (authority.empty()) return InvalidArgument(fmt::format("WebSocket URL {} has no host", url));
  u.host = std::string(authority);
  return u;
}

// The CA bundle TLS trusts, as core/curl.h chooses it for libcurl:
// $SSL_CERT_FILE, else the usual bundle paths, else OpenSSL's defaults.
Status ConfigureTrust(ssl::context& ctx) {
  auto readable = [](const char* p) { return p != nullptr && p[0] != '\0' && ::access(p, R_OK) == 0; };
  boost::system::error_code ec;
  if (const char* env = std::getenv("SSL_CERT_FILE"); env != nullptr && env[0] != '\0') {  // NOLINT(concurrency-mt-unsafe)
    ctx.load_verify_file(env, ec);
    if (ec) {
      return FailedPrecondition(fmt::format("SSL_CERT_FILE={} cannot be loaded as a CA bundle ({}); point it at a PEM bundle",
                                            env, ec.message()));
    }
    return Status::OK();
  }
  for (const char* p : {"/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Alpine
                        "/etc/pki/tls/certs/ca-bundle.crt",    // Amazon Linux 2023, RHEL, Fedora
                        "/etc/ssl/ca-bundle.pem",              // openSUSE
                        "/etc/ssl/cert.pem"}) {                // macOS, some minimal images
    if (!readable(p)) continue;
    ctx.load_verify_file(p, ec);
    if (!ec) return Status::OK();
  }
  ctx.set_default_verify_paths(ec);
  if (ec) {
    return FailedPrecondition(fmt::format(
        "no CA bundle for wss:// ({}); install ca-certificates or set SSL_CERT_FILE", ec.message()));
  }
  return Status::OK();
}

struct ErrorEvent {
  std::string product;
  Status status;
};
using Event = std::variant<WsMatch, WsHeartbeat, ErrorEvent, WsStateChange>;

// The queue between the reader and the dispatcher.
class EventQueue {
 public:
  explicit EventQueue(size_t capacity) : capacity_(capacity) {}

  // False (and nothing queued) when a data event finds the queue full.
  bool Push(Event e, bool data) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return true;
      if (data && q_.size() >= capacity_) return false;
      q_.push_back(std::move(e));
    }
    cv_.notify_one();
    return true;
  }

  // Waits for an event; nullopt once closed.
  std::optional<Event> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !q_.empty(); });
    if (closed_) return std::nullopt;
    Event e = std::move(q_.front());
    q_.pop_front();
    return e;
  }

  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      q_.clear();
    }
    cv_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> q_;  // GUARDED_BY(mu_)
  bool closed_ = false;  // GUARDED_BY(mu_)
};

}  // namespace

Result<WsMessage> ParseWsMessage(std::string text, TimestampMicros received_at) {
  thread_local simdjson::dom::parser parser;
  auto quote = [&](size_t n) { return std::string_view(text).substr(0, n); };
  simdjson::dom::element doc;
  std::string_view type;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS || doc["type"].get(type) != simdjson::SUCCESS) {
    return DataLoss(fmt::format("WebSocket message is not a JSON object with a string type: {}", quote(200)));
  }
  if (type == "match" || type == "last_match") {
    WsMatch m;
    std::string_view product, price, size, side, time;
    if (doc["product_id"].get(product) != simdjson::SUCCESS || doc["trade_id"].get(m.trade_id) != simdjson::SUCCESS ||
        doc["price"].get(price) != simdjson::SUCCESS || doc["size"].get(size) != simdjson::SUCCESS ||
        doc["side"].get(side) != simdjson::SUCCESS || doc["time"].get(time) != simdjson::SUCCESS) {
      return DataLoss(fmt::format("{} lacks product_id, trade_id (an int64), price, size, side or time: {}", type,
                                  quote(300)));
    }
    Result<TimestampMicros> t = ParseRfc3339(time);
    if (!Decimal::Parse(price).ok() || !Decimal::Parse(size).ok() || (side != "buy" && side != "sell") || !t.ok() ||
        !ValidateProductId(product).ok()) {
      return DataLoss(fmt::format("{} {} of {} has an invalid product_id, price, size, side or time: {}", type,
                                  m.trade_id, product, quote(300)));
    }
    if (int64_t sequence = 0; doc["sequence"].get(sequence) == simdjson::SUCCESS) m.sequence = sequence;
    m.product = std::string(product);
    m.price = std::string(price);
    m.size = std::string(size);
    m.side = std::string(side);
    m.time = *t;
    m.last_match = type == "last_match";
    m.received_at = received_at;
    m.raw = std::move(text);
    return WsMessage(std::move(m));
  }
  if (type == "heartbeat") {
    WsHeartbeat h;
    std::string_view product, time;
    if (doc["product_id"].get(product) != simdjson::SUCCESS ||
        doc["last_trade_id"].get(h.last_trade_id) != simdjson::SUCCESS ||
        doc["time"].get(time) != simdjson::SUCCESS) {
      return DataLoss(fmt::format("heartbeat lacks product_id, last_trade_id (an int64) or time: {}", quote(200)));
    }
    Result<TimestampMicros> t = ParseRfc3339(time);
    if (!t.ok()) return DataLoss(fmt::format("heartbeat of {}: {}", product, t.status().message()));
    if (int64_t sequence = 0; doc["sequence"].get(sequence) == simdjson::SUCCESS) h.sequence = sequence;
    h.product = std::string(product);
    h.time = *t;
    h.received_at = received_at;
    return WsMessage(std::move(h));
  }
  if (type == "subscriptions") {
    WsSubscriptions sub;
    simdjson::dom::array channels;
    if (doc["channels"].get(channels) == simdjson::SUCCESS) {
      for (simdjson::dom::element ch : channels) {
        std::string_view name;
        simdjson::dom::array ids;
        if (ch["name"].get(name) != simdjson::SUCCESS || name != "matches") continue;
        if (ch["product_ids"].get(ids) != simdjson::SUCCESS) continue;
        for (simdjson::dom::element id : ids) {
          std::string_view p;
          if (id.get(p) == simdjson::SUCCESS) sub.matches.emplace_back(p);
        }
      }
    }
    return WsMessage(std::move(sub));
  }
  if (type == "error") {
    WsErrorMessage err;
    std::string_view message, reason;
    if (doc["message"].get(message) == simdjson::SUCCESS) err.message = std::string(message);
    if (doc["reason"].get(reason) == simdjson::SUCCESS) err.reason = std::string(reason);
    if (err.message.empty()) err.message = "(no message)";
    return WsMessage(std::move(err));
  }
  return WsMessage(WsOtherMessage{std::string(type)});
}

int64_t WsBackoffCeilingMs(int64_t base_ms, int64_t max_ms, int failure) {
  int64_t c = std::max<int64_t>(1, base_ms);
  for (int i = 1; i < failure && c < max_ms; ++i) c *= 2;
  return std::min(c, max_ms);
}

class WsFeed::Impl {
  struct Conn;

 public:
  Impl(WsFeedOptions options, WsCallbacks callbacks, ParsedUrl url)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        url_(std::move(url)),
        ssl_ctx_(ssl::context::tls_client),
        queue_(options_.queue_capacity),
        rng_(options_.jitter_seed ? *options_.jitter_seed : std::random_device{}()) {}

  ~Impl() { Stop(); }

  Status Init() {
    if (url_.tls) {
      ssl_ctx_.set_verify_mode(ssl::verify_peer);
      RETURN_IF_ERROR(ConfigureTrust(ssl_ctx_));
    }
    const size_t per = static_cast<size_t>(options_.max_products_per_connection);
    for (size_t i = 0; i < options_.products.size(); i += per) {
      auto c = std::make_unique<Conn>(this, static_cast<int>(conns_.size()));
      const size_t end = std::min(options_.products.size(), i + per);
      c->products.assign(options_.products.begin() + static_cast<std::ptrdiff_t>(i),
                         options_.products.begin() + static_cast<std::ptrdiff_t>(end));
      conns_.push_back(std::move(c));
    }
    for (const auto& c : conns_) status_.push_back(WsConnectionStatus{c->index, c->products, false, 0, ""});
    for (auto& c : conns_) net::post(ioc_, [conn = c.get()] { conn->Open(); });
    dispatcher_ = std::thread([this] { Dispatch(); });
    reader_ = std::thread([this] {
      auto guard = net::make_work_guard(ioc_);
      ioc_.run();
    });
    return Status::OK();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (reader_.joinable()) {
      net::post(ioc_, [this] {
        for (auto& c : conns_) c->Shutdown();
        ioc_.stop();
      });
      reader_.join();
    }
    queue_.Close();
    if (dispatcher_.joinable()) dispatcher_.join();
  }

  const WsFeedStats& stats() const { return stats_; }
  int connections() const { return static_cast<int>(conns_.size()); }
  std::vector<WsConnectionStatus> Snapshot() const {
    std::lock_guard<std::mutex> lock(status_mu_);
    return status_;
  }
  // Updates connection c's snapshot (reader thread).
  void Publish(const Conn& c, const std::string* error) {
    std::lock_guard<std::mutex> lock(status_mu_);
    WsConnectionStatus& st = status_[static_cast<size_t>(c.index)];
    st.products = c.products;
    st.connected = c.subscribed;
    st.failures = c.failures;
    if (error != nullptr) st.last_error = *error;
  }
  std::vector<std::string> refused() const {
    std::lock_guard<std::mutex> lock(refused_mu_);
    return {refused_.begin(), refused_.end()};
  }

 private:
  using PlainWs = websocket::stream<beast::tcp_stream>;
  using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

  // One connection and its reconnect loop. Lives on the reader thread only.
  // Every attempt has a generation; handlers of an older attempt do nothing.
  struct Conn {
    Conn(Impl* owner, int number)
        : feed(owner), index(number), resolver(owner->ioc_), timer(owner->ioc_), watchdog(owner->ioc_) {}

    Impl* feed;
    int index;
    std::vector<std::string> products;
    std::unique_ptr<PlainWs> plain;
    std::unique_ptr<TlsWs> tls;
    tcp::resolver resolver;
    net::steady_timer timer;     // backoff
    net::steady_timer watchdog;
    beast::flat_buffer buffer;
    std::string subscribe;
    uint64_t generation = 0;
    int failures = 0;            // consecutive, reset by a heartbeat
    bool subscribed = false;     // the current attempt got through the handshake
    bool acked = false;          // the exchange confirmed a subscription
    bool writing = false;        // a Resubscribe write is in flight
    bool resubscribe_due = false;
    bool shut = false;
    std::chrono::steady_clock::time_point last_beat;

    template <class F>
    void WithWs(F&& f) {
      if (tls) {
        f(*tls);
      } else {
        f(*plain);
      }
    }

    beast::tcp_stream& Lowest() {
      return tls ? beast::get_lowest_layer(*tls) : beast::get_lowest_layer(*plain);
    }

    void Open() {
      if (shut) return;
      const uint64_t gen = ++generation;
      subscribed = acked = false;
      writing = resubscribe_due = false;
      buffer.clear();
      if (feed->url_.tls) {
        plain.reset();
        tls = std::make_unique<TlsWs>(feed->ioc_, feed->ssl_ctx_);
      } else {
        tls.reset();
        plain = std::make_unique<PlainWs>(feed->ioc_);
      }
      resolver.async_resolve(
          feed->url_.host, feed->url_.port, [this, gen](beast::error_code ec, tcp::resolver::results_type results) {
            if (gen != generation) return;
            if (ec) return Fail(fmt::format("cannot resolve {}: {}", feed->url_.host, ec.message()));
            Lowest().expires_after(std::chrono::milliseconds(feed->options_.connect_timeout_ms));
            Lowest().async_connect(results, [this, gen](beast::error_code e, const tcp::endpoint&) {
              if (gen != generation) return;
              if (e) return Fail(fmt::format("cannot connect to {}:{}: {}", feed->url_.host, feed->url_.port, e.message()));
              if (!tls) return Handshake(gen);
              if (!SSL_set_tlsext_host_name(tls->next_layer().native_handle(), feed->url_.host.c_str())) {
                return Fail(fmt::format("TLS: cannot set the server name {}", feed->url_.host));
              }
              tls->next_layer().set_verify_callback(ssl::host_name_verification(feed->url_.host));
              Lowest().expires_after(std::chrono::milliseconds(feed->options_.connect_timeout_ms));
              tls->next_layer().async_handshake(ssl::stream_base::client, [this, gen](beast::error_code e2) {
                if (gen != generation) return;
                if (e2) return Fail(fmt::format("TLS handshake with {} failed: {}", feed->url_.host, e2.message()));
                Handshake(gen);
              });
            });
          });
    }

    void Handshake(uint64_t gen) {
      Lowest().expires_never();  // the websocket stream keeps its own timers from here
      WithWs([&](auto& ws) {
        websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::client);
        t.handshake_timeout = std::chrono::milliseconds(feed->options_.connect_timeout_ms);
        t.idle_timeout = websocket::stream_base::none();  // our watchdog watches heartbeats instead
        ws.set_option(t);
        ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
          req.set(beast::http::field::user_agent, "tradelake/" TRADELAKE_VERSION);
        }));
        websocket::permessage_deflate deflate;
        deflate.client_enable = feed->options_.permessage_deflate;
        ws.set_option(deflate);
        ws.read_message_max(16 << 20);
        const std::string host = feed->url_.host + ((feed->url_.port == "80" || feed->url_.port == "443")
                                                         ? std::string()
                                                         : ":" + feed->url_.port);
        ws.async_handshake(host, feed->url_.target, [this, gen](beast::error_code ec) {
          if (gen != generation) return;
          if (ec) return Fail(fmt::format("WebSocket handshake with {} failed: {}", feed->url_.host, ec.message()));
          Subscribe(gen);
        });
      });
    }

    void Subscribe(uint64_t gen) {
      nlohmann::json j;
      j["type"] = "subscribe";
      j["product_ids"] = products;
      j["channels"] = {"matches", "heartbeat"};
      subscribe = j.dump();
      WithWs([&](auto& ws) {
        ws.text(true);
        ws.async_write(net::buffer(subscribe), [this, gen](beast::error_code ec, size_t) {
          if (gen != generation) return;
          if (ec) return Fail(fmt::format("cannot send the subscription: {}", ec.message()));
          subscribed = true;
          ++feed->stats_.connects;
          feed->Publish(*this, nullptr);
          last_beat = std::chrono::steady_clock::now();
          feed->Emit(WsStateChange{index, true, products, ""}, false);
          Watch(gen);
          Read(gen);
        });
      });
    }

    // Asks again for what is left after a refusal the exchange made before
    // confirming anything: Coinbase refuses a whole subscribe message that
    // names one unknown product, so without this the others would wait for
    // the watchdog. One write at a time (Beast allows no two at once).
    void Resubscribe() {
      if (writing) {
        resubscribe_due = true;
        return;
      }
      nlohmann::json j;
      j["type"] = "subscribe";
      j["product_ids"] = products;
      j["channels"] = {"matches", "heartbeat"};
      subscribe = j.dump();
      writing = true;
      const uint64_t gen = generation;
      WithWs([&](auto& ws) {
        ws.async_write(net::buffer(subscribe), [this, gen](beast::error_code ec, size_t) {
          writing = false;
          if (gen != generation) return;
          if (ec) return Fail(fmt::format("cannot send the subscription again: {}", ec.message()));
          if (resubscribe_due && !acked) {
            resubscribe_due = false;
            Resubscribe();
          }
        });
      });
    }

    void Read(uint64_t gen) {
      WithWs([&](auto& ws) {
        ws.async_read(buffer, [this, gen](beast::error_code ec, size_t) {
          if (gen != generation) return;
          if (ec) {
            return Fail(ec == websocket::error::closed ? "closed by the exchange" : "read failed: " + ec.message());
          }
          std::string text = beast::buffers_to_string(buffer.data());
          buffer.consume(buffer.size());
          feed->OnMessage(*this, std::move(text));
          if (gen == generation && !shut) Read(gen);
        });
      });
    }

    void Watch(uint64_t gen) {
      const int64_t timeout = feed->options_.heartbeat_timeout_ms;
      watchdog.expires_after(std::chrono::milliseconds(std::max<int64_t>(10, timeout / 4)));
      watchdog.async_wait([this, gen, timeout](beast::error_code ec) {
        if (ec || gen != generation) return;
        const auto silent = std::chrono::steady_clock::now() - last_beat;
        if (silent > std::chrono::milliseconds(timeout)) {
          ++feed->stats_.watchdog_timeouts;
          return Fail(fmt::format("no heartbeat for {} ms", timeout));
        }
        Watch(gen);
      });
    }

    void CloseStream() {
      ++generation;  // outstanding handlers of this attempt are now stale
      watchdog.cancel();
      if (plain || tls) {
        beast::error_code ec;
        Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
        Lowest().close();
      }
    }

    void Fail(std::string reason) {
      if (shut) return;
      const bool was_subscribed = subscribed;
      subscribed = false;
      CloseStream();
      if (was_subscribed) {
        ++feed->stats_.disconnects;
        feed->Emit(WsStateChange{index, false, products, reason}, false);
      }
      if (products.empty()) {  // every product refused: nothing to follow
        feed->Publish(*this, &reason);
        return;
      }
      ++failures;
      feed->Publish(*this, &reason);
      const int64_t ceiling = WsBackoffCeilingMs(feed->options_.backoff_base_ms, feed->options_.backoff_max_ms, failures);
      const int64_t delay = ceiling / 2 + static_cast<int64_t>(feed->rng_() % static_cast<uint64_t>(ceiling / 2 + 1));
      timer.expires_after(std::chrono::milliseconds(delay));
      timer.async_wait([this](beast::error_code ec) {
        if (ec || shut) return;
        ++feed->stats_.reconnects;
        Open();
      });
    }

    void Shutdown() {
      shut = true;
      subscribed = false;
      timer.cancel();
      resolver.cancel();
      CloseStream();
    }
  };

  void Emit(Event e, bool data) {
    if (!queue_.Push(std::move(e), data)) ++stats_.queue_drops;
  }

  void Dispatch() {
    while (std::optional<Event> e = queue_.Pop()) {
      if (auto* m = std::get_if<WsMatch>(&*e)) {
        if (callbacks_.on_match) callbacks_.on_match(*m);
      } else if (auto* h = std::get_if<WsHeartbeat>(&*e)) {
        if (callbacks_.on_heartbeat) callbacks_.on_heartbeat(*h);
      } else if (auto* err = std::get_if<ErrorEvent>(&*e)) {
        if (callbacks_.on_error) callbacks_.on_error(err->product, err->status);
      } else if (auto* s = std::get_if<WsStateChange>(&*e)) {
        if (callbacks_.on_state) callbacks_.on_state(*s);
      }
    }
  }

  // The product of ours named in an error's text, "" if none.
  static std::string ProductIn(const Conn& c, std::string_view text) {
    for (const std::string& p : c.products) {
      for (size_t pos = text.find(p); pos != std::string_view::npos; pos = text.find(p, pos + 1)) {
        auto boundary = [](char ch) { return !(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-'); };
        const bool left = pos == 0 || boundary(text[pos - 1]);
        const bool right = pos + p.size() == text.size() || boundary(text[pos + p.size()]);
        if (left && right) return p;
      }
    }
    return "";
  }

  void Refuse(Conn& c, const std::string& product, const std::string& why) {
    c.products.erase(std::remove(c.products.begin(), c.products.end(), product), c.products.end());
    {
      std::lock_guard<std::mutex> lock(refused_mu_);
      refused_.insert(product);
    }
    Emit(ErrorEvent{product, NotFound(fmt::format("product {}: the exchange refused the WebSocket subscription "
                                                  "({}); it is unknown or delisted: check --products",
                                                  product, why))},
         false);
    if (c.products.empty()) {  // nothing left to follow on this connection
      if (c.subscribed) {
        ++stats_.disconnects;
        Emit(WsStateChange{c.index, false, {}, "every product of this connection was refused"}, false);
      }
      c.Shutdown();
      const std::string last = fmt::format("closed: every product was refused (the last, {}: {})", product, why);
      Publish(c, &last);
    } else {
      Publish(c, nullptr);
      if (c.subscribed && !c.acked) c.Resubscribe();
    }
  }

  void OnMessage(Conn& c, std::string text) {
    ++stats_.messages;
    stats_.bytes += static_cast<int64_t>(text.size());
    Result<WsMessage> parsed = ParseWsMessage(std::move(text), NowMicros());
    if (!parsed.ok()) {
      ++stats_.invalid_messages;
      return Emit(ErrorEvent{"", parsed.status()}, false);
    }
    if (auto* m = std::get_if<WsMatch>(&*parsed)) {
      if (std::find(c.products.begin(), c.products.end(), m->product) == c.products.end()) {
        ++stats_.invalid_messages;
        return Emit(ErrorEvent{m->product, DataLoss(fmt::format("match {} of {}, a product this connection did "
                                                                "not subscribe", m->trade_id, m->product))},
                    false);
      }
      ++stats_.matches;
      return Emit(std::move(*m), true);
    }
    if (auto* h = std::get_if<WsHeartbeat>(&*parsed)) {
      c.last_beat = std::chrono::steady_clock::now();
      if (c.failures != 0) {
        c.failures = 0;
        Publish(c, nullptr);
      }
      ++stats_.heartbeats;
      return Emit(std::move(*h), true);
    }
    if (auto* sub = std::get_if<WsSubscriptions>(&*parsed)) {
      if (c.acked) return;
      c.acked = true;
      // Products asked for but not confirmed on the matches channel.
      const std::set<std::string> confirmed(sub->matches.begin(), sub->matches.end());
      for (const std::string& p : std::vector<std::string>(c.products)) {
        if (confirmed.count(p) == 0) Refuse(c, p, "not confirmed by the subscriptions message");
      }
      return;
    }
    if (auto* err = std::get_if<WsErrorMessage>(&*parsed)) {
      ++stats_.errors;
      const std::string what = err->reason.empty() ? err->message : fmt::format("{}: {}", err->message, err->reason);
      const std::string product = ProductIn(c, err->reason.empty() ? err->message : err->reason);
      if (!product.empty()) return Refuse(c, product, what);
      return Emit(ErrorEvent{"", Unavailable(fmt::format("exchange WebSocket error: {}", what))}, false);
    }
    // Other channels' messages: counted, ignored.
  }

  WsFeedOptions options_;
  WsCallbacks callbacks_;
  ParsedUrl url_;
  net::io_context ioc_;
  ssl::context ssl_ctx_;
  std::vector<std::unique_ptr<Conn>> conns_;
  EventQueue queue_;
  WsFeedStats stats_;
  std::mt19937_64 rng_;             // reader thread only
  std::thread reader_, dispatcher_;
  std::mutex stop_mu_;
  bool stopped_ = false;            // GUARDED_BY(stop_mu_)
  mutable std::mutex status_mu_;
  std::vector<WsConnectionStatus> status_;  // GUARDED_BY(status_mu_)
  mutable std::mutex refused_mu_;
  std::set<std::string> refused_;   // GUARDED_BY(refused_mu_)
};

Result<std::unique_ptr<WsFeed>> WsFeed::Start(WsFeedOptions options, WsCallbacks callbacks) {
  ASSIGN_OR_RETURN(ParsedUrl url, ParseWsUrl(options.url));
  if (options.products.empty()) return InvalidArgument("WebSocket feed needs at least one product");
  std::set<std::string> seen;
  for (const std::string& p : options.products) {
    RETURN_IF_ERROR(ValidateProductId(p));
    if (!seen.insert(p).second) return InvalidArgument(fmt::format("product {} is listed twice; list each once", p));
  }
  if (options.max_products_per_connection <= 0 || options.connect_timeout_ms <= 0 ||
      options.heartbeat_timeout_ms <= 0 || options.backoff_base_ms <= 0 ||
      options.backoff_max_ms < options.backoff_base_ms || options.queue_capacity == 0) {
    return InvalidArgument(
        "WebSocket feed options: max_products_per_connection, connect_timeout_ms, heartbeat_timeout_ms, "
        "backoff_base_ms and queue_capacity must be positive, and backoff_max_ms >= backoff_base_ms");
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(callbacks), std::move(url));
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<WsFeed>(new WsFeed(std::move(impl)));
}

WsFeed::WsFeed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsFeed::~WsFeed() { Stop(); }
const WsFeedStats& WsFeed::stats() const { return impl_->stats(); }
int WsFeed::connections() const { return impl_->connections(); }
std::vector<std::string> WsFeed::refused_products() const { return impl_->refused(); }
std::vector<WsConnectionStatus> WsFeed::ConnectionStatus() const { return impl_->Snapshot(); }
void WsFeed::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace tradelake
