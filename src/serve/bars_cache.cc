#include "serve/bars_cache.h"

namespace tradelake {

size_t GoldBars::bytes() const {
  size_t n = bars.capacity() * sizeof(BarCells);
  for (const BarCells& b : bars) {
    for (const std::string& c : b.cells) {
      if (c.capacity() > 15) n += c.capacity() + 1;  // beyond the small-string buffer
    }
  }
  return n;
}

template <typename V>
typename CommitCache<V>::Value CommitCache<V>::Find(const Key& key) {
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

template <typename V>
void CommitCache<V>::Insert(Key key, Value value) {
  const size_t bytes = Cost(key, *value);
  std::lock_guard<std::mutex> lock(mu_);
  if (key.commit < commit_ || bytes > max_bytes_) return;
  if (key.commit > commit_) ResetTo(key.commit);
  if (auto it = index_.find(key); it != index_.end()) Erase(it->second);
  lru_.emplace_front(std::move(key), std::move(value));
  index_.emplace(lru_.front().first, lru_.begin());
  bytes_ += bytes;
  while (lru_.size() > max_entries_ || bytes_ > max_bytes_) Erase(std::prev(lru_.end()));
}

template <typename V>
void CommitCache<V>::Erase(typename Lru::iterator it) {
  bytes_ -= Cost(it->first, *it->second);
  index_.erase(it->first);
  lru_.erase(it);
}

template <typename V>
void CommitCache<V>::ResetTo(int64_t commit) {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
  commit_ = commit;
}

template class CommitCache<GoldBars>;
template class CommitCache<AnswerBody>;

}  // namespace tradelake
