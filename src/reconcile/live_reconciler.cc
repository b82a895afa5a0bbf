#include "reconcile/live_reconciler.h"

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "etl/gold.h"
#include "sql/lake_quality.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

TimestampMicros FloorMinute(TimestampMicros t) { return PeriodStart(t, kMicrosPerMinute); }

}  // namespace

LiveReconciler::LiveReconciler(ObjectStore* store, CoinbaseOptions exchange, RateLimiter* limiter,
                               LiveReconcileOptions options)
    : store_(store), options_(std::move(options)), client_(std::move(exchange), limiter, nullptr) {}

Status LiveReconciler::LoadStart(TimestampMicros now) {
  ASSIGN_OR_RETURN(state_, LoadLakeState(store_));
  const TimestampMicros since = FloorMinute(now - options_.lookback);
  ASSIGN_OR_RETURN(auto done, CandleMatchSince(store_, state_, since));
  for (const std::string& product : options_.products) {
    auto it = done.find(product);
    through_[product] = it == done.end() || it->second.compared == 0 ? since : it->second.last_minute + kMicrosPerMinute;
  }
  started_ = true;
  return Status::OK();
}

Result<ReconcileReport> LiveReconciler::Step(const EtlReport& etl, TimestampMicros now,
                                             const std::atomic<bool>* stop) {
  if (!started_) RETURN_IF_ERROR(LoadStart(now));
  // Minutes that gained trades after their reconciliation are done again.
  for (const auto& [product, range] : etl.inserted_time_range) {
    auto t = through_.find(product);
    if (t == through_.end() || range.first >= t->second) continue;
    const TimestampMicros from = std::max(FloorMinute(range.first), FloorMinute(now - options_.lookback));
    auto [r, fresh] = redo_from_.try_emplace(product, from);
    if (!fresh) r->second = std::min(r->second, from);
  }
  ASSIGN_OR_RETURN(bool changed, RefreshLakeState(store_, &state_));
  (void)changed;
  const TimestampMicros final_end = FloorMinute(now - options_.delay);
  // One call per distinct range (usually one for all products).
  std::map<std::pair<TimestampMicros, TimestampMicros>, std::vector<std::string>> by_range;
  for (const std::string& product : options_.products) {
    TimestampMicros from = through_[product];
    if (auto r = redo_from_.find(product); r != redo_from_.end()) from = std::min(from, r->second);
    const auto [gold_first, gold_end] = GoldCoverage(state_, product);
    from = std::max(from, gold_first);
    const TimestampMicros to = std::min(final_end, gold_end);
    // A batch once `every` of closed minutes waits (or a repair does), so a
    // stateless caller (a Lambda step a minute) commits no more often.
    const bool due = to - from >= options_.every || redo_from_.contains(product);
    if (from < to && due) by_range[{from, to}].push_back(product);
  }
  ReconcileReport total;
  for (const auto& [range, products] : by_range) {
    const auto [from, to] = range;
    ReconcileOptions o;
    o.products = products;
    o.from = from;
    o.to = to;
    o.min_age = options_.delay;
    o.now = now;
    o.stop = stop;
    o.state = &state_;
    ASSIGN_OR_RETURN(ReconcileReport r, Reconcile(store_, &client_, o));
    for (const std::string& p : products) {
      through_[p] = std::max(through_[p], to);
      redo_from_.erase(p);
    }
    for (auto& p : r.products) {
      if (!p.differences.empty()) {
        spdlog::warn("reconcile: {} has {} of {} minutes differing from the exchange's candles since {} "
                     "(audit.candle_reconciliation)",
                     p.product_id, p.differences.size(), p.compared, FormatRfc3339Trimmed(from));
      }
      total.products.push_back(std::move(p));
    }
    total.requests += r.requests;
    total.rows_written += r.rows_written;
    total.seq = std::max(total.seq, r.seq);
    total.seconds += r.seconds;
  }
  if (!total.products.empty()) last_ = total;
  return total;
}

}  // namespace tradelake
