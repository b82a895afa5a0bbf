#include "serve/metrics.h"

#include <dirent.h>

#include <set>

#include <fmt/format.h>

#include "query/statement_limits.h"
#include "serve/dashboard.h"

namespace tradelake {
namespace {

// Paths that get their own label in tradelake_http_requests_total; anything
// else is "other", so a scanner cannot grow the label set without bound.
const std::set<std::string, std::less<>>& KnownPaths() {
  static const std::set<std::string, std::less<>> paths = {
      "/healthz",       "/metrics",         "/api/v1/products",       "/api/v1/bars",
      "/api/v1/trades", "/api/v1/status",   "/api/v1/sql",            "/api/v1/schedule",
      "/api/v1/schedule/pause", "/api/v1/schedule/resume", "/api/v1/reconciliation"};
  return paths;
}

constexpr std::string_view kOutcomes[] = {"ok", "refused", "error", "over_limit", "busy", "failed"};

}  // namespace

// The label of `path` in tradelake_http_requests_total.
std::string PathLabel(std::string_view path) {
  if (IsDashboardPath(path)) return "dashboard";
  const auto it = KnownPaths().find(path);
  return it == KnownPaths().end() ? "other" : *it;
}

// Open file descriptors of this process (-1 if unknown).
int64_t OpenFdCount() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int64_t n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory itself
}

ServerMetrics::ServerMetrics() {
  for (auto o : kOutcomes) statements_[std::string(o)] = 0;
}

void ServerMetrics::CountRequest(std::string_view path, int status) {
  std::string label = PathLabel(path);
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{std::move(label), status}];
}

void ServerMetrics::CountStatement(std::string_view outcome, int64_t bytes_read) {
  std::lock_guard<std::mutex> lock(mu_);
  ++statements_[std::string(outcome)];
  bytes_scanned_ += bytes_read;
}

void ServerMetrics::CountRefused(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++refused_[std::string(reason)];
}

void ServerMetrics::CountBars(bool hit) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(hit ? bars_hits_ : bars_misses_);
}

void ServerMetrics::SetCandleMatch(std::map<std::string, std::pair<int64_t, int64_t>> compared_matched) {
  std::lock_guard<std::mutex> lock(mu_);
  candle_match_ = std::move(compared_matched);
}

void ServerMetrics::SetLastTrades(std::map<std::string, TimestampMicros> last) {
  std::lock_guard<std::mutex> lock(mu_);
  last_trade_ = std::move(last);
}

std::string ServerMetrics::Text(const Gauges& g, TimestampMicros now) {
  std::unique_lock<std::mutex> lock(mu_);
  std::string out;
  out +=
      "# HELP tradelake_http_requests_total HTTP requests answered, by endpoint (or \"other\") and status code.\n"
      "# TYPE tradelake_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("tradelake_http_requests_total{{path=\"{}\",code=\"{}\"}} {}\n", key.first, key.second, n);
  }
  out +=
      "# HELP tradelake_sql_bytes_scanned_total Bytes of lake objects read by the statements the server ran.\n"
      "# TYPE tradelake_sql_bytes_scanned_total counter\n";
  out += fmt::format("tradelake_sql_bytes_scanned_total {}\n", bytes_scanned_);
  out +=
      "# HELP tradelake_sql_statements_total Statements run on the lake, by outcome.\n"
      "# TYPE tradelake_sql_statements_total counter\n";
  for (const auto& [outcome, n] : statements_) {
    out += fmt::format("tradelake_sql_statements_total{{outcome=\"{}\"}} {}\n", outcome, n);
  }
  out +=
      "# HELP tradelake_catalog_commit Sequence number of the catalog commit being served.\n"
      "# TYPE tradelake_catalog_commit gauge\n";
  out += fmt::format("tradelake_catalog_commit {}\n", g.commit);
  out +=
      "# HELP tradelake_freshness_seconds Seconds since the last trade in Silver, per product.\n"
      "# TYPE tradelake_freshness_seconds gauge\n";
  for (const auto& [product, t] : last_trade_) {
    out += fmt::format("tradelake_freshness_seconds{{product=\"{}\"}} {}\n", product,
                       fmt::format("{}", static_cast<double>(now - t) / static_cast<double>(kMicrosPerSecond)));
  }
  out +=
      "# HELP tradelake_candle_minutes_compared Minutes of gold.bars_1m reconciled with the exchange's candles "
      "in the last day, per product.\n"
      "# TYPE tradelake_candle_minutes_compared gauge\n";
  for (const auto& [product, cm] : candle_match_) {
    out += fmt::format("tradelake_candle_minutes_compared{{product=\"{}\"}} {}\n", product, cm.first);
  }
  out +=
      "# HELP tradelake_candle_match_ratio Share of those minutes whose bar equals the exchange's candle exactly.\n"
      "# TYPE tradelake_candle_match_ratio gauge\n";
  for (const auto& [product, cm] : candle_match_) {
    if (cm.first == 0) continue;
    out += fmt::format("tradelake_candle_match_ratio{{product=\"{}\"}} {}\n", product,
                       static_cast<double>(cm.second) / static_cast<double>(cm.first));
  }
  out +=
      "# HELP tradelake_bars_cache_total /api/v1/bars answers found in (hit) or added to (miss) the answer "
      "cache.\n"
      "# TYPE tradelake_bars_cache_total counter\n";
  out += fmt::format("tradelake_bars_cache_total{{result=\"hit\"}} {}\n", bars_hits_);
  out += fmt::format("tradelake_bars_cache_total{{result=\"miss\"}} {}\n", bars_misses_);
  out +=
      "# HELP tradelake_http_refused_total Requests refused by the request guard (foreign Host, cross-site).\n"
      "# TYPE tradelake_http_refused_total counter\n";
  for (std::string_view reason : {"host", "cross_site"}) {
    const auto it = refused_.find(reason);
    out += fmt::format("tradelake_http_refused_total{{reason=\"{}\"}} {}\n", reason,
                       it == refused_.end() ? 0 : it->second);
  }
  lock.unlock();
  out +=
      "# HELP tradelake_sql_stopped_total Statements stopped by the time or memory limit.\n"
      "# TYPE tradelake_sql_stopped_total counter\n";
  out += fmt::format("tradelake_sql_stopped_total{{limit=\"time\"}} {}\n", g.stopped_time);
  out += fmt::format("tradelake_sql_stopped_total{{limit=\"memory\"}} {}\n", g.stopped_memory);
  out +=
      "# HELP tradelake_sql_requests_in_flight POST /api/v1/sql requests running or waiting for the lake.\n"
      "# TYPE tradelake_sql_requests_in_flight gauge\n";
  out += fmt::format("tradelake_sql_requests_in_flight {}\n", g.sql_in_flight);
  out +=
      "# HELP tradelake_process_resident_bytes Resident set size of the process.\n"
      "# TYPE tradelake_process_resident_bytes gauge\n";
  out += fmt::format("tradelake_process_resident_bytes {}\n", ProcessRssBytes());
  out +=
      "# HELP tradelake_process_open_fds Open file descriptors of the process.\n"
      "# TYPE tradelake_process_open_fds gauge\n";
  out += fmt::format("tradelake_process_open_fds {}\n", OpenFdCount());
  return out;
}

}  // namespace tradelake
