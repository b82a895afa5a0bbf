#include "exchange/simulator.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <httplib.h>

#include "exchange/market.h"
#include "exchange/rate_limiter.h"

namespace tradelake {
namespace {

constexpr int64_t kDefaultTradeLimit = 1000;  // Coinbase's default and maximum
constexpr int64_t kMaxTradeLimit = 1000;
constexpr int64_t kMaxCandles = 300;
constexpr char kJson[] = "application/json";

// splitmix64 as a whole generator: small, fast, plenty for fault draws.
class FaultRng {
 public:
  explicit FaultRng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
  // Uniform in [0, n). REQUIRES: n > 0.
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

// Which faults hit one request. Every request draws every flag, in a fixed
// order, so the fault pattern depends only on the seed and request order.
struct FaultDraw {
  bool drop = false;
  bool error_5xx = false;
  bool error_429 = false;
  bool truncate = false;
  bool overlap = false;
  bool duplicate = false;
  uint64_t detail_seed = 0;  // where to cut, how far to shift, which to repeat
};

bool ParseNonNegative(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && *out >= 0 && text[0] != '-' && text[0] != '+';
}

void SetJson(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), kJson);
}

void SetError(httplib::Response& res, int status, std::string_view message) {
  SetJson(res, status, fmt::format("{{\"message\":\"{}\"}}", message));
}

void SetNotFound(httplib::Response& res) { SetError(res, 404, "NotFound"); }

uint16_t PortOf(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
  return 0;
}

std::string HostOf(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text,
              sizeof text);
  }
  return text;
}

// Resets the connection a request arrived on, so the client gets no answer at
// all. httplib 0.11 hands handlers no socket, so find it among the process's
// descriptors by its address pair (unique while the connection is open).
// Returns false if it cannot be found.
bool AbortConnection(const httplib::Request& req, int server_port) {
  const int local_port = req.local_port > 0 ? req.local_port : server_port;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    if (PortOf(local) != local_port) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    if (PortOf(peer) != req.remote_port || HostOf(peer) != req.remote_addr) continue;
    // Zero linger turns httplib's later close() into a reset.
    const linger abort_on_close{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    shutdown(fd, SHUT_RDWR);
    return true;
  }
  return false;
}

}  // namespace

