// SimulatorWs: the WebSocket feed of `tradelake simulate`, in Coinbase
// Exchange's message shapes (wss://ws-feed.exchange.coinbase.com), for a
// running Simulator. Plain ws:// on 127.0.0.1; any request path.
//
// Client -> server:
//   {"type":"subscribe","product_ids":["BTC-USD"],"channels":["matches","heartbeat"]}
//   (channels may also be objects {"name":"matches","product_ids":[...]});
//   {"type":"unsubscribe", same shape}.
// Server -> client:
//   {"type":"subscriptions","channels":[{"name":"matches","product_ids":[...]},...]}
//     once per (un)subscribe, listing what the connection holds afterwards;
//   {"type":"error","message":"Failed to subscribe","reason":"FOO-USD is not a valid product"}
//     per unknown product (or channel), before the ack; valid products are still served;
//   {"type":"last_match",...} per newly subscribed product: a repeat of its latest trade;
//   {"type":"match","trade_id":N,"maker_order_id":"..","taker_order_id":"..","side":"sell",
//    "size":"..","price":"..","product_id":"..","sequence":S,"time":".."}
//     for every trade the simulator publishes after the subscription, in trade id
//     order; side, size, price and time are the REST trade's text (Simulator::TradeJson),
//     side being the MAKER's side. Holes (Simulator::IsHole) are not sent as matches
//     (the exchange cannot return them) but count in heartbeats;
//   {"type":"heartbeat","sequence":S,"last_trade_id":N,"product_id":"..","time":".."}
//     every heartbeat_interval_ms per product on the heartbeat channel; last_trade_id
//     is the newest id published (holes included) at `time`: every trade with a
//     time <= `time` has an id <= last_trade_id.
// `sequence` counts per product, over all connections.
//
// New trades are found by polling the Simulator's public API every
// poll_interval_ms (one io thread serves every connection). Faults
// (WsFaultOptions) are drawn per connection from a generator seeded by
// (seed, connection number), so a run's pattern depends only on the seed and
// the order of messages.
//
// Start() binds and serves on a background thread; Stop() (also the
// destructor) closes every connection and joins. The Simulator must outlive
// the SimulatorWs. counters() and url() are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

class Simulator;

struct WsFaultOptions {
  // Shares in [0, 1] of the match, last_match and heartbeat messages of a
  // connection (never the subscriptions ack or errors):
  double drop = 0;       // not sent
  double duplicate = 0;  // sent twice in a row
  double reorder = 0;    // held back and sent after the next message
  // Close each connection (TCP close, no close frame, as a dropped network
  // does) this long after it was accepted; 0: never.
  int64_t disconnect_every_ms = 0;
  // Every stall_every_ms, send nothing for stall_ms on a connection (it stays
  // open; what is due is sent after the stall); 0: never.
  int64_t stall_every_ms = 0;
  int64_t stall_ms = 0;
  // Slow consumer: when a connection's unsent bytes (what the client has not
  // read, beyond the socket buffers) exceed this, the server closes it as
  // Coinbase does; 0: no bound. Not checked during a stall.
  int64_t max_backlog_bytes = 16 << 20;
  // SO_SNDBUF of each connection (0: the OS default); small values make the
  // slow-consumer bound reachable in tests.
  int send_buffer_bytes = 0;
};

struct SimulatorWsOptions {
  std::string bind = "127.0.0.1";
  int port = 0;                       // 0: any free port (see port())
  uint64_t seed = 42;
  int64_t poll_interval_ms = 20;      // how often new trades are looked for
  int64_t heartbeat_interval_ms = 1000;
  // The clock of heartbeat times. Empty: the wall clock (NowMicros), which is
  // the Simulator's clock unless SimulatorOptions::now pinned it; then pass
  // the matching clock.
  std::function<TimestampMicros()> clock;
  // Coinbase refuses a whole subscribe message that names one product it does
  // not know: one error ("Failed to subscribe", "<P> is not a valid
  // product"), no subscriptions message, nothing subscribed. false: each
  // unknown product gets its error and the others are subscribed.
  bool refuse_whole_subscribe = false;
  WsFaultOptions faults;
};

class SimulatorWs {
 public:
  // Starts serving `sim`'s trades. InvalidArgument for shares outside [0, 1]
  // or negative intervals, naming the option; Unavailable when the address
  // cannot be bound. `sim` must outlive the returned server.
  static Result<std::unique_ptr<SimulatorWs>> Start(const Simulator* sim, SimulatorWsOptions options);
  ~SimulatorWs();
  SimulatorWs(const SimulatorWs&) = delete;
  SimulatorWs& operator=(const SimulatorWs&) = delete;

  int port() const;
  std::string url() const;  // "ws://127.0.0.1:PORT"

  // What was served so far (for tests and benchmarks).
  struct Counters {
    int64_t connections = 0;       // accepted WebSocket handshakes
    int64_t subscribes = 0;        // (un)subscribe requests handled
    int64_t messages = 0;          // messages queued for sending (duplicates included)
    int64_t matches = 0;           // match messages queued (duplicates included)
    int64_t heartbeats = 0;        // heartbeat messages queued
    int64_t errors = 0;            // error messages queued
    int64_t dropped = 0;           // drop fault
    int64_t duplicated = 0;        // duplicate fault
    int64_t reordered = 0;         // reorder fault
    int64_t disconnects = 0;       // disconnect fault
    int64_t stalls = 0;            // stall fault
    int64_t slow_consumer_closes = 0;
  };
  Counters counters() const;

  // Closes every connection and stops serving. Idempotent.
  void Stop();

  class Impl;

 private:
  explicit SimulatorWs(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
