// BarsCache: the answer cache of GET /api/v1/bars (serve/api_server.h).
//
// Contract: holds rendered "bars" arrays (JSON text, immutable, shared) keyed
// by the catalog commit they were read from and the aligned request
// (api_params.h AlignRangeUp: requests that differ only inside one interval
// share an entry). Only the newest commit's entries are kept: a key of a
// newer commit drops the older entries, which can never be asked for again.
// Beyond max_entries or max_bytes the least recently used entries go.
// Threads: every method is thread-safe; the mutex is held only for the map
// and list operations, never while a statement runs, and a hit copies a
// pointer.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/time.h"

namespace tradelake {

class BarsCache {
 public:
  struct Key {
    int64_t commit = 0;
    std::string product;
    std::string_view interval;  // BarInterval::name, static storage
    TimestampMicros from = 0;
    TimestampMicros to = 0;
    auto operator<=>(const Key&) const = default;
  };
  using Value = std::shared_ptr<const std::string>;

  BarsCache(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The cached array, or nullptr. A key of a newer commit than the entries
  // drops them all.
  Value Find(const Key& key);

  // Keeps `bars` for `key` unless an entry of a newer commit exists already
  // (a slow miss finishing late), the key is cached already (two concurrent
  // misses of one key) or it alone is over max_bytes.
  void Insert(Key key, Value bars);

 private:
  using Lru = std::list<std::pair<Key, Value>>;  // most recently used first

  // Memory an entry holds, roughly: the array, the key and the nodes.
  static size_t Cost(const Key& key, const std::string& bars) { return bars.size() + 2 * key.product.size() + 256; }
  void ResetTo(int64_t commit);  // REQUIRES: mu_ held

  const size_t max_entries_;
  const size_t max_bytes_;
  std::mutex mu_;
  int64_t commit_ = -1;                  // GUARDED_BY(mu_)
  Lru lru_;                              // GUARDED_BY(mu_)
  std::map<Key, Lru::iterator> index_;   // GUARDED_BY(mu_); keys point into lru_
  size_t bytes_ = 0;                     // GUARDED_BY(mu_)
};

}  // namespace tradelake
