#include "etl/etl.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "etl/compact.h"
#include "etl/dec18.h"
#include "etl/gold.h"
#include "etl/lease.h"
#include "etl/table_files.h"
#include "etl/table_stats.h"
#include "etl/table_io.h"
#include "etl/validate.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;


// A validated trade waiting to be merged into Silver, with what is needed to
// count it against its Bronze partition or reject it as a conflict.
struct Candidate {
  SilverTrade row;
  std::string bronze_partition;
  std::string bronze_date;
  std::string raw;
};

// silver.trades_rejected.raw is VARCHAR, which must be UTF-8: bytes that are
// not are kept visible as \xNN (and the detail says so) rather than lost.
bool MakeUtf8(std::string* s) {
  std::string out;
  bool changed = false;
  const auto* p = reinterpret_cast<const unsigned char*>(s->data());
  const size_t n = s->size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= n && !(len == 2 && c < 0xC2);
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      const unsigned cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && len == 4) {
      const unsigned cp = ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (ok) {
      out.append(s->data() + i, len);
      i += len;
    } else {
      out += fmt::format("\\x{:02X}", c);
      changed = true;
      ++i;
    }
  }
  if (changed) *s = std::move(out);
  return changed;
}

void KeepRawReadable(RejectedRecord* r) {
  if (MakeUtf8(&r->raw)) r->detail += " (raw had bytes that are not UTF-8; shown as \\xNN)";
  MakeUtf8(&r->detail);
}

bool SameTrade(const SilverTrade& a, const SilverTrade& b) {
  return a.price == b.price && a.size == b.size && a.side == b.side && a.time == b.time;
}


std::optional<int64_t> StatInt(const std::map<std::string, std::string>& values, const char* column) {
  auto it = values.find(column);
  if (it == values.end()) return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size()) return std::nullopt;
  return v;
}

// "\"2024-05-01T00:00:00.000Z\"" -> "2024-05" (month) or "2024" (year).
std::string StatPrefix(const std::map<std::string, std::string>& values, const char* column, size_t n) {
  auto it = values.find(column);
  if (it == values.end() || it->second.size() < n + 1) return "";
  return it->second.substr(1, n);
}

// --- the run ------------------------------------------------------------------

// Candidates held in memory at once per product (~300 bytes each).
constexpr size_t kChunkRecords = 500'000;

// Gold tables: which file a bar belongs in. bars_1m: the (product, date)
// partition's one file; hourly: one file per month; daily: one per year.
struct GoldSpec {
  std::string_view table;
  int64_t period;
  size_t group_chars;  // of "YYYY-MM-DD": 10 (day), 7 (month), 4 (year)
};
constexpr GoldSpec kGoldSpecs[] = {{kGoldBars1m, kMicrosPerMinute, 10},
                                   {kGoldHourly, kMicrosPerHour, 7},
                                   {kGoldDaily, kMicrosPerDay, 4}};

// A file of a table as the run found it (committed, or carried over from a
// lake being upgraded).
struct BaseFile {
  std::string key;
  std::string path;  // in the Delta log ("" for a legacy file)
  std::string date;  // partition value; "" if none
  DeltaStats stats;
  std::optional<int64_t> min_id, max_id;  // trade_id range (Silver)
  std::string group;                      // Gold: the period group it covers
};

// table -> product -> files
using BaseFiles = std::map<std::string, std::map<std::string, std::vector<BaseFile>>>;

struct WorkItem {
  std::vector<std::string> keys;  // Bronze objects, in landing order
  int64_t next_bookmark = -1;     // the landed-log seq after the last one read (-1: unchanged)
};

class EtlRun {
 public:
  EtlRun(ObjectStore* store, const EtlOptions& options, Snapshot base, const BaseFiles* files)
      : store_(store), options_(options), base_(std::move(base)), files_(files) {
    now_ = options.now ? options.now : NowMicros();
    next_ = base_;
    next_.seq = base_.seq + 1;
    next_.commit_text.clear();
    next_.legacy.reset();
  }

  Status ProcessProduct(const std::string& product, const std::vector<std::string>& keys);
  // Gold recomputed from Silver rows taken as new (a lake being upgraded).
  Status AddGoldFor(const std::string& product, const std::vector<SilverTrade>& rows);
  Snapshot& next() { return next_; }
  EtlReport& report() { return report_; }
  // table -> files written / replaced, and the audit rows.
  std::map<std::string, std::vector<DeltaAddFile>>& adds() { return adds_; }
  std::map<std::string, std::vector<const BaseFile*>>& removes() { return removes_; }
  std::vector<QualityRow>& quality_rows() { return quality_rows_; }
  Result<DeltaAddFile> WriteQuality(const std::string& product, const std::vector<QualityRow>& rows) {
    return WriteFile(kAuditQuality, ProductPartitionName(product), rows, WriteQualityRows);
  }

