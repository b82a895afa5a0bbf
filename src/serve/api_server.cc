#include "serve/api_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/text.h"
#include "serve/fair_mutex.h"
#include "serve/lake_thread.h"
#include "table/catalog.h"
#include "etl/dec18.h"
#include "serve/api_params.h"
#include "query/statement_limits.h"
#include "serve/auth.h"
#include "serve/bars_body.h"
#include "serve/bars_cache.h"
#include "sql/prune.h"
#include "serve/dashboard.h"
#include "serve/http_response.h"
#include "serve/metrics.h"
#include "serve/request_guard.h"
#include "sql/lake_quality.h"
#include "sql/lake_sql.h"
#include "sql/render.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

// Memory bound of the /api/v1/bars answer cache (the entry bound is
// ApiServerOptions::bars_cache_entries): a one-day 1m answer is ~0.4 MB,
// 31 days of 1m ~13 MB.
constexpr size_t kBarsCacheBytes = 64 << 20;
// Memory bound of the finished answers (identity and gzip bodies).
constexpr size_t kBodyCacheBytes = 64 << 20;
// Smaller answers are sent as they are: gzip would save a few dozen bytes.
constexpr size_t kMinGzipBytes = 512;

constexpr std::string_view kNoPipeline = "this server runs no pipeline; start one with `tradelake run`";

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

using Json = nlohmann::ordered_json;

// A DECIMAL column as its canonical string, or null.
Json DecimalJson(const QueryResult& r, uint64_t row, uint64_t col) {
  const auto v = r.GetString(row, col);
  if (!v) return nullptr;
  return CanonDecimal(v);
}

// An epoch_us(...) column as RFC 3339, or null.
Json TimeJson(const QueryResult& r, uint64_t row, uint64_t col) {
  const auto v = r.GetString(row, col);
  const auto us = v ? ParseInt(*v) : std::nullopt;
  if (!us) return nullptr;
  return FormatRfc3339Trimmed(*us);
}

// An integer column as a JSON integer, or null.
Json IntJson(const QueryResult& r, uint64_t row, uint64_t col) {
  const auto v = r.GetString(row, col);
  const auto i = v ? ParseInt(*v) : std::nullopt;
  if (!i) return nullptr;
  return *i;
}

// One cell of a /api/v1/sql result as sql/render.h RenderJson types it
// (DECIMAL as a string, numbers and booleans as such), made a JSON value.
// An integer too large for 64 bits (HUGEINT) stays exact as a string.
Json CellJson(const QueryResult& r, uint64_t row, uint64_t col) {
  std::string text;
  AppendJsonValue(&text, r, row, col);
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  if (j.is_number_float() && text.find_first_of(".eE") == std::string::npos) return text;
  return j;
}


