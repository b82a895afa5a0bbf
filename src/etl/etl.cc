#include "etl/etl.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "table/catalog.h"
#include "etl/gold.h"
#include "etl/table_io.h"
#include "etl/validate.h"
#include "bronze/bronze.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kLockKey = "_state/etl/lock";
constexpr int kCommitsKept = 20;

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

std::string RandomTag() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:08x}", static_cast<uint32_t>(rng()));
}

// Takes the ETL lock, or says who holds it. A lock left by a dead process
// (kill -9) is taken over.
class EtlLock {
 public:
  static Result<std::unique_ptr<EtlLock>> Acquire(ObjectStore* store) {
    const std::string me = fmt::format("{{\"pid\":{},\"started\":\"{}\"}}\n", ::getpid(),
                                       FormatRfc3339Micros(NowMicros()));
    Status s = store->Put(kLockKey, me, WriteMode::kCreateOnly);
    if (s.code() == StatusCode::kAlreadyExists) {
      auto held = store->Get(kLockKey);
      long pid = 0;
      if (held.ok()) std::sscanf(held->c_str(), "{\"pid\":%ld", &pid);
      if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) == 0) {
        return FailedPrecondition(fmt::format("another `tradelake etl` (pid {}) is running on this lake", pid));
      }
      spdlog::info("taking over the ETL lock of a process that is gone (pid {})", pid);
      s = store->Put(kLockKey, me, WriteMode::kOverwrite);
    }
    RETURN_IF_ERROR(s.WithContext("taking the ETL lock"));
    return std::unique_ptr<EtlLock>(new EtlLock(store));
  }
  ~EtlLock() { (void)store_->Delete(kLockKey); }

 private:
  explicit EtlLock(ObjectStore* store) : store_(store) {}
  ObjectStore* store_;
};

class EtlRun {
 public:
  EtlRun(ObjectStore* store, const EtlOptions& options, Snapshot base)
      : store_(store), options_(options), base_(std::move(base)) {
    now_ = options.now ? options.now : NowMicros();
    next_.seq = base_.seq + 1;
    if (!options.rebuild) {
      next_.tables = base_.tables;
      next_.bronze_processed = base_.bronze_processed;
      next_.quality = base_.quality;
    }
    tmp_dir_ = fs::temp_directory_path() / fmt::format("tradelake-etl-{}-{}", ::getpid(), RandomTag());
  }
  ~EtlRun() {
    std::error_code ec;
    fs::remove_all(tmp_dir_, ec);
  }

  Status ProcessProduct(const std::string& product, const std::vector<BronzeKey>& objects,
                        const std::vector<std::string>& keys);
  Snapshot& next() { return next_; }
  EtlReport& report() { return report_; }
  const std::vector<std::string>& replaced() const { return replaced_; }

 private:
  Result<std::vector<SilverTrade>> ReadSilverPartition(const std::string& partition);
  // Writes rows to a new file of `table` in `partition`; returns its key.
  template <typename Rows, typename Writer>
  Result<std::string> WriteFile(std::string_view table, const std::string& partition, const Rows& rows,
                                Writer writer);

  ObjectStore* store_;
  const EtlOptions& options_;
  const Snapshot base_;
  TimestampMicros now_ = 0;
  fs::path tmp_dir_;

  std::mutex mu_;
  Snapshot next_;                    // GUARDED_BY(mu_)
  EtlReport report_;                 // GUARDED_BY(mu_)
  std::vector<std::string> replaced_;  // GUARDED_BY(mu_)
};

