// Age benchmark: proves that keeping the lake fresh costs the same on a lake
// that is 30 days old as on one that is 10 minutes old (DESIGN.md: "cost ...
// proportional to new data, never to the lake's age").
//
//   1. Builds two lakes of BTC-USD at 5.5 trades/s in 11-trade Bronze objects
//      (one every 2 s, as `tradelake run` lands them by default): a young one
//      (10 minutes, 300 objects) and an old one (--days, default 30: about
//      1.3 M objects). Their Bronze objects and landed-log entries are
//      written straight into the folders (many threads, no fsync) through
//      the real encoders (EncodeBronzeObject, LandBronzeObject), then the real
//      ETL brings each lake up to date (RunEtl, --catchup-objects per run).
//      This is setup: its time is printed, not measured.
//   2. Steps, interleaved young/old (plus one unmeasured warm-up each): a step
//      lands the next --objects-per-step objects (10 s of trades) as the
//      ingest role, then makes one in-process RunEtl as the etl role. Per
//      step: wall time, store requests by kind and bytes written (ingest part
//      and ETL part, counted by a CountingStore under the role's policy), and
//      the bytes of Delta log + catalog written.
//      After the ETL, two long-lived SQL sessions on the lake follow the
//      commit (LakeSql::Refresh, as `tradelake serve` does every commit and
//      the SQL shell before a statement): one as the analyst role (serve's),
//      one as the etl role (`tradelake sql --role etl`, which also sees
//      Bronze). Their wall time and store requests are measured apart.
//   3. The first `tradelake sql` query on each lake, in a new process.
//   4. A table young vs old with the targets: old step time <= 1.5x young,
//      requests per step equal within +-5, Delta log + catalog <= 64 KiB per
//      step, refreshes old <= 1.5x young, first query on the old lake <=
//      100 ms. PASS/MISS is printed; a miss does not fail the program (a
//      benchmark reports).
//
// Usage: age_bench [--days N] [--quick] [--steps N] [--objects-per-step N]
//                  [--threads N] [--catchup-objects N] [--force-put] [--keep] [--no-cache]
//   --quick            3 days instead of 30 (minutes instead of tens of them)
//   --force-put        the ETL writes Parquet through Put, as on S3, instead of
//                      in place through WritablePath (the local default)
//   --keep             keep the lakes and print their folder
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "bench_util.h"
#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "core/time.h"
#include "etl/etl.h"
#include "store/counting_store.h"
#include "store/lake.h"
#include "store/object_store.h"
#include "store/policy_store.h"
#include "sql/lake_sql.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::Seconds;

constexpr std::string_view kProduct = "BTC-USD";
constexpr int64_t kTradesPerObject = 11;             // 5.5 trades/s ...
constexpr int64_t kMicrosPerObject = 2'000'000;      // ... landed every 2 s (`run --flush-interval 2s`)
constexpr int64_t kObjectsPerDay = kMicrosPerDay / kMicrosPerObject;
constexpr int64_t kYoungObjects = 10 * kMicrosPerMinute / kMicrosPerObject;
constexpr int64_t kLogBytesTarget = 64 * 1024;
constexpr double kStepTimeRatioTarget = 1.5;
constexpr double kRequestDiffTarget = 5;
constexpr double kFirstQueryTargetMs = 100;

// ------------------------------------------------------------------ market
// A deterministic BTC-USD tape: object k (k >= 0) holds trades 11k+1 ..
// 11k+11, spread evenly over [origin + 2k s, origin + 2(k+1) s). `origin` is
// a multiple of 2 s, so no object crosses midnight (one date per object).
struct BronzeObject {
  std::string key;
  std::string data;
  int64_t first_id = 0;
  int64_t last_id = 0;
};

class Market {
 public:
  explicit Market(TimestampMicros origin) : origin_(origin) {}

  TimestampMicros ObjectStart(int64_t k) const { return origin_ + k * kMicrosPerObject; }

