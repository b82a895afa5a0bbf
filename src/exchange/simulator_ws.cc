#include "exchange/simulator_ws.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "exchange/simulator.h"

namespace tradelake {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Message = std::shared_ptr<const std::string>;

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A deterministic order id in UUID form: the simulator has no order book,
// but clients may expect the field's shape.
std::string OrderId(uint64_t seed, std::string_view product, int64_t trade_id, uint64_t which) {
  uint64_t h = SplitMix(seed ^ std::hash<std::string_view>{}(product));
  h = SplitMix(h ^ static_cast<uint64_t>(trade_id));
  const uint64_t a = SplitMix(h ^ which), b = SplitMix(a);
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF,
                     0x8000 | ((b >> 48) & 0x3FFF), b & 0xFFFFFFFFFFFFULL);
}

struct ProductFeed {
  int64_t published = 0;  // newest id announced (holes included)
  int64_t sequence = 0;
};

}  // namespace

class SimulatorWs::Impl {
 public:
  Impl(const Simulator* sim, SimulatorWsOptions options)
      : sim_(sim), options_(std::move(options)), acceptor_(ioc_), poll_timer_(ioc_), heartbeat_timer_(ioc_) {
    if (!options_.clock) options_.clock = [] { return NowMicros(); };
  }
  ~Impl() { Stop(); }

  Status Init() {
    boost::system::error_code ec;
    const net::ip::address address = net::ip::make_address(options_.bind, ec);
    if (ec) return InvalidArgument(fmt::format("simulator WebSocket bind address {} is not an IP address", options_.bind));
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
    if (acceptor_.open(endpoint.protocol(), ec); !ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
      if (acceptor_.bind(endpoint, ec); !ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return Unavailable(fmt::format(
          "simulator WebSocket cannot listen on {}:{} ({}); pick another port, or 0 for any free port",
          options_.bind, options_.port, ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    SchedulePoll();
    ScheduleHeartbeat();
    thread_ = std::thread([this] { ioc_.run(); });
    return Status::OK();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      poll_timer_.cancel();
      heartbeat_timer_.cancel();
      for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_)) s->Close();
      sessions_.clear();
      ioc_.stop();
    });
    thread_.join();
  }

  int port() const { return port_; }
  const SimulatorWsOptions& options() const { return options_; }

  Counters counters() const {
    Counters c;
    c.connections = connections_.load();
    c.subscribes = subscribes_.load();
    c.messages = messages_.load();
    c.matches = matches_.load();
    c.heartbeats = heartbeats_.load();
    c.errors = errors_.load();
    c.dropped = dropped_.load();
    c.duplicated = duplicated_.load();
    c.reordered = reordered_.load();
    c.disconnects = disconnects_.load();
    c.stalls = stalls_.load();
    c.slow_consumer_closes = slow_consumer_closes_.load();
    return c;
  }

