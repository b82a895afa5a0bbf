// LiveReconciler: keeps gold.bars_1m reconciled with the exchange's candles
// inside a long-running process (`tradelake run`, the Lambda step).
//
// Each Step() (called after an ETL run) reconciles, for every product, the
// minutes that closed at least `delay` ago and have not been reconciled yet,
// once, in batches: a product is reconciled once `every` of such minutes
// wait (so a day makes about 24 h / every commits of
// audit.candle_reconciliation, and each request covers up to 300 minutes),
// whether Step is called every second or once a minute by a fresh process.
// Minutes an ETL run inserted trades into after they were reconciled (a gap
// repaired, a late backfill) are reconciled again by the next Step; their
// newest row is the verdict (sql/lake_quality.h CandleMatchSince).
//
// Where it starts: after the newest minute the lake has reconciled within
// the last day, or `lookback` before now for a product with none, so a
// restart neither repeats nor skips minutes and never walks the lake's whole
// history. Only minutes Gold holds completely are compared: after the
// product's first bar (ingestion may have started inside that minute) and
// before its newest one (the ingester may be inside it, or still catching
// up), from the bars' Delta statistics.
//
// Errors are returned by Step and change nothing (the same minutes are tried
// again next time). Not thread-safe: one thread calls Step.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "etl/etl.h"
#include "exchange/coinbase_client.h"
#include "reconcile/reconcile.h"
#include "store/object_store.h"

namespace tradelake {

struct LiveReconcileOptions {
  std::vector<std::string> products;
  int64_t delay = 10 * kMicrosPerMinute;     // minutes younger than this are not final
  int64_t every = 10 * kMicrosPerMinute;     // reconcile once this much is waiting
  int64_t lookback = kMicrosPerDay;          // where a product without any reconciliation starts
};

class LiveReconciler {
 public:
  // `store` (as the etl role) and `limiter` (shared with ingestion; may be
  // null) must outlive the reconciler.
  LiveReconciler(ObjectStore* store, CoinbaseOptions exchange, RateLimiter* limiter, LiveReconcileOptions options);

  // Reconciles what is due at `now` (see above). Returns the report of the
  // reconciliation made, an empty report (no products) when nothing was due.
  Result<ReconcileReport> Step(const EtlReport& etl, TimestampMicros now, const std::atomic<bool>* stop);

  // The end of what is reconciled per product (the next minute to compare).
  const std::map<std::string, TimestampMicros>& reconciled_through() const { return through_; }
  // The last reconciliation made (empty before the first).
  const ReconcileReport& last() const { return last_; }

 private:
  Status LoadStart(TimestampMicros now);

  ObjectStore* store_;
  LiveReconcileOptions options_;
  CoinbaseClient client_;
  bool started_ = false;
  LakeState state_;  // refreshed each step (only new Delta log entries are read)
  std::map<std::string, TimestampMicros> through_;       // product -> next minute to reconcile
  std::map<std::string, TimestampMicros> redo_from_;     // product -> earliest minute to reconcile again
  ReconcileReport last_;
};

}  // namespace tradelake