class Simulator::Impl {
 public:
  Impl(SimulatorOptions options, TimestampMicros start)
      : options_(std::move(options)),
        start_(start),
        steady_start_(std::chrono::steady_clock::now()),
        limiter_(options_.rate, options_.burst),
        fault_rng_(options_.seed ^ 0xFA17'5EED'0000'0000ULL) {}

  ~Impl() { Stop(); }

  Status Init() {
    for (const std::string& id : options_.products) {
      ASSIGN_OR_RETURN(ProductProfile profile, ProfileFor(id));
      if (products_.count(id) != 0) {
        return InvalidArgument(fmt::format("product {} is listed twice; list each once", id));
      }
      auto p = std::make_unique<Product>();
      p->market = std::make_unique<Market>(std::move(profile), options_.seed,
                                           start_ - options_.history_micros,
                                           options_.trades_per_second);
      p->market->AdvanceTo(start_);
      const auto status = options_.product_status.find(id);
      p->json = ProductJson(p->market->profile(),
                            status == options_.product_status.end() ? "online" : status->second);
      order_.push_back(p.get());
      products_.emplace(id, std::move(p));
    }
    std::sort(options_.faults.holes.begin(), options_.faults.holes.end());
    heal_asks_ = std::make_unique<std::atomic<int64_t>[]>(options_.faults.healing_holes.size());

    server_.new_task_queue = [n = options_.threads] {
      return new httplib::ThreadPool(static_cast<size_t>(n));  // httplib takes ownership
    };
    server_.set_keep_alive_timeout(2);
    // httplib writes a response's headers and body in two sends: without
    // TCP_NODELAY the body waits for the client's delayed ACK of the headers
    // (~40 ms on Linux), which made every page cost 40 ms on loopback.
    server_.set_tcp_nodelay(true);
    // httplib's default is SO_REUSEPORT, which lets a second simulator bind the
    // same port and silently take half the connections. SO_REUSEADDR only
    // allows rebinding right after a restart.
    server_.set_socket_options([](socket_t sock) {
      const int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
      return httplib::Server::HandlerResponse::Handled;
    });
    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.bind);
    } else if (server_.bind_to_port(options_.bind, options_.port)) {
      port_ = options_.port;
    }
    if (port_ <= 0) {
      return Unavailable(fmt::format(
          "simulator cannot listen on {}:{} (address in use or not local?); pick another "
          "--port or --bind, or --port 0 for any free port",
          options_.bind, options_.port));
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the server runs; wait so Stop() cannot be lost.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Internal("simulator's HTTP server did not start within 10 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Status::OK();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  const SimulatorOptions& options() const { return options_; }

  TimestampMicros Now() const {
    if (!options_.live) return start_;
    const auto elapsed = std::chrono::steady_clock::now() - steady_start_;
    return start_ + std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  }

  // A draw in (0, 1] that depends only on the seed, the product and the
  // minute, so every fetch of a minute answers alike.
  CandleFault CandleFaultAt(std::string_view product, TimestampMicros minute) const {
    const FaultOptions& f = options_.faults;
    if (f.candle_perturb <= 0 && f.candle_drop <= 0) return CandleFault::kNone;
    FaultRng rng(options_.seed ^ std::hash<std::string_view>()(product) ^
                 (static_cast<uint64_t>(minute / kMicrosPerMinute) * 0x2545F4914F6CDD1DULL));
    const double u = rng.Uniform();
    if (u <= f.candle_drop) return CandleFault::kDropped;
    if (u <= f.candle_drop + f.candle_perturb) return CandleFault::kPerturbed;
    return CandleFault::kNone;
  }

  bool IsHole(int64_t id) const {
    for (const auto& [lo, hi] : options_.faults.holes) {
      if (lo > id) break;  // sorted by lo
      if (id <= hi) return true;
    }
    const auto& healing = options_.faults.healing_holes;
    for (size_t i = 0; i < healing.size(); ++i) {
      if (id >= healing[i].first_id && id <= healing[i].last_id && !Healed(i)) return true;
    }
    return false;
  }

  bool Healed(size_t i) const {
    const FaultOptions::HealingHole& h = options_.faults.healing_holes[i];
    if (h.heal_after_asks >= 0 && heal_asks_[i].load() >= h.heal_after_asks) return true;
    if (h.heal_after_ms >= 0) {
      const auto elapsed = std::chrono::steady_clock::now() - steady_start_;
      if (elapsed >= std::chrono::milliseconds(h.heal_after_ms)) return true;
    }
    return false;
  }

  // A /trades window [lo, hi] is answered: count it as an ask of every
  // healing hole it holds ids of that has not healed (decided before the
  // answer is built, so the ask that heals a hole is the next one).
  void CountAsks(int64_t lo, int64_t hi) {
    const auto& healing = options_.faults.healing_holes;
    for (size_t i = 0; i < healing.size(); ++i) {
      if (healing[i].first_id <= hi && lo <= healing[i].last_id && !Healed(i)) ++heal_asks_[i];
    }
  }

  struct Product {
    mutable std::shared_mutex mu;
    std::unique_ptr<Market> market;  // GUARDED_BY(mu)
    std::string json;                // GET /products/{id}; immutable after Init
  };

  Product* Find(std::string_view id) const {
    const auto it = products_.find(id);
    return it == products_.end() ? nullptr : it->second.get();
  }

  // Brings a product's tape up to the simulator's clock.
  void Refresh(Product& p) const {
    const TimestampMicros now = Now();
    {
      std::shared_lock<std::shared_mutex> lock(p.mu);
      if (p.market->next_time() > now) return;
    }
    std::unique_lock<std::shared_mutex> lock(p.mu);
    p.market->AdvanceTo(now);
  }

  Counters counters() const {
    return {requests_.load(), ok_.load(), rate_limited_.load(), faults_.load()};
  }

 private:
  FaultDraw DrawFaults() {
    const FaultOptions& f = options_.faults;
    std::lock_guard<std::mutex> lock(fault_mu_);
    FaultDraw d;
    d.drop = fault_rng_.Uniform() <= f.drop;
    d.error_5xx = fault_rng_.Uniform() <= f.error_5xx;
    d.error_429 = fault_rng_.Uniform() <= f.error_429;
    d.truncate = fault_rng_.Uniform() <= f.truncate;
    d.overlap = fault_rng_.Uniform() <= f.overlap;
    d.duplicate = fault_rng_.Uniform() <= f.duplicate;
    d.detail_seed = fault_rng_.Next();
    return d;
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    const FaultDraw fault = DrawFaults();
    FaultRng detail(fault.detail_seed);
    if (options_.faults.latency_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.faults.latency_ms));
    }
    if (options_.rate_limit && !limiter_.TryAcquire()) {
      ++rate_limited_;
      SetError(res, 429, "Public rate limit exceeded");
      return;
    }
    if (fault.drop) {
      ++faults_;
      if (!AbortConnection(req, port_)) {
        // Fallback: promise a body and never send it; the client still sees
        // the connection close mid-answer.
        res.status = 200;
        res.set_content_provider(
            1024, kJson, [](size_t, size_t, httplib::DataSink&) { return false; });
      }
      return;
    }
    if (fault.error_5xx) {
      ++faults_;
      static constexpr int kStatuses[] = {500, 502, 503};
      SetError(res, kStatuses[detail.Below(3)], "Internal server error");
      return;
    }
    if (fault.error_429) {
      ++faults_;
      SetError(res, 429, "Public rate limit exceeded");
      return;
    }

    Route(req, res, fault, detail);

    if (res.status == 200 && fault.truncate && res.body.size() >= 2) {
      ++faults_;
      // httplib derives Content-Length from the body, so the short body is
      // self-consistent: only its JSON is broken.
      res.body.resize(1 + static_cast<size_t>(detail.Below(static_cast<int64_t>(res.body.size()) - 1)));
    }
    if (res.status == 200) ++ok_;
  }