  template <typename Row>
  Result<std::vector<Row>> ReadFile(const std::string& key, Result<std::vector<Row>> (*reader)(const std::string&));

 private:
  // Writes rows to a new file of `table` in `partition`; returns its `add`.
  template <typename Rows, typename Writer>
  Result<DeltaAddFile> WriteFile(std::string_view table, const std::string& partition, const Rows& rows,
                                 Writer writer);
  const std::vector<BaseFile>& Files(std::string_view table, const std::string& product) const {
    static const std::vector<BaseFile> kNone;
    auto t = files_->find(std::string(table));
    if (t == files_->end()) return kNone;
    auto p = t->second.find(product);
    return p == t->second.end() ? kNone : p->second;
  }
  Status MergeGold(const std::string& product, const std::vector<SilverTrade>& inserted_sorted);
  Status ApplyChunk(const std::string& product, std::map<std::string, std::vector<Candidate>>* by_date,
                    std::map<std::string, std::vector<RejectedRecord>>* rejected,
                    std::map<std::string, QualityCounters>* delta, std::vector<BaseFile>* run_files);

 public:
  // Writes the Gold files of every bar added so far. REQUIRES: no ProcessProduct running.
  Status FlushGold();

 private:

  ObjectStore* store_;
  const EtlOptions& options_;
  const Snapshot base_;
  const BaseFiles* files_;
  TimestampMicros now_ = 0;
  StagingDir staging_{"etl"};

  std::mutex mu_;
  Snapshot next_;                                                   // GUARDED_BY(mu_)
  EtlReport report_;                                                // GUARDED_BY(mu_)
  std::map<std::string, std::vector<DeltaAddFile>> adds_;           // GUARDED_BY(mu_)
  std::map<std::string, std::vector<const BaseFile*>> removes_;     // GUARDED_BY(mu_)
  std::vector<QualityRow> quality_rows_;                            // GUARDED_BY(mu_)
  // table -> product -> period group -> period_start -> bar of new trades
  std::map<std::string, std::map<std::string, std::map<std::string, std::map<TimestampMicros, GoldBar>>>>
      pending_gold_;  // GUARDED_BY(mu_)
};

template <typename Rows, typename Writer>
Result<DeltaAddFile> EtlRun::WriteFile(std::string_view table, const std::string& partition, const Rows& rows,
                                       Writer writer) {
  const std::string key = fmt::format("{}{}/part-{:08d}-{}.parquet", TableFolder(table), partition, next_.seq,
                                      RandomFileTag());
  RETURN_IF_ERROR(WriteRowsAt(store_, key, rows, writer, &staging_));
  ASSIGN_OR_RETURN(DeltaAddFile add, AddFileFor(store_, table, key, StatsOf(rows)));
  add.modification_time = now_ / 1000;
  std::lock_guard lock(mu_);
  ++report_.files_written;
  report_.bytes_written += add.size;
  return add;
}

template <typename Row>
Result<std::vector<Row>> EtlRun::ReadFile(const std::string& key,
                                          Result<std::vector<Row>> (*reader)(const std::string&)) {
  return ReadRowsAt(store_, key, reader, &staging_);
}

