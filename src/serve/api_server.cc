#include "serve/api_server.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <compare>
#include <cstring>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/text.h"
#include "table/catalog.h"
#include "etl/dec18.h"
#include "serve/api_params.h"
#include "query/statement_limits.h"
#include "serve/dashboard_assets.h"
#include "serve/request_guard.h"
#include "sql/lake_quality.h"
#include "sql/lake_sql.h"
#include "sql/render.h"

namespace tradelake {
namespace {

// Memory bound of the /api/v1/bars answer cache (the entry bound is
// ApiServerOptions::bars_cache_entries): a one-day 1m answer is ~0.4 MB,
// 31 days of 1m ~13 MB.
constexpr size_t kBarsCacheBytes = 64 << 20;

constexpr std::string_view kNoPipeline = "this server runs no pipeline; start one with `tradelake run`";

// The dashboard page may run only its own files: no inline script or style,
// no other origin, not framed.
constexpr std::string_view kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Paths that get their own label in tradelake_http_requests_total; anything
// else is "other", so a scanner cannot grow the label set without bound.
const std::set<std::string, std::less<>>& KnownPaths() {
  static const std::set<std::string, std::less<>> paths = {
      "/healthz",       "/metrics",         "/api/v1/products",       "/api/v1/bars",
      "/api/v1/trades", "/api/v1/status",   "/api/v1/sql",            "/api/v1/schedule",
      "/api/v1/schedule/pause", "/api/v1/schedule/resume"};
  return paths;
}

bool IsDashboardPath(std::string_view path) {
  return path == "/" || path == "/index.html" || path.starts_with("/assets/");
}

// The label of `path` in tradelake_http_requests_total.
std::string PathLabel(std::string_view path) {
  if (IsDashboardPath(path)) return "dashboard";
  const auto it = KnownPaths().find(path);
  return it == KnownPaths().end() ? "other" : *it;
}

constexpr std::string_view kOutcomes[] = {"ok", "refused", "error", "over_limit", "busy", "failed"};

// Open file descriptors of this process (-1 if unknown).
int64_t OpenFdCount() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int64_t n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory itself
}

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(&out, message);
  out += "}";
  return out;
}

// Sets the answer to `body` through a content provider rather than
// Response::set_content, because httplib sends a provider's bytes as they
// are: it compresses set_content bodies anew for every request, with brotli
// at its slowest quality when the client offers "br" (browsers and
// httplib::Client do): ~0.5 s of CPU for a one-day 1m bars answer. And the
// body is not copied again.
void SetBody(httplib::Response& res, int status, std::shared_ptr<const std::string> body,
             std::string_view content_type) {
  res.status = status;
  if (body->empty()) {  // httplib takes a provider of length 0 for one without a length
    res.set_content("", std::string(content_type));
    return;
  }
  const size_t size = body->size();
  res.set_content_provider(size, std::string(content_type),
                           [body = std::move(body)](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(body->data() + offset, std::min(length, body->size() - offset));
                           });
}

void SetJson(httplib::Response& res, int status, std::string body) {
  SetBody(res, status, std::make_shared<const std::string>(std::move(body)), "application/json");
}

void SetError(httplib::Response& res, int status, std::string_view message) {
  SetJson(res, status, ErrorJson(message));
}

// The HTTP status that tells a client what a lake Status means.
int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
    case StatusCode::kCancelled:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

void SetStatusError(httplib::Response& res, const Status& s) { SetError(res, HttpStatusOf(s), s.message()); }