  void Route(const httplib::Request& req, httplib::Response& res, const FaultDraw& fault,
             FaultRng& detail) {
    if (req.method != "GET" && req.method != "HEAD") return SetNotFound(res);
    std::string_view path = req.path;
    if (path == "/time") return ServeTime(res);
    if (path == "/products" || path == "/products/") return ServeProducts(res);
    constexpr std::string_view kPrefix = "/products/";
    if (path.substr(0, kPrefix.size()) != kPrefix) return SetNotFound(res);
    path.remove_prefix(kPrefix.size());
    const size_t slash = path.find('/');
    Product* product = Find(path.substr(0, slash));
    if (product == nullptr) return SetNotFound(res);
    if (slash == std::string_view::npos) {
      res.status = 200;
      res.set_content(product->json, kJson);
      return;
    }
    const std::string_view rest = path.substr(slash);
    if (rest == "/trades") return ServeTrades(req, res, *product, fault, detail);
    if (rest == "/candles") return ServeCandles(req, res, *product);
    SetNotFound(res);
  }

  void ServeTime(httplib::Response& res) const {
    const TimestampMicros now = Now();
    std::string epoch;
    AppendScaledDecimal(now / 1000, 3, &epoch);
    SetJson(res, 200,
            fmt::format("{{\"iso\":\"{}\",\"epoch\":{}}}", FormatRfc3339Trimmed(now), epoch));
  }

  void ServeProducts(httplib::Response& res) const {
    std::string body = "[";
    for (const Product* p : order_) {
      if (body.size() > 1) body += ',';
      body += p->json;
    }
    body += ']';
    SetJson(res, 200, std::move(body));
  }

  static std::string ProductJson(const ProductProfile& p, std::string_view status) {
    std::string quote_increment, base_increment;
    AppendScaledDecimal(1, p.price_decimals, &quote_increment);
    AppendScaledDecimal(1, p.size_decimals, &base_increment);
    return fmt::format(
        "{{\"id\":\"{}\",\"base_currency\":\"{}\",\"quote_currency\":\"{}\","
        "\"quote_increment\":\"{}\",\"base_increment\":\"{}\",\"display_name\":\"{}\","
        "\"min_market_funds\":\"{}\",\"margin_enabled\":false,\"post_only\":false,"
        "\"limit_only\":false,\"cancel_only\":false,\"status\":\"{}\","
        "\"status_message\":\"\",\"trading_disabled\":{},\"fx_stablecoin\":false,"
        "\"max_slippage_percentage\":\"0.02000000\",\"auction_mode\":false,"
        "\"high_bid_limit_percentage\":\"\"}}",
        p.id, p.base_currency, p.quote_currency, quote_increment, base_increment, p.id,
        p.min_market_funds, status, status == "online" ? "false" : "true");
  }

