// WsFeed: Coinbase Exchange's WebSocket feed (wss://ws-feed.exchange.coinbase.com),
// the `matches` and `heartbeat` channels, for many products.
//
// What it is for: knowing within milliseconds which trades the exchange has
// published (the live tail's provisional bars, and where REST should look).
// It is not the source of truth: a message may be lost (a drop, a reconnect,
// a full queue), and a lost match is detectable by the heartbeats'
// last_trade_id, never silent. REST fills it.
//
// Connections: the products are split into groups of at most
// max_products_per_connection; each group has one connection, which
// subscribes to both channels for all its products. Each connection
// reconnects by itself after any failure (refused, reset, closed by the
// exchange, a handshake or TLS error, a malformed frame) with jittered
// exponential backoff: the n-th consecutive failure waits a uniform time in
// [c/2, c], c = min(backoff_max_ms, backoff_base_ms * 2^(n-1)); the count
// resets when a heartbeat arrives. A watchdog closes and reopens a connection
// when no heartbeat arrived for heartbeat_timeout_ms (a stalled feed).
//
// Messages handled: subscriptions (products the exchange did not confirm are
// reported as errors), last_match and match (-> WsMatch), heartbeat
// (-> WsHeartbeat), error (unknown or delisted product: reported with the
// product named, the product is dropped from its connection's subscription,
// and the other products go on; an error naming no product of ours is
// reported with an empty product). Other message types are counted and
// ignored. Matches are checked (trade_id an int64, price and size exact
// decimals, side buy/sell, time RFC 3339, product one of ours); a match that
// fails is counted in invalid_messages and reported through on_error.
//
// Threads: one reader thread runs every connection (asynchronous I/O) and
// never waits for the consumer: it parses each message and puts the event on
// a bounded queue. When the queue is full, match and heartbeat events are
// dropped and counted (queue_drops); errors and state changes are always
// queued. One dispatcher thread takes events off the queue, in order, and
// calls the callbacks, one at a time. Callbacks should be quick, must not
// throw, and must not call Stop(). After Stop() returns, no callback runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

inline constexpr std::string_view kCoinbaseWsUrl = "wss://ws-feed.exchange.coinbase.com";

// One match (or last_match) message.
struct WsMatch {
  std::string product;       // "BTC-USD"
  int64_t trade_id = 0;
  std::string price;         // exact decimal text as sent (Decimal::Parse accepts it)
  std::string size;          // exact decimal text as sent
  std::string side;          // "buy" or "sell": the MAKER's side, as in REST
  TimestampMicros time = 0;  // the trade's time
  int64_t sequence = 0;
  bool last_match = false;   // a repeat of the latest trade, sent once on subscribing
  TimestampMicros received_at = 0;  // wall clock when the reader parsed it
  std::string raw;           // the message exactly as received
};

// One heartbeat: at `time`, the newest trade id of `product` was last_trade_id.
struct WsHeartbeat {
  std::string product;
  int64_t last_trade_id = 0;
  int64_t sequence = 0;
  TimestampMicros time = 0;
  TimestampMicros received_at = 0;
};

// A connection opened (subscribed) or closed.
struct WsStateChange {
  int connection = 0;                 // 0 .. connections()-1
  bool connected = false;
  std::vector<std::string> products;  // the connection's products
  std::string reason;                 // why it closed; empty when connected
};

// A snapshot of one connection (WsFeed::ConnectionStatus).
struct WsConnectionStatus {
  int connection = 0;
  std::vector<std::string> products;  // still subscribed (refused ones removed)
  bool connected = false;             // subscribed and reading now
  int failures = 0;                   // consecutive failed attempts (0 after a heartbeat)
  std::string last_error;             // why the newest attempt failed or closed; "" if none yet
};

struct WsCallbacks {
  std::function<void(const WsMatch&)> on_match;
  std::function<void(const WsHeartbeat&)> on_heartbeat;
  // `product` is the product concerned ("" when none): NotFound for a product
  // the exchange refused (unknown or delisted), DataLoss for a malformed
  // match, Unavailable for other errors of the exchange.
  std::function<void(const std::string& product, const Status& error)> on_error;
  std::function<void(const WsStateChange&)> on_state;
};

