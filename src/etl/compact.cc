#include "etl/compact.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "etl/table_files.h"
#include "etl/table_io.h"
#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;


// Compares two statistics values as the log holds them: quoted strings
// (dates, timestamps, text) by their text, plain decimal numbers by value.
// nullopt when they cannot be compared.
std::optional<int> CompareStatValues(std::string_view a, std::string_view b) {
  const bool qa = a.starts_with('"'), qb = b.starts_with('"');
  if (qa != qb) return std::nullopt;
  if (qa) return a < b ? -1 : a > b ? 1 : 0;
  struct Num {
    bool neg = false;
    std::string_view integer, fraction;
  };
  auto parse = [](std::string_view s) -> std::optional<Num> {
    Num n;
    if (s.starts_with('-')) {
      n.neg = true;
      s.remove_prefix(1);
    }
    const size_t dot = s.find('.');
    n.integer = s.substr(0, dot);
    n.fraction = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    if (n.integer.empty()) return std::nullopt;
    for (std::string_view part : {n.integer, n.fraction}) {
      for (char c : part) {
        if (c < '0' || c > '9') return std::nullopt;
      }
    }
    while (n.integer.size() > 1 && n.integer.front() == '0') n.integer.remove_prefix(1);
    while (!n.fraction.empty() && n.fraction.back() == '0') n.fraction.remove_suffix(1);
    if (n.integer == "0" && n.fraction.empty()) n.neg = false;
    return n;
  };
  auto x = parse(a), y = parse(b);
  if (!x || !y) return std::nullopt;
  auto magnitude = [](const Num& p, const Num& q) {
    if (p.integer.size() != q.integer.size()) return p.integer.size() < q.integer.size() ? -1 : 1;
    if (int c = p.integer.compare(q.integer); c != 0) return c < 0 ? -1 : 1;
    if (int c = p.fraction.compare(q.fraction); c != 0) return c < 0 ? -1 : 1;
    return 0;
  };
  if (x->neg != y->neg) return x->neg ? -1 : 1;
  const int m = magnitude(*x, *y);
  return x->neg ? -m : m;
}

// Statistics of a file holding (part of) the rows of `inputs`: bounds are the
// union of the inputs' bounds (exact for one output, valid for a split);
// null counts only for one output; a column some input lacks is dropped.
DeltaStats MergeStats(const std::vector<DeltaStats>& all_inputs, int64_t rows, bool whole) {
  DeltaStats out;
  out.num_records = rows;
  // An empty file has no bounds and adds no nulls: it does not count.
  std::vector<DeltaStats> inputs;
  for (const DeltaStats& s : all_inputs) {
    if (s.num_records != 0) inputs.push_back(s);
  }
  if (inputs.empty()) return out;
  auto merge_bounds = [&](auto member, int want, std::map<std::string, std::string>* into) {
    for (const auto& [column, first] : inputs[0].*member) {
      std::optional<std::string> best = first;
      for (size_t i = 1; i < inputs.size() && best; ++i) {
        auto it = (inputs[i].*member).find(column);
        if (it == (inputs[i].*member).end()) {
          best.reset();
          break;
        }
        auto c = CompareStatValues(it->second, *best);
        if (!c) {
          best.reset();
        } else if (*c == want) {
          best = it->second;
        }
      }
      if (best) (*into)[column] = *best;
    }
  };
  merge_bounds(&DeltaStats::min_values, -1, &out.min_values);
  merge_bounds(&DeltaStats::max_values, 1, &out.max_values);
  if (whole) {
    for (const auto& [column, n] : inputs[0].null_count) {
      int64_t sum = n;
      bool all = true;
      for (size_t i = 1; i < inputs.size() && all; ++i) {
        auto it = inputs[i].null_count.find(column);
        all = it != inputs[i].null_count.end();
        if (all) sum += it->second;
      }
      if (all) out.null_count[column] = sum;
    }
  }
  return out;
}

struct Input {
  std::string key;
  std::string path;  // as in the log
  DeltaAddFile add;
  DeltaStats stats;
};

struct Group {
  std::string table;
  std::string folder;  // the partition folder, ending in '/'
  std::vector<Input> files;  // in key order
};

std::string FolderOf(const std::string& key) { return key.substr(0, key.rfind('/') + 1); }