  Result<BronzeObject> Object(int64_t k) const {
    BronzeObject o;
    o.first_id = k * kTradesPerObject + 1;
    o.last_id = o.first_id + kTradesPerObject - 1;
    std::vector<std::string> raw;
    raw.reserve(kTradesPerObject);
    for (int64_t id = o.first_id; id <= o.last_id; ++id) {
      const TimestampMicros t = ObjectStart(k) + (id - o.first_id) * kMicrosPerObject / kTradesPerObject;
      // Coinbase Exchange's field order; price and size vary with the id.
      const uint64_t h = static_cast<uint64_t>(id) * 2654435761u;
      raw.push_back(fmt::format(R"({{"time":"{}","trade_id":{},"price":"{}.{:02d}","size":"0.{:08d}","side":"{}"}})",
                                FormatRfc3339Micros(t), id, 60000 + h % 2000, h % 100, 1 + h % 9999999,
                                h % 3 ? "buy" : "sell"));
    }
    std::vector<BronzeRecord> records;
    records.reserve(raw.size());
    for (int64_t i = 0; i < kTradesPerObject; ++i) records.push_back({o.first_id + i, raw[static_cast<size_t>(i)]});
    ASSIGN_OR_RETURN(o.data, EncodeBronzeObject(records, ObjectStart(k + 1),
                                                fmt::format("/products/{}/trades?after={}&limit=1000", kProduct,
                                                            o.last_id + 1)));
    o.key = BronzeObjectKey(kProduct, FormatDate(ObjectStart(k)), o.first_id, o.last_id);
    return o;
  }

 private:
  TimestampMicros origin_;
};

// ------------------------------------------------------------------ generation
// A local folder whose Put writes the file in place, without a temporary file
// or fsync, so a million small objects take minutes, not hours. Only for
// generating a lake the bench then takes as given; everything else is the
// real local store.
class UnsyncedPutStore final : public ObjectStore {
 public:
  UnsyncedPutStore(ObjectStore* base, fs::path root) : base_(base), root_(std::move(root)) {}

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const fs::path path = root_ / key;
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == WriteMode::kCreateOnly ? O_EXCL : O_TRUNC);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0 && errno == ENOENT) {  // the first object of a folder
      std::error_code ec;
      fs::create_directories(path.parent_path(), ec);
      fd = ::open(path.c_str(), flags, 0644);
    }
    if (fd < 0 && errno == EEXIST) return AlreadyExists(fmt::format("{} exists", key));
    if (fd < 0) return IOError(fmt::format("create {}: {}", path.string(), std::strerror(errno)));
    const bool written = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    ::close(fd);
    return written ? Status::OK() : IOError(fmt::format("write {}", path.string()));
  }
  Result<std::string> Get(std::string_view key) override { return base_->Get(key); }
  Result<ObjectInfo> Head(std::string_view key) override { return base_->Head(key); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override { return base_->List(prefix); }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  std::string Describe() const override { return "unsynced(" + base_->Describe() + ")"; }
  std::optional<std::string> LocalPath(std::string_view key) const override { return base_->LocalPath(key); }

 private:
  ObjectStore* base_;
  fs::path root_;
};