template <typename Rows, typename Writer>
Result<std::string> EtlRun::WriteFile(std::string_view table, const std::string& partition, const Rows& rows,
                                      Writer writer) {
  const std::string key = fmt::format("{}{}/part-{:08d}-{}.parquet", TableFolder(table), partition, next_.seq,
                                      RandomTag());
  if (auto local = store_->WritablePath(key)) {
    RETURN_IF_ERROR(writer(rows, *local).WithContext(fmt::format("writing {}", key)));
  } else {
    std::error_code ec;
    fs::create_directories(tmp_dir_, ec);
    const fs::path tmp = tmp_dir_ / fmt::format("{}.parquet", RandomTag());
    RETURN_IF_ERROR(writer(rows, tmp.string()).WithContext(fmt::format("writing {}", key)));
    std::string bytes;
    {
      std::FILE* f = std::fopen(tmp.c_str(), "rb");
      if (!f) return IOError(fmt::format("reading back {}", tmp.string()));
      char buf[1 << 16];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
      std::fclose(f);
    }
    fs::remove(tmp, ec);
    RETURN_IF_ERROR(store_->Put(key, bytes, WriteMode::kCreateOnly));
  }
  auto info = store_->Head(key);
  std::lock_guard lock(mu_);
  ++report_.files_written;
  if (info.ok()) report_.bytes_written += info->size;
  return key;
}

