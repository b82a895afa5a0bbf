// CoinbaseClient: the public Coinbase Exchange REST API, as tradelake needs it.
//
//   GET /products                          -> ListProducts()
//   GET /products/{id}/trades?limit&after  -> GetTrades()
//   GET /products/{id}/candles?granularity=60&start&end -> GetCandles()
//
// Every request takes a token from the shared RateLimiter first and sends a
// User-Agent. Retries follow the status code, never the message:
//   429                      -> back off (capped exponential, full jitter), retry
//   5xx, transport errors,
//   truncated/invalid JSON   -> same backoff, retry
//   400, 404 and other 4xx   -> no retry; NotFound/InvalidArgument with the
//                               exchange's {"message": ...} quoted
// After max_attempts the last error is returned (still retryable-coded, so a
// follow loop may try again later) as "GET <url> failed after N attempts:
// <reason>". Every retry is counted in ClientStats and logged at warn level
// with the attempt, the reason and the delay.
//
// One client per thread (it owns an HttpClient and its jitter RNG); the
// limiter and the stats may be shared by many clients.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/text.h"  // ValidateProductId
#include "core/time.h"
#include "exchange/http_client.h"
#include "exchange/rate_limiter.h"

namespace tradelake {

inline constexpr std::string_view kCoinbaseExchangeUrl = "https://api.exchange.coinbase.com";
inline constexpr int kMaxTradesPerPage = 1000;

struct ProductInfo {
  std::string id;               // "BTC-USD"
  std::string status;           // "online", "delisted", ...
  std::string base_increment;   // "0.00000001"
  std::string quote_increment;  // "0.01"
  std::string base_currency;    // "BTC" ("" if the exchange left it out)
  std::string quote_currency;   // "USD" ("" if the exchange left it out)
};

// One trade of a page: its id, its parsed time, and its JSON object exactly as
// the exchange sent it (a view into TradePage::body).
struct RawTrade {
  int64_t trade_id = 0;
  // Parsed "time"; nullopt if the field is missing or not RFC 3339. Such a
  // trade still lands in Bronze (the ETL rejects it with a rule), filed under
  // the date of its neighbours.
  std::optional<TimestampMicros> time;
  std::string_view raw;
};

// A page of trades as returned, newest first. Move-only: `trades` point into
// `body`, and moving re-points them at the new owner's buffer (a short body
// kept inline by std::string moves its bytes, so the views must follow).
struct TradePage {
  std::string body;
  std::vector<RawTrade> trades;
  std::optional<int64_t> cb_after;   // CB-AFTER header: cursor for the next older page
  std::optional<int64_t> cb_before;  // CB-BEFORE header
  std::string request_path;          // "/products/BTC-USD/trades?limit=1000&after=5001"

  TradePage() = default;
  TradePage(TradePage&&) noexcept;
  TradePage& operator=(TradePage&&) noexcept;
  TradePage(const TradePage&) = delete;
  TradePage& operator=(const TradePage&) = delete;
};

// Parses a /trades response body into `page` (which takes ownership of it and
// of the parsed trades; its header fields are left alone). Every value of the
// body is validated, not only the fields read. Fails with Unavailable
// (retryable: truncated or invalid JSON is what a cut connection produces) if
// the body is not valid JSON ("malformed JSON from exchange: ...") or not an
// array of objects each with exactly one integer trade_id; `page->trades` is
// then empty.
Status ParseTradePage(std::string body, TradePage* page);


// One candle of /products/{id}/candles: [time, low, high, open, close,
// volume]. The values are kept as the exact text of the JSON numbers (never
// through a double); `raw` is the candle's JSON array exactly as sent.
struct Candle {
  TimestampMicros start = 0;  // the bucket's start, UTC
  std::string low, high, open, close, volume;
  std::string raw;
};

// Parses a /candles body (an array of 6-element arrays: an integer time in
// Unix seconds, then five numbers, JSON numbers or decimal strings). Order
// is kept (the exchange sends newest first). Unavailable (retried, as for a
// cut connection) for malformed JSON or a body of another shape, naming the
// element.
Result<std::vector<Candle>> ParseCandles(std::string body);

// At most this many candles per request (the exchange refuses more).
inline constexpr int kMaxCandlesPerRequest = 300;

struct RetryPolicy {
  int max_attempts = 6;          // total tries per request; values < 1 mean 1
  int64_t base_delay_ms = 250;   // first backoff
  int64_t max_delay_ms = 8000;   // cap of one backoff
};

// Upper bound of the backoff after the `retry`-th failed attempt (1-based):
// min(max_delay_ms, base_delay_ms * 2^(retry-1)). The actual delay is drawn
// uniformly from [0, bound] ("full jitter").
int64_t BackoffCeilingMs(const RetryPolicy& policy, int retry);

// Counters shared by all clients of one run. Read them any time.
struct ClientStats {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> rate_limited{0};    // 429 answers
  std::atomic<int64_t> server_errors{0};   // 5xx answers
  std::atomic<int64_t> transport_errors{0};
  std::atomic<int64_t> invalid_bodies{0};  // truncated / malformed JSON
  std::atomic<int64_t> bytes{0};           // response bytes received
};

struct CoinbaseOptions {
  std::string base_url = std::string(kCoinbaseExchangeUrl);  // a trailing '/' is ignored
  HttpOptions http;
  RetryPolicy retry;
  // How a backoff waits; empty: std::this_thread::sleep_for. Tests record delays.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Seed of the jitter RNG; empty: a random seed per client.
  std::optional<uint64_t> jitter_seed;
};

class CoinbaseClient {
 public:
  // `limiter` and `stats` must outlive the client; either may be shared, and
  // either may be null (no limiting; counters kept privately).
  CoinbaseClient(CoinbaseOptions options, RateLimiter* limiter, ClientStats* stats);
  CoinbaseClient(const CoinbaseClient&) = delete;
  CoinbaseClient& operator=(const CoinbaseClient&) = delete;

  // Every product the exchange lists, whatever its status. A product without
  // a string "id" makes the answer invalid (Unavailable, retried).
  Result<std::vector<ProductInfo>> ListProducts();

  // Trades with trade_id < after (newest first, at most `limit`); without
  // `after`, the newest trades. InvalidArgument, before any request, for a
  // product id ValidateProductId rejects, limit outside [1, kMaxTradesPerPage]
  // or after <= 0; NotFound for a product the exchange does not list.
  Result<TradePage> GetTrades(std::string_view product_id, std::optional<int64_t> after,
                              int limit = kMaxTradesPerPage);

  // One-minute candles (granularity 60) of [start, end): the buckets whose
  // start is in that range, newest first as sent. InvalidArgument before any
  // request for a bad product id, an empty range, a range of more than
  // kMaxCandlesPerRequest minutes or bounds off the minute; NotFound for a
  // product the exchange does not list.
  Result<std::vector<Candle>> GetCandles(std::string_view product_id, TimestampMicros start,
                                         TimestampMicros end);

 private:
  // GET base_url + path with rate limiting and retries. `on_ok` turns a 2xx
  // response into the caller's value; a retryable error from it (truncated
  // JSON) is retried like a 5xx, any other error is returned at once.
  Status Fetch(const std::string& path, const std::function<Status(HttpResponse&)>& on_ok);
  std::chrono::milliseconds NextBackoff(int retry);

  CoinbaseOptions options_;
  RateLimiter* limiter_;
  ClientStats own_stats_;
  ClientStats* stats_;
  HttpClient http_;
  std::mt19937_64 jitter_;
};

}  // namespace tradelake
