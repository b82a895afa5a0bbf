// Simulator: `tradelake simulate`, an offline Coinbase Exchange.
//
// Serves the public REST API's shapes exactly — /products, /products/{id},
// /products/{id}/trades (limit, after, before; CB-AFTER / CB-BEFORE headers),
// /products/{id}/candles (computed from its own trades), errors as
// {"message": ...} — over a deterministic synthetic market (see market.h).
// It enforces the public rate limit (429 {"message":"Public rate limit
// exceeded"}) unless told not to, and its fault flags inject what real
// networks and exchanges do: 5xx, 429, latency, dropped connections,
// truncated bodies, overlapping pages and duplicate trades, plus holes (ids
// the exchange cannot return).
//
// Start() binds and serves on background threads; trades keep arriving in
// real time. Thread-safe.
//
// /products/{id}/trades: limit 1..1000 (default 1000, else 400 "Invalid
// limit"); after=X gives the newest `limit` trades with id < X, before=X the
// oldest `limit` trades with id > X, neither the newest page; always newest
// first. CB-AFTER / CB-BEFORE carry the smallest / largest id in the page and
// are absent when it is empty. /candles: granularity 60|300|900|3600|21600|
// 86400, start/end as Unix seconds or RFC 3339 (both or neither; end is
// inclusive: the bucket starting at end is in), at most 300 candles, newest
// first, from every trade the exchange has (holes included), minus the
// candle faults (FaultOptions::candle_*).
// Unknown products and paths: 404 {"message":"NotFound"}.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

struct FaultOptions {
  double error_5xx = 0;   // share of requests answered 500/502/503
  double error_429 = 0;   // share answered 429 even under the limit
  double truncate = 0;    // share of 200 bodies cut short
  double drop = 0;        // share of connections closed without an answer
  double overlap = 0;     // share of trade pages shifted to overlap the page fetched before
                          // (after=: into newer ids; before=: into older ones)
  double duplicate = 0;   // share of trade pages with some trades repeated
  int64_t latency_ms = 0; // added to every answer
  // Every /trades page holds at most this many trades (0: no cap), as an
  // exchange may answer with fewer than `limit`: the window is cut to the
  // newest `short_page_max` ids below `after` (the oldest above `before`),
  // so CB-AFTER / CB-BEFORE stay exact and following CB-AFTER reaches every
  // trade.
  int64_t short_page_max = 0;
  // Shares are probabilities in [0, 1], drawn per request from a generator
  // seeded by SimulatorOptions::seed, so a run's fault pattern depends only
  // on the seed and the order of requests.
  // Trade ids the exchange cannot return ("holes"), per all products.
  std::vector<std::pair<int64_t, int64_t>> holes;  // inclusive ranges
  // Holes that heal: their ids are missing from every answer until the hole
  // heals, then served like any other trade.
  struct HealingHole {
    int64_t first_id = 0, last_id = 0;  // inclusive
    // Heals once this much time has passed since the simulator started
    // (-1: not by time) ...
    int64_t heal_after_ms = -1;
    // ... or once this many /trades pages whose window held one of its ids
    // were answered without them (-1: not by count): asked once more, it is
    // there. Deterministic, for tests.
    int64_t heal_after_asks = -1;
  };
  std::vector<HealingHole> healing_holes;
  // /candles faults, chosen per (product, minute) from the seed, so every
  // fetch of a minute sees the same answer (Simulator::CandleFaultAt):
  double candle_perturb = 0;  // share of candles with one value off by one increment
  double candle_drop = 0;     // share of candles left out of the answer
  // Candles are computed only from trades older than this (the exchange's
  // candles of the latest minutes are not final yet).
  int64_t candle_lag_ms = 0;
};

// What the /candles fault options do to one minute of one product.
enum class CandleFault { kNone, kPerturbed, kDropped };

struct SimulatorOptions {
  std::string bind = "127.0.0.1";
  int port = 0;  // 0: pick a free port (see Simulator::port())
  std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  // The "status" GET /products gives a product ("delisted", "offline", ...);
  // products not named here are "online". Every listed product serves its
  // trades whatever its status (the real exchange keeps their history).
  std::map<std::string, std::string> product_status;
  uint64_t seed = 42;
  int64_t history_micros = 6 * kMicrosPerHour;  // trades before start
  double trades_per_second = 5.0;               // mean arrival rate per product
  std::optional<TimestampMicros> now;           // pin "start" for reproducible times
  bool live = true;                             // keep making trades in real time
  bool rate_limit = true;
  double rate = 10.0;   // requests/s
  double burst = 15.0;
  FaultOptions faults;
  // HTTP worker threads. Each keep-alive connection holds one while it is
  // open, and `run` keeps one per ingest worker plus the API's: with 8, a
  // run over 50 products got about 9 requests/s.
  int threads = 32;
};

class Simulator {
 public:
  // Generates the history and starts serving. InvalidArgument for bad options
  // (a product id that is not BASE-QUOTE, a listed-twice product, shares
  // outside [0, 1], ...); Unavailable if the address cannot be bound.
  static Result<std::unique_ptr<Simulator>> Start(SimulatorOptions options);
  ~Simulator();  // stops serving

  int port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"

  // What the exchange has published so far for a product (for tests and the
  // demo summary): ids are contiguous from first to last, minus holes
  // (IsHole: a hole or a healing hole that has not healed yet).
  // 0 for a product the simulator does not list; last = first - 1 while a
  // product has no trades yet.
  int64_t FirstTradeId(const std::string& product) const;
  int64_t LastTradeId(const std::string& product) const;
  bool IsHole(int64_t trade_id) const;
  // The candle fault of (product, minute start); kNone without candle faults.
  CandleFault CandleFaultAt(const std::string& product, TimestampMicros minute) const;

  // The exact JSON object the simulator serves for a trade; "" for an unknown
  // product or an id that does not exist (yet).
  std::string TradeJson(const std::string& product, int64_t trade_id) const;

  // Requests served, by answer (for benchmarks): every request; those answered
  // 200 (truncated, overlapping and duplicated pages included); 429s from the
  // real limit; injected faults (5xx, 429, drop, truncate, overlap, duplicate).
  struct Counters { int64_t requests, ok, rate_limited, faults; };
  Counters counters() const;

  // Stops serving and waits for in-flight requests. Idempotent.
  void Stop();

  class Impl;
 private:
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
