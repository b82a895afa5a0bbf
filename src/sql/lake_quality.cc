#include "sql/lake_quality.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "etl/table_io.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

std::optional<int64_t> StatInt(const std::map<std::string, std::string>& values, const std::string& column) {
  auto it = values.find(column);
  if (it == values.end()) return std::nullopt;
  int64_t v = 0;
  const char* end = it->second.data() + it->second.size();
  auto [ptr, ec] = std::from_chars(it->second.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// A private temporary copy of a remote object, removed at scope exit.
class TempCopy {
 public:
  ~TempCopy() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  Result<std::string> Fetch(ObjectStore* store, const std::string& key) {
    if (dir_.empty()) {
      std::string pattern = (fs::temp_directory_path() / "tradelake-dq-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) {
        return IOError(fmt::format("cannot create a temporary folder under {}", fs::temp_directory_path().string()));
      }
      dir_ = pattern;
    }
    ASSIGN_OR_RETURN(std::string data, store->Get(key));
    const std::string path = fmt::format("{}/{}.parquet", dir_, n_++);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return IOError(fmt::format("cannot write a temporary copy of {} to {}", key, path));
    return path;
  }

 private:
  std::string dir_;
  int n_ = 0;
};

}  // namespace

Result<std::map<PartitionKey, SilverPartitionStats>> SilverStatsByPartition(const LakeState& state) {
  ASSIGN_OR_RETURN(std::vector<TableFile> files, LiveFiles(state, kSilverTrades));
  struct Range {
    int64_t rows = 0;
    int64_t min_id = std::numeric_limits<int64_t>::max();
    int64_t max_id = std::numeric_limits<int64_t>::min();
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
  }
  std::map<PartitionKey, SilverPartitionStats> out;
  for (const auto& [key, r] : ranges) {
    SilverPartitionStats& s = out[key];
    s.rows = r.rows;
    // Unique on (product_id, trade_id): the ids between first and last that
    // are not rows are the gaps.
    if (r.rows > 0 && r.max_id >= r.min_id) s.id_gaps = std::max<int64_t>(0, r.max_id - r.min_id + 1 - r.rows);
  }
  return out;
}

Result<std::map<PartitionKey, QualityCounters>> QualityByPartition(ObjectStore* store, const LakeState& state) {
  ASSIGN_OR_RETURN(std::vector<TableFile> files, LiveFiles(state, kAuditQuality));
  std::map<PartitionKey, QualityCounters> out;
  TempCopy temp;
  for (const TableFile& f : files) {
    std::string path;
    if (auto local = store->LocalPath(f.key)) {
      path = *local;
    } else {
      ASSIGN_OR_RETURN(path, temp.Fetch(store, f.key));
    }
    auto rows = ReadQualityRows(path);
    if (!rows.ok()) return rows.status().WithContext(fmt::format("reading audit.data_quality file {}", f.key));
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

}  // namespace tradelake