// The period range ("2024-05" for hourly, "2024" for daily) of a Gold file,
// from its period_start statistics; nullopt when unknown or several.
std::optional<std::string> GoldRange(std::string_view table, const DeltaStats& stats) {
  const size_t width = table == kGoldHourly ? 7 : 4;
  auto lo = stats.min_values.find("period_start"), hi = stats.max_values.find("period_start");
  if (lo == stats.min_values.end() || hi == stats.max_values.end()) return std::nullopt;
  if (!lo->second.starts_with('"') || !hi->second.starts_with('"')) return std::nullopt;
  if (lo->second.size() < width + 1 || hi->second.size() < width + 1) return std::nullopt;
  std::string a = lo->second.substr(1, width), b = hi->second.substr(1, width);
  if (a != b) return std::nullopt;
  return a;
}

int SizeTier(int64_t size, const CompactOptions& o) {
  int tier = 0;
  int64_t bound = o.min_tier_bytes;
  while (size >= bound && tier < 62) {
    ++tier;
    bound = bound > INT64_MAX / o.tier_factor ? INT64_MAX : bound * o.tier_factor;
  }
  return tier;
}

// The groups of one table worth merging, in key order.
Result<std::vector<Group>> PlanTable(const std::string& table, const DeltaTableState& state,
                                     const CompactOptions& options) {
  const std::string root = TableFolder(table);
  const bool gold = table == kGoldBars1m || table == kGoldHourly || table == kGoldDaily;
  // (folder, range or tier) -> files
  std::map<std::pair<std::string, std::string>, std::vector<Input>> buckets;
  for (const auto& [path, add] : state.files) {
    Input in;
    ASSIGN_OR_RETURN(in.key, DeltaPathToKey(root, path));
    in.path = path;
    in.add = add;
    ASSIGN_OR_RETURN(in.stats, ParseDeltaStats(add.stats));
    std::string bucket;
    if (gold) {
      if (table != kGoldBars1m) {
        auto range = GoldRange(table, in.stats);
        if (!range) continue;  // cannot tell which period it covers: leave it
        bucket = *range;
      }
    } else {
      if (add.size >= options.target_file_bytes) continue;  // done
      bucket = fmt::format("{:02d}", SizeTier(add.size, options));
    }
    buckets[{FolderOf(in.key), bucket}].push_back(std::move(in));
  }
  std::vector<Group> groups;
  const size_t need = gold ? 2 : static_cast<size_t>(std::max(2, options.min_files_per_merge));
  for (auto& [where, files] : buckets) {
    if (files.size() < need) continue;
    std::sort(files.begin(), files.end(), [](const Input& a, const Input& b) { return a.key < b.key; });
    groups.push_back(Group{table, where.first, std::move(files)});
  }
  return groups;
}

// What merging one group produces.
struct Merged {
  std::vector<DeltaAddFile> adds;
  std::vector<DeltaRemoveFile> removes;
  int64_t rows = 0;
};

class Compactor {
 public:
  Compactor(ObjectStore* store, const CompactOptions& options, int64_t seq, TimestampMicros now)
      : store_(store), options_(options), seq_(seq), now_(now) {}

  Result<Merged> Merge(const Group& g) {
    if (g.table == kSilverTrades) return MergeRows<SilverTrade>(g, ReadSilverTrades, WriteSilverTrades, SortSilver);
    if (g.table == kSilverRejected) return MergeRows<RejectedRecord>(g, ReadRejected, WriteRejected, KeepOrder);
    if (g.table == kAuditQuality) return MergeRows<QualityRow>(g, ReadQualityRows, WriteQualityRows, SortQuality);
    if (g.table == kAuditReconciliation) return MergeRows<ReconRow>(g, ReadReconRows, WriteReconRows, SortRecon);
    return MergeRows<GoldBar>(g, ReadGoldBars, WriteGoldBars, SortBars);
  }

  // Keys written so far (to delete if the commit fails).
  const std::vector<std::string>& written() const { return written_; }

