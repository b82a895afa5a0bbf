// ApiServer: `tradelake serve`, the lake's HTTP API (JSON over HTTP/1.1).
//
// Serves the committed Silver and Gold tables of one lake through a LakeSql
// (sql/lake_sql.h), so every answer obeys the same sandbox, pruning and scan
// accounting as `tradelake sql`. The store is opened by the caller, normally
// as the analyst role (store/lake.h), and must outlive the server.
//
// Files of src/serve (each header states its contract): api_server.cc
// (routing and the endpoints), auth.h (tokens, roles), request_guard.h
// (Host, Origin: browsers), bars_cache.h (the /api/v1/bars answer cache),
// metrics.h (/metrics), dashboard.h (the static files), http_response.h
// (JSON answers, made with nlohmann-json), api_params.h (query parameters).
//
// Endpoints (all JSON unless said otherwise; errors are {"error": "..."}):
//   GET  /api/v1/products
//        {"commit": N, "products": [{"product", "first_date", "last_date"}]}
//        products with Gold data, dates from the catalog snapshot.
//   GET  /api/v1/bars?product=BTC-USD&interval=1m|1h|1d&from=T&to=T[&format=rows|columnar]
//        {"product", "interval", "from", "to", "bars": [{"time", "open",
//        "high", "low", "close", "volume", "quote_volume", "vwap", "trades",
//        "buy_volume", "sell_volume"}]}, oldest first, period_start in
//        [from, to). T is RFC 3339, YYYY-MM-DD (midnight UTC) or a duration
//        meaning "that long ago" (core/time.h ParseTimeOrAgo). Defaults: to =
//        now, from = to - 1 day (1m), 7 days (1h), 365 days (1d). Longest
//        range: 31 days of 1m, 5 years (1826 days) of 1h, 100 years of 1d;
//        longer -> 400. Times outside 0001-01-01 .. 9999-12-31 -> 400.
//        format=columnar: {"product", "interval", "from", "to", "format":
//        "columnar", "bars": {"time": [...], "open": [...], ...,
//        "sell_volume": [...]}}, one array per field in the same order, the
//        same values (bars_body.h).
//        Answers are cached: Gold's bars are kept per (catalog commit,
//        product, interval, from and to rounded up to the interval), which
//        selects the same bars (serve/api_params.h AlignRangeUp), and the
//        finished answer per (catalog commit, product, interval, from and to
//        as asked, format, the live tail's bars), when both are fixed times
//        (not "now" nor a duration ago); a new commit drops the
//        older entries; at most bars_cache_entries (512) entries and 64 MB
//        each, least recently used out. A hit runs no statement and waits
//        for none. A client whose Accept-Encoding accepts gzip gets the
//        answer gzip-encoded (Content-Encoding: gzip), encoded once per
//        cached answer; answers of under 512 bytes are sent as they are.
//        With the live tail of `tradelake run` (PipelineHooks::
//        provisional_bars), a 1m answer ends with the provisional bars from
//        Gold's newest minute on (that minute's Gold bar, which may still
//        lack trades that came after the ETL run, is replaced when the tail
//        has the minute): the same fields plus "provisional": true and
//        "complete" (the bar holds every trade of its minute, so Gold's bar
//        will equal it). In the columnar form they add "provisional" (false
//        for Gold's bars) and "complete" (null for Gold's) arrays. A cached
//        answer is found only with the same tail bars.
//   GET  /api/v1/live?product=BTC-USD
//        Server-Sent Events (text/event-stream) for the dashboard: an event
//        "bars" whenever the product's provisional 1m bars change (data:
//        {"product", "gold_minute", "bars": [...]} as above, from
//        gold_minute on, Gold's newest 1m bar or null), and "commit" (data: {"commit": N})
//        when a new catalog commit is served; a comment every 15 s keeps
//        proxies from closing it. At most max_live_streams at once (then
//        503); each holds one HTTP worker thread.
//   GET  /api/v1/trades?product=&from=&to=&limit=
//        {"product", "from", "to", "limit", "trades": [{"trade_id", "time",
//        "price", "size", "side", "taker_side"}]}, Silver rows with
//        trade_time in [from, to), newest first. limit 1..10,000 (default
//        100); from defaults to to - 1 day, to to now.
//   GET  /api/v1/status
//        {"now", "catalog": {"commit", "committed_at"}, "products":
//        [{"product", "last_trade_time", "freshness_seconds", "silver_rows",
//        "records", "rejected", "id_gaps"}], "tables": [{"name",
//        "partitions", "files", "bytes"}], "pipeline": {...} | null,
//        "live": bool};
//        quality counters summed over the product's partitions in the
//        snapshot; "pipeline" is PipelineHooks::status_json as rendered by
//        `tradelake run`, null for `tradelake serve`; "live": the server
//        has a live tail (/api/v1/live streams).
//   POST /api/v1/sql   body: the SQL text, or JSON {"sql": "..."}
//        {"statement_type", "columns": [{"name", "type"}], "rows": [[...]],
//        "truncated": bool, "scan": {"files_read", "files_total",
//        "bytes_read", "bytes_total", "rows", "elapsed_seconds",
//        "athena_usd"}}; one statement. Refused statement types (COPY,
//        ATTACH, SET, ...) -> 403; SQL errors -> 400; over the scan limit ->
//        400 naming the sizes; a body over max_body_bytes -> 413.
//   GET  /api/v1/schedule                the ingest schedule of `tradelake run`:
//        {"paused": bool, "changed_at": T|null, "by": "..."}
//   POST /api/v1/schedule/pause, POST /api/v1/schedule/resume
//        pause or resume it (body ignored); answers the new schedule, with
//        "by" the caller's role ("admin" in open mode); if the pipeline
//        refuses, the usual error with its status's code. A server without
//        a pipeline (`tradelake serve`) answers these three 404 {"error":
//        "this server runs no pipeline; start one with `tradelake run`"}
//        (after the token check, so callers without a token learn nothing).
//   GET  /, /index.html, /assets/<file>  the dashboard (serve/dashboard_assets.h),
//        static files compiled into the binary, no auth (they hold no data;
//        the page asks for a token when the API wants one). The page is
//        served with a Content-Security-Policy allowing only its own
//        origin's scripts, styles and fetches (no inline script); every
//        file "Cache-Control: no-cache" with an ETag of its bytes (304 for
//        a matching If-None-Match, so an upgraded binary is picked up at
//        once) and "X-Content-Type-Options: nosniff". An unknown /assets/<file> -> 404 JSON.
//   GET  /healthz      200 "ok" (text/plain), no auth.
//   GET  /metrics      Prometheus text format 0.0.4, no auth (it holds no
//                      data, only counts; keep it off public networks).
//   Anything else      404 {"error": ...}.
// Answers are never compressed (no Content-Encoding, whatever the client's
// Accept-Encoding): cpp-httplib would compress each answer anew, with
// brotli at its slowest quality for clients offering "br" (browsers do),
// ~0.5 s of CPU for one day of 1m bars. Put a caching proxy in front for
// compression over slow links.
// Values: decimals are JSON strings in canonical form ("65000.01", no
// trailing zeros: etl/dec18.h Dec18ToString), times RFC 3339 UTC with the
// fraction trimmed ("2024-05-01T12:00:44.39Z"), counts JSON integers. In
// /api/v1/sql results, DECIMAL values are strings and integers, floats and
// booleans JSON numbers/booleans, as in sql/render.h RenderJson.
//
// Errors: 400 invalid parameter / SQL error / scan limit, 401 no or unknown
// token (with WWW-Authenticate: Bearer), 403 role may not use the endpoint or
// a refused statement, 404 unknown path, 413 body too large, 429/503/504 for
// retryable lake errors, 500 otherwise. The server keeps serving after any
// request, good or bad.
//
// Auth: "Authorization: Bearer <token>". The server holds only SHA-256
// hashes of tokens (hex, Sha256Hex below; `tradelake serve --hash-token`),
// each bound to a role; a presented token is hashed and compared with every
// configured hash in constant time (CRYPTO_memcmp, no early exit). Which
// roles may use which endpoint is kEndpointRoles. When no token is
// configured at all, the server warns at start and answers every endpoint
// as "admin" but only to clients on the loopback interface (127.0.0.1, ::1);
// other clients get 403 naming --token-hash. The default bind is 127.0.0.1.
//
// Browsers (serve/request_guard.h; SECURITY.md has the threat model): every
// request but /healthz whose Host is not one of the server's names
// (localhost, 127.0.0.1, ::1, the bind address, the --public-url host) is
// refused with 403 (DNS rebinding) -- always in open mode, with tokens when
// the names are known (a specific bind address or --public-url). Every
// /api/v1 request a browser marks as cross-site (Sec-Fetch-Site cross-site or
// same-site, or an Origin other than the server's own or --public-url's) is
// refused with 403 before any handler runs: nothing is read, run or paused.
//
// Statement limits: each statement on the lake runs under a time limit and
// a memory limit (sql_timeout_micros, sql_memory_bytes; StatementWatchdog
// interrupts it: 400 naming the limit, outcome "over_limit"), and at most
// sql_max_concurrent POST /api/v1/sql requests run or wait at once (more:
// 429, Retry-After: 1, outcome "busy").
//
// Catalog freshness: at most every refresh_interval_micros, a request lists
// _catalog/commits/ (cheap: the newest commit key) and, if a newer commit
// exists, the LakeSql re-reads the catalog before answering. A bars cache
// hit checks only if the lake is free; while a statement holds it, the hit
// is answered from the commit being served (that statement's request
// checked when it began).
//
// Metrics (names are a stable contract; add, never rename):
//   tradelake_http_requests_total{path,code}    counter: answered requests;
//       path is an endpoint of the list above, "dashboard" (/, /index.html,
//       /assets/*) or "other"
//   tradelake_sql_bytes_scanned_total           counter: bytes_read of every
//       statement the server ran on the lake (all endpoints)
//   tradelake_sql_statements_total{outcome}     counter: statements run, by
//       outcome "ok", "refused" (403), "error" (400), "over_limit" (scan,
//       time or memory limit), "busy" (over sql_max_concurrent), "failed"
//       (other errors)
//   tradelake_catalog_commit                    gauge: seq of the catalog
//       snapshot being served
//   tradelake_freshness_seconds{product}        gauge: now - last trade time
//       in Silver, per product
//   tradelake_bars_cache_total{result}          counter: /api/v1/bars
//       requests with valid parameters answered from the cache ("hit") or
//       by a statement ("miss", whether it succeeded or not); neither when
//       bars_cache_entries is 0
//   tradelake_sql_stopped_total{limit}          counter: statements stopped by
//       the "time" or "memory" limit
//   tradelake_http_refused_total{reason}        counter: requests refused by
//       the request guard, reason "host" or "cross_site"
//   tradelake_sql_requests_in_flight            gauge: POST /api/v1/sql requests
//       running or waiting (the ones sql_max_concurrent counts)
//   tradelake_process_resident_bytes            gauge: resident set size
//   tradelake_process_open_fds                  gauge: open file descriptors
//   followed by PipelineHooks::metrics_text when the server runs a pipeline.
//
// Threads: handlers run on a pool of `threads` HTTP threads; statements on
// the lake run one at a time (LakeSql is single-threaded; guarded by a
// mutex); bars cache hits take only the cache's own mutex. All public
// methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "live/live_tail.h"
#include "serve/auth.h"
#include "store/object_store.h"