// Lands market objects [first, first + count) in the empty lake `store`
// (landed-log seqs 0 .. count-1) on `threads` threads, each taking a
// contiguous range of objects and seqs; prints progress every 5 s.
Status GenerateBronze(UnsyncedPutStore* store, const Market& market, int64_t first, int64_t count, int threads,
                      std::string_view label) {
  std::atomic<int64_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status error;  // GUARDED_BY(mu)
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  const int64_t chunk = (count + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const int64_t begin = t * chunk, end = std::min(count, begin + chunk);
      int64_t next_seq = begin;  // 0 for the first range: it writes the product marker
      for (int64_t i = begin; i < end && !failed.load() && !bench::g_stop.load(); ++i) {
        Status s = [&]() -> Status {
          ASSIGN_OR_RETURN(BronzeObject o, market.Object(first + i));
          return LandBronzeObject(store, o.key, o.data, o.first_id, o.last_id, kTradesPerObject, &next_seq);
        }();
        if (!s.ok()) {
          std::lock_guard lock(mu);
          if (error.ok()) error = s;
          failed.store(true);
          return;
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto last_print = Clock::now();
  while (done.load() < count && !failed.load() && !bench::g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Clock::now() - last_print < std::chrono::seconds(5)) continue;
    last_print = Clock::now();
    const int64_t n = done.load();
    std::printf("  %s lake: %lld / %lld objects (%.0f%%), %.0f objects/s\n", std::string(label).c_str(),
                static_cast<long long>(n), static_cast<long long>(count), 100.0 * static_cast<double>(n) / static_cast<double>(count),
                static_cast<double>(n) / Seconds(Clock::now() - t0));
    std::fflush(stdout);
  }
  for (auto& w : workers) w.join();
  if (bench::g_stop.load()) return Cancelled("interrupted");
  return error;
}

// Runs the ETL until nothing is left, at most `max_objects` Bronze objects
// per run; prints each run.
Status CatchUp(ObjectStore* store, int64_t max_objects, std::string_view label) {
  EtlOptions options;
  options.max_objects_per_product = max_objects;
  options.stop = &bench::g_stop;
  for (int run = 1;; ++run) {
    const auto t0 = Clock::now();
    ASSIGN_OR_RETURN(EtlReport r, RunEtl(store, options));
    if (r.nothing_to_do) return Status::OK();
    if (!r.invariant_holds() || r.inserted != r.records) {
      return Internal(fmt::format("{} lake catch-up run {}: {} records, {} inserted (expected all)", label, run,
                                  r.records, r.inserted));
    }
    std::printf("  %s lake: ETL run %d: %lld objects, %lld trades in %.1f s\n", std::string(label).c_str(), run,
                static_cast<long long>(r.bronze_objects), static_cast<long long>(r.inserted),
                Seconds(Clock::now() - t0));
    std::fflush(stdout);
  }
}

// ------------------------------------------------------------------ steps
struct StepCost {
  double ingest_s = 0, etl_s = 0;
  double refresh_analyst_s = 0, refresh_etl_s = 0;  // the SQL sessions following the commit
  StoreCounts ingest, etl, refresh_analyst, refresh_etl;
  int64_t ingest_bytes = 0, etl_bytes = 0;  // Put bytes + the files written in place
  int64_t log_bytes = 0;                    // Delta log + catalog
  double total_s() const { return ingest_s + etl_s; }
};

// One lake under test: the local folder, the counter just above it, and the
// two roles' policies above that (so requests a policy denies are not
// counted: they never reach storage).
// Steps keep the ETL's Delta state between runs, as `tradelake run` does
// (--no-cache: every step loads it from the logs, as `tradelake etl` does).
bool g_keep_state = true;

struct Lake {
  Lake(std::string name_, fs::path dir_) : name(std::move(name_)), dir(std::move(dir_)) {}
  std::string name;
  fs::path dir;
  std::unique_ptr<ObjectStore> local;
  std::unique_ptr<CountingStore> counting;
  std::unique_ptr<ObjectStore> as_ingest, as_etl, as_analyst;
  std::unique_ptr<LakeSql> sql_analyst, sql_etl;  // long-lived sessions, as serve and the shell keep
  int64_t next_object = 0;  // market index of the next object to land
  int64_t next_seq = 0;     // its landed-log seq
  LakeState etl_cache;      // the ETL's Delta state between steps, as `tradelake run` keeps it
  std::vector<StepCost> steps;
};

Result<std::unique_ptr<ObjectStore>> AsRole(Lake* lake, std::string_view role) {
  ASSIGN_OR_RETURN(LakeLocation where, LakeLocationOf(lake->dir.string()));
  ASSIGN_OR_RETURN(RolePolicy policy, RolePolicyFor(role, where, ""));
  ASSIGN_OR_RETURN(auto store, PolicyEnforcingStore::Wrap(lake->counting.get(), std::move(policy), where));
  return std::unique_ptr<ObjectStore>(std::move(store));
}

Status OpenForSteps(Lake* lake, bool force_put) {
  ASSIGN_OR_RETURN(lake->local, OpenLocalStore(lake->dir.string()));
  lake->counting = std::make_unique<CountingStore>(
      lake->local.get(), CountingStoreOptions{.log_writes = true, .allow_writable_path = !force_put});
  ASSIGN_OR_RETURN(lake->as_ingest, AsRole(lake, "ingest"));
  ASSIGN_OR_RETURN(lake->as_etl, AsRole(lake, "etl"));
  ASSIGN_OR_RETURN(lake->as_analyst, AsRole(lake, "analyst"));
  SqlOptions options;
  options.threads = 1;
  ASSIGN_OR_RETURN(lake->sql_analyst, LakeSql::Open(lake->as_analyst.get(), options));
  ASSIGN_OR_RETURN(lake->sql_etl, LakeSql::Open(lake->as_etl.get(), options));
  return Status::OK();
}

bool IsLogKey(std::string_view key) {
  return key.starts_with("_catalog/") || key.find("/_delta_log/") != std::string_view::npos;
}

// Bytes of the writes logged since the last call: Put sizes as counted, files
// written in place measured now. Adds the Delta log + catalog part to *log.
int64_t WrittenBytes(Lake* lake, int64_t* log) {
  int64_t total = 0;
  for (const WrittenObject& w : lake->counting->TakeWrites()) {
    int64_t bytes = w.bytes;
    if (w.local) {
      std::error_code ec;
      const auto path = lake->local->LocalPath(w.key);
      bytes = path ? static_cast<int64_t>(fs::file_size(*path, ec)) : 0;
      if (ec) bytes = 0;  // handed out but not written (a failed writer)
    }
    total += bytes;
    if (IsLogKey(w.key)) *log += bytes;
  }
  return total;
}

Result<StepCost> Step(Lake* lake, const Market& market, int objects) {
  StepCost cost;
  const StoreCounts c0 = lake->counting->counts();
  (void)lake->counting->TakeWrites();
  const auto t0 = Clock::now();
  for (int i = 0; i < objects; ++i) {
    ASSIGN_OR_RETURN(BronzeObject o, market.Object(lake->next_object++));
    RETURN_IF_ERROR(LandBronzeObject(lake->as_ingest.get(), o.key, o.data, o.first_id, o.last_id, kTradesPerObject,
                                     &lake->next_seq));
  }
  const auto t1 = Clock::now();
  const StoreCounts c1 = lake->counting->counts();
  cost.ingest_bytes = WrittenBytes(lake, &cost.log_bytes);

  const auto t2 = Clock::now();
  EtlOptions options;
  if (g_keep_state) options.state_cache = &lake->etl_cache;
  ASSIGN_OR_RETURN(EtlReport r, RunEtl(lake->as_etl.get(), options));
  const auto t3 = Clock::now();
  const StoreCounts c2 = lake->counting->counts();
  cost.etl_bytes = WrittenBytes(lake, &cost.log_bytes);
  if (r.bronze_objects != objects || r.inserted != objects * kTradesPerObject) {
    return Internal(fmt::format("{} lake: a step's ETL run read {} objects and inserted {} trades; expected {} and {}",
                                lake->name, r.bronze_objects, r.inserted, objects, objects * kTradesPerObject));
  }
  cost.ingest_s = Seconds(t1 - t0);
  cost.etl_s = Seconds(t3 - t2);
  cost.ingest = c1 - c0;
  cost.etl = c2 - c1;

  // The SQL sessions follow the commit.
  const auto t4 = Clock::now();
  RETURN_IF_ERROR(lake->sql_analyst->Refresh().WithContext("the analyst session's refresh"));
  const auto t5 = Clock::now();
  const StoreCounts c3 = lake->counting->counts();
  RETURN_IF_ERROR(lake->sql_etl->Refresh().WithContext("the etl session's refresh"));
  const auto t6 = Clock::now();
  const StoreCounts c4 = lake->counting->counts();
  cost.refresh_analyst_s = Seconds(t5 - t4);
  cost.refresh_etl_s = Seconds(t6 - t5);
  cost.refresh_analyst = c3 - c2;
  cost.refresh_etl = c4 - c3;
  return cost;
}

// ------------------------------------------------------------------ first query
struct QueryTiming {
  std::optional<double> ms;  // nullopt: not run or failed
  std::string note;          // the answer, or why there is none
};

QueryTiming FirstQuery(bench::Children& children, const Lake& lake, const fs::path& dir) {
  QueryTiming q;
  if (!fs::exists(TRADELAKE_BINARY)) {
    q.note = fmt::format("{} is not built", TRADELAKE_BINARY);
    return q;
  }
  const fs::path out = dir / (lake.name + "-sql.out"), err = dir / (lake.name + "-sql.err");
  const auto t0 = Clock::now();
  const pid_t pid = bench::SpawnTradelake(
      {"sql", "--lake", lake.dir.string(), "--quiet", "--format", "csv",
       fmt::format("SELECT count(*) AS hours, sum(trade_count) AS trades FROM gold.trades_hourly "
                   "WHERE product_id = '{}'",
                   kProduct)},
      out, err);
  if (pid < 0) {
    q.note = "cannot start the binary";
    return q;
  }
  children.Add(pid);
  const std::optional<int> code = children.Wait(pid, std::chrono::seconds(120));
  const double ms = Seconds(Clock::now() - t0) * 1e3;
  if (!code || *code != 0) {
    q.note = code ? fmt::format("exit {}: {}", *code, bench::Tail(err, 300)) : "no answer within 120 s";
    return q;
  }
  q.ms = ms;
  std::string answer = e2e::ReadFile(out);
  std::replace(answer.begin(), answer.end(), '\n', ' ');
  q.note = "answered: " + answer;
  return q;
}

// ------------------------------------------------------------------ report
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return bench::Percentile(v, 50);
}
double P90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return bench::Percentile(v, 90);
}
template <typename F>
std::vector<double> Each(const Lake& lake, F f) {
  std::vector<double> v;
  for (const StepCost& s : lake.steps) v.push_back(static_cast<double>(f(s)));
  return v;
}
double Mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