struct WsFeedOptions {
  std::string url = std::string(kCoinbaseWsUrl);  // ws://host[:port][/path] or wss://...
  std::vector<std::string> products;              // "BTC-USD", ...
  int max_products_per_connection = 100;
  int64_t connect_timeout_ms = 10'000;   // resolve + TCP + TLS + WebSocket handshake, each
  int64_t heartbeat_timeout_ms = 5'000;  // watchdog (the exchange beats every second)
  int64_t backoff_base_ms = 250;
  int64_t backoff_max_ms = 30'000;
  size_t queue_capacity = 100'000;       // events between the reader and the callbacks
  bool permessage_deflate = true;        // offer compression (the server may decline)
  std::optional<uint64_t> jitter_seed;   // empty: random
};

// Counters, readable any time from any thread.
struct WsFeedStats {
  std::atomic<int64_t> messages{0};           // messages received
  std::atomic<int64_t> bytes{0};              // their payload bytes (after inflation)
  std::atomic<int64_t> matches{0};            // match + last_match
  std::atomic<int64_t> heartbeats{0};
  std::atomic<int64_t> errors{0};             // error messages from the exchange
  std::atomic<int64_t> invalid_messages{0};   // not JSON, or a malformed match/heartbeat
  std::atomic<int64_t> connects{0};           // connections that subscribed
  std::atomic<int64_t> reconnects{0};         // connection attempts after a failure
  std::atomic<int64_t> disconnects{0};        // subscribed connections that were lost
  std::atomic<int64_t> watchdog_timeouts{0};  // closed for want of heartbeats
  std::atomic<int64_t> queue_drops{0};        // events dropped because the queue was full
};

// The subscriptions ack: the products confirmed on the matches channel.
struct WsSubscriptions {
  std::vector<std::string> matches;
};
// An error message of the exchange, e.g. message "Failed to subscribe",
// reason "FOO-USD is not a valid product".
struct WsErrorMessage {
  std::string message;  // "(no message)" when absent
  std::string reason;   // may be empty
};
// Any other message type (other channels), ignored by WsFeed.
struct WsOtherMessage {
  std::string type;
};
using WsMessage = std::variant<WsMatch, WsHeartbeat, WsSubscriptions, WsErrorMessage, WsOtherMessage>;

// One message of the feed, parsed and checked, as WsFeed's reader does with
// each (exposed for tests and the fuzzer). A match or last_match needs
// product_id (a valid product id), trade_id (an int64), price and size (exact
// decimals, Decimal::Parse), side ("buy"/"sell") and time (RFC 3339); its
// `raw` is `text`. A heartbeat needs product_id, last_trade_id and time.
// DataLoss, quoting the start of the text, for anything else that is not a
// JSON object with a string "type", or a match/heartbeat that fails those
// checks. Thread-safe (a parser per thread).
Result<WsMessage> ParseWsMessage(std::string text, TimestampMicros received_at);

class WsFeed {
 public:
  // Validates the options and starts connecting in the background; connection
  // failures are retried and reported through on_state, never returned.
  // InvalidArgument for a URL that is not ws:// or wss://, no products, an
  // invalid product id, or non-positive limits; FailedPrecondition when wss://
  // has no usable CA bundle ($SSL_CERT_FILE or the system's).
  static Result<std::unique_ptr<WsFeed>> Start(WsFeedOptions options, WsCallbacks callbacks);
  ~WsFeed();  // Stop()
  WsFeed(const WsFeed&) = delete;
  WsFeed& operator=(const WsFeed&) = delete;

  const WsFeedStats& stats() const;
  int connections() const;
  // Every connection's state now, by connection index. Thread-safe.
  std::vector<WsConnectionStatus> ConnectionStatus() const;
  // Products the exchange refused so far (no longer subscribed).
  std::vector<std::string> refused_products() const;

  // Closes every connection and joins both threads. Idempotent. Must not be
  // called from a callback.
  void Stop();

  class Impl;

 private:
  explicit WsFeed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The backoff ceiling after the n-th consecutive failure (n >= 1):
// min(max_ms, base_ms * 2^(n-1)).
int64_t WsBackoffCeilingMs(int64_t base_ms, int64_t max_ms, int failure);

}  // namespace tradelake