 private:
  // One client connection. Lives on the io thread only.
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl* server, tcp::socket socket, uint64_t number)
        : server_(server),
          ws_(std::move(socket)),
          disconnect_timer_(ws_.get_executor()),
          stall_timer_(ws_.get_executor()),
          rng_(SplitMix(server->options_.seed ^ SplitMix(number))) {}

    void Start() {
      websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
      timeouts.idle_timeout = websocket::stream_base::none();  // the client's watchdog decides
      ws_.set_option(timeouts);
      websocket::permessage_deflate deflate;
      deflate.server_enable = true;
      ws_.set_option(deflate);
      ws_.async_accept([self = shared_from_this()](beast::error_code ec) { self->OnAccept(ec); });
    }

    // Hard close (no close frame): pending operations end with an error.
    void Close() {
      if (closed_) return;
      closed_ = true;
      disconnect_timer_.cancel();
      stall_timer_.cancel();
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(ws_).close();
      queue_.clear();
      server_->sessions_.erase(shared_from_this());
    }

    bool SubscribedTo(bool matches, const std::string& product) const {
      return (matches ? matches_ : heartbeat_).count(product) != 0;
    }
    const std::set<std::string>& heartbeat_products() const { return heartbeat_; }

    // Queues a message. Data messages go through the faults; control
    // messages (acks, errors) never do.
    void Send(const Message& msg, bool data) {
      if (closed_) return;
      const WsFaultOptions& f = server_->options_.faults;
      if (data) {
        if (f.drop > 0 && Draw() < f.drop) {
          ++server_->dropped_;
          return;
        }
        if (f.reorder > 0 && !held_ && Draw() < f.reorder) {
          ++server_->reordered_;
          held_ = msg;
          return;
        }
        if (f.duplicate > 0 && Draw() < f.duplicate) {
          ++server_->duplicated_;
          Push(msg);
        }
      }
      Push(msg);
      if (held_) {
        Message h = std::move(held_);
        held_.reset();
        Push(h);
      }
    }

   private:
    double Draw() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

    void Push(const Message& msg) {
      if (closed_) return;
      ++server_->messages_;
      queue_.push_back(msg);
      backlog_ += static_cast<int64_t>(msg->size());
      const int64_t bound = server_->options_.faults.max_backlog_bytes;
      if (bound > 0 && !stalled_ && backlog_ > bound) {
        ++server_->slow_consumer_closes_;
        Close();
        return;
      }
      Write();
    }

    void Write() {
      if (closed_ || writing_ || stalled_ || queue_.empty() || !accepted_) return;
      writing_ = true;
      ws_.text(true);
      ws_.async_write(net::buffer(*queue_.front()),
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
    }

    void OnWrite(beast::error_code ec) {
      writing_ = false;
      if (closed_) return;
      if (ec) {
        Close();
        return;
      }
      backlog_ -= static_cast<int64_t>(queue_.front()->size());
      queue_.pop_front();
      Write();
    }

    void OnAccept(beast::error_code ec) {
      if (ec || closed_) {
        Close();
        return;
      }
      accepted_ = true;
      ++server_->connections_;
      const WsFaultOptions& f = server_->options_.faults;
      if (f.disconnect_every_ms > 0) {
        disconnect_timer_.expires_after(std::chrono::milliseconds(f.disconnect_every_ms));
        disconnect_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
          if (e || self->closed_) return;
          ++self->server_->disconnects_;
          self->Close();
        });
      }
      if (f.stall_every_ms > 0 && f.stall_ms > 0) ScheduleStall();
      Read();
      Write();
    }

    void ScheduleStall() {
      const WsFaultOptions& f = server_->options_.faults;
      stall_timer_.expires_after(std::chrono::milliseconds(stalled_ ? f.stall_ms : f.stall_every_ms));
      stall_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (e || self->closed_) return;
        self->stalled_ = !self->stalled_;
        if (self->stalled_) ++self->server_->stalls_;
        self->ScheduleStall();
        self->Write();
      });
    }

    void Read() {
      ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec || self->closed_) {
          self->Close();
          return;
        }
        std::string text = beast::buffers_to_string(self->buffer_.data());
        self->buffer_.consume(self->buffer_.size());
        self->server_->OnClientMessage(*self, text);
        if (!self->closed_) self->Read();
      });
    }

    friend class Impl;
    Impl* server_;
    websocket::stream<beast::tcp_stream> ws_;
    net::steady_timer disconnect_timer_, stall_timer_;
    std::mt19937_64 rng_;
    beast::flat_buffer buffer_;
    std::deque<Message> queue_;
    Message held_;
    int64_t backlog_ = 0;
    bool accepted_ = false, writing_ = false, stalled_ = false, closed_ = false;
    std::set<std::string> matches_, heartbeat_;
  };

  void Accept() {
    acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed by Stop()
      if (options_.faults.send_buffer_bytes > 0) {
        beast::error_code e;
        socket.set_option(net::socket_base::send_buffer_size(options_.faults.send_buffer_bytes), e);
      }
      auto session = std::make_shared<Session>(this, std::move(socket), next_session_++);
      sessions_.insert(session);
      session->Start();
      Accept();
    });
  }

  static Message Text(const nlohmann::ordered_json& j) { return std::make_shared<const std::string>(j.dump()); }

  void SendError(Session& s, const std::string& reason) {
    ++errors_;
    nlohmann::ordered_json j;
    j["type"] = "error";
    j["message"] = "Failed to subscribe";
    j["reason"] = reason;
    s.Send(Text(j), false);
  }

  // {"type":"match"|"last_match", ...} for a published, non-hole trade; null
  // if the simulator does not have it.
  Message MatchMessage(const std::string& product, int64_t id, int64_t sequence, std::string_view type) {
    const std::string trade = sim_->TradeJson(product, id);
    if (trade.empty()) return nullptr;
    simdjson::dom::element doc;
    std::string_view side, size, price, time;
    if (parser_.parse(trade).get(doc) != simdjson::SUCCESS || doc["side"].get(side) != simdjson::SUCCESS ||
        doc["size"].get(size) != simdjson::SUCCESS || doc["price"].get(price) != simdjson::SUCCESS ||
        doc["time"].get(time) != simdjson::SUCCESS) {
      return nullptr;
    }
    nlohmann::ordered_json j;
    j["type"] = type;
    j["trade_id"] = id;
    j["maker_order_id"] = OrderId(options_.seed, product, id, 1);
    j["taker_order_id"] = OrderId(options_.seed, product, id, 2);
    j["side"] = side;
    j["size"] = size;
    j["price"] = price;
    j["product_id"] = product;
    j["sequence"] = sequence;
    j["time"] = time;
    return Text(j);
  }

  // Subscribe / unsubscribe. Unknown products and channels get an error
  // each; the rest is served (with refuse_whole_subscribe, as Coinbase, an
  // unknown product refuses the whole subscribe instead).
  void OnClientMessage(Session& s, const std::string& text) {
    ++subscribes_;
    simdjson::dom::element doc;
    std::string_view type;
    if (parser_.parse(text).get(doc) != simdjson::SUCCESS || doc["type"].get(type) != simdjson::SUCCESS ||
        (type != "subscribe" && type != "unsubscribe")) {
      SendError(s, "message must be JSON with type subscribe or unsubscribe");
      return;
    }
    const bool subscribe = type == "subscribe";
    std::vector<std::string> top_products;
    if (simdjson::dom::array a; doc["product_ids"].get(a) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : a) {
        std::string_view p;
        if (e.get(p) == simdjson::SUCCESS) top_products.emplace_back(p);
      }
    }
    // (channel, product) pairs requested.
    std::vector<std::pair<std::string, std::string>> wanted;
    simdjson::dom::array channels;
    if (doc["channels"].get(channels) != simdjson::SUCCESS) {
      SendError(s, "channels must be an array");
      return;
    }
    for (simdjson::dom::element c : channels) {
      std::string_view name;
      std::vector<std::string> products = top_products;
      if (c.get(name) != simdjson::SUCCESS) {
        simdjson::dom::array ps;
        if (c["name"].get(name) != simdjson::SUCCESS) continue;
        if (c["product_ids"].get(ps) == simdjson::SUCCESS) {
          for (simdjson::dom::element e : ps) {
            std::string_view p;
            if (e.get(p) == simdjson::SUCCESS) products.emplace_back(p);
          }
        }
      }
      if (name != "matches" && name != "heartbeat") {
        SendError(s, fmt::format("{} is not a valid channel", name));
        continue;
      }
      for (std::string& p : products) wanted.emplace_back(std::string(name), std::move(p));
    }
    if (options_.refuse_whole_subscribe && subscribe) {
      for (const auto& [channel, product] : wanted) {
        if (sim_->FirstTradeId(product) == 0) {
          SendError(s, fmt::format("{} is not a valid product", product));
          return;
        }
      }
    }
    std::set<std::string> reported;
    std::vector<std::string> new_matches;
    for (auto& [channel, product] : wanted) {
      if (sim_->FirstTradeId(product) == 0) {
        if (reported.insert(product).second) SendError(s, fmt::format("{} is not a valid product", product));
        continue;
      }
      if (feeds_.count(product) == 0) {
        const int64_t last = sim_->LastTradeId(product);
        feeds_[product] = ProductFeed{last, last * 4};
      }
      std::set<std::string>& set = channel == "matches" ? s.matches_ : s.heartbeat_;
      if (!subscribe) {
        set.erase(product);
      } else if (set.insert(product).second && channel == "matches") {
        new_matches.push_back(product);
      }
    }
    nlohmann::ordered_json ack;
    ack["type"] = "subscriptions";
    ack["channels"] = nlohmann::ordered_json::array();
    for (const auto& [name, set] : {std::pair<const char*, const std::set<std::string>*>{"matches", &s.matches_},
                                    {"heartbeat", &s.heartbeat_}}) {
      if (set->empty()) continue;
      nlohmann::ordered_json ch;
      ch["name"] = name;
      ch["product_ids"] = *set;
      ack["channels"].push_back(ch);
    }
    s.Send(Text(ack), false);
    for (const std::string& product : new_matches) {
      const ProductFeed& feed = feeds_[product];
      const int64_t first = sim_->FirstTradeId(product);
      for (int64_t id = feed.published; id >= first; --id) {
        if (sim_->IsHole(id)) continue;
        if (Message m = MatchMessage(product, id, feed.sequence, "last_match")) s.Send(m, true);
        break;
      }
    }
  }

  void SchedulePoll() {
    poll_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(1, options_.poll_interval_ms)));
    poll_timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      Poll();
      SchedulePoll();
    });
  }

  // Announces every trade published since the last poll.
  void Poll() {
    for (auto& [product, feed] : feeds_) {
      const int64_t last = sim_->LastTradeId(product);
      for (int64_t id = feed.published + 1; id <= last; ++id) {
        feed.published = id;
        if (sim_->IsHole(id)) continue;
        ++feed.sequence;
        bool any = false;
        for (const auto& s : sessions_) any = any || s->SubscribedTo(true, product);
        if (!any) continue;
        Message m = MatchMessage(product, id, feed.sequence, "match");
        if (!m) continue;
        for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_)) {
          if (!s->SubscribedTo(true, product)) continue;
          ++matches_;
          s->Send(m, true);
        }
      }
    }
  }

  void ScheduleHeartbeat() {
    heartbeat_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(1, options_.heartbeat_interval_ms)));
    heartbeat_timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      Heartbeat();
      ScheduleHeartbeat();
    });
  }

  void Heartbeat() {
    // The time first, then the poll: every trade with time <= now is then
    // among the ids announced (the simulator's clock is at or after `now`).
    const TimestampMicros now = options_.clock();
    Poll();
    const std::string time = FormatRfc3339Micros(now);
    std::map<std::string, Message> by_product;
    for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_)) {
      for (const std::string& product : std::set<std::string>(s->heartbeat_products())) {
        Message& m = by_product[product];
        if (!m) {
          const ProductFeed& feed = feeds_[product];
          nlohmann::ordered_json j;
          j["type"] = "heartbeat";
          j["sequence"] = feed.sequence;
          j["last_trade_id"] = feed.published;
          j["product_id"] = product;
          j["time"] = time;
          m = Text(j);
        }
        ++heartbeats_;
        s->Send(m, true);
      }
    }
  }

  const Simulator* sim_;
  SimulatorWsOptions options_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer poll_timer_, heartbeat_timer_;
  std::thread thread_;
  std::mutex stop_mu_;
  int port_ = 0;
  // io thread only:
  std::set<std::shared_ptr<Session>> sessions_;
  std::map<std::string, ProductFeed> feeds_;
  simdjson::dom::parser parser_;
  uint64_t next_session_ = 0;

  std::atomic<int64_t> connections_{0}, subscribes_{0}, messages_{0}, matches_{0}, heartbeats_{0}, errors_{0},
      dropped_{0}, duplicated_{0}, reordered_{0}, disconnects_{0}, stalls_{0}, slow_consumer_closes_{0};
};