class Table {
 public:
  void Row(std::string_view metric, double young, double old, int decimals, std::string target = "",
           std::optional<bool> pass = std::nullopt) {
    const std::string ratio = young > 0 ? fmt::format("{:.2f}", old / young) : (old > 0 ? "inf" : "-");
    std::printf("%-44s %12s %12s %9s   %-26s %s\n", std::string(metric).c_str(),
                fmt::format("{:.{}f}", young, decimals).c_str(), fmt::format("{:.{}f}", old, decimals).c_str(),
                ratio.c_str(), target.c_str(), pass ? (*pass ? "PASS" : "MISS") : "");
  }
  void Text(std::string_view metric, std::string_view young, std::string_view old, std::string target,
            std::optional<bool> pass) {
    std::printf("%-44s %12s %12s %9s   %-26s %s\n", std::string(metric).c_str(), std::string(young).c_str(),
                std::string(old).c_str(), "", target.c_str(), pass ? (*pass ? "PASS" : "MISS") : "NOT RUN");
  }
  void Header() {
    std::printf("%-44s %12s %12s %9s   %-26s %s\n", "per step (median/p90 over steps; counts: mean)", "young", "old",
                "old/young", "target", "");
  }
};

void PrintReport(const Lake& young, const Lake& old, const QueryTiming& young_q, const QueryTiming& old_q) {
  Table t;
  t.Header();
  auto ms = [](double s) { return s * 1e3; };
  const double young_med = Median(Each(young, [](const StepCost& s) { return s.total_s(); }));
  const double old_med = Median(Each(old, [](const StepCost& s) { return s.total_s(); }));
  t.Row("step wall, median (ms)", ms(young_med), ms(old_med), 1,
        fmt::format("old <= {:.1f}x young", kStepTimeRatioTarget), old_med <= kStepTimeRatioTarget * young_med);
  t.Row("step wall, p90 (ms)", ms(P90(Each(young, [](const StepCost& s) { return s.total_s(); }))),
        ms(P90(Each(old, [](const StepCost& s) { return s.total_s(); }))), 1);
  t.Row("  ingest part, median (ms)", ms(Median(Each(young, [](const StepCost& s) { return s.ingest_s; }))),
        ms(Median(Each(old, [](const StepCost& s) { return s.ingest_s; }))), 1);
  t.Row("  ETL part, median (ms)", ms(Median(Each(young, [](const StepCost& s) { return s.etl_s; }))),
        ms(Median(Each(old, [](const StepCost& s) { return s.etl_s; }))), 1);
  t.Row("  ETL part, p90 (ms)", ms(P90(Each(young, [](const StepCost& s) { return s.etl_s; }))),
        ms(P90(Each(old, [](const StepCost& s) { return s.etl_s; }))), 1);
  t.Row("  ETL time inside store calls, median (ms)",
        Median(Each(young, [](const StepCost& s) { return s.etl.micros; })) / 1e3,
        Median(Each(old, [](const StepCost& s) { return s.etl.micros; })) / 1e3, 1);

  // Requests, by part and kind: mean per step (a Delta checkpoint every 10th
  // version makes single steps differ; 10 or 20 steps see the same share).
  double worst_diff = 0;
  struct Kind {
    const char* name;
    int64_t StoreCounts::*field;
  };
  const Kind kinds[] = {{"GET", &StoreCounts::gets},         {"PUT", &StoreCounts::puts},
                        {"LIST", &StoreCounts::lists},       {"HEAD", &StoreCounts::heads},
                        {"DELETE", &StoreCounts::deletes},   {"local write (WritablePath)", &StoreCounts::local_writes},
                        {"local read (LocalPath)", &StoreCounts::local_reads}};
  for (double StepCost::*part : {&StepCost::refresh_analyst_s, &StepCost::refresh_etl_s}) {
    const double y = Median(Each(young, [&](const StepCost& s) { return s.*part; }));
    const double o = Median(Each(old, [&](const StepCost& s) { return s.*part; }));
    t.Row(part == &StepCost::refresh_analyst_s ? "SQL session refresh, analyst, median (ms)"
                                               : "SQL session refresh, etl role, median (ms)",
          ms(y), ms(o), 2, fmt::format("old <= {:.1f}x young", kStepTimeRatioTarget),
          o <= kStepTimeRatioTarget * std::max(y, 1e-3));
  }

  for (StoreCounts StepCost::*part :
       {&StepCost::ingest, &StepCost::etl, &StepCost::refresh_analyst, &StepCost::refresh_etl}) {
    const char* part_name = part == &StepCost::ingest ? "ingest"
                            : part == &StepCost::etl  ? "ETL"
                            : part == &StepCost::refresh_analyst ? "refresh (analyst)"
                                                                 : "refresh (etl role)";
    for (const Kind& k : kinds) {
      const double y = Mean(Each(young, [&](const StepCost& s) { return (s.*part).*(k.field); }));
      const double o = Mean(Each(old, [&](const StepCost& s) { return (s.*part).*(k.field); }));
      if (y == 0 && o == 0) continue;
      const double diff = std::abs(o - y);
      worst_diff = std::max(worst_diff, diff);
      t.Row(fmt::format("{} {}", part_name, k.name), y, o, 1, fmt::format("equal +-{:.0f}", kRequestDiffTarget),
            diff <= kRequestDiffTarget);
    }
  }
  t.Row("ingest bytes written (KiB)", Mean(Each(young, [](const StepCost& s) { return s.ingest_bytes; })) / 1024,
        Mean(Each(old, [](const StepCost& s) { return s.ingest_bytes; })) / 1024, 1);
  t.Row("ETL bytes written (KiB)", Mean(Each(young, [](const StepCost& s) { return s.etl_bytes; })) / 1024,
        Mean(Each(old, [](const StepCost& s) { return s.etl_bytes; })) / 1024, 1);
  t.Row("ETL bytes read by GET (KiB)", Mean(Each(young, [](const StepCost& s) { return s.etl.bytes_got; })) / 1024,
        Mean(Each(old, [](const StepCost& s) { return s.etl.bytes_got; })) / 1024, 1);
  const std::vector<double> young_log = Each(young, [](const StepCost& s) { return s.log_bytes; });
  const std::vector<double> old_log = Each(old, [](const StepCost& s) { return s.log_bytes; });
  t.Row("Delta log + catalog written, mean (KiB)", Mean(young_log) / 1024, Mean(old_log) / 1024, 1,
        fmt::format("old <= {} KiB", kLogBytesTarget / 1024), Mean(old_log) <= kLogBytesTarget);
  t.Row("Delta log + catalog written, max (KiB)", *std::max_element(young_log.begin(), young_log.end()) / 1024,
        *std::max_element(old_log.begin(), old_log.end()) / 1024, 1);
  auto query_text = [](const QueryTiming& q) { return q.ms ? fmt::format("{:.0f}", *q.ms) : std::string("-"); };
  t.Text("first `tradelake sql` query, new process (ms)", query_text(young_q), query_text(old_q),
         fmt::format("old <= {:.0f} ms", kFirstQueryTargetMs),
         old_q.ms ? std::optional<bool>(*old_q.ms <= kFirstQueryTargetMs) : std::nullopt);
  std::printf("sql on the young lake: %s\nsql on the old lake:   %s\n", young_q.note.c_str(), old_q.note.c_str());
  std::printf("largest request-count difference between the lakes: %.1f per step\n", worst_diff);
}