// The query parameters of `req`, the first value of each name.
QueryParams ParamsOf(const httplib::Request& req) {
  QueryParams params;
  for (const auto& [name, value] : req.params) params.emplace(name, value);
  return params;
}

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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
    UpdateGoldMinutes();
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
      server_.Get(path, [](const httplib::Request& req, httplib::Response& res) { ServeDashboardFile(req, res); });
    }
    Route("GET", "/api/v1/products", &Impl::Products);
    Route("GET", "/api/v1/bars", &Impl::Bars);
    Route("GET", "/api/v1/live", &Impl::Live);
    Route("GET", "/api/v1/trades", &Impl::Trades);
    Route("GET", "/api/v1/status", &Impl::StatusEndpoint);
    Route("GET", "/api/v1/reconciliation", &Impl::Reconciliation);
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
    stopping_.store(true);  // ends the live streams
    if (sql_) sql_->Interrupt();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return fmt::format("http://{}:{}", options_.bind, port_); }
  bool open_mode() const { return options_.tokens.empty(); }

  std::string MetricsText() {
    // Never wait behind a long statement: use the cached values if busy.
    std::unique_lock<FairMutex> lake(lake_mu_, std::try_to_lock);
    if (lake.owns_lock()) {
      MaybeRefresh();
      UpdateLastTrades();
      lake.unlock();
    }
    ServerMetrics::Gauges g;
    g.commit = commit_seq_.load();
    g.stopped_time = watchdog_->timeouts();
    g.stopped_memory = watchdog_->memory_stops();
    g.sql_in_flight = sql_in_flight_.load();
    std::string out = metrics_.Text(g, options_.clock());
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
  // answer set (serve/auth.h).
  std::optional<std::string> Authorize(const httplib::Request& req, httplib::Response& res,
                                       std::string_view path) const {
    AuthDecision d = tradelake::Authorize(options_.tokens, req.remote_addr, req.get_header_value("Authorization"), path);
    if (d.allowed()) return std::move(d.role);
    if (!d.challenge.empty()) res.set_header("WWW-Authenticate", d.challenge);
    SetError(res, d.status, d.message);
    return std::nullopt;
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
      metrics_.CountRefused(reason);
    }
    spdlog::warn("serve: refused {} {} from {}: {}", req.method, req.path, req.remote_addr, s.message());
    SetError(res, 403, s.message());
    return false;
  }

  void CountRequest(const httplib::Request& req, const httplib::Response& res) {
    metrics_.CountRequest(req.path, res.status);
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
    const int64_t serving = sql_->commit_seq();
    if (newest <= serving) return;
    Status s;
    lake_thread_->Run([&] { s = sql_->Refresh(); });
    if (!s.ok()) {
      spdlog::warn("serve: cannot read catalog commit {}: {}", newest, s.ToString());
      return;
    }
    // The newest commit may pin Delta versions not written yet (the ETL is
    // between its catalog and Delta commits): the session stays, and the
    // next check reads it.
    if (sql_->commit_seq() == serving) return;
    commit_seq_.store(sql_->commit_seq());
    UpdateGoldMinutes();
    spdlog::info("serve: now serving catalog commit {}", sql_->commit_seq());
  }

  // MaybeRefresh for a request that may not need the lake (a bars cache
  // hit): when a check is due, it checks only if the lake is free; if a
  // statement holds it, that statement's request checked when it began, and
  // the next request after it checks again.
  void MaybeRefreshWithoutWaiting() {
    if (SteadyMicros() - last_check_micros_.load() < options_.refresh_interval_micros) return;
    std::unique_lock<FairMutex> lake(lake_mu_, std::try_to_lock);
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
    metrics_.CountStatement(outcome, r.ok() ? r->scan.bytes_read : 0);
    return r;
  }

  // Last trade time in Silver per product, recomputed once per commit from
  // each product's newest Silver partition; and Silver's rows and id gaps
  // per product, from the Delta statistics. The newest trade is looked up
  // at or after its time in the statistics (milliseconds, truncated), so
  // DuckDB reads only the row groups holding it, not the whole day. Done on
  // the lake thread (lake_thread.h: its DuckDB sessions are per thread).
  // REQUIRES: lake_mu_ held.
  void UpdateLastTrades() {
    if (last_trade_seq_ == sql_->commit_seq()) return;
    lake_thread_->Run([this] { UpdateLastTradesNow(); });
  }

  // REQUIRES: lake_mu_ held; on lake_thread_.
  void UpdateLastTradesNow() {
    const int64_t seq = sql_->commit_seq();
    // Only the Silver partitions changed since the last call are looked at
    // again, and only their products' newest trades asked for.
    std::optional<std::set<std::string>> changed = sql_->TakeChangedPartitions(kSilverTrades);
    std::set<PartitionKey> keys;
    if (changed) {
      for (const std::string& name : *changed) {
        const std::string product = PartitionValue(name, "product_id"), date = PartitionValue(name, "date");
        if (!product.empty() && !date.empty()) keys.emplace(product, date);
      }
    }
    auto stats = changed ? SilverStatsOfPartitions(sql_->lake(), keys) : SilverStatsByPartition(sql_->lake());
    if (!stats.ok()) {
      spdlog::warn("serve: Silver rows and id gaps of commit {}: {}", seq, stats.status().ToString());
      // Every partition again next time (these changes were taken).
      changed = std::nullopt;
      stats = SilverStatsByPartition(sql_->lake());
      if (!stats.ok()) stats = std::map<PartitionKey, SilverPartitionStats>{};
    }
    std::set<std::string> products;
    if (!changed) {
      silver_partitions_.clear();
      silver_stats_.clear();
      for (const auto& [key, st] : *stats) products.insert(key.first);
      for (const auto& [product, t] : last_trade_) products.insert(product);
    }
    for (const PartitionKey& key : keys) {
      products.insert(key.first);
      if (auto it = silver_partitions_.find(key); it != silver_partitions_.end()) {
        SilverPartitionStats& total = silver_stats_[key.first];
        total.rows -= it->second.rows;
        total.id_gaps -= it->second.id_gaps;
        silver_partitions_.erase(it);
      }
    }
    for (auto& [key, st] : *stats) {
      SilverPartitionStats& total = silver_stats_[key.first];
      total.rows += st.rows;
      total.id_gaps += st.id_gaps;
      silver_partitions_[key] = st;
    }
    for (const std::string& product : products) {
      // The product's newest partition with rows (its partitions sort by date).
      std::optional<std::pair<std::string, std::optional<TimestampMicros>>> newest;
      const auto end = silver_partitions_.lower_bound({product + '\0', ""});
      for (auto it = end; it != silver_partitions_.begin();) {
        --it;
        if (it->first.first != product) break;
        if (it->second.rows > 0) {
          newest.emplace(it->first.second, it->second.newest_time_floor);
          break;
        }
      }
      const auto first = silver_partitions_.lower_bound({product, ""});
      if (first == silver_partitions_.end() || first->first.first != product) silver_stats_.erase(product);
      last_trade_.erase(product);
      if (!newest || !ValidateProductId(product).ok()) continue;  // never put a name we did not check into SQL
      const auto& [date, floor] = *newest;
      const std::string at_or_after = floor ? fmt::format(" AND trade_time >= {}", TimestampLiteral(*floor)) : "";
      auto r = Run(fmt::format(
          "SELECT epoch_us(max(trade_time)) FROM silver.trades WHERE product_id = '{}' AND date = DATE '{}'{}",
          product, date, at_or_after));
      if (!r.ok()) {
        spdlog::warn("serve: last trade of {}: {}", product, r.status().ToString());
        continue;
      }
      if (r->rows.row_count() == 1) {
        if (auto v = r->rows.GetString(0, 0)) {
          if (auto us = ParseInt(*v)) last_trade_[product] = *us;
        }
      }
    }
    std::map<std::string, TimestampMicros> last = last_trade_;
    // Gold against the exchange's candles over the last day (tradelake reconcile).
    auto candles = CandleMatchSince(store_, sql_->lake(), options_.clock() - kMicrosPerDay);
    if (candles.ok()) {
      candle_match_ = std::move(*candles);
    } else {
      spdlog::warn("serve: reconciliation of commit {}: {}", seq, candles.status().ToString());
    }
    std::map<std::string, std::pair<int64_t, int64_t>> shares;
    for (const auto& [product, m] : candle_match_) shares[product] = {m.compared, m.matched};
    metrics_.SetCandleMatch(std::move(shares));
    last_trade_seq_ = seq;
    metrics_.SetLastTrades(std::move(last));
  }

  // "BTC-USD" of "product_id=BTC-USD/date=2024-05-01" and column product_id.
  static std::string PartitionValue(std::string_view partition, std::string_view column) {
    for (std::string_view rest = partition; !rest.empty();) {
      const size_t slash = rest.find('/');
      const std::string_view folder = rest.substr(0, slash);
      if (folder.size() > column.size() && folder.starts_with(column) && folder[column.size()] == '=') {
        return std::string(folder.substr(column.size() + 1));
      }
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    return "";
  }

  // REQUIRES: lake_mu_ held.
  bool HasProduct(std::string_view table, std::string_view product) const { return sql_->HasProduct(table, product); }

  // ------------------------------------------------------------- endpoints

  void Products(const httplib::Request&, httplib::Response& res, std::string_view) {
    std::lock_guard<FairMutex> lake(lake_mu_);
    MaybeRefresh();
    // product -> first, last day of its Gold bars (date folders, or the
    // period_start statistics of a month or year file)
    std::map<std::string, std::pair<int64_t, int64_t>> days;
    for (std::string_view table : {kGoldDaily, kGoldHourly, kGoldBars1m}) {
      for (const auto& [product, range] : sql_->ProductDays(table)) {
        auto [pos, inserted] = days.try_emplace(product, range);
        if (!inserted) {
          pos->second.first = std::min(pos->second.first, range.first);
          pos->second.second = std::max(pos->second.second, range.second);
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
    Json products = Json::array();
    for (const auto& [product, fl] : dates) {
      products.push_back({{"product", product}, {"first_date", fl.first}, {"last_date", fl.second}});
    }
    SetJson(res, 200, Json{{"commit", sql_->commit_seq()}, {"products", std::move(products)}});
  }

  void Bars(const httplib::Request& req, httplib::Response& res, std::string_view) {
    auto q = ParseBarsQuery(ParamsOf(req), options_.clock());
    if (!q.ok()) return SetStatusError(res, q.status());
    const bool gzip = AcceptsGzip(req.get_header_value("Accept-Encoding"));
    const bool cached = options_.bars_cache_entries > 0;
    if (cached) MaybeRefreshWithoutWaiting();
    // With the live tail, a 1m answer ends with its bars from Gold's newest
    // minute on (that minute's Gold bar may still lack trades that arrived
    // after the ETL run), within the range, replacing Gold's bar of that
    // minute when the tail has one. They are part of the answer's key.
    std::optional<TimestampMicros> gold_minute;
    std::vector<LiveBarCells> live;
    std::string variant = q->format == BarsFormat::kColumnar ? "c" : "r";
    if (q->interval.name == "1m" && options_.pipeline.provisional_bars) {
      gold_minute = GoldMinute(q->product);
      live = LiveCells(q->product, gold_minute ? *gold_minute - kMicrosPerMinute : q->range.from - kMicrosPerMinute,
                       q->range);
      variant += gold_minute ? std::to_string(*gold_minute) : "-";
      for (const LiveBarCells& l : live) {
        variant += l.complete ? "|c" : "|p";
        for (const std::string& c : l.bar.cells) variant.append(1, ',').append(c);
      }
    }
    BodyCache::Key key{commit_seq_.load(), q->product, q->interval.name, q->range.from, q->range.to, variant};
    BodyCache::Value found = cached ? bodies_.Find(key) : nullptr;
    if (found && (!gzip || !found->gzip.empty() || found->identity.size() < kMinGzipBytes)) {
      metrics_.CountBars(true);
      return SendBars(res, std::move(found), gzip);
    }
    auto body = std::make_shared<AnswerBody>();
    if (found) {
      body->identity = found->identity;  // only the gzip encoding is new
    } else {
      auto gold = cached ? CachedBars(*q) : UncachedBars(*q);
      if (!gold.ok()) return SetStatusError(res, gold.status());
      key.commit = gold->first;
      std::span<const BarCells> bars = gold->second->bars;
      if (!live.empty() && gold_minute && live.front().bar.time == *gold_minute && !bars.empty() &&
          bars.back().time == *gold_minute) {
        bars = bars.first(bars.size() - 1);
      }
      // The envelope is made by the JSON library; the bars, already JSON
      // text made by it, are spliced in for "bars".
      Json envelope = {{"product", q->product},
                       {"interval", q->interval.name},
                       {"from", FormatRfc3339Trimmed(q->range.from)},
                       {"to", FormatRfc3339Trimmed(q->range.to)}};
      if (q->format == BarsFormat::kColumnar) envelope["format"] = "columnar";
      envelope["bars"] = nullptr;
      body->identity = DumpJson(envelope);
      constexpr std::string_view kTail = "null}";
      body->identity.resize(body->identity.size() - kTail.size());
      body->identity += BarsJson(bars, live, q->format);
      body->identity += '}';
    }
    if (gzip && body->identity.size() >= kMinGzipBytes) body->gzip = Gzip(body->identity);
    // A range that ends "now" (no `to`, or a duration ago) is asked again
    // only by chance: kept, such answers would only push the others out.
    if (cached && IsFixedRange(req)) bodies_.Insert(std::move(key), body);
    SendBars(res, std::move(body), gzip);
  }

  // True when the request's range does not move with the clock: `to` given
  // as a date or RFC 3339 time ("YYYY-..."), and `from` too when given.
  static bool IsFixedRange(const httplib::Request& req) {
    const auto fixed = [&req](const char* name) {
      const std::string v = req.get_param_value(name);
      return v.size() >= 10 && v[4] == '-';
    };
    return req.has_param("to") && fixed("to") && (!req.has_param("from") || fixed("from"));
  }

  // The answer of `body`, gzip-encoded when the client accepts it and the
  // encoding exists.
  static void SendBars(httplib::Response& res, std::shared_ptr<const AnswerBody> body, bool gzip) {
    res.set_header("Vary", "Accept-Encoding");
    if (gzip && !body->gzip.empty()) {
      res.set_header("Content-Encoding", "gzip");
      const std::string* text = &body->gzip;
      return SetBody(res, 200, std::shared_ptr<const std::string>(std::move(body), text), "application/json");
    }
    const std::string* text = &body->identity;
    SetBody(res, 200, std::shared_ptr<const std::string>(std::move(body), text), "application/json");
  }

  // Gold's newest 1m bar per product, from the Delta statistics of the
  // served commit (whole minutes: exact in milliseconds). REQUIRES: lake_mu_
  // held.
  // Only each product's newest day is looked at (a lookup per product, not
  // a pass over every day ever committed).
  void UpdateGoldMinutes() {
    std::map<std::string, TimestampMicros> newest;
    const auto table = sql_->lake().tables.find(std::string(kGoldBars1m));
    if (table != sql_->lake().tables.end()) {
      const std::string root = TableFolder(kGoldBars1m);
      for (const auto& [product, days] : sql_->ProductDays(kGoldBars1m)) {
        for (const LakeFile* f : sql_->ProductFiles(kGoldBars1m, product, days.second)) {
          const auto add = table->second.files.find(KeyToDeltaPath(root, f->key));
          if (add == table->second.files.end()) continue;
          auto stats = ParseDeltaStats(add->second.stats);
          if (!stats.ok()) {
            spdlog::warn("serve: Gold's newest minute of {}: {}", product, stats.status().ToString());
            continue;
          }
          const std::optional<TimestampMicros> t = StatTime(stats->max_values, "period_start");
          if (!t) continue;
          auto [pos, inserted] = newest.try_emplace(product, *t);
          if (!inserted) pos->second = std::max(pos->second, *t);
        }
      }
    }
    std::lock_guard<std::mutex> lock(live_mu_);
    gold_minute_ = std::move(newest);
  }

  std::optional<TimestampMicros> GoldMinute(const std::string& product) {
    std::lock_guard<std::mutex> lock(live_mu_);
    auto it = gold_minute_.find(product);
    if (it == gold_minute_.end()) return std::nullopt;
    return it->second;
  }

  // The live tail's bars of `product` after `after` with period_start in
  // `range`, oldest first.
  std::vector<LiveBarCells> LiveCells(const std::string& product, TimestampMicros after, TimeRange range) {
    std::vector<LiveBarCells> out;
    for (const ProvisionalBar& p : options_.pipeline.provisional_bars(product, after)) {
      if (p.bar.period_start < range.from || p.bar.period_start >= range.to) continue;
      out.push_back({CellsOf(p.bar), p.complete});
    }
    return out;
  }

  // Server-Sent Events of one product's provisional bars (api_server.h).
  void Live(const httplib::Request& req, httplib::Response& res, std::string_view) {
    const std::string product = req.get_param_value("product");
    if (Status s = ValidateProductId(product); !s.ok()) {
      return SetError(res, 400, fmt::format("parameter product: {}", s.message()));
    }
    if (!options_.pipeline.provisional_bars) {
      return SetError(res, 404, "no live tail: provisional bars come from `tradelake run` with its WebSocket feed");
    }
    if (live_streams_.fetch_add(1) >= options_.max_live_streams) {
      live_streams_.fetch_sub(1);
      res.set_header("Retry-After", "5");
      return SetError(res, 503, fmt::format("{} live streams are open, the most --max-live-streams allows; "
                                            "try again later",
                                            options_.max_live_streams));
    }
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    struct State {
      std::string last_bars;
      int64_t last_commit = -1;
      std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
    };
    auto state = std::make_shared<State>();
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, product, state](size_t, httplib::DataSink& sink) {
          if (stopping_.load()) return false;
          std::string out;
          const int64_t commit = commit_seq_.load();
          if (commit != state->last_commit) {
            state->last_commit = commit;
            out += fmt::format("event: commit\ndata: {}\n\n", DumpJson(Json{{"commit", commit}}));
          }
          const std::optional<TimestampMicros> gold = GoldMinute(product);
          const TimeRange all{std::numeric_limits<TimestampMicros>::min() / 2,
                              std::numeric_limits<TimestampMicros>::max() / 2};
          // The bars' JSON text is made once: compared with the last sent,
          // then spliced into the event's envelope.
          std::string bars = BarsJson({}, LiveCells(product, gold ? *gold - kMicrosPerMinute : 0, all), BarsFormat::kRows);
          if (bars != state->last_bars) {
            std::string data = DumpJson(Json{{"product", product},
                                             {"gold_minute", gold ? Json(FormatRfc3339Trimmed(*gold)) : Json(nullptr)},
                                             {"bars", nullptr}});
            constexpr std::string_view kTail = "null}";
            data.resize(data.size() - kTail.size());
            out += fmt::format("event: bars\ndata: {}{}}}\n\n", data, bars);
            state->last_bars = std::move(bars);
          }
          const auto now = std::chrono::steady_clock::now();
          if (out.empty() && now - state->last_write > std::chrono::seconds(15)) out = ": keep-alive\n\n";
          if (!out.empty()) {
            if (!sink.write(out.data(), out.size())) return false;
            state->last_write = now;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          return true;
        },
        [this](bool) { live_streams_.fetch_sub(1); });
  }

  // Gold's bars of q and the commit they were read from.
  using CommitBars = std::pair<int64_t, BarsCache::Value>;

  // Gold's bars of q from the cache, or computed and cached.
  Result<CommitBars> CachedBars(const BarsQuery& q) {
    BarsCache::Key key{commit_seq_.load(), q.product, q.interval.name, q.aligned.from, q.aligned.to, {}};
    if (BarsCache::Value bars = bars_cache_.Find(key)) {
      metrics_.CountBars(true);
      return CommitBars(key.commit, std::move(bars));
    }
    std::lock_guard<FairMutex> lake(lake_mu_);
    MaybeRefresh();
    key.commit = sql_->commit_seq();
    // Requests that missed together wait for the lake here: the first to get
    // it computes the answer, the others find it.
    if (BarsCache::Value bars = bars_cache_.Find(key)) {
      metrics_.CountBars(true);
      return CommitBars(key.commit, std::move(bars));
    }
    metrics_.CountBars(false);
    // The aligned range selects the same bars as the asked one
    // (api_params.cc), so the answer is right for every request of the key.
    ASSIGN_OR_RETURN(GoldBars computed, ComputeBars(q, q.aligned));
    auto bars = std::make_shared<const GoldBars>(std::move(computed));
    bars_cache_.Insert(key, bars);
    return CommitBars(key.commit, std::move(bars));
  }

  // Gold's bars of q read for its range exactly as asked (no cache).
  Result<CommitBars> UncachedBars(const BarsQuery& q) {
    std::lock_guard<FairMutex> lake(lake_mu_);
    MaybeRefresh();
    ASSIGN_OR_RETURN(GoldBars computed, ComputeBars(q, q.range));
    return CommitBars(sql_->commit_seq(), std::make_shared<const GoldBars>(std::move(computed)));
  }

  // Gold's bars of q's product and interval with period_start in `range`,
  // read from the lake; NotFound for a product without bars.
  // REQUIRES: lake_mu_ held.
  Result<GoldBars> ComputeBars(const BarsQuery& q, TimeRange range) {
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
    GoldBars out;
    out.bars.reserve(rows.row_count());
    for (uint64_t row = 0; row < rows.row_count(); ++row) {
      BarCells& b = out.bars.emplace_back();
      const auto us = rows.GetString(row, 0);
      b.time = us ? ParseInt(*us).value_or(0) : 0;
      for (uint64_t col = 0; col < kBarFields.size(); ++col) {
        if (col == 0) {
          b.cells[col] = DumpJson(TimeJson(rows, row, col));
        } else if (col == 8) {
          b.cells[col] = DumpJson(IntJson(rows, row, col));
        } else {
          b.cells[col] = DumpJson(DecimalJson(rows, row, col));
        }
      }
    }
    return out;
  }

  void Trades(const httplib::Request& req, httplib::Response& res, std::string_view) {
    auto tq = ParseTradesQuery(ParamsOf(req), options_.clock());
    if (!tq.ok()) return SetStatusError(res, tq.status());

    std::lock_guard<FairMutex> lake(lake_mu_);
    MaybeRefresh();
    if (!HasProduct(kSilverTrades, tq->product)) {
      return SetError(res, 404,
                      fmt::format("product {} has no trades in silver.trades; GET /api/v1/products lists the products",
                                  tq->product));
    }
    // The newest trades of the range: asked first over the last minute up to
    // the product's newest trade, widening 16-fold while that holds fewer
    // than `limit`, so a request reads the row groups of recent trades, not
    // a whole day (DuckDB skips the others by their trade_time statistics).
    // Every trade in the window is newer than any before it: exact.
    UpdateLastTrades();
    const TimestampMicros from = tq->range.from, to = tq->range.to;
    TimestampMicros anchor = to;
    if (auto it = last_trade_.find(tq->product); it != last_trade_.end() && it->second < to) anchor = it->second + 1;
    TimestampMicros span = 60 * kMicrosPerSecond;
    Result<StatementResult> r = Internal("no statement ran");
    for (;;) {
      const TimestampMicros lo = anchor - from > span ? anchor - span : from;
      r = Run(fmt::format(
          "SELECT trade_id, epoch_us(trade_time), price, size, side, taker_side FROM silver.trades "
          "WHERE product_id = '{}' AND trade_time >= {} AND trade_time < {} "
          "ORDER BY trade_time DESC, trade_id DESC LIMIT {}",
          tq->product, TimestampLiteral(lo), TimestampLiteral(to), tq->limit));
      if (!r.ok()) return SetStatusError(res, r.status());
      if (lo == from || static_cast<int64_t>(r->rows.row_count()) >= tq->limit) break;
      span = span > (to - from) / 16 ? to - from : span * 16;
    }
    const QueryResult& q = r->rows;
    Json trades = Json::array();
    for (uint64_t row = 0; row < q.row_count(); ++row) {
      trades.push_back({{"trade_id", IntJson(q, row, 0)},
                        {"time", TimeJson(q, row, 1)},
                        {"price", DecimalJson(q, row, 2)},
                        {"size", DecimalJson(q, row, 3)},
                        {"side", q.GetStringOr(row, 4, "")},
                        {"taker_side", q.GetStringOr(row, 5, "")}});
    }
    SetJson(res, 200, Json{{"product", tq->product},
                           {"from", FormatRfc3339Trimmed(tq->range.from)},
                           {"to", FormatRfc3339Trimmed(tq->range.to)},
                           {"limit", tq->limit},
                           {"trades", std::move(trades)}});
  }

  void StatusEndpoint(const httplib::Request&, httplib::Response& res, std::string_view) {
    // Asked before taking the lake: the pipeline's state is its own.
    // The pipeline renders its own JSON; parsed here so the answer is one
    // document (anything that is not JSON shows as null).
    Json pipeline = nullptr;
    if (options_.pipeline.present()) {
      pipeline = Json::parse(options_.pipeline.status_json(), nullptr, /*allow_exceptions=*/false);
      if (pipeline.is_discarded()) pipeline = nullptr;
    }
    std::lock_guard<FairMutex> lake(lake_mu_);
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
    Json product_list = Json::array();
    for (const auto& [product, c] : products) {
      Json p = {{"product", product}, {"last_trade_time", nullptr}, {"freshness_seconds", nullptr}};
      if (auto it = last_trade_.find(product); it != last_trade_.end()) {
        p["last_trade_time"] = FormatRfc3339Trimmed(it->second);
        p["freshness_seconds"] = static_cast<double>(now - it->second) / static_cast<double>(kMicrosPerSecond);
      }
      p["silver_rows"] = c.silver_rows;
      p["records"] = c.records;
      p["rejected"] = c.rejected;
      p["id_gaps"] = c.id_gaps;
      p["candles"] = nullptr;
      if (auto m = candle_match_.find(product); m != candle_match_.end() && m->second.compared > 0) {
        p["candles"] = {{"compared", m->second.compared},
                        {"matched", m->second.matched},
                        {"match_share", m->second.share()},
                        {"last_minute", FormatRfc3339Trimmed(m->second.last_minute)}};
      }
      product_list.push_back(std::move(p));
    }
    Json tables = Json::array();
    for (const TableInfo& t : sql_->Tables()) {
      tables.push_back({{"name", t.name}, {"partitions", t.partitions}, {"files", t.files}, {"bytes", t.bytes}});
    }
    Json out = {{"now", FormatRfc3339Trimmed(now)},
                {"catalog",
                 {{"commit", snap.seq},
                  {"committed_at", snap.seq > 0 ? Json(FormatRfc3339Trimmed(snap.committed_at)) : Json(nullptr)}}},
                {"products", std::move(product_list)},
                {"tables", std::move(tables)},
                {"pipeline", std::move(pipeline)},
                {"live", static_cast<bool>(options_.pipeline.provisional_bars)}};
    SetJson(res, 200, out);
  }

  // The last day's reconciled minutes of a product that do not match the
  // exchange's candles (the dashboard marks them).
  void Reconciliation(const httplib::Request& req, httplib::Response& res, std::string_view) {
    const std::string product = req.get_param_value("product");
    if (Status s = ValidateProductId(product); !s.ok()) {
      return SetError(res, 400, fmt::format("parameter product: {}", s.message()));
    }
    std::lock_guard<FairMutex> lake(lake_mu_);
    MaybeRefresh();
    UpdateLastTrades();
    Json minutes = Json::array();
    Json out = {{"product", product}, {"compared", 0}, {"matched", 0}};
    if (auto m = candle_match_.find(product); m != candle_match_.end()) {
      out["compared"] = m->second.compared;
      out["matched"] = m->second.matched;
      for (const auto& [minute, status] : m->second.mismatches) {
        minutes.push_back({{"minute", FormatRfc3339Trimmed(minute)}, {"status", status}});
      }
    }
    out["minutes"] = std::move(minutes);
    SetJson(res, 200, out);
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
        metrics_.CountStatement("busy", 0);
      }
      res.set_header("Retry-After", "1");
      return SetError(res, 429,
                      fmt::format("{} statements are running or waiting already (--sql-max-concurrent {}); retry "
                                  "later",
                                  in_flight - 1, options_.sql_max_concurrent));
    }

    std::lock_guard<FairMutex> lake(lake_mu_);
    MaybeRefresh();
    auto r = Run(*sql);
    if (!r.ok()) return SetStatusError(res, r.status());
    const QueryResult& q = r->rows;
    Json columns = Json::array();
    for (uint64_t col = 0; col < q.column_count(); ++col) {
      columns.push_back({{"name", q.column_name(col)}, {"type", q.column_type_name(col)}});
    }
    Json rows = Json::array();
    const uint64_t shown = std::min<uint64_t>(q.row_count(), options_.max_sql_rows);
    for (uint64_t row = 0; row < shown; ++row) {
      Json cells = Json::array();
      for (uint64_t col = 0; col < q.column_count(); ++col) cells.push_back(CellJson(q, row, col));
      rows.push_back(std::move(cells));
    }
    const ScanStats& st = r->scan;
    SetJson(res, 200,
            Json{{"statement_type", r->statement_type},
                 {"columns", std::move(columns)},
                 {"rows", std::move(rows)},
                 {"truncated", shown < q.row_count()},
                 {"scan",
                  {{"files_read", st.files_read},
                   {"files_total", st.files_total},
                   {"bytes_read", st.bytes_read},
                   {"bytes_total", st.bytes_total},
                   {"rows", st.rows},
                   {"elapsed_seconds", st.elapsed_seconds},
                   {"athena_usd", AthenaCostUsd(st.bytes_read)}}}});
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

  ObjectStore* store_;
  const ApiServerOptions options_;
  httplib::Server server_;
  int port_ = -1;
  socket_t listen_sock_ = INVALID_SOCKET;  // server_'s listening socket, set while binding
  std::mutex stop_mu_;
  std::thread thread_;  // runs server_.listen_after_bind()

  FairMutex lake_mu_;  // in turn: each request waits only for those ahead of it
  std::unique_ptr<LakeSql> sql_;  // GUARDED_BY(lake_mu_); Interrupt() from any thread
  RequestGuardOptions guard_;     // set by Init, then read-only
  // Interrupts sql_'s statements; declared after sql_, so destroyed first.
  std::unique_ptr<StatementWatchdog> watchdog_;
  // Follows the commits (sql_->Refresh, UpdateLastTrades); destroyed before sql_.
  std::unique_ptr<LakeThread> lake_thread_ = std::make_unique<LakeThread>();
  std::atomic<int> sql_in_flight_{0};  // POST /api/v1/sql requests running or waiting
  // Steady-clock micros of the last catalog check; written under lake_mu_,
  // read anywhere (MaybeRefreshWithoutWaiting).
  std::atomic<int64_t> last_check_micros_{0};
  int64_t last_trade_seq_ = -1;                       // GUARDED_BY(lake_mu_)
  std::map<std::string, TimestampMicros> last_trade_;  // GUARDED_BY(lake_mu_)
  // product -> Silver rows and id gaps of commit last_trade_seq_
  std::map<std::string, SilverPartitionStats> silver_stats_;  // GUARDED_BY(lake_mu_)
  // Per partition, kept up to date from the partitions each commit changed.
  std::map<PartitionKey, SilverPartitionStats> silver_partitions_;  // GUARDED_BY(lake_mu_)
  // product -> the last day's reconciliation, as of commit last_trade_seq_
  std::map<std::string, CandleMatch> candle_match_;  // GUARDED_BY(lake_mu_)

  ServerMetrics metrics_;  // its own mutex: taken after lake_mu_, never before
  std::mutex live_mu_;  // taken alone
  std::map<std::string, TimestampMicros> gold_minute_;  // GUARDED_BY(live_mu_): Gold's newest 1m bar
  std::atomic<int> live_streams_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> commit_seq_{0};  // sql_->commit_seq(), readable without lake_mu_

  BarsCache bars_cache_{options_.bars_cache_entries, kBarsCacheBytes};
  BodyCache bodies_{options_.bars_cache_entries, kBodyCacheBytes};
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
