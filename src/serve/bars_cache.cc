#include "serve/bars_cache.h"

namespace tradelake {

BarsCache::Value BarsCache::Find(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (key.commit != commit_) {
    if (key.commit > commit_) ResetTo(key.commit);
    return nullptr;
  }
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void BarsCache::Insert(Key key, Value bars) {
  const size_t bytes = Cost(key, *bars);
  std::lock_guard<std::mutex> lock(mu_);
  if (key.commit < commit_ || bytes > max_bytes_) return;
  if (key.commit > commit_) ResetTo(key.commit);
  if (index_.contains(key)) return;
  lru_.emplace_front(std::move(key), std::move(bars));
  index_.emplace(lru_.front().first, lru_.begin());
  bytes_ += bytes;
  while (lru_.size() > max_entries_ || bytes_ > max_bytes_) {
    bytes_ -= Cost(lru_.back().first, *lru_.back().second);
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void BarsCache::ResetTo(int64_t commit) {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
  commit_ = commit;
}

}  // namespace tradelake
