#include "live/live_tail.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "core/text.h"
#include "etl/dec18.h"
#include "etl/gold.h"

namespace tradelake {
namespace {

// The trade as the Silver validator (etl/validate.cc) would make it from the
// same text: price and size exact at scale 18 after trimming trailing zeros,
// the notional multiplied exactly from the parsed values, taker_side the
// opposite of the maker's side.
Result<SilverTrade> ToSilver(const WsMatch& m) {
  auto fail = [&](std::string_view what) {
    return InvalidArgument(fmt::format("live trade {} of {}: {}", m.trade_id, m.product, what));
  };
  Result<Decimal> price = ParseDecimalTrimmed(m.price);
  Result<Decimal> size = ParseDecimalTrimmed(m.size);
  if (!price.ok()) return fail("price: " + price.status().message());
  if (!size.ok()) return fail("size: " + size.status().message());
  Result<Dec18> p = Dec18FromDecimal(*price);
  Result<Dec18> s = Dec18FromDecimal(*size);
  if (!p.ok()) return fail("price: " + p.status().message());
  if (!s.ok()) return fail("size: " + s.status().message());
  Result<Dec18> notional = MultiplyToDec18(*price, *size);
  if (!notional.ok()) return fail("quote notional price * size: " + notional.status().message());
  if (*p <= 0) return fail(fmt::format("price {} is not positive", m.price));
  if (*s <= 0) return fail(fmt::format("size {} is not positive", m.size));
  SilverTrade t;
  if (m.side == "buy") {
    t.taker_side = "sell";
  } else if (m.side == "sell") {
    t.taker_side = "buy";
  } else {
    return fail(fmt::format("side \"{}\" is not \"buy\" or \"sell\"", m.side));
  }
  t.product_id = m.product;
  t.trade_id = m.trade_id;
  t.price = *p;
  t.size = *s;
  t.quote_notional = *notional;
  t.side = m.side;
  t.time = m.time;
  return t;
}

bool Contains(const std::map<int64_t, int64_t>& ranges, int64_t id) {
  auto next = ranges.upper_bound(id);
  return next != ranges.begin() && std::prev(next)->second >= id;
}

// Adds id to disjoint ranges; false if it was already there.
bool InsertId(std::map<int64_t, int64_t>& ranges, int64_t id) {
  auto next = ranges.upper_bound(id);  // first range starting after id
  if (next != ranges.begin()) {
    auto prev = std::prev(next);
    if (prev->second >= id) return false;  // inside
    if (prev->second == id - 1) {
      prev->second = id;
      if (next != ranges.end() && next->first == id + 1) {
        prev->second = next->second;
        ranges.erase(next);
      }
      return true;
    }
  }
  if (next != ranges.end() && next->first == id + 1) {
    const int64_t last = next->second;
    ranges.erase(next);
    ranges.emplace(id, last);
    return true;
  }
  ranges.emplace(id, id);
  return true;
}

}  // namespace

LiveTail::LiveTail(LiveTailOptions options) : options_(options) {}

Status LiveTail::Add(const WsMatch& trade) {
  Status valid = ValidateProductId(trade.product);
  Result<SilverTrade> silver = valid.ok() ? ToSilver(trade) : Result<SilverTrade>(valid);
  Result<std::vector<GoldBar>> one =
      silver.ok() ? AggregateBars({*silver}, kMicrosPerMinute) : Result<std::vector<GoldBar>>(silver.status());
  std::lock_guard<std::mutex> lock(mu_);
  if (!one.ok()) {
    ++stats_.rejected;
    return one.status();
  }
  const GoldBar& add = one->front();
  ProductTail& tail = products_[trade.product];
  tail.newest_id = tail.newest_id ? std::max(*tail.newest_id, trade.trade_id) : trade.trade_id;
  if (tail.dropped_through && add.period_start <= *tail.dropped_through) {
    ++stats_.late;
    return Status::OK();
  }
  const auto found = tail.bars.find(add.period_start);
  if (found != tail.bars.end() && Contains(found->second.ids, trade.trade_id)) {
    ++stats_.duplicates;
    return Status::OK();
  }
  GoldBar merged = add;
  if (found != tail.bars.end()) {
    merged = found->second.bar;
    // A sum beyond DECIMAL(38,18) fails here as it would fail Gold.
    if (Status s = MergeBar(add, &merged); !s.ok()) {
      ++stats_.rejected;
      return s;
    }
  }
  Bar& bar = tail.bars[add.period_start];
  bar.bar = std::move(merged);
  InsertId(bar.ids, trade.trade_id);
  ++stats_.added;
  while (static_cast<int>(tail.bars.size()) > options_.max_minutes_per_product) {
    ++stats_.evicted;
    DropLocked(tail, tail.bars.begin()->first);
  }
  return Status::OK();
}

void LiveTail::ObserveHeartbeat(const WsHeartbeat& heartbeat) {
  std::lock_guard<std::mutex> lock(mu_);
  ProductTail& tail = products_[heartbeat.product];
  if (!tail.heartbeat_last_id || heartbeat.last_trade_id >= *tail.heartbeat_last_id) {
    tail.heartbeat_last_id = heartbeat.last_trade_id;
    tail.heartbeat_time = std::max(tail.heartbeat_time, heartbeat.time);
  }
}

void LiveTail::DropLocked(ProductTail& tail, TimestampMicros minute) {
  for (auto it = tail.bars.begin(); it != tail.bars.end() && it->first <= minute;) {
    const int64_t last = it->second.bar.last_trade_id;
    tail.floor_id = tail.floor_id ? std::max(*tail.floor_id, last) : last;
    it = tail.bars.erase(it);
  }
  tail.dropped_through = tail.dropped_through ? std::max(*tail.dropped_through, minute) : minute;
}

void LiveTail::DropThrough(const std::string& product, TimestampMicros minute,
                           std::optional<int64_t> gold_last_trade_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ProductTail& tail = products_[product];
  DropLocked(tail, PeriodStart(minute, kMicrosPerMinute));
  if (gold_last_trade_id) tail.floor_id = tail.floor_id ? std::max(*tail.floor_id, *gold_last_trade_id) : *gold_last_trade_id;
}

ProvisionalBar LiveTail::Judge(const ProductTail& tail, std::map<TimestampMicros, Bar>::const_iterator it) const {
  ProvisionalBar out;
  const Bar& b = it->second;
  out.bar = b.bar;
  const int64_t first = b.bar.first_trade_id, last = b.bar.last_trade_id;
  out.missing_ids = (last - first + 1) - b.bar.trade_count;
  const TimestampMicros minute_end = it->first + kMicrosPerMinute;
  const auto next = std::next(it);
  const bool heartbeat_past =
      tail.heartbeat_last_id && tail.heartbeat_time >= minute_end + options_.heartbeat_grace_micros;
  out.closed = next != tail.bars.end() || heartbeat_past;
  bool left = tail.floor_id && first - 1 <= *tail.floor_id;
  if (it != tail.bars.begin() && std::prev(it)->second.bar.last_trade_id == first - 1) left = true;
  bool right = next != tail.bars.end() && next->second.bar.first_trade_id == last + 1;
  if (heartbeat_past && *tail.heartbeat_last_id == last) right = true;
  out.complete = out.missing_ids == 0 && left && right;
  return out;
}

std::vector<ProvisionalBar> LiveTail::BarsAfter(const std::string& product, TimestampMicros minute) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProvisionalBar> out;
  const auto p = products_.find(product);
  if (p == products_.end()) return out;
  for (auto it = p->second.bars.upper_bound(minute); it != p->second.bars.end(); ++it) {
    out.push_back(Judge(p->second, it));
  }
  return out;
}

std::optional<int64_t> LiveTail::NewestTradeId(const std::string& product) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto p = products_.find(product);
  if (p == products_.end()) return std::nullopt;
  const ProductTail& t = p->second;
  if (t.newest_id && t.heartbeat_last_id) return std::max(*t.newest_id, *t.heartbeat_last_id);
  return t.newest_id ? t.newest_id : t.heartbeat_last_id;
}

std::vector<std::string> LiveTail::Products() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [product, tail] : products_) {
    if (!tail.bars.empty()) out.push_back(product);
  }
  return out;
}

LiveTail::Stats LiveTail::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace tradelake