Result<std::vector<SilverTrade>> EtlRun::ReadSilverPartition(const std::string& partition) {
  std::vector<SilverTrade> rows;
  if (options_.rebuild) return rows;
  auto table = base_.tables.find(std::string(kSilverTrades));
  if (table == base_.tables.end()) return rows;
  auto files = table->second.find(partition);
  if (files == table->second.end()) return rows;
  for (const auto& key : files->second) {
    std::vector<SilverTrade> part;
    if (auto local = store_->LocalPath(key)) {
      ASSIGN_OR_RETURN(part, ReadSilverTrades(*local));
    } else {
      ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
      std::error_code ec;
      fs::create_directories(tmp_dir_, ec);
      const fs::path tmp = tmp_dir_ / fmt::format("{}.parquet", RandomTag());
      {
        std::FILE* f = std::fopen(tmp.c_str(), "wb");
        if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
          if (f) std::fclose(f);
          return IOError(fmt::format("staging {} in {}", key, tmp.string()));
        }
        std::fclose(f);
      }
      auto read = ReadSilverTrades(tmp.string());
      fs::remove(tmp, ec);
      ASSIGN_OR_RETURN(part, std::move(read));
    }
    rows.insert(rows.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return rows;
}

Status EtlRun::ProcessProduct(const std::string& product, const std::vector<BronzeKey>& objects,
                              const std::vector<std::string>& keys) {
  TradeValidator validator;
  std::map<std::string, std::vector<Candidate>> by_date;              // Silver (trade) date
  std::map<std::string, std::vector<RejectedRecord>> rejected;        // Bronze partition
  std::map<std::string, PartitionQuality> delta;                      // Bronze partition
  int64_t cached_day = INT64_MIN;
  std::string cached_date;
  for (size_t i = 0; i < objects.size(); ++i) {
    const BronzeKey& obj = objects[i];
    const std::string& key = keys[i];
    ASSIGN_OR_RETURN(std::string data, store_->Get(key));
    auto lines = ReadBronzeLines(data);
    if (!lines.ok()) return lines.status().WithContext(fmt::format("Bronze object {}", key));
    const std::string bp = PartitionName(product, obj.date);
    for (auto& line : *lines) {
      ++delta[bp].records;
      if (!line.error.empty()) {
        RejectedRecord r;
        r.product_id = product;
        r.date = obj.date;
        r.rule = std::string(dq_rule::kInvalidJson);
        r.detail = "not a Bronze line: " + line.error;
        r.raw = line.line;
        r.bronze_object = key;
        r.rejected_at = now_;
        ++delta[bp].rejected[r.rule];
        rejected[bp].push_back(std::move(r));
        continue;
      }
      auto ingested = ParseRfc3339(line.ingested_at);
      TradeContext ctx{product, obj.date, line.request, key, ingested.value_or(0), now_};
      auto outcome = validator.Validate(line.trade, ctx);
      if (auto* bad = std::get_if<RejectedRecord>(&outcome)) {
        ++delta[bp].rejected[bad->rule];
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
      by_date[cached_date].push_back({std::move(row), bp, obj.date, std::move(line.trade)});
    }
    if (options_.stop && options_.stop->load()) return Cancelled("stopped; nothing was committed, rerun to resume");
  }

  for (auto& [date, cands] : by_date) {
    if (options_.stop && options_.stop->load()) return Cancelled("stopped; nothing was committed, rerun to resume");
    const std::string partition = PartitionName(product, date);
    auto before = [](const Candidate& a, const Candidate& b) {
      if (a.row.trade_id != b.row.trade_id) return a.row.trade_id < b.row.trade_id;
      if (a.row.ingested_at != b.row.ingested_at) return a.row.ingested_at < b.row.ingested_at;
      return a.row.bronze_object < b.row.bronze_object;
    };
    // Bronze objects are read in key order, so candidates usually arrive sorted.
    if (!std::is_sorted(cands.begin(), cands.end(), before)) std::sort(cands.begin(), cands.end(), before);
    ASSIGN_OR_RETURN(std::vector<SilverTrade> existing, ReadSilverPartition(partition));
    std::vector<SilverTrade> merged;
    merged.reserve(existing.size() + cands.size());
    size_t e = 0;
    for (auto& c : cands) {
      while (e < existing.size() && existing[e].trade_id < c.row.trade_id) merged.push_back(std::move(existing[e++]));
      if (e < existing.size() && existing[e].trade_id == c.row.trade_id) merged.push_back(std::move(existing[e++]));
      PartitionQuality& q = delta[c.bronze_partition];
      if (!merged.empty() && merged.back().trade_id == c.row.trade_id) {
        const SilverTrade& kept = merged.back();
        if (SameTrade(kept, c.row)) {
          ++q.duplicates;
        } else {
          RejectedRecord r;
          r.product_id = product;
          r.date = c.bronze_date;
          r.trade_id = c.row.trade_id;
          r.rule = std::string(kConflictingDuplicateRule);
          r.detail = fmt::format("trade {} is already in Silver from {} with other values", c.row.trade_id,
                                 kept.bronze_object);
          r.raw = std::move(c.raw);
          r.bronze_object = c.row.bronze_object;
          r.rejected_at = now_;
          ++q.rejected[r.rule];
          rejected[c.bronze_partition].push_back(std::move(r));
        }
        continue;
      }
      ++q.inserted;
      merged.push_back(std::move(c.row));
    }
    while (e < existing.size()) merged.push_back(std::move(existing[e++]));

    ASSIGN_OR_RETURN(std::string silver_key, WriteFile(kSilverTrades, partition, merged, WriteSilverTrades));
    std::vector<std::pair<std::string_view, std::string>> gold_keys;
    for (auto [table, period] : {std::pair{kGoldHourly, kMicrosPerHour}, std::pair{kGoldDaily, kMicrosPerDay},
                                 std::pair{kGoldBars1m, kMicrosPerMinute}}) {
      auto bars = AggregateBars(merged, period);
      if (!bars.ok()) return bars.status().WithContext(fmt::format("{} {}", table, partition));
      ASSIGN_OR_RETURN(std::string k, WriteFile(table, partition, *bars, WriteGoldBars));
      gold_keys.emplace_back(table, std::move(k));
    }
    std::lock_guard lock(mu_);
    auto replace = [&](std::string_view table, std::string key) {
      auto& files = next_.tables[std::string(table)][partition];
      replaced_.insert(replaced_.end(), files.begin(), files.end());
      files = {std::move(key)};
    };
    replace(kSilverTrades, std::move(silver_key));
    for (auto& [table, key] : gold_keys) replace(table, std::move(key));
    PartitionQuality& q = next_.quality[partition];
    q.silver_rows = static_cast<int64_t>(merged.size());
    q.id_gaps = merged.empty() ? 0 : merged.back().trade_id - merged.front().trade_id + 1 - q.silver_rows;
    ++report_.silver_partitions;
    report_.gold_partitions += 1;
  }

  for (auto& [bp, rows] : rejected) {
    for (auto& r : rows) KeepRawReadable(&r);
    ASSIGN_OR_RETURN(std::string key, WriteFile(kSilverRejected, bp, rows, WriteRejected));
    std::lock_guard lock(mu_);
    next_.tables[std::string(kSilverRejected)][bp].push_back(std::move(key));
  }

  std::lock_guard lock(mu_);
  for (const auto& [bp, d] : delta) {
    PartitionQuality& q = next_.quality[bp];
    q.records += d.records;
    q.inserted += d.inserted;
    q.duplicates += d.duplicates;
    for (const auto& [rule, n] : d.rejected) {
      q.rejected[rule] += n;
      report_.rejected_by_rule[rule] += n;
      report_.rejected += n;
    }
    report_.records += d.records;
    report_.inserted += d.inserted;
    report_.duplicates += d.duplicates;
  }
  next_.bronze_processed.insert(keys.begin(), keys.end());
  report_.bronze_objects += static_cast<int64_t>(keys.size());
  return Status::OK();
}

// Deletes table files that no committed snapshot references.
Result<int64_t> RemoveOrphans(ObjectStore* store, const Snapshot& snapshot) {
  const std::set<std::string> live = snapshot.Files();
  int64_t removed = 0;
  for (const char* prefix : {"silver/", "gold/"}) {
    ASSIGN_OR_RETURN(auto objects, store->List(prefix));
    for (const auto& o : objects) {
      if (live.contains(o.key)) continue;
      RETURN_IF_ERROR(store->Delete(o.key));
      ++removed;
    }
  }
  return removed;
}

}  // namespace

Result<EtlReport> RunEtl(ObjectStore* store, const EtlOptions& options) {
  const auto t0 = Clock::now();
  ASSIGN_OR_RETURN(auto lock, EtlLock::Acquire(store));
  ASSIGN_OR_RETURN(Snapshot base, LoadCurrentSnapshot(store));
  ASSIGN_OR_RETURN(int64_t orphans, RemoveOrphans(store, base));
  if (orphans) spdlog::info("removed {} uncommitted table files left by an interrupted run", orphans);

  ASSIGN_OR_RETURN(auto listed, store->List(fmt::format("bronze/source={}/", kBronzeSource)));
  std::map<std::string, std::pair<std::vector<BronzeKey>, std::vector<std::string>>> work;
  int64_t new_objects = 0;
  for (const auto& o : listed) {
    auto key = ParseBronzeObjectKey(o.key);
    if (!key.ok()) continue;
    if (!options.rebuild && base.bronze_processed.contains(o.key)) continue;
    auto& w = work[key->product_id];
    w.first.push_back(std::move(*key));
    w.second.push_back(o.key);
    ++new_objects;
  }
  if (new_objects == 0) {
    EtlReport r;
    r.nothing_to_do = true;
    r.seq = base.seq;
    r.orphans_removed = orphans;
    r.elapsed_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  }

  EtlRun run(store, options, base);
  std::vector<std::string> products;
  for (const auto& [p, w] : work) products.push_back(p);
  std::atomic<size_t> next_product{0};
  std::vector<Status> statuses(products.size());
  auto worker = [&] {
    for (size_t i; (i = next_product++) < products.size();) {
      const auto& w = work[products[i]];
      statuses[i] = run.ProcessProduct(products[i], w.first, w.second);
      if (!statuses[i].ok()) statuses[i] = statuses[i].WithContext(products[i]);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(options.threads, static_cast<int>(products.size())));
  for (int i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (const auto& s : statuses) RETURN_IF_ERROR(s);

  EtlReport& report = run.report();
  if (!report.invariant_holds()) {
    return Internal(fmt::format(
        "invariant broken: {} Bronze records read != {} inserted + {} duplicates + {} rejected; nothing committed",
        report.records, report.inserted, report.duplicates, report.rejected));
  }
  Snapshot& next = run.next();
  next.committed_at = NowMicros();
  RETURN_IF_ERROR(CommitSnapshot(store, next));
  // Committed: the files the new snapshot replaced are garbage now.
  for (const auto& key : run.replaced()) {
    if (Status s = store->Delete(key); !s.ok()) spdlog::warn("could not delete replaced {}: {}", key, s.ToString());
  }
  if (options.rebuild) {
    for (const auto& key : base.Files()) {
      if (!next.Files().contains(key)) (void)store->Delete(key);
    }
  }
  if (Status s = PruneCommits(store, kCommitsKept); !s.ok()) spdlog::warn("pruning old commits: {}", s.ToString());
  report.seq = next.seq;
  report.orphans_removed = orphans;
  report.elapsed_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return report;
}

}  // namespace tradelake