bool IsLoopback(std::string_view addr) {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// A DuckDB TIMESTAMP literal's text for t: "2024-05-01 12:00:00.000000".
std::string TimestampLiteral(TimestampMicros t) {
  std::string s = FormatRfc3339Micros(t);
  if (!s.empty() && s.back() == 'Z') s.pop_back();
  const size_t tpos = s.find('T');
  if (tpos != std::string::npos) s[tpos] = ' ';
  return fmt::format("TIMESTAMP '{}'", s);
}

// DuckDB's text of a DECIMAL(38,18) in canonical form ("65000.01").
std::string CanonDecimal(const std::optional<std::string>& text) {
  if (!text) return "";
  auto v = Dec18FromString(*text);
  return v.ok() ? Dec18ToString(*v) : *text;
}

void AppendDecimal(std::string* out, const QueryResult& r, uint64_t row, uint64_t col) {
  const auto v = r.GetString(row, col);
  if (!v) {
    *out += "null";
    return;
  }
  AppendJsonString(out, CanonDecimal(v));
}

// An epoch_us(...) column as RFC 3339, or null.
void AppendTime(std::string* out, const QueryResult& r, uint64_t row, uint64_t col) {
  const auto v = r.GetString(row, col);
  const auto us = v ? ParseInt(*v) : std::nullopt;
  if (!us) {
    *out += "null";
    return;
  }
  AppendJsonString(out, FormatRfc3339Trimmed(*us));
}

void AppendInt(std::string* out, const QueryResult& r, uint64_t row, uint64_t col) {
  *out += r.GetStringOr(row, col, "null");
}

std::string JsonNumber(double d) { return fmt::format("{}", d); }

// The query parameters of `req`, the first value of each name.
QueryParams ParamsOf(const httplib::Request& req) {
  QueryParams params;
  for (const auto& [name, value] : req.params) params.emplace(name, value);
  return params;
}

// Rendered "bars" arrays of /api/v1/bars answers, keyed by the catalog
// commit they were read from and the aligned request (api_params.h
// AlignRangeUp: requests that differ only inside one interval share an
// entry). Only the newest commit's entries are kept; least recently used
// entries go first beyond max_entries or max_bytes. Thread-safe: mu_ is held
// only for the map and list operations, never while a statement runs, and
// the arrays are shared immutable strings, so a hit copies a pointer.
class BarsCache {
 public:
  struct Key {
    int64_t commit = 0;
    std::string product;
    std::string_view interval;  // BarInterval::name, static storage
    TimestampMicros from = 0;
    TimestampMicros to = 0;
    auto operator<=>(const Key&) const = default;
  };
  using Value = std::shared_ptr<const std::string>;

  BarsCache(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The cached array, or nullptr. A key of a newer commit than the entries
  // drops them all: they can never be asked for again.
  Value Find(const Key& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (key.commit != commit_) {
      if (key.commit > commit_) ResetTo(key.commit);
      return nullptr;
    }
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  // Keeps `bars` for `key` unless an entry of a newer commit exists already
  // (a slow miss finishing late), the key is cached already (two concurrent
  // misses of one key) or it alone is over max_bytes.
  void Insert(Key key, Value bars) {
    const size_t bytes = Cost(key, *bars);
    std::lock_guard<std::mutex> lock(mu_);
    if (key.commit < commit_ || bytes > max_bytes_) return;
    if (key.commit > commit_) ResetTo(key.commit);
    if (index_.contains(key)) return;
    lru_.emplace_front(std::move(key), std::move(bars));
    index_.emplace(lru_.front().first, lru_.begin());
    bytes_ += bytes;
    while (lru_.size() > max_entries_ || bytes_ > max_bytes_) {
      bytes_ -= Cost(lru_.back().first, *lru_.back().second);
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

 private:
  using Lru = std::list<std::pair<Key, Value>>;  // most recently used first

  // Memory an entry holds, roughly: the array, the key and the nodes.
  static size_t Cost(const Key& key, const std::string& bars) { return bars.size() + 2 * key.product.size() + 256; }

  void ResetTo(int64_t commit) {  // REQUIRES: mu_ held
    index_.clear();
    lru_.clear();
    bytes_ = 0;
    commit_ = commit;
  }

  const size_t max_entries_;
  const size_t max_bytes_;
  std::mutex mu_;
  int64_t commit_ = -1;                  // GUARDED_BY(mu_)
  Lru lru_;                              // GUARDED_BY(mu_)
  std::map<Key, Lru::iterator> index_;   // GUARDED_BY(mu_); keys point into lru_
  size_t bytes_ = 0;                     // GUARDED_BY(mu_)
};

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool RoleMayUse(std::string_view role, std::string_view path) {
  for (const auto& e : kEndpointRoles) {
    if (e.path != path) continue;
    std::string_view roles = e.roles;
    while (!roles.empty()) {
      const size_t comma = roles.find(',');
      if (roles.substr(0, comma) == role) return true;
      if (comma == std::string_view::npos) break;
      roles.remove_prefix(comma + 1);
    }
    return false;
  }
  return false;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

Result<TokenHash> ParseTokenHash(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument(fmt::format("token hash {} is not ROLE:SHA256HEX (e.g. analyst:$(echo -n TOKEN | "
                                       "tradelake serve --hash-token))",
                                       QuoteForMessage(text.substr(0, 12))));
  }
  TokenHash t;
  t.role = std::string(text.substr(0, colon));
  if (std::find(std::begin(kServeRoles), std::end(kServeRoles), t.role) == std::end(kServeRoles)) {
    return InvalidArgument(fmt::format("token role {} is not one of analyst, etl, ingest, deployer, admin",
                                       QuoteForMessage(t.role)));
  }
  std::string_view hex = text.substr(colon + 1);
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "token hash of role {} must be 64 hex digits (SHA-256, from `tradelake serve --hash-token`), got {} characters",
        t.role, hex.size()));
  }
  t.sha256_hex.reserve(64);
  for (char c : hex) t.sha256_hex += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return t;
}

class ApiServer::Impl {
 public:
  Impl(ObjectStore* store, ApiServerOptions options) : store_(store), options_(std::move(options)) {}
  ~Impl() { Stop(); }

  Status Init() {
    SqlOptions so;
    so.max_scan_bytes = options_.max_scan_bytes;
    so.cache_dir = options_.cache_dir;
    so.threads = options_.sql_threads;
    if (options_.sql_memory_bytes > 0) so.memory_limit = fmt::format("{}MiB", std::max<int64_t>(options_.sql_memory_bytes >> 20, 1));
    ASSIGN_OR_RETURN(sql_, LakeSql::Open(store_, so));
    ASSIGN_OR_RETURN(guard_, MakeRequestGuard(options_.bind, options_.public_url, options_.tokens.empty()));
    StatementLimits limits;
    limits.max_micros = options_.sql_timeout_micros;
    limits.max_growth_bytes = options_.sql_memory_bytes;
    watchdog_ = std::make_unique<StatementWatchdog>(limits, [this] { sql_->Interrupt(); });
    commit_seq_.store(sql_->commit_seq());
    last_check_micros_.store(SteadyMicros());

    // httplib gives each connection to one pool thread until the client
    // closes it, stays idle for the keep-alive timeout or has sent the
    // keep-alive maximum of requests; so `threads` is the number of
    // keep-alive clients served at once (see ApiServerOptions::threads).
    const int threads = std::max(1, options_.threads);
    server_.new_task_queue = [threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));  // httplib takes ownership
    };
    server_.set_keep_alive_timeout(2);
    server_.set_keep_alive_max_count(100);
    // httplib writes the headers and the body separately: with Nagle's
    // algorithm the body's last segment then waits for the client's delayed
    // ACK, 40 ms on Linux.
    server_.set_tcp_nodelay(true);
    server_.set_payload_max_length(options_.max_body_bytes);
    // SO_REUSEADDR only, not httplib's default SO_REUSEPORT (see simulator.cc).
    server_.set_socket_options([this](socket_t sock) {
      const int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_sock_ = sock;  // the last socket httplib tries is the one it keeps
    });
    // Before any handler: requests from other sites and rebound DNS names
    // never reach the lake or the pipeline (serve/request_guard.h).
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return Guard(req, res) ? httplib::Server::HandlerResponse::Unhandled
                             : httplib::Server::HandlerResponse::Handled;
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { CountRequest(req, res); });
    server_.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                          httplib::Response& res) {
      if (!res.body.empty() || res.has_header("Content-Type")) {
        return httplib::Server::HandlerResponse::Unhandled;  // ours, already JSON
      }
      std::string message;
      if (res.status == 404) {
        message = fmt::format("no endpoint {} {}; see /api/v1/products, /api/v1/bars, /api/v1/trades, "
                              "/api/v1/status, POST /api/v1/sql, /api/v1/schedule, /healthz, /metrics, "
                              "and the dashboard at /",
                              req.method, req.path);
      } else if (res.status == 413) {
        message = fmt::format("request body is over the limit of {} bytes", options_.max_body_bytes);
      } else {
        message = fmt::format("HTTP {}", res.status);
      }
      res.set_content(ErrorJson(message), "application/json");  // small: httplib's own way is fine
      return httplib::Server::HandlerResponse::Handled;
    }));

    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      SetBody(res, 200, std::make_shared<const std::string>(MetricsText()), "text/plain; version=0.0.4");
    });
    for (const char* path : {"/", "/index.html", R"(/assets/.+)"}) {
      server_.Get(path, [this](const httplib::Request& req, httplib::Response& res) { Dashboard(req, res); });
    }
    Route("GET", "/api/v1/products", &Impl::Products);
    Route("GET", "/api/v1/bars", &Impl::Bars);
    Route("GET", "/api/v1/trades", &Impl::Trades);
    Route("GET", "/api/v1/status", &Impl::StatusEndpoint);
    Route("POST", "/api/v1/sql", &Impl::Sql);
    Route("GET", "/api/v1/schedule", &Impl::Schedule);
    Route("POST", "/api/v1/schedule/pause", &Impl::Pause);
    Route("POST", "/api/v1/schedule/resume", &Impl::Resume);

    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.bind);
    } else if (server_.bind_to_port(options_.bind, options_.port)) {
      port_ = options_.port;
    }
    if (port_ <= 0) {
      return Unavailable(fmt::format(
          "cannot listen on {}:{} (address in use or not local?); pick another --port or --bind, or --port 0",
          options_.bind, options_.port));
    }
    // httplib 0.11 listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG,
    // compiled into Debian's shared library): dozens of clients connecting
    // at once overflow it, and the kernel drops connections that clients
    // retry only a second later. Listening again on the bound socket raises
    // the backlog (Linux keeps the socket and updates it).
    if (listen_sock_ != INVALID_SOCKET && ::listen(listen_sock_, SOMAXCONN) != 0) {
      spdlog::warn("serve: cannot raise the listen backlog: {}", std::strerror(errno));
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running()) {
      if (std::chrono::steady_clock::now() > deadline) return Internal("HTTP server did not start within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Status::OK();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (sql_) sql_->Interrupt();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return fmt::format("http://{}:{}", options_.bind, port_); }
  bool open_mode() const { return options_.tokens.empty(); }

  std::string MetricsText() {
    // Never wait behind a long statement: use the cached values if busy.
    std::unique_lock<std::mutex> lake(lake_mu_, std::try_to_lock);
    if (lake.owns_lock()) {
      MaybeRefresh();
      UpdateLastTrades();
      lake.unlock();
    }
    const TimestampMicros now = options_.clock();
    std::unique_lock<std::mutex> lock(metrics_mu_);
    std::string out;
    out +=
        "# HELP tradelake_http_requests_total HTTP requests answered, by endpoint (or \"other\") and status code.\n"
        "# TYPE tradelake_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out += fmt::format("tradelake_http_requests_total{{path=\"{}\",code=\"{}\"}} {}\n", key.first, key.second, n);
    }
    out +=
        "# HELP tradelake_sql_bytes_scanned_total Bytes of lake objects read by the statements the server ran.\n"
        "# TYPE tradelake_sql_bytes_scanned_total counter\n";
    out += fmt::format("tradelake_sql_bytes_scanned_total {}\n", bytes_scanned_);
    out +=
        "# HELP tradelake_sql_statements_total Statements run on the lake, by outcome.\n"
        "# TYPE tradelake_sql_statements_total counter\n";
    for (const auto& [outcome, n] : statements_) {
      out += fmt::format("tradelake_sql_statements_total{{outcome=\"{}\"}} {}\n", outcome, n);
    }
    out +=
        "# HELP tradelake_catalog_commit Sequence number of the catalog commit being served.\n"
        "# TYPE tradelake_catalog_commit gauge\n";
    out += fmt::format("tradelake_catalog_commit {}\n", commit_seq_.load());
    out +=
        "# HELP tradelake_freshness_seconds Seconds since the last trade in Silver, per product.\n"
        "# TYPE tradelake_freshness_seconds gauge\n";
    for (const auto& [product, t] : last_trade_metric_) {
      out += fmt::format("tradelake_freshness_seconds{{product=\"{}\"}} {}\n", product,
                         JsonNumber(static_cast<double>(now - t) / static_cast<double>(kMicrosPerSecond)));
    }
    out +=
        "# HELP tradelake_bars_cache_total /api/v1/bars answers found in (hit) or added to (miss) the answer "
        "cache.\n"
        "# TYPE tradelake_bars_cache_total counter\n";
    out += fmt::format("tradelake_bars_cache_total{{result=\"hit\"}} {}\n", bars_hits_.load());
    out += fmt::format("tradelake_bars_cache_total{{result=\"miss\"}} {}\n", bars_misses_.load());
    out +=
        "# HELP tradelake_http_refused_total Requests refused by the request guard (foreign Host, cross-site).\n"
        "# TYPE tradelake_http_refused_total counter\n";
    for (std::string_view reason : {"host", "cross_site"}) {
      const auto it = refused_.find(reason);
      out += fmt::format("tradelake_http_refused_total{{reason=\"{}\"}} {}\n", reason,
                         it == refused_.end() ? 0 : it->second);
    }
    lock.unlock();
    out +=
        "# HELP tradelake_sql_stopped_total Statements stopped by the time or memory limit.\n"
        "# TYPE tradelake_sql_stopped_total counter\n";
    out += fmt::format("tradelake_sql_stopped_total{{limit=\"time\"}} {}\n", watchdog_->timeouts());
    out += fmt::format("tradelake_sql_stopped_total{{limit=\"memory\"}} {}\n", watchdog_->memory_stops());
    out +=
        "# HELP tradelake_sql_requests_in_flight POST /api/v1/sql requests running or waiting for the lake.\n"
        "# TYPE tradelake_sql_requests_in_flight gauge\n";
    out += fmt::format("tradelake_sql_requests_in_flight {}\n", sql_in_flight_.load());
    out +=
        "# HELP tradelake_process_resident_bytes Resident set size of the process.\n"
        "# TYPE tradelake_process_resident_bytes gauge\n";
    out += fmt::format("tradelake_process_resident_bytes {}\n", ProcessRssBytes());
    out +=
        "# HELP tradelake_process_open_fds Open file descriptors of the process.\n"
        "# TYPE tradelake_process_open_fds gauge\n";
    out += fmt::format("tradelake_process_open_fds {}\n", OpenFdCount());
    if (options_.pipeline.present() && options_.pipeline.metrics_text) {
      std::string more = options_.pipeline.metrics_text();
      if (!more.empty() && more.back() != '\n') more += '\n';
      out += more;
    }
    return out;
  }

 private:
  // A handler, given the caller's role (kServeRoles).
  using Method = void (Impl::*)(const httplib::Request&, httplib::Response&, std::string_view role);

  void Route(std::string_view method, std::string_view path, Method handler) {
    auto h = [this, path, handler](const httplib::Request& req, httplib::Response& res) {
      const std::optional<std::string> role = Authorize(req, res, path);
      if (!role) return;
      (this->*handler)(req, res, *role);
    };
    const std::string p(path);
    if (method == "POST") {
      server_.Post(p, h);
    } else {
      server_.Get(p, h);
    }
  }

  // The caller's role ("admin" in open mode), or nullopt with the 401/403
  // answer set.
  std::optional<std::string> Authorize(const httplib::Request& req, httplib::Response& res,
                                       std::string_view path) const {
    if (options_.tokens.empty()) {
      if (IsLoopback(req.remote_addr)) return "admin";
      SetError(res, 403,
               "no tokens are configured, so this server answers only 127.0.0.1; start it with --token-hash "
               "ROLE:SHA256HEX to serve other clients");
      return std::nullopt;
    }
    const std::string header = req.get_header_value("Authorization");
    auto unauthorized = [&](std::string_view message, std::string_view challenge) -> std::optional<std::string> {
      res.set_header("WWW-Authenticate", std::string(challenge));
      SetError(res, 401, message);
      return std::nullopt;
    };
    if (header.empty()) {
      return unauthorized(fmt::format("{} needs a token: send Authorization: Bearer <token>", path),
                          "Bearer realm=\"tradelake\"");
    }
    constexpr std::string_view kScheme = "bearer ";
    std::string lower = header.substr(0, std::min(header.size(), kScheme.size()));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view token = std::string_view(header);
    if (lower != kScheme) {
      return unauthorized("the Authorization header is not \"Bearer <token>\"",
                          "Bearer realm=\"tradelake\", error=\"invalid_request\"");
    }
    token.remove_prefix(kScheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\r')) token.remove_suffix(1);
    const std::string hash = Sha256Hex(token);
    // Compare with every configured hash, in constant time, without stopping
    // at the first match: the time taken says nothing about the tokens.
    std::string role;
    for (const auto& t : options_.tokens) {
      const bool match = hash.size() == t.sha256_hex.size() &&
                         CRYPTO_memcmp(hash.data(), t.sha256_hex.data(), hash.size()) == 0;
      if (match && role.empty()) role = t.role;
    }
    if (token.empty() || role.empty()) {
      return unauthorized("unknown token", "Bearer realm=\"tradelake\", error=\"invalid_token\"");
    }
    if (!RoleMayUse(role, path)) {
      std::string allowed;
      for (const auto& e : kEndpointRoles) {
        if (e.path == path) allowed = std::string(e.roles);
      }
      SetError(res, 403, fmt::format("role {} may not use {} (allowed: {})", role, path, allowed));
      return std::nullopt;
    }
    return role;
  }

  // False, with the 403 answer set, for a request the request guard refuses.
  bool Guard(const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/healthz") return true;  // probes use whatever address they have
    const std::string host = req.get_header_value("Host");
    Status s = CheckHost(guard_, host);
    std::string_view reason = "host";
    if (s.ok() && req.path.starts_with("/api/")) {
      s = CheckSameOrigin(guard_, host, req.get_header_value("Origin"), req.get_header_value("Sec-Fetch-Site"));
      reason = "cross_site";
    }
    if (s.ok()) return true;
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++refused_[std::string(reason)];
    }
    spdlog::warn("serve: refused {} {} from {}: {}", req.method, req.path, req.remote_addr, s.message());
    SetError(res, 403, s.message());
    return false;
  }

  void CountRequest(const httplib::Request& req, const httplib::Response& res) {
    std::string path = PathLabel(req.path);
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++requests_[{std::move(path), res.status}];
  }

  // Re-reads the catalog when a newer commit exists, at most every
  // refresh_interval. REQUIRES: lake_mu_ held.
  void MaybeRefresh() {
    const int64_t now = SteadyMicros();
    if (now - last_check_micros_.load() < options_.refresh_interval_micros) return;
    last_check_micros_.store(now);
    auto latest = LatestCommitSeq(store_);
    if (!latest.ok()) {
      spdlog::warn("serve: cannot list the catalog's commits: {}", latest.status().ToString());
      return;
    }
    const int64_t newest = *latest;
    if (newest <= sql_->commit_seq()) return;
    Status s = sql_->Refresh();
    if (!s.ok()) {
      spdlog::warn("serve: cannot read catalog commit {}: {}", newest, s.ToString());
      return;
    }
    commit_seq_.store(sql_->commit_seq());
    spdlog::info("serve: now serving catalog commit {}", sql_->commit_seq());
  }

  // MaybeRefresh for a request that may not need the lake (a bars cache
  // hit): when a check is due, it checks only if the lake is free; if a
  // statement holds it, that statement's request checked when it began, and
  // the next request after it checks again.
  void MaybeRefreshWithoutWaiting() {
    if (SteadyMicros() - last_check_micros_.load() < options_.refresh_interval_micros) return;
    std::unique_lock<std::mutex> lake(lake_mu_, std::try_to_lock);
    if (lake.owns_lock()) MaybeRefresh();
  }

  // One statement on the lake, counted in the metrics. REQUIRES: lake_mu_ held.
  Result<StatementResult> Run(std::string_view statement) {
    watchdog_->Begin();
    auto r = sql_->ExecuteOne(statement);
    // A statement the watchdog interrupted fails with the limit it hit.
    Status finished = watchdog_->Finish(r.ok() ? Status::OK() : r.status(), "--sql-timeout", "--sql-memory");
    if (!r.ok()) r = std::move(finished);
    std::string_view outcome = "ok";
    if (!r.ok()) {
      switch (r.status().code()) {
        case StatusCode::kPermissionDenied:
          outcome = "refused";
          break;
        case StatusCode::kInvalidArgument:
          outcome = "error";
          break;
        case StatusCode::kFailedPrecondition:
          outcome = "over_limit";
          break;
        default:
          outcome = "failed";
      }
    }
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++statements_[std::string(outcome)];
    if (r.ok()) bytes_scanned_ += r->scan.bytes_read;
    return r;
  }

  // Last trade time in Silver per product, recomputed once per commit from
  // each product's newest Silver partition; and Silver's rows and id gaps
  // per product, from the Delta statistics. REQUIRES: lake_mu_ held.
  void UpdateLastTrades() {
    const int64_t seq = sql_->commit_seq();
    if (last_trade_seq_ == seq) return;
    std::map<std::string, int64_t> newest_day;
    for (const LakeFile& f : sql_->Files(kSilverTrades)) {
      auto [pos, inserted] = newest_day.try_emplace(f.product, f.last_day);
      if (!inserted) pos->second = std::max(pos->second, f.last_day);
    }
    std::map<std::string, TimestampMicros> last;
    for (const auto& [product, day] : newest_day) {
      if (!ValidateProductId(product).ok()) continue;  // never put a name we did not check into SQL
      auto r = Run(fmt::format(
          "SELECT epoch_us(max(trade_time)) FROM silver.trades WHERE product_id = '{}' AND date = DATE '{}'",
          product, FormatDate(day * kMicrosPerDay)));
      if (!r.ok()) {
        spdlog::warn("serve: last trade of {}: {}", product, r.status().ToString());
        continue;
      }
      if (r->rows.row_count() == 1) {
        if (auto v = r->rows.GetString(0, 0)) {
          if (auto us = ParseInt(*v)) last[product] = *us;
        }
      }
    }
    std::map<std::string, SilverPartitionStats> silver;
    auto stats = SilverStatsByPartition(sql_->lake());
    if (stats.ok()) {
      for (const auto& [key, st] : *stats) {
        SilverPartitionStats& p = silver[key.first];
        p.rows += st.rows;
        p.id_gaps += st.id_gaps;
      }
    } else {
      spdlog::warn("serve: Silver rows and id gaps of commit {}: {}", seq, stats.status().ToString());
    }
    last_trade_ = last;
    silver_stats_ = std::move(silver);
    last_trade_seq_ = seq;
    std::lock_guard<std::mutex> lock(metrics_mu_);
    last_trade_metric_ = std::move(last);
  }

  // REQUIRES: lake_mu_ held.
  bool HasProduct(std::string_view table, std::string_view product) const {
    for (const LakeFile& f : sql_->Files(table)) {
      if (f.product == product) return true;
    }
    return false;
  }

  // ------------------------------------------------------------- endpoints

  void Products(const httplib::Request&, httplib::Response& res, std::string_view) {
    std::lock_guard<std::mutex> lake(lake_mu_);
    MaybeRefresh();
    // product -> first, last day of its Gold bars (date folders, or the
    // period_start statistics of a month or year file)
    std::map<std::string, std::pair<int64_t, int64_t>> days;
    for (std::string_view table : {kGoldDaily, kGoldHourly, kGoldBars1m}) {
      for (const LakeFile& f : sql_->Files(table)) {
        auto [pos, inserted] = days.try_emplace(f.product, f.first_day, f.last_day);
        if (!inserted) {
          pos->second.first = std::min(pos->second.first, f.first_day);
          pos->second.second = std::max(pos->second.second, f.last_day);
        }
      }
    }
    std::map<std::string, std::pair<std::string, std::string>> dates;  // product -> first, last
    for (const auto& [product, range] : days) {
      // A file without statistics has no known days; bars_1m's date folders
      // always do, so this only drops a range nothing can bound.
      if (range.first == std::numeric_limits<int64_t>::min() || range.second == std::numeric_limits<int64_t>::max()) {
        continue;
      }
      dates[product] = {FormatDate(range.first * kMicrosPerDay), FormatDate(range.second * kMicrosPerDay)};
    }
    std::string out = fmt::format("{{\"commit\":{},\"products\":[", sql_->commit_seq());
    bool first = true;
    for (const auto& [product, fl] : dates) {
      if (!first) out += ',';
      first = false;
      out += "{\"product\":";
      AppendJsonString(&out, product);
      out += ",\"first_date\":";
      AppendJsonString(&out, fl.first);
      out += ",\"last_date\":";
      AppendJsonString(&out, fl.second);
      out += '}';
    }
    out += "]}";
    SetJson(res, 200, std::move(out));
  }

  void Bars(const httplib::Request& req, httplib::Response& res, std::string_view) {
    auto q = ParseBarsQuery(ParamsOf(req), options_.clock());
    if (!q.ok()) return SetStatusError(res, q.status());
    auto bars = options_.bars_cache_entries == 0 ? UncachedBars(*q) : CachedBars(*q);
    if (!bars.ok()) return SetStatusError(res, bars.status());
    std::string out;
    out.reserve((*bars)->size() + 200);
    out += "{\"product\":";
    AppendJsonString(&out, q->product);
    out += ",\"interval\":";
    AppendJsonString(&out, q->interval.name);
    out += ",\"from\":";
    AppendJsonString(&out, FormatRfc3339Trimmed(q->range.from));
    out += ",\"to\":";
    AppendJsonString(&out, FormatRfc3339Trimmed(q->range.to));
    out += ",\"bars\":";
    out += **bars;
    out += '}';
    SetJson(res, 200, std::move(out));
  }

  // The "bars" array of q from the cache, or computed and cached.
  Result<BarsCache::Value> CachedBars(const BarsQuery& q) {
    MaybeRefreshWithoutWaiting();
    BarsCache::Key key{commit_seq_.load(), q.product, q.interval.name, q.aligned.from, q.aligned.to};
    if (BarsCache::Value bars = bars_cache_.Find(key)) {
      bars_hits_.fetch_add(1);
      return bars;
    }
    std::lock_guard<std::mutex> lake(lake_mu_);
    MaybeRefresh();
    key.commit = sql_->commit_seq();
    // Requests that missed together wait for the lake here: the first to get
    // it computes the answer, the others find it.
    if (BarsCache::Value bars = bars_cache_.Find(key)) {
      bars_hits_.fetch_add(1);
      return bars;
    }
    bars_misses_.fetch_add(1);
    // The aligned range selects the same bars as the asked one
    // (api_params.cc), so the answer is right for every request of the key.
    ASSIGN_OR_RETURN(std::string computed, ComputeBars(q, q.aligned));
    auto bars = std::make_shared<const std::string>(std::move(computed));
    bars_cache_.Insert(std::move(key), bars);
    return BarsCache::Value(std::move(bars));
  }

  // The "bars" array of q read for its range exactly as asked (no cache).
  Result<BarsCache::Value> UncachedBars(const BarsQuery& q) {
    std::lock_guard<std::mutex> lake(lake_mu_);
    MaybeRefresh();
    ASSIGN_OR_RETURN(std::string computed, ComputeBars(q, q.range));
    return BarsCache::Value(std::make_shared<const std::string>(std::move(computed)));
  }

  // The "bars" array of q's product and interval with period_start in
  // `range`, read from the lake; NotFound for a product without bars.
  // REQUIRES: lake_mu_ held.
  Result<std::string> ComputeBars(const BarsQuery& q, TimeRange range) {
    std::string_view table = kGoldHourly;
    if (q.interval.name == "1m") table = kGoldBars1m;
    if (q.interval.name == "1d") table = kGoldDaily;
    if (!HasProduct(table, q.product)) {
      return NotFound(fmt::format("product {} has no data in {}; GET /api/v1/products lists the products", q.product,
                                  table));
    }
    ASSIGN_OR_RETURN(StatementResult r,
                     Run(fmt::format("SELECT epoch_us(period_start), open, high, low, close, total_volume, "
                                     "quote_volume, vwap, trade_count, buy_volume, sell_volume FROM {} WHERE "
                                     "product_id = '{}' AND period_start >= {} AND period_start < {} "
                                     "ORDER BY period_start",
                                     table, q.product, TimestampLiteral(range.from),
                                     TimestampLiteral(range.to))));
    const QueryResult& rows = r.rows;
    static constexpr std::string_view kNames[] = {"time",   "open",         "high", "low",    "close",      "volume",
                                                  "quote_volume", "vwap", "trades", "buy_volume", "sell_volume"};
    std::string out = "[";
    for (uint64_t row = 0; row < rows.row_count(); ++row) {
      if (row > 0) out += ',';
      out += '{';
      for (uint64_t col = 0; col < std::size(kNames); ++col) {
        if (col > 0) out += ',';
        AppendJsonString(&out, kNames[col]);
        out += ':';
        if (col == 0) {
          AppendTime(&out, rows, row, col);
        } else if (col == 8) {
          AppendInt(&out, rows, row, col);
        } else {
          AppendDecimal(&out, rows, row, col);
        }
      }
      out += '}';
    }
    out += ']';
    return out;
  }

  void Trades(const httplib::Request& req, httplib::Response& res, std::string_view) {
    auto tq = ParseTradesQuery(ParamsOf(req), options_.clock());
    if (!tq.ok()) return SetStatusError(res, tq.status());

    std::lock_guard<std::mutex> lake(lake_mu_);
    MaybeRefresh();
    if (!HasProduct(kSilverTrades, tq->product)) {
      return SetError(res, 404,
                      fmt::format("product {} has no trades in silver.trades; GET /api/v1/products lists the products",
                                  tq->product));
    }
    auto r = Run(fmt::format(
        "SELECT trade_id, epoch_us(trade_time), price, size, side, taker_side FROM silver.trades "
        "WHERE product_id = '{}' AND trade_time >= {} AND trade_time < {} "
        "ORDER BY trade_time DESC, trade_id DESC LIMIT {}",
        tq->product, TimestampLiteral(tq->range.from), TimestampLiteral(tq->range.to), tq->limit));
    if (!r.ok()) return SetStatusError(res, r.status());
    const QueryResult& q = r->rows;
    std::string out = "{\"product\":";
    AppendJsonString(&out, tq->product);
    out += ",\"from\":";
    AppendJsonString(&out, FormatRfc3339Trimmed(tq->range.from));
    out += ",\"to\":";
    AppendJsonString(&out, FormatRfc3339Trimmed(tq->range.to));
    out += fmt::format(",\"limit\":{},\"trades\":[", tq->limit);
    for (uint64_t row = 0; row < q.row_count(); ++row) {
      if (row > 0) out += ',';
      out += "{\"trade_id\":";
      AppendInt(&out, q, row, 0);
      out += ",\"time\":";
      AppendTime(&out, q, row, 1);
      out += ",\"price\":";
      AppendDecimal(&out, q, row, 2);
      out += ",\"size\":";
      AppendDecimal(&out, q, row, 3);
      out += ",\"side\":";
      AppendJsonString(&out, q.GetStringOr(row, 4, ""));
      out += ",\"taker_side\":";
      AppendJsonString(&out, q.GetStringOr(row, 5, ""));
      out += '}';
    }
    out += "]}";
    SetJson(res, 200, std::move(out));
  }

  void StatusEndpoint(const httplib::Request&, httplib::Response& res, std::string_view) {
    // Asked before taking the lake: the pipeline's state is its own.
    std::string pipeline = options_.pipeline.present() ? options_.pipeline.status_json() : "";
    if (pipeline.find_first_not_of(" \t\r\n") == std::string::npos) pipeline = "null";
    std::lock_guard<std::mutex> lake(lake_mu_);
    MaybeRefresh();
    UpdateLastTrades();
    const Snapshot& snap = sql_->lake().catalog;
    const TimestampMicros now = options_.clock();
    struct Counts {
      int64_t silver_rows = 0, records = 0, rejected = 0, id_gaps = 0;
    };
    std::map<std::string, Counts> products;
    for (const auto& [product, t] : last_trade_) products[product];
    for (const auto& [product, s] : silver_stats_) {
      Counts& c = products[product];
      c.silver_rows = s.rows;
      c.id_gaps = s.id_gaps;
    }
    for (const auto& [product, q] : snap.totals) {
      Counts& c = products[product];
      c.records = q.records;
      c.rejected = q.rejected_total();
    }
    std::string out = "{\"now\":";
    AppendJsonString(&out, FormatRfc3339Trimmed(now));
    out += fmt::format(",\"catalog\":{{\"commit\":{},\"committed_at\":", snap.seq);
    if (snap.seq > 0) {
      AppendJsonString(&out, FormatRfc3339Trimmed(snap.committed_at));
    } else {
      out += "null";
    }
    out += "},\"products\":[";
    bool first = true;
    for (const auto& [product, c] : products) {
      if (!first) out += ',';
      first = false;
      out += "{\"product\":";
      AppendJsonString(&out, product);
      auto it = last_trade_.find(product);
      if (it != last_trade_.end()) {
        out += ",\"last_trade_time\":";
        AppendJsonString(&out, FormatRfc3339Trimmed(it->second));
        out += ",\"freshness_seconds\":";
        out += JsonNumber(static_cast<double>(now - it->second) / static_cast<double>(kMicrosPerSecond));
      } else {
        out += ",\"last_trade_time\":null,\"freshness_seconds\":null";
      }
      out += fmt::format(",\"silver_rows\":{},\"records\":{},\"rejected\":{},\"id_gaps\":{}}}", c.silver_rows,
                         c.records, c.rejected, c.id_gaps);
    }
    out += "],\"tables\":[";
    first = true;
    for (const TableInfo& t : sql_->Tables()) {
      if (!first) out += ',';
      first = false;
      out += "{\"name\":";
      AppendJsonString(&out, t.name);
      out += fmt::format(",\"partitions\":{},\"files\":{},\"bytes\":{}}}", t.partitions, t.files, t.bytes);
    }
    out += "],\"pipeline\":";
    out += pipeline;
    out += '}';
    SetJson(res, 200, std::move(out));
  }

  void Sql(const httplib::Request& req, httplib::Response& res, std::string_view) {
    if (req.body.size() > options_.max_body_bytes) {
      return SetError(res, 413, fmt::format("request body is over the limit of {} bytes", options_.max_body_bytes));
    }
    auto sql = ParseSqlBody(req.body, req.get_header_value("Content-Type"));
    if (!sql.ok()) return SetStatusError(res, sql.status());

    // Statements run one at a time; a queue longer than the cap would only
    // hold HTTP threads (and their clients) for many time limits.
    const int in_flight = sql_in_flight_.fetch_add(1) + 1;
    struct Leave {
      std::atomic<int>* n;
      ~Leave() { n->fetch_sub(1); }
    } leave{&sql_in_flight_};
    if (options_.sql_max_concurrent > 0 && in_flight > options_.sql_max_concurrent) {
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ++statements_["busy"];
      }
      res.set_header("Retry-After", "1");
      return SetError(res, 429,
                      fmt::format("{} statements are running or waiting already (--sql-max-concurrent {}); retry "
                                  "later",
                                  in_flight - 1, options_.sql_max_concurrent));
    }

    std::lock_guard<std::mutex> lake(lake_mu_);
    MaybeRefresh();
    auto r = Run(*sql);
    if (!r.ok()) return SetStatusError(res, r.status());
    const QueryResult& q = r->rows;
    std::string out = "{\"statement_type\":";
    AppendJsonString(&out, r->statement_type);
    out += ",\"columns\":[";
    for (uint64_t col = 0; col < q.column_count(); ++col) {
      if (col > 0) out += ',';
      out += "{\"name\":";
      AppendJsonString(&out, q.column_name(col));
      out += ",\"type\":";
      AppendJsonString(&out, q.column_type_name(col));
      out += '}';
    }
    out += "],\"rows\":[";
    const uint64_t rows = std::min<uint64_t>(q.row_count(), options_.max_sql_rows);
    for (uint64_t row = 0; row < rows; ++row) {
      if (row > 0) out += ',';
      out += '[';
      for (uint64_t col = 0; col < q.column_count(); ++col) {
        if (col > 0) out += ',';
        AppendJsonValue(&out, q, row, col);
      }
      out += ']';
    }
    const ScanStats& s = r->scan;
    out += fmt::format(
        "],\"truncated\":{},\"scan\":{{\"files_read\":{},\"files_total\":{},\"bytes_read\":{},\"bytes_total\":{},"
        "\"rows\":{},\"elapsed_seconds\":{},\"athena_usd\":{}}}}}",
        rows < q.row_count() ? "true" : "false", s.files_read, s.files_total, s.bytes_read, s.bytes_total, s.rows,
        JsonNumber(s.elapsed_seconds), JsonNumber(AthenaCostUsd(s.bytes_read)));
    SetJson(res, 200, std::move(out));
  }

  void Schedule(const httplib::Request&, httplib::Response& res, std::string_view) {
    if (!options_.pipeline.present() || !options_.pipeline.schedule_json) return SetError(res, 404, kNoPipeline);
    SetJson(res, 200, options_.pipeline.schedule_json());
  }

  void Pause(const httplib::Request&, httplib::Response& res, std::string_view role) { SetPaused(res, true, role); }
  void Resume(const httplib::Request&, httplib::Response& res, std::string_view role) { SetPaused(res, false, role); }

  void SetPaused(httplib::Response& res, bool paused, std::string_view role) {
    if (!options_.pipeline.present() || !options_.pipeline.set_paused) return SetError(res, 404, kNoPipeline);
    auto schedule = options_.pipeline.set_paused(paused, role);
    if (!schedule.ok()) return SetStatusError(res, schedule.status());
    SetJson(res, 200, std::move(schedule).value());
  }

  // The dashboard's files hold no data, so they need no token.
  void Dashboard(const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    const DashboardAsset* asset = FindDashboardAsset(req.path);
    if (asset == nullptr) {
      return SetError(res, 404, fmt::format("no dashboard file {}; the dashboard is at /", req.path));
    }
    // The page names its assets without a version, so a browser revalidates
    // every file (no-cache) and gets 304 while the binary is the same.
    res.set_header("Cache-Control", "no-cache");
    const std::string etag = fmt::format("\"{:016x}\"", std::hash<std::string_view>{}(asset->content));
    res.set_header("ETag", etag);
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    if (!req.path.starts_with("/assets/")) {
      res.set_header("Content-Security-Policy", std::string(kDashboardCsp));
      res.set_header("Referrer-Policy", "no-referrer");
    }
    // Static bytes: sent from where they are, never copied or compressed (SetBody).
    const std::string_view content = asset->content;
    res.status = 200;
    if (content.empty()) return res.set_content("", std::string(asset->content_type));
    res.set_content_provider(content.size(), std::string(asset->content_type),
                             [content](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(content.data() + offset, std::min(length, content.size() - offset));
                             });
  }

  ObjectStore* store_;
  const ApiServerOptions options_;
  httplib::Server server_;
  int port_ = -1;
  socket_t listen_sock_ = INVALID_SOCKET;  // server_'s listening socket, set while binding
  std::mutex stop_mu_;
  std::thread thread_;  // runs server_.listen_after_bind()

  std::mutex lake_mu_;
  std::unique_ptr<LakeSql> sql_;  // GUARDED_BY(lake_mu_); Interrupt() from any thread
  RequestGuardOptions guard_;     // set by Init, then read-only
  // Interrupts sql_'s statements; declared after sql_, so destroyed first.
  std::unique_ptr<StatementWatchdog> watchdog_;
  std::atomic<int> sql_in_flight_{0};  // POST /api/v1/sql requests running or waiting
  // Steady-clock micros of the last catalog check; written under lake_mu_,
  // read anywhere (MaybeRefreshWithoutWaiting).
  std::atomic<int64_t> last_check_micros_{0};
  int64_t last_trade_seq_ = -1;                       // GUARDED_BY(lake_mu_)
  std::map<std::string, TimestampMicros> last_trade_;  // GUARDED_BY(lake_mu_)
  // product -> Silver rows and id gaps of commit last_trade_seq_
  std::map<std::string, SilverPartitionStats> silver_stats_;  // GUARDED_BY(lake_mu_)

  std::mutex metrics_mu_;  // taken after lake_mu_, never before
  std::map<std::pair<std::string, int>, int64_t> requests_;  // GUARDED_BY(metrics_mu_)
  std::map<std::string, int64_t> statements_ = [] {
    std::map<std::string, int64_t> m;
    for (auto o : kOutcomes) m[std::string(o)] = 0;
    return m;
  }();                                                          // GUARDED_BY(metrics_mu_)
  int64_t bytes_scanned_ = 0;                                   // GUARDED_BY(metrics_mu_)
  std::map<std::string, int64_t, std::less<>> refused_;        // GUARDED_BY(metrics_mu_)
  std::map<std::string, TimestampMicros> last_trade_metric_;    // GUARDED_BY(metrics_mu_)
  std::atomic<int64_t> commit_seq_{0};  // sql_->commit_seq(), readable without lake_mu_

  BarsCache bars_cache_{options_.bars_cache_entries, kBarsCacheBytes};
  std::atomic<int64_t> bars_hits_{0};
  std::atomic<int64_t> bars_misses_{0};
};

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() = default;

Result<std::unique_ptr<ApiServer>> ApiServer::Start(ObjectStore* store, ApiServerOptions options) {
  for (const auto& t : options.tokens) {
    RETURN_IF_ERROR(ParseTokenHash(fmt::format("{}:{}", t.role, t.sha256_hex)).status());
  }
  for (auto& t : options.tokens) {
    std::transform(t.sha256_hex.begin(), t.sha256_hex.end(), t.sha256_hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  auto impl = std::make_unique<Impl>(store, std::move(options));
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

int ApiServer::port() const { return impl_->port(); }
std::string ApiServer::url() const { return impl_->url(); }
bool ApiServer::open_mode() const { return impl_->open_mode(); }
void ApiServer::Stop() { impl_->Stop(); }
std::string ApiServer::MetricsText() { return impl_->MetricsText(); }

}  // namespace tradelake
