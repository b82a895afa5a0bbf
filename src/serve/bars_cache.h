// The answer caches of GET /api/v1/bars (serve/api_server.h).
//
// Contract: a CommitCache holds immutable, shared values keyed by the
// catalog commit they were read from and the request. Only the newest
// commit's entries are kept: a key of a newer commit drops the older
// entries, which can never be asked for again. Beyond max_entries or
// max_bytes the least recently used entries go. The server keeps two:
//  - BarsCache: Gold's bars of a request, each value already JSON text,
//    keyed by the aligned range (api_params.h AlignRangeUp: requests that
//    differ only inside one interval share an entry); variant is empty.
//  - BodyCache: whole answers (identity, and gzip once a client asked for
//    it), keyed by the range as asked and a variant naming the format and
//    the live tail's bars the answer ends with.
// Threads: every method is thread-safe; the mutex is held only for the map
// and list operations, never while a statement runs, and a hit copies a
// pointer.
#pragma once

#include <array>
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
#include <vector>

#include "core/time.h"

namespace tradelake {

// The measures of a bar in /api/v1/bars, in the order of the answer.
inline constexpr std::array<std::string_view, 11> kBarFields = {
    "time", "open", "high", "low", "close", "volume", "quote_volume", "vwap", "trades", "buy_volume", "sell_volume"};

// One bar: its period_start and each field's value as JSON text
// ("\"64927.58\"", "275", "null").
struct BarCells {
  TimestampMicros time = 0;
  std::array<std::string, kBarFields.size()> cells;
};

// Gold's bars of one request, oldest first.
struct GoldBars {
  std::vector<BarCells> bars;
  size_t bytes() const;
};

// A finished /api/v1/bars answer.
struct AnswerBody {
  std::string identity;
  std::string gzip;  // the identity body gzip-compressed; empty until a client accepted gzip
  size_t bytes() const { return identity.size() + gzip.size(); }
};

template <typename V>
class CommitCache {
 public:
  struct Key {
    int64_t commit = 0;
    std::string product;
    std::string_view interval;  // BarInterval::name, static storage
    TimestampMicros from = 0;
    TimestampMicros to = 0;
    std::string variant;
    auto operator<=>(const Key&) const = default;
  };
  using Value = std::shared_ptr<const V>;

  CommitCache(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The cached value, or nullptr. A key of a newer commit than the entries
  // drops them all.
  Value Find(const Key& key);

  // Keeps `value` for `key`, replacing an entry of the key, unless an entry
  // of a newer commit exists already (a slow miss finishing late) or it
  // alone is over max_bytes.
  void Insert(Key key, Value value);

 private:
  using Lru = std::list<std::pair<Key, Value>>;  // most recently used first

  // Memory an entry holds, roughly: the value, the key and the nodes.
  static size_t Cost(const Key& key, const V& value) {
    return value.bytes() + 2 * (key.product.size() + key.variant.size()) + 256;
  }
  void Erase(typename Lru::iterator it);  // REQUIRES: mu_ held
  void ResetTo(int64_t commit);           // REQUIRES: mu_ held

  const size_t max_entries_;
  const size_t max_bytes_;
  std::mutex mu_;
  int64_t commit_ = -1;                            // GUARDED_BY(mu_)
  Lru lru_;                                        // GUARDED_BY(mu_)
  std::map<Key, typename Lru::iterator> index_;  // GUARDED_BY(mu_); keys point into lru_
  size_t bytes_ = 0;                               // GUARDED_BY(mu_)
};

using BarsCache = CommitCache<GoldBars>;
using BodyCache = CommitCache<AnswerBody>;

extern template class CommitCache<GoldBars>;
extern template class CommitCache<AnswerBody>;

}  // namespace tradelake