 private:
  static Status SortSilver(const Group& g, std::vector<SilverTrade>* rows) {
    std::sort(rows->begin(), rows->end(),
              [](const SilverTrade& a, const SilverTrade& b) { return a.trade_id < b.trade_id; });
    for (size_t i = 1; i < rows->size(); ++i) {
      if ((*rows)[i].trade_id == (*rows)[i - 1].trade_id) {
        return DataLoss(fmt::format("silver.trades partition {} holds trade_id {} twice; not compacting it", g.folder,
                                    (*rows)[i].trade_id));
      }
    }
    return Status::OK();
  }
  static Status KeepOrder(const Group&, std::vector<RejectedRecord>*) { return Status::OK(); }
  static Status SortQuality(const Group&, std::vector<QualityRow>* rows) {
    std::stable_sort(rows->begin(), rows->end(), [](const QualityRow& a, const QualityRow& b) {
      return std::tie(a.etl_seq, a.date) < std::tie(b.etl_seq, b.date);
    });
    return Status::OK();
  }
  static Status SortRecon(const Group&, std::vector<ReconRow>* rows) {
    std::stable_sort(rows->begin(), rows->end(), [](const ReconRow& a, const ReconRow& b) {
      return std::tie(a.reconciled_at, a.minute) < std::tie(b.reconciled_at, b.minute);
    });
    return Status::OK();
  }
  static Status SortBars(const Group&, std::vector<GoldBar>* rows) {
    std::stable_sort(rows->begin(), rows->end(),
                     [](const GoldBar& a, const GoldBar& b) { return a.period_start < b.period_start; });
    return Status::OK();
  }

  template <typename Row>
  Result<Merged> MergeRows(const Group& g, RowReader<Row> reader, RowWriter<Row> writer,
                           Status (*order)(const Group&, std::vector<Row>*)) {
    std::vector<Row> rows;
    std::vector<DeltaStats> stats;
    int64_t input_bytes = 0;
    Merged out;
    for (const Input& in : g.files) {
      ASSIGN_OR_RETURN(std::vector<Row> part, ReadRowsAt<Row>(store_, in.key, reader, &scratch_));
      rows.insert(rows.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
      stats.push_back(in.stats);
      input_bytes += in.add.size;
      DeltaRemoveFile rm;
      rm.path = in.path;
      rm.deletion_timestamp = now_ / 1000;
      rm.data_change = false;
      rm.partition_values = in.add.partition_values;
      rm.size = in.add.size;
      out.removes.push_back(std::move(rm));
    }
    RETURN_IF_ERROR(order(g, &rows));
    out.rows = static_cast<int64_t>(rows.size());
    const bool gold = g.table == kGoldBars1m || g.table == kGoldHourly || g.table == kGoldDaily;
    size_t parts = 1;
    if (!gold && options_.target_file_bytes > 0) {
      parts = static_cast<size_t>((input_bytes + options_.target_file_bytes - 1) / options_.target_file_bytes);
      parts = std::clamp<size_t>(parts, 1, std::max<size_t>(1, rows.size()));
    }
    if (rows.empty()) return out;  // only empty files: removing them changes no answer
    // One tag per group and the part number after it, so the outputs sort by
    // key in row order (readers take files in key order).
    const std::string tag = RandomFileTag();
    for (size_t i = 0; i < parts; ++i) {
      const size_t begin = rows.size() * i / parts, end = rows.size() * (i + 1) / parts;
      std::vector<Row> chunk(std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(begin)),
                             std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(end)));
      const std::string key = fmt::format("{}part-{:08d}-compact-{}-{:05d}.parquet", g.folder, seq_, tag, i);
      RETURN_IF_ERROR(WriteRowsAt<Row>(store_, key, chunk, writer, &scratch_));
      written_.push_back(key);
      DeltaStats st = MergeStats(stats, static_cast<int64_t>(chunk.size()), parts == 1);
      if constexpr (std::is_same_v<Row, SilverTrade>) {
        // Rows are sorted by trade_id: its bounds per output are exact.
        if (st.min_values.contains("trade_id")) st.min_values["trade_id"] = std::to_string(chunk.front().trade_id);
        if (st.max_values.contains("trade_id")) st.max_values["trade_id"] = std::to_string(chunk.back().trade_id);
      }
      ASSIGN_OR_RETURN(DeltaAddFile add, AddFileFor(store_, g.table, key, st));
      add.data_change = false;
      add.modification_time = now_ / 1000;
      out.adds.push_back(std::move(add));
    }
    return out;
  }

  ObjectStore* store_;
  const CompactOptions& options_;
  int64_t seq_;
  TimestampMicros now_;
  StagingDir scratch_{"compact"};
  std::vector<std::string> written_;
};

}  // namespace

