// TradeHints: where new trades are, so REST requests go only there.
//
// The WebSocket feed (matches and heartbeats with their last_trade_id) tells
// the ingester that a product has published trades up to some id; REST stays
// the source of truth for Bronze. With IngestOptions::hints set, a following
// ingester that has caught up waits on the hints instead of polling every
// poll_interval: it fetches a product again as soon as a trade id above what
// it has landed is notified, and otherwise only every hint_poll_interval_ms
// (a safety poll, so a dead or lying feed delays trades but never loses them:
// the cursor walk is gap-free whatever the hints say). Without hints it polls
// as before.
//
// Notify may be called from any thread (the feed's reader thread: it never
// blocks beyond a short mutex); the waits are for the ingester's threads.
// Ids only grow: a lower id than one already notified is ignored.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace tradelake {

class TradeHints {
 public:
  using Clock = std::chrono::steady_clock;

  // The exchange has published `product`'s trade `last_known_trade_id` (a
  // match's trade_id, a heartbeat's last_trade_id).
  void Notify(std::string_view product, int64_t last_known_trade_id);

  // The highest id notified for `product`, if any.
  std::optional<int64_t> Known(std::string_view product) const;

  // Blocks until `product` has a notified id > `have`, `deadline` passes or
  // Wake() is called. Returns true if there is such an id.
  bool WaitForTradesAbove(std::string_view product, int64_t have, Clock::time_point deadline);

  // The feed will say nothing more of `product` (the exchange refused its
  // subscription: unknown or delisted there): a follower polls it every
  // poll_interval again, as without hints. Follows() is false from then on.
  void Unfollow(std::string_view product);
  bool Follows(std::string_view product) const;

  // Wakes every waiter (to stop); they return what Known says.
  void Wake();

  // Notifications received (for benchmarks and status).
  int64_t notifications() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t, std::less<>> known_;  // GUARDED_BY(mu_)
  std::set<std::string, std::less<>> unfollowed_;      // GUARDED_BY(mu_)
  uint64_t wakes_ = 0;                                  // GUARDED_BY(mu_)
  int64_t notifications_ = 0;                           // GUARDED_BY(mu_)
};

}  // namespace tradelake