Result<std::unique_ptr<SimulatorWs>> SimulatorWs::Start(const Simulator* sim, SimulatorWsOptions options) {
  if (sim == nullptr) return InvalidArgument("SimulatorWs needs a running Simulator");
  const WsFaultOptions& f = options.faults;
  for (const auto& [name, share] : {std::pair<const char*, double>{"drop", f.drop},
                                    {"duplicate", f.duplicate},
                                    {"reorder", f.reorder}}) {
    if (!(share >= 0 && share <= 1)) {
      return InvalidArgument(fmt::format("WebSocket fault share {} must be in [0, 1], got {}", name, share));
    }
  }
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"disconnect_every_ms", f.disconnect_every_ms},
                                {"stall_every_ms", f.stall_every_ms},
                                {"stall_ms", f.stall_ms},
                                {"max_backlog_bytes", f.max_backlog_bytes},
                                {"poll_interval_ms", options.poll_interval_ms},
                                {"heartbeat_interval_ms", options.heartbeat_interval_ms}}) {
    if (v < 0) return InvalidArgument(fmt::format("WebSocket option {} must be >= 0, got {}", name, v));
  }
  auto impl = std::make_unique<Impl>(sim, std::move(options));
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<SimulatorWs>(new SimulatorWs(std::move(impl)));
}

SimulatorWs::SimulatorWs(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SimulatorWs::~SimulatorWs() { Stop(); }

int SimulatorWs::port() const { return impl_->port(); }

std::string SimulatorWs::url() const {
  const std::string& host = impl_->options().bind;
  const bool any = host == "0.0.0.0" || host.empty();
  return fmt::format("ws://{}:{}", any ? "127.0.0.1" : host, impl_->port());
}

SimulatorWs::Counters SimulatorWs::counters() const { return impl_->counters(); }

void SimulatorWs::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace tradelake