Result<CompactReport> CompactLake(ObjectStore* store, const CompactOptions& options) {
  if (options.target_file_bytes <= 0 || options.min_tier_bytes <= 0 || options.tier_factor < 2 ||
      options.max_input_files < 2) {
    return InvalidArgument(
        "compact: target size and smallest tier must be > 0, the tier factor >= 2 and the file budget >= 2");
  }
  const TimestampMicros now = options.clock ? options.clock() : NowMicros();
  // A run that died after its catalog commit left Delta commits to write.
  ASSIGN_OR_RETURN(Snapshot newest, LoadCurrentSnapshot(store));
  if (!newest.legacy) RETURN_IF_ERROR(RollForward(store, newest));
  ASSIGN_OR_RETURN(LakeState lake, LoadLakeState(store));

  CompactReport report;
  report.seq = lake.catalog.seq;
  if (lake.catalog.seq == 0) return report;

  std::vector<Group> chosen;
  int budget = options.max_input_files;
  for (std::string_view table : EtlTables()) {
    auto it = lake.tables.find(std::string(table));
    if (it == lake.tables.end()) continue;
    ASSIGN_OR_RETURN(std::vector<Group> groups, PlanTable(it->first, it->second, options));
    for (Group& g : groups) {
      const size_t min_files = 2;
      if (budget < static_cast<int>(min_files)) {
        report.budget_exhausted = true;
        break;
      }
      if (static_cast<int>(g.files.size()) > budget) {
        g.files.resize(static_cast<size_t>(budget));
        report.budget_exhausted = true;
      }
      budget -= static_cast<int>(g.files.size());
      chosen.push_back(std::move(g));
    }
  }
  if (chosen.empty()) return report;

  Snapshot next = lake.catalog;
  next.seq += 1;
  next.committed_at = now;
  next.commits.clear();
  next.commit_text.clear();
  Compactor compactor(store, options, next.seq, now);
  auto cleanup = [&] {
    for (const std::string& key : compactor.written()) {
      if (Status s = store->Delete(key); !s.ok()) spdlog::warn("compact: leaving {}: {}", key, s.ToString());
    }
  };
  for (const Group& g : chosen) {
    auto merged = compactor.Merge(g);
    if (!merged.ok()) {
      cleanup();
      return merged.status();
    }
    DeltaCommit& commit = next.commits[g.table];
    CompactTableReport& tr = report.tables[g.table];
    ++tr.groups;
    tr.rows += merged->rows;
    for (const DeltaRemoveFile& rm : merged->removes) {
      ++tr.files_removed;
      tr.bytes_removed += rm.size;
    }
    for (const DeltaAddFile& add : merged->adds) {
      ++tr.files_added;
      tr.bytes_added += add.size;
    }
    commit.removes.insert(commit.removes.end(), merged->removes.begin(), merged->removes.end());
    commit.adds.insert(commit.adds.end(), merged->adds.begin(), merged->adds.end());
    if (options.lease) {
      if (Status s = options.lease->Renew(); !s.ok()) {
        cleanup();
        return s.WithContext("compact");
      }
    }
  }
  // The commit point: only while the lease is ours.
  if (options.lease) {
    if (Status s = options.lease->CheckHeld(); !s.ok()) {
      cleanup();
      return s.WithContext("compact");
    }
  }
  for (auto& [table, commit] : next.commits) {
    commit.timestamp = now / 1000;
    commit.operation = "OPTIMIZE";
    commit.operation_parameters = {{"predicate", "[]"}, {"zOrderBy", "[]"}, {"auto", "false"}};
  }
  if (Status s = CommitLake(store, &next); !s.ok()) {
    // Only a commit known not to have happened (another writer took the seq)
    // may take its files with it: after an unanswered write the commit may
    // well be in place, and its files must stay (vacuum removes orphans).
    if (s.code() == StatusCode::kFailedPrecondition) cleanup();
    return s.WithContext("compact");
  }
  report.nothing_to_do = false;
  report.seq = next.seq;
  for (const auto& [table, tr] : report.tables) {
    report.files_removed += tr.files_removed;
    report.bytes_removed += tr.bytes_removed;
    report.files_added += tr.files_added;
    report.bytes_added += tr.bytes_added;
  }
  return report;
}

}  // namespace tradelake