  void ServeTrades(const httplib::Request& req, httplib::Response& res, Product& product,
                   const FaultDraw& fault, FaultRng& detail) {
    int64_t limit = kDefaultTradeLimit;
    if (req.has_param("limit")) {
      if (!ParseNonNegative(req.get_param_value("limit"), &limit) || limit < 1 ||
          limit > kMaxTradeLimit) {
        return SetError(res, 400, "Invalid limit");
      }
    }
    std::optional<int64_t> after, before;
    for (const char* name : {"after", "before"}) {
      if (!req.has_param(name)) continue;
      int64_t v = 0;
      if (!ParseNonNegative(req.get_param_value(name), &v)) {
        return SetError(res, 400, fmt::format("Invalid {}", name));
      }
      (name[0] == 'a' ? after : before) = v;
    }
    if (after && before) return SetError(res, 400, "Use either after or before, not both");
    if (options_.faults.short_page_max > 0) limit = std::min(limit, options_.faults.short_page_max);

    Refresh(product);
    std::shared_lock<std::shared_mutex> lock(product.mu);
    const Market& m = *product.market;
    const int64_t first = m.first_trade_id();
    const int64_t last = m.last_trade_id();
    int64_t lo = 0, hi = -1;  // the window of ids, inclusive
    if (after) {
      hi = std::min(*after - 1, last);
      lo = std::max(first, hi - limit + 1);
    } else if (before) {
      lo = *before == std::numeric_limits<int64_t>::max() ? *before : std::max(*before + 1, first);
      hi = std::min(lo + limit - 1, last);
    } else {
      hi = last;
      lo = std::max(first, last - limit + 1);
    }
    if (fault.overlap && lo <= hi) {
      // Shift the window by up to half a page toward the page the client
      // fetched just before this one, so the two pages overlap.
      const int64_t want = 1 + detail.Below(std::max<int64_t>(1, (hi - lo + 1) / 2));
      const int64_t shift = before ? -std::min(want, lo - first) : std::min(want, last - hi);
      if (shift != 0) {
        ++faults_;
        lo += shift;
        hi += shift;
      }
    }

    std::vector<int64_t> ids;
    ids.reserve(static_cast<size_t>(std::max<int64_t>(0, hi - lo + 1)));
    for (int64_t id = hi; id >= lo; --id) {
      if (!IsHole(id)) ids.push_back(id);
    }
    if (lo <= hi) CountAsks(lo, hi);
    if (fault.duplicate && !ids.empty()) {
      ++faults_;
      const int64_t n = static_cast<int64_t>(ids.size());
      const int64_t copies = 1 + detail.Below(std::max<int64_t>(1, n / 10));
      for (int64_t i = 0; i < copies; ++i) {
        const auto at = static_cast<size_t>(detail.Below(static_cast<int64_t>(ids.size())));
        ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(at), ids[at]);
      }
    }

    std::string body;
    m.AppendTradesJson(ids, &body);
    lock.unlock();

