// CoinbaseClient: the public Coinbase Exchange REST API, as tradelake needs it.
//
//   GET /products                          -> ListProducts()
//   GET /products/{id}/trades?limit&after  -> GetTrades()
//
// Every request takes a token from the shared RateLimiter first and sends a
// User-Agent. Retries follow the status code, never the message:
//   429                      -> back off (capped exponential, full jitter), retry
//   5xx, transport errors,
//   truncated/invalid JSON   -> same backoff, retry
//   400, 404 and other 4xx   -> no retry; NotFound/InvalidArgument with the
//                               exchange's {"message": ...} quoted
// After max_attempts the last error is returned (still retryable-coded, so a
// follow loop may try again later). Every retry is counted in ClientStats and
// logged at warn level with the reason and the delay.
//
// One client per thread (it owns an HttpClient); the limiter and the stats
// may be shared by many clients.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
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

// A page of trades as returned, newest first. Move-only in practice: `trades`
// point into `body`.
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

// Parses a /trades response body into `page` (which takes ownership of it).
// Fails with Unavailable (retryable: truncated or invalid JSON is what a cut
// connection produces) if the body is not a JSON array of objects each with
// an integer trade_id.
Status ParseTradePage(std::string body, TradePage* page);

struct RetryPolicy {
  int max_attempts = 6;          // total tries per request, >= 1
  int64_t base_delay_ms = 250;   // first backoff
  int64_t max_delay_ms = 8000;   // cap of one backoff
};

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
  std::string base_url = std::string(kCoinbaseExchangeUrl);
  HttpOptions http;
  RetryPolicy retry;
};

class CoinbaseClient {
 public:
  // `limiter` and `stats` must outlive the client; either may be shared.
  CoinbaseClient(CoinbaseOptions options, RateLimiter* limiter, ClientStats* stats);

  Result<std::vector<ProductInfo>> ListProducts();

  // Trades with trade_id < after (newest first, at most `limit`); without
  // `after`, the newest trades. NotFound for an unknown product.
  Result<TradePage> GetTrades(std::string_view product_id, std::optional<int64_t> after,
                              int limit = kMaxTradesPerPage);

 private:
  // GET base_url + path with rate limiting and retries; `validate` may reject a
  // 200 body as retryable (e.g. truncated JSON).
  template <typename Parse>
  auto Fetch(const std::string& path, Parse parse) -> decltype(parse(std::string()));

  CoinbaseOptions options_;
  RateLimiter* limiter_;
  ClientStats* stats_;
  HttpClient http_;
};

}  // namespace tradelake