namespace tradelake {

// What `tradelake run` plugs into the server (pipeline/pipeline.h renders
// the JSON); empty functions for `tradelake serve`. Called from HTTP threads:
// each must be thread-safe.
struct PipelineHooks {
  // The "pipeline" object of /api/v1/status (a JSON object, already
  // rendered); /api/v1/status shows "pipeline": null without it.
  std::function<std::string()> status_json;
  // The schedule as a JSON object {"paused", "changed_at", "by"}.
  std::function<std::string()> schedule_json;
  // Pauses (true) or resumes (false) the schedule, recording `by` (the
  // caller's role); answers the new schedule JSON, or why it could not.
  std::function<Result<std::string>(bool paused, std::string_view by)> set_paused;
  // More Prometheus text appended to /metrics (HELP/TYPE lines included).
  std::function<std::string()> metrics_text;
  // The live tail (live/live_tail.h): provisional 1m bars of a product with
  // period_start after `after`, oldest first. Unset: no provisional bars.
  std::function<std::vector<ProvisionalBar>(const std::string& product, TimestampMicros after)> provisional_bars;
  bool present() const { return static_cast<bool>(status_json); }
};

struct ApiServerOptions {
  std::string bind = "127.0.0.1";
  int port = 0;                    // 0: any free port (see ApiServer::port())
  std::vector<TokenHash> tokens;   // empty: loopback clients only, as admin
  int64_t max_scan_bytes = 0;      // per statement; 0: no limit
  size_t max_body_bytes = 64 * 1024;
  // HTTP worker threads. cpp-httplib hands each connection to one thread
  // until the client closes it, it is idle for the keep-alive timeout (2 s)
  // or it has carried 100 requests; other connections wait in the queue
  // meanwhile. So this is how many keep-alive clients are served at once:
  // 64 dashboards or load-test connections must not queue behind 8 workers
  // (with 8, the 9th client waits until one of the first 8 goes idle or
  // reaches 100 requests). Idle threads cost only their stacks. The
  // listening socket's backlog is raised to SOMAXCONN (httplib's is 5) and
  // TCP_NODELAY is on, so many clients connecting at once are not dropped
  // and answers do not wait for delayed ACKs.
  int threads = 64;
  // /api/v1/live streams at once (each holds a worker thread).
  int max_live_streams = 16;
  // Most /api/v1/bars answers kept (see the endpoint). 0: no cache, and
  // every request queries its from/to exactly as given.
  size_t bars_cache_entries = 512;
  int64_t refresh_interval_micros = kMicrosPerSecond;
  uint64_t max_sql_rows = 100'000;  // /api/v1/sql rows beyond are cut ("truncated": true)
  std::string cache_dir;           // LakeSql's cache for a remote lake
  int sql_threads = 0;             // DuckDB threads (0: one per core)
  // Limits of one statement (query/statement_limits.h): stopped after this
  // long (0: never), or once it grew the process by more than
  // sql_memory_bytes (0: no limit; also DuckDB's memory_limit). A stopped
  // statement answers 400 naming the limit and the flag.
  int64_t sql_timeout_micros = 30 * kMicrosPerSecond;
  int64_t sql_memory_bytes = int64_t{1} << 30;
  // POST /api/v1/sql requests running or waiting for the lake at once;
  // more answer 429 with Retry-After (0: no cap).
  int sql_max_concurrent = 4;
  // The URL clients use when the server runs behind a proxy
  // ("https://lake.example.com"): its host is accepted as Host and its
  // origin as Origin (serve/request_guard.h). "" for none.
  std::string public_url;
  // The clock for freshness and default time ranges (tests pin it).
  std::function<TimestampMicros()> clock = NowMicros;
  PipelineHooks pipeline;          // set by `tradelake run`
};

class ApiServer {
 public:
  // Opens a LakeSql over `store`, binds and starts serving on background
  // threads. `store` must outlive the server. InvalidArgument for bad
  // options (a bad token hash or role); the LakeSql's error if the lake
  // cannot be read; Unavailable if the address cannot be bound.
  static Result<std::unique_ptr<ApiServer>> Start(ObjectStore* store, ApiServerOptions options);
  ~ApiServer();  // Stop()s

  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"
  // True when no token is configured (loopback-only mode).
  bool open_mode() const;

  // Cancels a running statement, stops accepting and waits for the
  // listener. Idempotent.
  void Stop();

  // The /metrics text (for tests and the CLI's final summary).
  std::string MetricsText();

 private:
  class Impl;
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