    if (!ids.empty()) {
      const auto [min_it, max_it] = std::minmax_element(ids.begin(), ids.end());
      res.set_header("CB-AFTER", std::to_string(*min_it));
      res.set_header("CB-BEFORE", std::to_string(*max_it));
    }
    SetJson(res, 200, std::move(body));
  }

  // start/end as Unix seconds or RFC 3339.
  static bool ParseTime(const std::string& text, TimestampMicros* out) {
    int64_t seconds = 0;
    if (ParseNonNegative(text, &seconds)) {
      if (seconds > std::numeric_limits<int64_t>::max() / kMicrosPerSecond) return false;
      *out = seconds * kMicrosPerSecond;
      return true;
    }
    Result<TimestampMicros> t = ParseRfc3339(text);
    if (!t.ok()) return false;
    *out = *t;
    return true;
  }

  void ServeCandles(const httplib::Request& req, httplib::Response& res, Product& product) {
    int64_t granularity = 60;
    if (req.has_param("granularity")) {
      if (!ParseNonNegative(req.get_param_value("granularity"), &granularity)) granularity = 0;
      static constexpr int64_t kAllowed[] = {60, 300, 900, 3600, 21600, 86400};
      if (std::find(std::begin(kAllowed), std::end(kAllowed), granularity) == std::end(kAllowed)) {
        return SetError(res, 400, "Unsupported granularity");
      }
    }
    const int64_t g = granularity * kMicrosPerSecond;
    const auto floor_to = [g](TimestampMicros t) { return t - ((t % g) + g) % g; };
    const bool has_start = req.has_param("start"), has_end = req.has_param("end");
    if (has_start != has_end) return SetError(res, 400, "Both start and end are required");
    TimestampMicros start = 0, end = 0;
    if (has_start) {
      if (!ParseTime(req.get_param_value("start"), &start)) return SetError(res, 400, "Invalid start");
      if (!ParseTime(req.get_param_value("end"), &end)) return SetError(res, 400, "Invalid end");
      if (end < start) return SetError(res, 400, "start must be before end");
    } else {
      end = Now();
      start = floor_to(end) - (kMaxCandles - 1) * g;
    }
    const TimestampMicros first_bucket = floor_to(start);
    const TimestampMicros last_bucket = floor_to(end);
    if ((last_bucket - first_bucket) / g + 1 > kMaxCandles) {
      return SetError(res, 400,
                      "granularity too small for the requested time range. Count of "
                      "aggregations requested exceeds 300");
    }

    struct Candle {
      TimestampMicros bucket;
      int64_t low, high, open, close;
      __int128 volume;
    };
    std::vector<Candle> candles;
    Refresh(product);
    std::shared_lock<std::shared_mutex> lock(product.mu);
    const Market& m = *product.market;
    const int64_t end_id = m.FirstIdAtOrAfter(last_bucket + g);
    const TimestampMicros final_before = Now() - options_.faults.candle_lag_ms * 1000;
    for (int64_t id = m.FirstIdAtOrAfter(first_bucket); id < end_id; ++id) {
      const MarketTrade& t = m.trade(id);
      if (t.time >= final_before) break;
      const TimestampMicros bucket = floor_to(t.time);
      if (candles.empty() || candles.back().bucket != bucket) {
        candles.push_back({bucket, t.price_ticks, t.price_ticks, t.price_ticks, t.price_ticks, 0});
      }
      Candle& c = candles.back();
      c.low = std::min(c.low, t.price_ticks);
      c.high = std::max(c.high, t.price_ticks);
      c.close = t.price_ticks;
      c.volume += t.size_units;
    }
    const ProductProfile& p = m.profile();
    const std::string product_id = p.id;
    lock.unlock();

    std::string body = "[";
    for (auto it = candles.rbegin(); it != candles.rend(); ++it) {
      if (g == kMicrosPerMinute) {
        // One increment more on one value, chosen by the minute.
        const CandleFault fault = CandleFaultAt(product_id, it->bucket);
        if (fault == CandleFault::kDropped) continue;
        if (fault == CandleFault::kPerturbed) {
          switch ((it->bucket / kMicrosPerMinute) % 5) {
            case 0: ++it->low; break;
            case 1: ++it->high; break;
            case 2: ++it->open; break;
            case 3: ++it->close; break;
            default: ++it->volume; break;
          }
        }
      }
      if (body.size() > 1) body += ',';
      fmt::format_to(std::back_inserter(body), "[{},", it->bucket / kMicrosPerSecond);
      for (int64_t price : {it->low, it->high, it->open, it->close}) {
        AppendScaledDecimal(price, p.price_decimals, &body);
        body += ',';
      }
      AppendScaledDecimal(it->volume, p.size_decimals, &body);
      body += ']';
    }
    body += ']';
    SetJson(res, 200, std::move(body));
  }

  SimulatorOptions options_;
  const TimestampMicros start_;
  const std::chrono::steady_clock::time_point steady_start_;
  // Keyed by product id; built in Init(), read-only afterwards.
  std::map<std::string, std::unique_ptr<Product>, std::less<>> products_;
  std::vector<const Product*> order_;  // as listed in the options

  RateLimiter limiter_;
  std::mutex fault_mu_;
  FaultRng fault_rng_;  // GUARDED_BY(fault_mu_)

  std::atomic<int64_t> requests_{0}, ok_{0}, rate_limited_{0}, faults_{0};
  // Asks per healing hole (FaultOptions::healing_holes, same order).
  std::unique_ptr<std::atomic<int64_t>[]> heal_asks_;

  httplib::Server server_;
  int port_ = -1;
  std::mutex stop_mu_;
  std::thread thread_;  // runs server_.listen_after_bind()
};

