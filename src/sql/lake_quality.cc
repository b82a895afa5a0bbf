#include "sql/lake_quality.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "etl/table_files.h"
#include "table/delta_log.h"
#include "etl/table_io.h"

namespace tradelake {

namespace {

Result<std::map<PartitionKey, SilverPartitionStats>> SilverStatsOf(const std::vector<TableFile>& files) {
  struct Range {
    int64_t rows = 0;
    int64_t min_id = std::numeric_limits<int64_t>::max();
    int64_t max_id = std::numeric_limits<int64_t>::min();
    std::optional<TimestampMicros> newest_time;
  };
  std::map<PartitionKey, Range> ranges;
  for (const TableFile& f : files) {
    if (f.stats.num_records < 0) {
      return DataLoss(fmt::format("silver.trades file {} has no numRecords statistics in the Delta log", f.key));
    }
    Range& r = ranges[{f.product_id, f.date}];
    r.rows += f.stats.num_records;
    if (f.stats.num_records == 0) continue;
    auto lo = StatInt(f.stats.min_values, "trade_id");
    auto hi = StatInt(f.stats.max_values, "trade_id");
    if (!lo || !hi) {
      return DataLoss(fmt::format("silver.trades file {} has no trade_id min/max statistics in the Delta log", f.key));
    }
    r.min_id = std::min(r.min_id, *lo);
    r.max_id = std::max(r.max_id, *hi);
    if (auto us = StatTime(f.stats.max_values, "trade_time"); us && (!r.newest_time || *us > *r.newest_time)) {
      r.newest_time = *us;
    }
  }
  std::map<PartitionKey, SilverPartitionStats> out;
  for (const auto& [key, r] : ranges) {
    SilverPartitionStats& s = out[key];
    s.rows = r.rows;
    s.newest_time_floor = r.newest_time;
    // Unique on (product_id, trade_id): the ids between first and last that
    // are not rows are the gaps.
    if (r.rows > 0 && r.max_id >= r.min_id) s.id_gaps = std::max<int64_t>(0, r.max_id - r.min_id + 1 - r.rows);
  }
  return out;
}

}  // namespace

Result<std::map<PartitionKey, SilverPartitionStats>> SilverStatsByPartition(const LakeState& state) {
  ASSIGN_OR_RETURN(std::vector<TableFile> files, LiveFiles(state, kSilverTrades));
  return SilverStatsOf(files);
}

Result<std::map<PartitionKey, SilverPartitionStats>> SilverStatsOfPartitions(const LakeState& state,
                                                                             const std::set<PartitionKey>& partitions) {
  std::vector<TableFile> files;
  for (const auto& [product, date] : partitions) {
    ASSIGN_OR_RETURN(std::vector<TableFile> some, LiveFilesInRange(state, kSilverTrades, {product}, date, date));
    files.insert(files.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return SilverStatsOf(files);
}

Result<std::map<PartitionKey, QualityCounters>> QualityByPartition(ObjectStore* store, const LakeState& state) {
  ASSIGN_OR_RETURN(std::vector<TableFile> files, LiveFiles(state, kAuditQuality));
  std::map<PartitionKey, QualityCounters> out;
  StagingDir staging("dq");
  for (const TableFile& f : files) {
    auto rows = ReadRowsAt(store, f.key, ReadQualityRows, &staging);
    if (!rows.ok()) return rows.status().WithContext("reading audit.data_quality");
    for (const QualityRow& row : *rows) {
      QualityCounters c;
      c.records = row.records;
      c.inserted = row.inserted;
      c.duplicates = row.duplicates;
      if (!row.rejected_by_rule.empty()) {
        nlohmann::json rules = nlohmann::json::parse(row.rejected_by_rule, nullptr, /*allow_exceptions=*/false);
        if (!rules.is_object()) {
          return DataLoss(fmt::format("audit.data_quality file {}: rejected_by_rule of {} {} is not a JSON object",
                                      f.key, row.product_id, row.date));
        }
        for (const auto& [rule, n] : rules.items()) {
          if (!n.is_number_integer()) {
            return DataLoss(fmt::format("audit.data_quality file {}: rejected_by_rule.{} of {} {} is not a count",
                                        f.key, rule, row.product_id, row.date));
          }
          c.rejected[rule] += n.get<int64_t>();
        }
      }
      // A run that rejected records without naming the rule still counts them.
      if (const int64_t named = c.rejected_total(); named < row.rejected) c.rejected["unnamed"] += row.rejected - named;
      out[{row.product_id, row.date}].Add(c);
    }
  }
  return out;
}

Result<std::map<PartitionKey, PartitionQuality>> LoadPartitionQuality(ObjectStore* store, const LakeState& state) {
  ASSIGN_OR_RETURN(auto silver, SilverStatsByPartition(state));
  ASSIGN_OR_RETURN(auto counters, QualityByPartition(store, state));
  std::map<PartitionKey, PartitionQuality> out;
  for (auto& [key, s] : silver) out[key].silver = s;
  for (auto& [key, c] : counters) out[key].counters = std::move(c);
  return out;
}

Result<std::map<std::string, CandleMatch>> CandleMatchSince(ObjectStore* store, const LakeState& state,
                                                          TimestampMicros since) {
  const std::string first_date = FormatDate(since);
  // A file per product and date: only the days since `since` are looked up.
  ASSIGN_OR_RETURN(std::vector<TableFile> files, LiveFilesInRange(state, kAuditReconciliation, {}, first_date));
  // product -> minute -> (reconciled_at, status) of the newest verdict
  std::map<std::string, std::map<TimestampMicros, std::pair<TimestampMicros, std::string>>> verdicts;
  StagingDir staging("dq");
  for (const TableFile& f : files) {
    auto rows = ReadRowsAt(store, f.key, ReadReconRows, &staging);
    if (!rows.ok()) return rows.status().WithContext("reading audit.candle_reconciliation");
    for (ReconRow& r : *rows) {
      if (r.minute < since) continue;
      auto& v = verdicts[r.product_id][r.minute];
      if (r.reconciled_at >= v.first) v = {r.reconciled_at, std::move(r.status)};
    }
  }
  std::map<std::string, CandleMatch> out;
  for (const auto& [product, minutes] : verdicts) {
    CandleMatch& m = out[product];
    for (const auto& [minute, v] : minutes) {
      ++m.compared;
      if (v.second == "match") {
        ++m.matched;
      } else {
        m.mismatches[minute] = v.second;
      }
      m.last_minute = std::max(m.last_minute, minute);
      m.last_reconciled_at = std::max(m.last_reconciled_at, v.first);
    }
  }
  return out;
}

}  // namespace tradelake
