#include "reconcile/live_reconciler.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "sql/lake_quality.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

TimestampMicros FloorMinute(TimestampMicros t) { return t - ((t % kMicrosPerMinute) + kMicrosPerMinute) % kMicrosPerMinute; }

}  // namespace

LiveReconciler::LiveReconciler(ObjectStore* store, CoinbaseOptions exchange, RateLimiter* limiter,
                               LiveReconcileOptions options)
    : store_(store), options_(std::move(options)), client_(std::move(exchange), limiter, nullptr) {}

Status LiveReconciler::LoadStart(TimestampMicros now) {
  ASSIGN_OR_RETURN(LakeState state, LoadLakeState(store_));
  const TimestampMicros since = FloorMinute(now - options_.lookback);
  ASSIGN_OR_RETURN(auto done, CandleMatchSince(store_, state, since));
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
  if (last_step_ != 0 && now - last_step_ < options_.every) return ReconcileReport{};
  const TimestampMicros final_end = FloorMinute(now - options_.delay);
  // One call per distinct start (usually one for all products).
  std::map<TimestampMicros, std::vector<std::string>> by_start;
  for (const std::string& product : options_.products) {
    TimestampMicros from = through_[product];
    if (auto r = redo_from_.find(product); r != redo_from_.end()) from = std::min(from, r->second);
    if (from < final_end) by_start[from].push_back(product);
  }
  last_step_ = now;
  ReconcileReport total;
  for (const auto& [from, products] : by_start) {
    ReconcileOptions o;
    o.products = products;
    o.from = from;
    o.to = final_end;
    o.min_age = options_.delay;
    o.now = now;
    o.stop = stop;
    ASSIGN_OR_RETURN(ReconcileReport r, Reconcile(store_, &client_, o));
    for (const std::string& p : products) {
      through_[p] = std::max(through_[p], final_end);
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