Result<std::unique_ptr<Simulator>> Simulator::Start(SimulatorOptions options) {
  if (options.products.empty()) return InvalidArgument("simulator needs at least one product");
  if (!(options.trades_per_second > 0)) {
    return InvalidArgument(fmt::format("trades per second must be > 0 (got {})",
                                       options.trades_per_second));
  }
  if (options.history_micros < 0) return InvalidArgument("simulator history must be >= 0");
  if (options.rate_limit && !(options.rate > 0)) {
    return InvalidArgument(fmt::format(
        "rate limit of {} requests/s cannot serve anything; give a rate > 0 or disable the "
        "limit", options.rate));
  }
  if (options.threads < 1) return InvalidArgument("simulator needs at least 1 HTTP thread");
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument(fmt::format("port {} is not in 0..65535", options.port));
  }
  for (const auto& [id, status] : options.product_status) {
    if (std::find(options.products.begin(), options.products.end(), id) == options.products.end()) {
      return InvalidArgument(fmt::format("product status given for {}, which is not among the products", id));
    }
    if (status.empty() || status.find_first_of("\"\\") != std::string::npos) {
      return InvalidArgument(fmt::format("product status \"{}\" of {} is not a plain word", status, id));
    }
  }
  const FaultOptions& f = options.faults;
  if (f.candle_lag_ms < 0) return InvalidArgument("candle lag must not be negative");
  if (f.candle_perturb + f.candle_drop > 1) {
    return InvalidArgument(fmt::format("candle fault shares {} + {} exceed 1", f.candle_perturb, f.candle_drop));
  }
  for (double share : {f.error_5xx, f.error_429, f.truncate, f.drop, f.overlap, f.duplicate, f.candle_perturb,
                       f.candle_drop}) {
    if (!(share >= 0 && share <= 1)) {
      return InvalidArgument(fmt::format("fault share {} is not in [0, 1]", share));
    }
  }
  if (f.latency_ms < 0) return InvalidArgument("fault latency must be >= 0 ms");
  if (f.short_page_max < 0) {
    return InvalidArgument(fmt::format("short page cap {} is negative; give 0 (off) or N >= 1 trades", f.short_page_max));
  }
  for (const auto& [lo, hi] : f.holes) {
    if (lo > hi) return InvalidArgument(fmt::format("hole {}-{} is empty; give low-high", lo, hi));
  }
  for (const auto& h : f.healing_holes) {
    if (h.first_id > h.last_id) {
      return InvalidArgument(fmt::format("healing hole {}-{} is empty; give low-high", h.first_id, h.last_id));
    }
  }

  const TimestampMicros start = options.now.value_or(NowMicros());
  auto impl = std::make_unique<Impl>(std::move(options), start);
  RETURN_IF_ERROR(impl->Init());
  // The constructor is private, so make_unique cannot reach it.
  return std::unique_ptr<Simulator>(new Simulator(std::move(impl)));
}

Simulator::Simulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Simulator::~Simulator() { Stop(); }

int Simulator::port() const { return impl_->port(); }

std::string Simulator::url() const {
  const std::string& host = impl_->options().bind;
  const bool any = host == "0.0.0.0" || host.empty();
  return fmt::format("http://{}:{}", any ? "127.0.0.1" : host, impl_->port());
}

int64_t Simulator::FirstTradeId(const std::string& product) const {
  Impl::Product* p = impl_->Find(product);
  if (p == nullptr) return 0;
  std::shared_lock<std::shared_mutex> lock(p->mu);
  return p->market->first_trade_id();
}

int64_t Simulator::LastTradeId(const std::string& product) const {
  Impl::Product* p = impl_->Find(product);
  if (p == nullptr) return 0;
  impl_->Refresh(*p);
  std::shared_lock<std::shared_mutex> lock(p->mu);
  return p->market->last_trade_id();
}

bool Simulator::IsHole(int64_t trade_id) const { return impl_->IsHole(trade_id); }

CandleFault Simulator::CandleFaultAt(const std::string& product, TimestampMicros minute) const {
  return impl_->CandleFaultAt(product, minute);
}

std::string Simulator::TradeJson(const std::string& product, int64_t trade_id) const {
  Impl::Product* p = impl_->Find(product);
  if (p == nullptr) return "";
  impl_->Refresh(*p);
  std::shared_lock<std::shared_mutex> lock(p->mu);
  const Market& m = *p->market;
  if (trade_id < m.first_trade_id() || trade_id > m.last_trade_id()) return "";
  return m.TradeJson(trade_id);
}

Simulator::Counters Simulator::counters() const { return impl_->counters(); }

void Simulator::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace tradelake