// De-duplicates one chunk of candidates against Silver (committed files and
// the files this run already wrote), writes the new trades and rejects, and
// adds their bars to the pending Gold.
Status EtlRun::ApplyChunk(const std::string& product, std::map<std::string, std::vector<Candidate>>* by_date,
                          std::map<std::string, std::vector<RejectedRecord>>* rejected,
                          std::map<std::string, QualityCounters>* delta, std::vector<BaseFile>* run_files) {
  std::vector<SilverTrade> inserted_all;  // for Gold, sorted by trade_id per date
  for (auto& [date, cands] : *by_date) {
    if (options_.stop && options_.stop->load()) return Cancelled("stopped; nothing was committed, rerun to resume");
    const std::string partition = PartitionName(product, date);
    auto before = [](const Candidate& a, const Candidate& b) {
      if (a.row.trade_id != b.row.trade_id) return a.row.trade_id < b.row.trade_id;
      if (a.row.ingested_at != b.row.ingested_at) return a.row.ingested_at < b.row.ingested_at;
      return a.row.bronze_object < b.row.bronze_object;
    };
    // Bronze objects are read in landing order, so candidates usually arrive sorted.
    if (!std::is_sorted(cands.begin(), cands.end(), before)) std::sort(cands.begin(), cands.end(), before);
    // Only Silver files whose trade_id range holds a new id can hold a copy.
    std::vector<SilverTrade> existing;
    std::vector<const BaseFile*> silver_files;
    for (const BaseFile& f : Files(kSilverTrades, product)) silver_files.push_back(&f);
    for (const BaseFile& f : *run_files) silver_files.push_back(&f);
    for (const BaseFile* fp : silver_files) {
      const BaseFile& f = *fp;
      if (f.date != date) continue;
      bool overlaps = !f.min_id || !f.max_id;  // no stats: read it to be safe
      if (!overlaps) {
        auto it = std::lower_bound(cands.begin(), cands.end(), *f.min_id,
                                   [](const Candidate& c, int64_t id) { return c.row.trade_id < id; });
        overlaps = it != cands.end() && it->row.trade_id <= *f.max_id;
      }
      if (!overlaps) continue;
      ASSIGN_OR_RETURN(auto rows, ReadFile<SilverTrade>(f.key, &ReadSilverTrades));
      existing.insert(existing.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    }
    auto by_id = [](const SilverTrade& a, const SilverTrade& b) { return a.trade_id < b.trade_id; };
    if (!std::is_sorted(existing.begin(), existing.end(), by_id)) std::sort(existing.begin(), existing.end(), by_id);

    std::vector<SilverTrade> inserted;
    inserted.reserve(cands.size());
    size_t e = 0;
    for (auto& c : cands) {
      while (e < existing.size() && existing[e].trade_id < c.row.trade_id) ++e;
      const SilverTrade* kept = nullptr;
      if (e < existing.size() && existing[e].trade_id == c.row.trade_id) {
        kept = &existing[e];
      } else if (!inserted.empty() && inserted.back().trade_id == c.row.trade_id) {
        kept = &inserted.back();
      }
      QualityCounters& q = (*delta)[c.bronze_date];
      if (kept != nullptr) {
        if (SameTrade(*kept, c.row)) {
          ++q.duplicates;
        } else {
          RejectedRecord r;
          r.product_id = product;
          r.date = c.bronze_date;
          r.trade_id = c.row.trade_id;
          r.rule = std::string(kConflictingDuplicateRule);
          r.detail = fmt::format("trade {} is already in Silver from {} with other values", c.row.trade_id,
                                 kept->bronze_object);
          r.raw = std::move(c.raw);
          r.bronze_object = c.row.bronze_object;
          r.rejected_at = now_;
          ++q.rejected[r.rule];
          (*rejected)[c.bronze_partition].push_back(std::move(r));
        }
        continue;
      }
      ++q.inserted;
      inserted.push_back(std::move(c.row));
    }
    if (!inserted.empty()) {
      ASSIGN_OR_RETURN(DeltaAddFile add, WriteFile(kSilverTrades, partition, inserted, WriteSilverTrades));
      BaseFile mine;
      mine.key = TableFolder(kSilverTrades) + partition + add.path.substr(add.path.rfind('/'));
      mine.path = add.path;
      mine.date = date;
      mine.min_id = inserted.front().trade_id;
      mine.max_id = inserted.back().trade_id;
      run_files->push_back(std::move(mine));
      std::lock_guard lock(mu_);
      adds_[std::string(kSilverTrades)].push_back(std::move(add));
      ++report_.silver_partitions;
    }
    inserted_all.insert(inserted_all.end(), std::make_move_iterator(inserted.begin()),
                        std::make_move_iterator(inserted.end()));
  }
  RETURN_IF_ERROR(MergeGold(product, inserted_all));

  for (auto& [bp, rows] : *rejected) {
    for (auto& r : rows) KeepRawReadable(&r);
    ASSIGN_OR_RETURN(DeltaAddFile add, WriteFile(kSilverRejected, bp, rows, WriteRejected));
    std::lock_guard lock(mu_);
    adds_[std::string(kSilverRejected)].push_back(std::move(add));
  }

  by_date->clear();
  rejected->clear();
  return Status::OK();
}

Status EtlRun::ProcessProduct(const std::string& product, const std::vector<std::string>& keys) {
  TradeValidator validator;
  std::map<std::string, std::vector<Candidate>> by_date;        // Silver (trade) date
  std::map<std::string, std::vector<RejectedRecord>> rejected;  // Bronze partition
  std::map<std::string, QualityCounters> delta;                 // Bronze date
  int64_t cached_day = INT64_MIN;
  std::string cached_date;
  size_t candidates = 0;
  std::vector<BaseFile> run_files;  // Silver files this run wrote for the product
  for (const std::string& key : keys) {
    auto obj = ParseBronzeObjectKey(key);
    if (!obj.ok() || obj->product_id != product) {
      // Not a Bronze object of this product: reported and skipped, the run goes on.
      const std::string why = obj.ok() ? "it belongs to " + obj->product_id : obj.status().message();
      spdlog::warn("etl: {}: the landed log names {:?}, which is not one of its Bronze objects ({}); skipped", product,
                   key, why);
      std::lock_guard lock(mu_);
      report_.skipped_objects.push_back(fmt::format("{} ({})", key, why));
      continue;
    }
    ASSIGN_OR_RETURN(std::string data, store_->Get(key));
    auto lines = ReadBronzeLines(data);
    const std::string bp = PartitionName(product, obj->date);
    QualityCounters& dq = delta[obj->date];
    if (!lines.ok()) {
      // An object that cannot be read (corrupt, or inflating beyond the
      // limit) is one rejected record naming it; the rest of the run goes on.
      spdlog::warn("etl: Bronze object {} cannot be read: {}", key, lines.status().message());
      RejectedRecord r;
      r.product_id = product;
      r.date = obj->date;
      r.rule = std::string(dq_rule::kInvalidJson);
      r.detail = fmt::format("the Bronze object cannot be read ({} bytes): {}", data.size(), lines.status().message());
      r.bronze_object = key;
      r.rejected_at = now_;
      ++dq.records;
      ++dq.rejected[r.rule];
      rejected[bp].push_back(std::move(r));
      continue;
    }
    for (auto& line : *lines) {
      ++dq.records;
      if (!line.error.empty()) {
        RejectedRecord r;
        r.product_id = product;
        r.date = obj->date;
        r.rule = std::string(dq_rule::kInvalidJson);
        r.detail = "not a Bronze line: " + line.error;
        r.raw = line.line;
        r.bronze_object = key;
        r.rejected_at = now_;
        ++dq.rejected[r.rule];
        rejected[bp].push_back(std::move(r));
        continue;
      }
      auto ingested = ParseRfc3339(line.ingested_at);
      TradeContext ctx{product, obj->date, line.request, key, ingested.value_or(0), now_};
      auto outcome = validator.Validate(line.trade, ctx);
      if (auto* bad = std::get_if<RejectedRecord>(&outcome)) {
        ++dq.rejected[bad->rule];
        rejected[bp].push_back(std::move(*bad));
        continue;
      }
      auto& row = std::get<SilverTrade>(outcome);
      // Formatting a date per trade showed up in profiles; trades of one day share it.
      const int64_t day = DayNumber(row.time);
      if (day != cached_day) {
        cached_day = day;
        cached_date = FormatDate(row.time);
      }
      by_date[cached_date].push_back({std::move(row), bp, obj->date, std::move(line.trade)});
    }
    if (options_.stop && options_.stop->load()) return Cancelled("stopped; nothing was committed, rerun to resume");
    // Bounded memory: a run over millions of trades goes in chunks, each
    // de-duplicated against Silver and the chunks before it.
    candidates += lines->size();
    if (candidates >= kChunkRecords) {
      RETURN_IF_ERROR(ApplyChunk(product, &by_date, &rejected, &delta, &run_files));
      candidates = 0;
    }
  }

  RETURN_IF_ERROR(ApplyChunk(product, &by_date, &rejected, &delta, &run_files));

  std::lock_guard lock(mu_);
  QualityCounters& total = next_.totals[product];
  for (const auto& [date, d] : delta) {
    total.Add(d);
    for (const auto& [rule, n] : d.rejected) {
      report_.rejected_by_rule[rule] += n;
      report_.rejected += n;
    }
    report_.records += d.records;
    report_.inserted += d.inserted;
    report_.duplicates += d.duplicates;
    QualityRow row;
    row.product_id = product;
    row.date = date;
    row.etl_seq = next_.seq;
    row.records = d.records;
    row.inserted = d.inserted;
    row.duplicates = d.duplicates;
    row.rejected = d.rejected_total();
    nlohmann::json rules = nlohmann::json::object();
    for (const auto& [rule, n] : d.rejected) rules[rule] = n;
    row.rejected_by_rule = rules.dump();
    quality_rows_.push_back(std::move(row));
  }
  report_.bronze_objects += static_cast<int64_t>(keys.size());
  return Status::OK();
}

Status EtlRun::AddGoldFor(const std::string& product, const std::vector<SilverTrade>& rows) {
  return MergeGold(product, rows);
}

// Adds the bars of `inserted` (new trades, no copy of any already in Gold)
// to the run's pending Gold bars; FlushGold writes them.
Status EtlRun::MergeGold(const std::string& product, const std::vector<SilverTrade>& inserted) {
  if (inserted.empty()) return Status::OK();
  {
    // The trade times this run inserted (for work that follows Gold: a
    // reconciliation of minutes that gained trades).
    const auto [lo, hi] = std::minmax_element(inserted.begin(), inserted.end(),
                                              [](const SilverTrade& a, const SilverTrade& b) { return a.time < b.time; });
    std::lock_guard lock(mu_);
    auto [range, fresh] = report_.inserted_time_range.try_emplace(product, lo->time, hi->time);
    if (!fresh) {
      range->second.first = std::min(range->second.first, lo->time);
      range->second.second = std::max(range->second.second, hi->time);
    }
  }
  for (const GoldSpec& spec : kGoldSpecs) {
    auto bars = AggregateBars(inserted, spec.period);
    if (!bars.ok()) return bars.status().WithContext(fmt::format("{} {}", spec.table, product));
    std::lock_guard lock(mu_);
    auto& groups = pending_gold_[std::string(spec.table)][product];
    for (auto& b : *bars) {
      auto& group = groups[FormatDate(b.period_start).substr(0, spec.group_chars)];
      auto [it, fresh] = group.emplace(b.period_start, b);
      if (!fresh) RETURN_IF_ERROR(MergeBar(b, &it->second));
    }
  }
  return Status::OK();
}

// Merges the pending bars into the Gold files they touch (bars_1m: the day's
// file, hourly: the month's, daily: the year's), each rewritten as a new file.
Status EtlRun::FlushGold() {
  for (const GoldSpec& spec : kGoldSpecs) {
    for (auto& [product, groups] : pending_gold_[std::string(spec.table)]) {
      for (auto& [group, fresh] : groups) {
        if (options_.stop && options_.stop->load()) return Cancelled("stopped; nothing was committed, rerun to resume");
        std::map<TimestampMicros, GoldBar> merged;
        std::vector<const BaseFile*> replaced;
        for (const BaseFile& f : Files(spec.table, product)) {
          if (f.group != group) continue;
          ASSIGN_OR_RETURN(auto rows, ReadFile<GoldBar>(f.key, &ReadGoldBars));
          for (auto& b : rows) {
            const TimestampMicros at = b.period_start;
            merged.emplace(at, std::move(b));
          }
          replaced.push_back(&f);
        }
        for (const auto& [at, b] : fresh) {
          auto [it, fresh_bar] = merged.emplace(at, b);
          if (!fresh_bar) RETURN_IF_ERROR(MergeBar(b, &it->second));
        }
        std::vector<GoldBar> rows;
        rows.reserve(merged.size());
        for (auto& [at, b] : merged) rows.push_back(std::move(b));
        const std::string partition = spec.group_chars == 10 ? PartitionName(product, group)
                                                             : ProductPartitionName(product);
        ASSIGN_OR_RETURN(DeltaAddFile add, WriteFile(spec.table, partition, rows, WriteGoldBars));
        adds_[std::string(spec.table)].push_back(std::move(add));
        auto& r = removes_[std::string(spec.table)];
        r.insert(r.end(), replaced.begin(), replaced.end());
        ++report_.gold_partitions;
      }
    }
  }
  pending_gold_.clear();
  return Status::OK();
}

// The committed files of `products` in every table, with what the run needs
// to know of each (trade_id range, Gold period group). Only these products'
// files are looked at, so a run's cost follows its products, not the lake.
Result<BaseFiles> FilesOf(const LakeState& state, const std::set<std::string>& products) {
  BaseFiles out;
  for (std::string_view table : EtlTables()) {
    auto t = state.tables.find(std::string(table));
    if (t == state.tables.end()) continue;
    const std::string root = TableFolder(table);
    for (const auto& [path, add] : t->second.files) {
      auto product = add.partition_values.find("product_id");
      if (product == add.partition_values.end() || !product->second || !products.contains(*product->second)) continue;
      BaseFile b;
      ASSIGN_OR_RETURN(b.key, DeltaPathToKey(root, path));
      b.path = path;
      if (auto d = add.partition_values.find("date"); d != add.partition_values.end() && d->second) b.date = *d->second;
      ASSIGN_OR_RETURN(b.stats, ParseDeltaStats(add.stats));
      b.min_id = StatInt(b.stats.min_values, "trade_id");
      b.max_id = StatInt(b.stats.max_values, "trade_id");
      for (const GoldSpec& spec : kGoldSpecs) {
        if (spec.table != table) continue;
        b.group = spec.group_chars == 10 ? b.date : StatPrefix(b.stats.min_values, "period_start", spec.group_chars);
      }
      out[std::string(table)][*product->second].push_back(std::move(b));
    }
  }
  return out;
}

// The Delta state of every table at the versions `snap` pins (empty states
// for tables not created yet).
Result<std::map<std::string, DeltaTableState>> TablesOf(ObjectStore* store, const Snapshot& snap) {
  std::map<std::string, DeltaTableState> tables;
  for (std::string_view table : EtlTables()) {
    auto it = snap.versions.find(std::string(table));
    if (it == snap.versions.end()) {
      tables[std::string(table)] = DeltaTableState{};
      continue;
    }
    ASSIGN_OR_RETURN(DeltaTableState t, LoadDeltaTable(store, TableFolder(table), it->second));
    if (t.version != it->second) {
      return DataLoss(fmt::format("{} version {} (pinned by catalog commit {}) is not in its Delta log", table,
                                  it->second, snap.seq));
    }
    tables[std::string(table)] = std::move(t);
  }
  return tables;
}

// Bronze objects to process, per product.
Result<std::map<std::string, WorkItem>> FindNewObjects(ObjectStore* store, const Snapshot& base,
                                                       const EtlOptions& options, bool list_all,
                                                       const std::set<std::string>& already) {
  std::map<std::string, WorkItem> work;
  // The landed logs first: an entry read now is for an object that exists,
  // so a listing made after it sees the object too.
  ASSIGN_OR_RETURN(std::vector<std::string> products, ListLandedProducts(store));
  for (const auto& [p, next] : base.bookmarks) products.push_back(p);
  std::sort(products.begin(), products.end());
  products.erase(std::unique(products.begin(), products.end()), products.end());
  for (const std::string& product : products) {
    auto b = base.bookmarks.find(product);
    const int64_t from = b == base.bookmarks.end() ? 0 : b->second;
    const int64_t limit = list_all ? std::numeric_limits<int64_t>::max() : options.max_objects_per_product;
    int64_t seq = from;
    WorkItem& w = work[product];
    for (;;) {
      ASSIGN_OR_RETURN(auto entries, ReadLanded(store, product, seq, std::min<int64_t>(limit, 10000)));
      for (auto& e : entries) {
        if (!list_all) w.keys.push_back(std::move(e.key));
        seq = e.seq + 1;
      }
      if (entries.size() < 10000 || (!list_all && static_cast<int64_t>(w.keys.size()) >= limit)) break;
    }
    w.next_bookmark = seq;
  }
  if (list_all) {
    // A rebuild, or the upgrade of a lake from before the landed log: every
    // Bronze object (not yet in `already`).
    ASSIGN_OR_RETURN(auto listed, store->List(fmt::format("bronze/source={}/", kBronzeSource)));
    for (const auto& o : listed) {
      auto key = ParseBronzeObjectKey(o.key);
      if (!key.ok() || already.contains(o.key)) continue;
      work[key->product_id].keys.push_back(o.key);
    }
  }
  for (auto it = work.begin(); it != work.end();) {
    const bool moved = it->second.next_bookmark >= 0 &&
                       (!base.bookmarks.contains(it->first) || base.bookmarks.at(it->first) != it->second.next_bookmark);
    it = (it->second.keys.empty() && !moved) ? work.erase(it) : std::next(it);
  }
  return work;
}

// Reads a legacy (format 1) lake's Silver and rejected files into `files` and
// the matching Gold input; returns the Silver rows per product (for Gold).
Status CarryOverLegacy(ObjectStore* store, EtlRun* run, const LegacySnapshot& legacy, BaseFiles* files,
                       std::map<std::string, std::vector<DeltaAddFile>>* carried) {
  for (std::string_view table : {kSilverTrades, kSilverRejected}) {
    auto t = legacy.tables.find(std::string(table));
    if (t == legacy.tables.end()) continue;
    for (const auto& [partition, keys] : t->second) {
      for (const std::string& key : keys) {
        DeltaStats stats;
        std::string product;
        if (table == kSilverTrades) {
          ASSIGN_OR_RETURN(auto rows, run->ReadFile<SilverTrade>(key, &ReadSilverTrades));
          stats = StatsOf(rows);
          if (rows.empty()) continue;
          product = rows.front().product_id;
          RETURN_IF_ERROR(run->AddGoldFor(product, rows));
        } else {
          ASSIGN_OR_RETURN(auto rows, run->ReadFile<RejectedRecord>(key, &ReadRejected));
          stats = StatsOf(rows);
          if (rows.empty()) continue;
          product = rows.front().product_id;
        }
        ASSIGN_OR_RETURN(DeltaAddFile add, AddFileFor(store, table, key, stats));
        BaseFile b;
        b.key = key;
        b.path = add.path;
        b.date = add.partition_values["date"].value_or("");
        b.min_id = StatInt(stats.min_values, "trade_id");
        b.max_id = StatInt(stats.max_values, "trade_id");
        b.stats = stats;
        (*files)[std::string(table)][product].push_back(std::move(b));
        (*carried)[std::string(table)].push_back(std::move(add));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<EtlReport> RunEtl(ObjectStore* store, const EtlOptions& options) {
  const auto t0 = Clock::now();
  LeaseOptions lease_options;
  lease_options.ttl_micros = LeaseKeeper::kLeaseTtl;
  ASSIGN_OR_RETURN(auto lease, EtlLease::Acquire(store, lease_options));
  LeaseKeeper keeper(std::move(lease));
  ASSIGN_OR_RETURN(Snapshot base, LoadCurrentSnapshot(store));
  const bool upgrade = base.legacy != nullptr;
  if (!upgrade) RETURN_IF_ERROR(RollForward(store, base));

  // The committed tables (none for a lake being upgraded: it has no Delta log yet).
  LakeState state;
  state.catalog = base;
  if (upgrade) {
    for (std::string_view t : EtlTables()) state.tables[std::string(t)] = DeltaTableState{};
    state.catalog.versions.clear();
  } else {
    LakeState* cache = options.state_cache;
    if (cache != nullptr && cache->catalog.seq == base.seq && cache->catalog.seq > 0) {
      state.tables = cache->tables;  // what this process committed last: no log reads
    } else {
      ASSIGN_OR_RETURN(state.tables, TablesOf(store, base));
    }
  }
  BaseFiles files;

  std::set<std::string> already;
  if (upgrade && !options.rebuild) already = base.legacy->bronze_processed;
  Snapshot bookmarks_from = base;
  if (upgrade) bookmarks_from.bookmarks.clear();
  ASSIGN_OR_RETURN(auto work, FindNewObjects(store, bookmarks_from, options, options.rebuild || upgrade, already));
  if (!options.rebuild && !upgrade) {
    std::set<std::string> products;
    for (const auto& [p, w] : work) products.insert(p);
    ASSIGN_OR_RETURN(files, FilesOf(state, products));
  }
  if (work.empty() && !upgrade) {
    EtlReport r;
    r.nothing_to_do = true;
    r.seq = base.seq;
    r.elapsed_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  }

  Snapshot run_base = base;
  run_base.versions = state.catalog.versions;
  if (options.rebuild || upgrade) run_base.totals.clear();
  EtlRun run(store, options, run_base, &files);
  std::map<std::string, std::vector<DeltaAddFile>> carried;
  if (upgrade && !options.rebuild) {
    spdlog::info("upgrading the lake to Delta Lake tables (catalog commit {} is from an older tradelake)", base.seq);
    RETURN_IF_ERROR(CarryOverLegacy(store, &run, *base.legacy, &files, &carried));
    // The counters of the old commits become the first audit rows and the totals.
    for (const auto& [partition, q] : base.legacy->quality) {
      const size_t slash = partition.find('/');
      if (!partition.starts_with("product_id=") || slash == std::string::npos) continue;
      QualityRow row;
      row.product_id = partition.substr(11, slash - 11);
      row.date = partition.substr(slash + 6);
      row.etl_seq = base.seq;
      row.committed_at = base.committed_at;
      row.records = q.records;
      row.inserted = q.inserted;
      row.duplicates = q.duplicates;
      row.rejected = q.rejected_total();
      nlohmann::json rules = nlohmann::json::object();
      for (const auto& [rule, n] : q.rejected) rules[rule] = n;
      row.rejected_by_rule = rules.dump();
      run.quality_rows().push_back(std::move(row));
      run.next().totals[run.quality_rows().back().product_id].Add(q);
    }
  }

  std::vector<std::string> products;
  for (const auto& [p, w] : work) products.push_back(p);
  std::atomic<size_t> next_product{0};
  std::vector<Status> statuses(products.size());
  auto worker = [&] {
    for (size_t i; (i = next_product++) < products.size();) {
      const auto& w = work[products[i]];
      if (w.keys.empty()) continue;
      statuses[i] = run.ProcessProduct(products[i], w.keys);
      if (!statuses[i].ok()) statuses[i] = statuses[i].WithContext(products[i]);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(options.threads, static_cast<int>(products.size())));
  for (int i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (const auto& s : statuses) RETURN_IF_ERROR(s);
  RETURN_IF_ERROR(run.FlushGold());

  EtlReport& report = run.report();
  if (!report.invariant_holds()) {
    return Internal(fmt::format(
        "invariant broken: {} Bronze records read != {} inserted + {} duplicates + {} rejected; nothing committed",
        report.records, report.inserted, report.duplicates, report.rejected));
  }
  Snapshot& next = run.next();
  next.committed_at = NowMicros();
  for (const auto& [product, w] : work) {
    if (w.next_bookmark >= 0) next.bookmarks[product] = w.next_bookmark;
  }

  // audit.data_quality: one file per product of this run's rows.
  {
    std::map<std::string, std::vector<QualityRow>> by_product;
    for (auto& q : run.quality_rows()) {
      q.committed_at = q.committed_at ? q.committed_at : next.committed_at;
      by_product[q.product_id].push_back(q);
    }
    for (const auto& [product, rows] : by_product) {
      ASSIGN_OR_RETURN(DeltaAddFile add, run.WriteQuality(product, rows));
      run.adds()[std::string(kAuditQuality)].push_back(std::move(add));
    }
  }

  // One Delta commit per changed table.
  const int64_t now_ms = next.committed_at / 1000;
  for (std::string_view table_name : EtlTables()) {
    const std::string table(table_name);
    const DeltaTableState& current = state.tables.at(table);
    DeltaCommit commit;
    commit.timestamp = now_ms;
    commit.operation = options.rebuild ? "CREATE OR REPLACE TABLE AS SELECT" : upgrade ? "CONVERT" : "WRITE";
    commit.operation_parameters = {{"tradelake_etl_seq", std::to_string(next.seq)}};
    commit.txn = std::pair{std::string("tradelake-etl"), next.seq};
    if (current.version < 0) {
      commit.protocol = DeltaProtocol{};
      commit.metadata = DeltaMetadataFor(table, now_ms);
    }
    auto remove = [&](const DeltaAddFile& add) {
      DeltaRemoveFile r;
      r.path = add.path;
      r.deletion_timestamp = now_ms;
      r.data_change = true;
      r.partition_values = add.partition_values;
      r.size = add.size;
      commit.removes.push_back(std::move(r));
    };
    if (options.rebuild) {
      for (const auto& [path, add] : current.files) remove(add);
    } else {
      for (const BaseFile* f : run.removes()[table]) {
        auto it = current.files.find(f->path);
        if (it != current.files.end()) remove(it->second);
      }
    }
    // Files carried over from a legacy lake are added unless replaced in this run.
    std::set<std::string> replaced_paths;
    for (const BaseFile* f : run.removes()[table]) replaced_paths.insert(f->path);
    for (auto& add : carried[table]) {
      if (!replaced_paths.contains(add.path)) commit.adds.push_back(add);
    }
    for (auto& add : run.adds()[table]) commit.adds.push_back(add);
    report.files_replaced += static_cast<int64_t>(commit.removes.size());
    if (commit.adds.empty() && commit.removes.empty() && current.version >= 0) continue;
    next.commits[table] = std::move(commit);
  }
  // The commit point: only while the lease is ours (a run that stalled past
  // its lease must not commit over a newer holder's work).
  RETURN_IF_ERROR(keeper.StopAndCheck().WithContext("before committing"));
  Status committed = CommitLake(store, &next);
  if (!committed.ok()) {
    if (options.state_cache) *options.state_cache = LakeState{};
    return committed;
  }
  if (options.state_cache) {
    // The next run of this process starts from here without reading the logs.
    LakeState& cache = *options.state_cache;
    cache.tables = std::move(state.tables);
    for (const auto& [table, commit] : next.commits) {
      if (Status s = ApplyDeltaCommit(&cache.tables[table], commit); !s.ok()) {
        cache = LakeState{};
        break;
      }
    }
    cache.catalog = next;
    cache.catalog.commits.clear();
  }
  // Small files are merged as they accumulate: after every
  // kDeltaCheckpointInterval-th version of a table (so about once in ten
  // runs), with a bounded budget, under the same lease.
  bool due = false;
  for (const auto& [table, commit] : next.commits) due |= next.versions[table] % kDeltaCheckpointInterval == 0;
  if (options.compact && due) {
    CompactOptions co;
    co.max_input_files = 64;
    co.lease = keeper.lease();
    auto compacted = CompactLake(store, co);
    if (!compacted.ok()) {
      spdlog::warn("compaction after commit {} failed (the commit stands; `tradelake compact` retries): {}", next.seq,
                   compacted.status().ToString());
    } else if (!compacted->nothing_to_do) {
      report.seq = compacted->seq;
      report.files_compacted = compacted->files_removed;
      if (options.state_cache) *options.state_cache = LakeState{};  // the next run reloads the new versions
    }
  }
  if (report.seq == 0) report.seq = next.seq;
  report.upgraded = upgrade;
  report.elapsed_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return report;
}

}  // namespace tradelake
