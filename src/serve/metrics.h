// ServerMetrics: the counters and gauges of the API's /metrics
// (Prometheus text format 0.0.4). The names are a stable contract, listed in
// serve/api_server.h; add, never rename.
//
// Contract: Count*() and SetLastTrades() record; Text() renders every
// series the server owns (the pipeline's own text is appended by the
// caller). Label values are bounded: paths are the known endpoints,
// "dashboard" or "other", so a scanner cannot grow the label set.
// Threads: every method is thread-safe (one mutex, held briefly; callers
// may hold the lake's mutex, never the other way round).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/time.h"

namespace tradelake {

class ServerMetrics {
 public:
  ServerMetrics();

  // A request answered with HTTP `status` (labelled by PathLabel(path)).
  void CountRequest(std::string_view path, int status);
  // A statement run on the lake, by outcome ("ok", "refused", "error",
  // "over_limit", "busy", "failed"), with the bytes it read.
  void CountStatement(std::string_view outcome, int64_t bytes_read);
  // A request refused by the request guard ("host", "cross_site").
  void CountRefused(std::string_view reason);
  // A /api/v1/bars answer from the cache (hit) or a statement (miss).
  void CountBars(bool hit);
  // The last trade time in Silver per product (freshness gauges).
  void SetLastTrades(std::map<std::string, TimestampMicros> last);
  // product -> (minutes compared, matched) with the exchange's candles, last day.
  void SetCandleMatch(std::map<std::string, std::pair<int64_t, int64_t>> compared_matched);

  // Values the server reads at render time.
  struct Gauges {
    int64_t commit = 0;
    int64_t stopped_time = 0;
    int64_t stopped_memory = 0;
    int64_t sql_in_flight = 0;
  };
  std::string Text(const Gauges& g, TimestampMicros now);

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // GUARDED_BY(mu_)
  std::map<std::string, int64_t> statements_;                // GUARDED_BY(mu_)
  int64_t bytes_scanned_ = 0;                                // GUARDED_BY(mu_)
  std::map<std::string, int64_t, std::less<>> refused_;     // GUARDED_BY(mu_)
  std::map<std::string, TimestampMicros> last_trade_;        // GUARDED_BY(mu_)
  std::map<std::string, std::pair<int64_t, int64_t>> candle_match_;  // GUARDED_BY(mu_)
  int64_t bars_hits_ = 0;                                    // GUARDED_BY(mu_)
  int64_t bars_misses_ = 0;                                  // GUARDED_BY(mu_)
};

// The label of `path` in tradelake_http_requests_total: the endpoint,
// "dashboard" (/, /index.html, /assets/*) or "other".
std::string PathLabel(std::string_view path);

// Open file descriptors of this process (-1 if unknown).
int64_t OpenFdCount();

}  // namespace tradelake
