#include "ingest/trade_hints.h"

namespace tradelake {

void TradeHints::Notify(std::string_view product, int64_t last_known_trade_id) {
  {
    std::lock_guard lock(mu_);
    ++notifications_;
    auto it = known_.find(product);
    if (it == known_.end()) {
      known_.emplace(std::string(product), last_known_trade_id);
    } else if (last_known_trade_id > it->second) {
      it->second = last_known_trade_id;
    } else {
      return;  // nothing new: nobody to wake
    }
  }
  cv_.notify_all();
}

std::optional<int64_t> TradeHints::Known(std::string_view product) const {
  std::lock_guard lock(mu_);
  auto it = known_.find(product);
  if (it == known_.end()) return std::nullopt;
  return it->second;
}

bool TradeHints::WaitForTradesAbove(std::string_view product, int64_t have, Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  const uint64_t wakes = wakes_;
  auto above = [&] {
    auto it = known_.find(product);
    return it != known_.end() && it->second > have;
  };
  cv_.wait_until(lock, deadline, [&] { return above() || wakes_ != wakes; });
  return above();
}

void TradeHints::Unfollow(std::string_view product) {
  {
    std::lock_guard lock(mu_);
    unfollowed_.emplace(product);
    ++wakes_;
  }
  cv_.notify_all();
}

bool TradeHints::Follows(std::string_view product) const {
  std::lock_guard lock(mu_);
  return !unfollowed_.contains(product);
}

void TradeHints::Wake() {
  {
    std::lock_guard lock(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

int64_t TradeHints::notifications() const {
  std::lock_guard lock(mu_);
  return notifications_;
}

}  // namespace tradelake
