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
#pragma once

#include <cstdint>
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
  double overlap = 0;     // share of trade pages shifted to overlap the next newer page
  double duplicate = 0;   // share of trade pages with some trades repeated
  int64_t latency_ms = 0; // added to every answer
  // Trade ids the exchange cannot return ("holes"), per all products.
  std::vector<std::pair<int64_t, int64_t>> holes;  // inclusive ranges
};

struct SimulatorOptions {
  std::string bind = "127.0.0.1";
  int port = 0;  // 0: pick a free port (see Simulator::port())
  std::vector<std::string> products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  uint64_t seed = 42;
  int64_t history_micros = 6 * kMicrosPerHour;  // trades before start
  double trades_per_second = 5.0;               // mean arrival rate per product
  std::optional<TimestampMicros> now;           // pin "start" for reproducible times
  bool live = true;                             // keep making trades in real time
  bool rate_limit = true;
  double rate = 10.0;   // requests/s
  double burst = 15.0;
  FaultOptions faults;
  int threads = 8;      // HTTP worker threads
};

class Simulator {
 public:
  static Result<std::unique_ptr<Simulator>> Start(SimulatorOptions options);
  ~Simulator();  // stops serving

  int port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"

  // What the exchange has published so far for a product (for tests and the
  // demo summary): ids are contiguous from first to last, minus holes.
  int64_t FirstTradeId(const std::string& product) const;
  int64_t LastTradeId(const std::string& product) const;
  bool IsHole(int64_t trade_id) const;

  // The exact JSON object the simulator serves for a trade.
  std::string TradeJson(const std::string& product, int64_t trade_id) const;

  // Requests served, by answer (for benchmarks).
  struct Counters { int64_t requests, ok, rate_limited, faults; };
  Counters counters() const;

  void Stop();

  class Impl;
 private:
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