// ------------------------------------------------------------------ main
struct Flags {
  int days = 30;
  bool quick = false;
  int steps = 20;
  int objects_per_step = 5;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int catchup_objects = 200'000;
  bool force_put = false;
  bool keep = false;
  bool no_cache = false;  // reload the Delta state every step, as a one-shot `tradelake etl` does
};


Status Run(const Flags& f, const fs::path& dir, bench::Children& children) {
  const int64_t old_objects = f.days * kObjectsPerDay;
  // The lakes end where the steps begin, far enough in the past that no step's
  // trades are "in the future" for the ETL's future_time rule.
  const int64_t step_objects = static_cast<int64_t>(f.steps + 1) * f.objects_per_step;
  const TimestampMicros end =
      (NowMicros() / kMicrosPerObject - step_objects) * kMicrosPerObject - kMicrosPerMinute;
  const Market market(end - old_objects * kMicrosPerObject);

  std::printf("age_bench: %s at %.1f trades/s in %lld-trade Bronze objects, one every %lld s\n",
              std::string(kProduct).c_str(), static_cast<double>(kTradesPerObject) * 1e6 / static_cast<double>(kMicrosPerObject),
              static_cast<long long>(kTradesPerObject), static_cast<long long>(kMicrosPerObject / 1'000'000));
  std::printf("young lake: 10 minutes (%lld objects); old lake: %d days (%lld objects); %u cores\n",
              static_cast<long long>(kYoungObjects), f.days, static_cast<long long>(old_objects),
              std::thread::hardware_concurrency());
  std::printf("a step: land %d objects (%d s of trades, ingest role) + one in-process RunEtl (etl role); "
              "%d steps per lake, interleaved, after one unmeasured warm-up step each\n",
              f.objects_per_step, f.objects_per_step * 2, f.steps);
  std::printf("the ETL's Delta state is %s\n",
              f.no_cache ? "loaded from the logs every step (--no-cache), as a one-shot `tradelake etl` does"
                         : "kept between steps, as `tradelake run` does (--no-cache: reloaded every step)");
  std::printf("Parquet the ETL writes %s\n\n",
              f.force_put ? "goes through Put (--force-put: WritablePath disabled in the counting wrapper), as on S3"
                          : "in place through WritablePath (the local default): counted as \"local write\" "
                            "requests; their files are measured after each step and included in bytes written");

  Lake young("young", dir / "young");
  Lake old("old", dir / "old");
  young.next_object = old.next_object = old_objects;
  young.next_seq = kYoungObjects;
  old.next_seq = old_objects;

  std::printf("setup (not measured):\n");
  for (auto [lake, first, count] : {std::tuple{&young, old_objects - kYoungObjects, kYoungObjects},
                                    std::tuple{&old, int64_t{0}, old_objects}}) {
    const auto t0 = Clock::now();
    ASSIGN_OR_RETURN(auto local, OpenLocalStore(lake->dir.string()));
    UnsyncedPutStore gen(local.get(), lake->dir);
    RETURN_IF_ERROR(GenerateBronze(&gen, market, first, count, f.threads, lake->name));
    const double generated = Seconds(Clock::now() - t0);
    std::printf("  %s lake: %lld Bronze objects + landed-log entries written in %.1f s (%.0f objects/s, %d threads)\n",
                lake->name.c_str(), static_cast<long long>(count), generated, static_cast<double>(count) / generated,
                f.threads);
    std::fflush(stdout);
    const auto t1 = Clock::now();
    RETURN_IF_ERROR(CatchUp(local.get(), f.catchup_objects, lake->name));
    std::printf("  %s lake: brought up to date by the ETL in %.1f s\n", lake->name.c_str(),
                Seconds(Clock::now() - t1));
    std::fflush(stdout);
  }

  RETURN_IF_ERROR(OpenForSteps(&young, f.force_put));
  RETURN_IF_ERROR(OpenForSteps(&old, f.force_put));
  for (int i = 0; i <= f.steps && !bench::g_stop.load(); ++i) {
    for (Lake* lake : {&young, &old}) {
      ASSIGN_OR_RETURN(StepCost cost, Step(lake, market, f.objects_per_step));
      if (i > 0) lake->steps.push_back(cost);  // step 0 warms up
    }
  }
  if (bench::g_stop.load()) return Cancelled("interrupted");

  const QueryTiming young_q = FirstQuery(children, young, dir);
  const QueryTiming old_q = FirstQuery(children, old, dir);
  std::printf("\n");
  PrintReport(young, old, young_q, old_q);
  return Status::OK();
}

int Main(int argc, char** argv) {
  Flags f;
  int days = 0;
  const std::string bad = bench::ParseOptions(argc, argv,
                                              {{"--days", &days},
                                               {"--quick", &f.quick},
                                               {"--steps", &f.steps},
                                               {"--objects-per-step", &f.objects_per_step},
                                               {"--threads", &f.threads},
                                               {"--catchup-objects", &f.catchup_objects},
                                               {"--force-put", &f.force_put},
                                               {"--keep", &f.keep},
                                               {"--no-cache", &f.no_cache}});
  if (!bad.empty()) {
    std::fprintf(stderr,
                 "age_bench: unknown or incomplete option %s\n"
                 "usage: age_bench [--days N] [--quick] [--steps N] [--objects-per-step N] [--threads N]\n"
                 "                 [--catchup-objects N] [--force-put] [--keep] [--no-cache]\n",
                 bad.c_str());
    return 2;
  }
  g_keep_state = !f.no_cache;
  if (f.quick) f.days = 3;
  if (days > 0) f.days = days;
  if (f.days < 1 || f.steps < 1 || f.objects_per_step < 1 || f.threads < 1 || f.catchup_objects < 1) {
    std::fprintf(stderr, "age_bench: --days, --steps, --objects-per-step, --threads and --catchup-objects must be >= 1\n");
    return 2;
  }
  return bench::RunInFreshDir("age_bench", f.keep, std::chrono::seconds(5),
                              [&](const fs::path& dir, bench::Children& children) {
                                Status s = Run(f, dir, children);
                                if (!s.ok()) {
                                  std::fprintf(stderr, "age_bench: %s\n", s.ToString().c_str());
                                  return 1;
                                }
                                return 0;
                              });
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) { return tradelake::Main(argc, argv); }
