// Crash safety of RunEtl, and what an external Delta reader sees while it runs.
//
// EtlCrash.*: an ETL run is failed at its store calls, one call per run
// (counted from a clean run of the same lake; one ETL thread, so the order is
// reproducible), in three ways: the process "dies" before call k (it and every
// later call fail), call k fails once, or call k is applied but its reply is
// lost. After each, readers (LoadLakeState) must see a committed snapshot,
// whole: the one before the run, a pending one it rolled forward, or its own.
// Then a clean RunEtl (after the dead process's lease expired) must converge to
// the lake of an uninterrupted run: every live row of every table (through
// LiveFiles and the table_io readers), the catalog's bookmarks and totals, the
// lease released, a further run with nothing to do, and Delta logs that end at
// the pinned versions with a checkpoint at every tenth version. (Catalog seq
// and versions may differ: an uninterrupted run also compacts after a tenth
// version, best effort, in a commit of its own that changes no row.)
// Lakes: a first run (every call, all modes); a run that crosses checkpoint
// version 10 and compacts (every write; a kill at a read leaves the store as a
// kill at the next write does); a run that must first roll forward a run
// killed after its catalog commit (every call of the roll-forward). These
// lakes live in a memory store: a local folder fsyncs every Put, which made
// the sweeps take many minutes; the ETL's store calls are the same on either.
//
// EtlConcurrentReader.*: while RunEtl runs in a loop (with the state cache of
// `tradelake run`), another thread replays silver.trades' and gold.bars_1m's
// Delta logs with plain DuckDB SQL (read_json over the commits, the checkpoint
// Parquet, read_parquet over exactly the live files) and must only ever see
// committed versions: no duplicate key, nothing lost that an earlier version
// had, and exactly the trades the catalog committed with that version.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "etl/dec18.h"
#include "etl/etl.h"
#include "etl/table_io.h"
#include "query/duckdb.h"
#include "store/fault_store.h"
#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMicros kDay0 = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z
constexpr TimestampMicros kStart = kDay0 - 2 * kMicrosPerHour;  // trades start 2h before midnight

EtlOptions Opts(int threads = 1) {
  EtlOptions o;
  o.now = kDay0 + 400 * kMicrosPerDay;
  o.threads = threads;  // one thread: the order of store calls is reproducible
  return o;
}

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("tl-etl-crash-{}-{}", ::getpid(), std::random_device{}());
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::unique_ptr<ObjectStore> Open() const { return std::move(OpenLocalStore(path.string()).value()); }
  fs::path path;
};

// A copy of every object of a (memory) lake, as a new memory store.
std::unique_ptr<ObjectStore> CopyStore(ObjectStore* from) {
  auto to = NewMemoryStore();
  auto listed = from->List("");
  EXPECT_TRUE(listed.ok()) << listed.status().ToString();
  if (!listed.ok()) return to;
  for (const auto& o : *listed) {
    auto data = from->Get(o.key);
    EXPECT_TRUE(data.ok()) << o.key;
    if (data.ok()) {
      EXPECT_TRUE(to->Put(o.key, *data, WriteMode::kCreateOnly).ok()) << o.key;
    }
  }
  return to;
}


// What time does to the lease of a process that died (or lost its lease's
// release): the lease expires after its ttl. In one test process the owner
// is still alive, so the test moves the lease's expiry into the past instead
// of waiting the ttl out.
void ExpireLeases(ObjectStore* store) {
  auto listed = store->List("_state/etl/lease/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const auto& o : *listed) {
    auto text = store->Get(o.key);
    ASSERT_TRUE(text.ok());
    auto j = nlohmann::json::parse(*text);
    if (j.value("released", false)) continue;
    j["expires_at"] = j["acquired_at"];
    ASSERT_TRUE(store->Put(o.key, j.dump() + "\n", WriteMode::kOverwrite).ok());
  }
}

// True when the newest lease epoch is released, so the next run need not wait.
bool LeaseReleased(ObjectStore* store) {
  auto listed = store->List("_state/etl/lease/");
  if (!listed.ok() || listed->empty()) return false;
  auto text = store->Get(listed->back().key);
  return text.ok() && nlohmann::json::parse(*text).value("released", false);
}

// Lands trades the way ingest does (Bronze object + landed-log entry): trade
// `id` of a product happens at kStart + id * step, so a range can cross
// midnight (one object per trade date). Prices depend only on the id, so a
// trade landed twice is an identical copy unless `price_of` says otherwise.
class Lander {
 public:
  explicit Lander(ObjectStore* store) : store_(store) {}

  // `bad`: ids landed with price "0" (rejected: price_not_positive).
  // `conflict`: ids landed with another price (a conflicting copy).
  void Land(const std::string& product, int64_t first, int64_t last, int64_t step_seconds,
            const std::set<int64_t>& bad = {}, const std::set<int64_t>& conflict = {}) {
    std::map<std::string, std::vector<std::pair<int64_t, std::string>>> by_date;
    for (int64_t id = first; id <= last; ++id) {
      const TimestampMicros t = kStart + id * step_seconds * kMicrosPerSecond;
      std::string price = fmt::format("{}.{:02d}", 60000 + id % 97, id % 100);
      if (bad.contains(id)) price = "0";
      if (conflict.contains(id)) price = "1.5";
      by_date[FormatDate(t)].emplace_back(
          id, fmt::format(R"({{"trade_id":{},"side":"{}","size":"0.{:04d}","price":"{}","time":"{}"}})", id,
                          id % 3 ? "buy" : "sell", 1 + id % 500, price, FormatRfc3339Micros(t)));
    }
    for (auto& [date, trades] : by_date) {
      std::vector<BronzeRecord> recs;
      for (auto& [id, raw] : trades) recs.push_back({id, raw});
      // Each object is ingested a second after the previous one.
      ingested_at_ += kMicrosPerSecond;
      auto data = EncodeBronzeObject(recs, ingested_at_, "/products/" + product + "/trades?limit=1000");
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      const std::string key = BronzeObjectKey(product, date, trades.front().first, trades.back().first);
      Status s = LandBronzeObject(store_, key, *data, trades.front().first, trades.back().first,
                                  static_cast<int64_t>(trades.size()), &next_seq_[product]);
      ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
    }
  }

 private:
  ObjectStore* store_;
  std::map<std::string, int64_t> next_seq_;
  TimestampMicros ingested_at_ = kDay0 + 30 * kMicrosPerDay;
};

// ---- what a lake holds, as text, for comparing two lakes ----------------------

std::string Dec(Dec18 v) { return Dec18ToString(v); }

std::string RowText(const SilverTrade& r) {
  return fmt::format("{} {} price={} size={} notional={} side={} taker={} time={} ingested={} from={}", r.product_id,
                     r.trade_id, Dec(r.price), Dec(r.size), Dec(r.quote_notional), r.side, r.taker_side, r.time,
                     r.ingested_at, r.bronze_object);
}
std::string RowText(const RejectedRecord& r) {
  return fmt::format("{} {} id={} rule={} detail={} raw={} from={} at={}", r.product_id, r.date,
                     r.trade_id ? std::to_string(*r.trade_id) : "null", r.rule, r.detail, r.raw, r.bronze_object,
                     r.rejected_at);
}
std::string RowText(const GoldBar& b) {
  return fmt::format("{} {} n={} avg={} vol={} quote={} vwap={} ohlc={}/{}/{}/{} buy={} sell={} ids={}-{} psum={}",
                     b.product_id, b.period_start, b.trade_count, Dec(b.avg_price), Dec(b.total_volume),
                     Dec(b.quote_volume), Dec(b.vwap), Dec(b.open), Dec(b.high), Dec(b.low), Dec(b.close),
                     Dec(b.buy_volume), Dec(b.sell_volume), b.first_trade_id, b.last_trade_id, Dec(b.price_sum));
}
// committed_at is the wall clock of the commit: left out.
std::string RowText(const QualityRow& q) {
  return fmt::format("{} {} seq={} records={} inserted={} dups={} rejected={} {}", q.product_id, q.date, q.etl_seq,
                     q.records, q.inserted, q.duplicates, q.rejected, q.rejected_by_rule);
}

template <typename Row>
Status ReadRows(ObjectStore* store, const LakeState& state, std::string_view table,
                Result<std::vector<Row>> (*reader)(const std::string&), std::vector<std::string>* out) {
  ASSIGN_OR_RETURN(auto files, LiveFiles(state, table));
  for (const auto& f : files) {
    std::vector<Row> rows;
    if (auto path = store->LocalPath(f.key)) {
      ASSIGN_OR_RETURN(rows, reader(*path));
    } else {
      // A memory lake: the table_io readers read files, so stage the object in one.
      ASSIGN_OR_RETURN(std::string bytes, store->Get(f.key));
      const fs::path tmp = fs::temp_directory_path() / fmt::format("tl-crash-read-{}.parquet", ::getpid());
      {
        std::ofstream out_file(tmp, std::ios::binary);
        out_file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      }
      auto read = reader(tmp.string());
      fs::remove(tmp);
      ASSIGN_OR_RETURN(rows, std::move(read));
    }
    for (const auto& r : rows) out->push_back(RowText(r));
  }
  std::sort(out->begin(), out->end());
  return Status::OK();
}

// What tradelake's readers see (LoadLakeState): catalog and every live row.
struct LakeView {
  int64_t seq = 0;
  std::map<std::string, int64_t> versions, bookmarks;
  std::map<std::string, std::string> totals;
  std::map<std::string, std::vector<std::string>> rows;  // table -> sorted rows
  // What readers get: rows, bookmarks and totals. seq and versions may differ
  // from an uninterrupted run: it also compacts small files (its own catalog
  // commit and Delta versions, no row changed) after a tenth version, which
  // is best effort and not redone by a run that has nothing to do.
  friend bool operator==(const LakeView& a, const LakeView& b) {
    return a.rows == b.rows && a.bookmarks == b.bookmarks && a.totals == b.totals;
  }
};

Result<LakeView> ViewOf(ObjectStore* store) {
  ASSIGN_OR_RETURN(LakeState state, LoadLakeState(store));
  LakeView v;
  v.seq = state.catalog.seq;
  v.versions = state.catalog.versions;
  v.bookmarks = state.catalog.bookmarks;
  for (const auto& [product, q] : state.catalog.totals) {
    std::string rules;
    for (const auto& [rule, n] : q.rejected) rules += fmt::format(" {}={}", rule, n);
    v.totals[product] = fmt::format("records={} inserted={} dups={}{}", q.records, q.inserted, q.duplicates, rules);
  }
  RETURN_IF_ERROR(ReadRows<SilverTrade>(store, state, kSilverTrades, &ReadSilverTrades, &v.rows["silver.trades"]));
  RETURN_IF_ERROR(ReadRows<RejectedRecord>(store, state, kSilverRejected, &ReadRejected,
                                           &v.rows["silver.trades_rejected"]));
  for (auto t : {kGoldBars1m, kGoldHourly, kGoldDaily}) {
    RETURN_IF_ERROR(ReadRows<GoldBar>(store, state, t, &ReadGoldBars, &v.rows[std::string(t)]));
  }
  RETURN_IF_ERROR(ReadRows<QualityRow>(store, state, kAuditQuality, &ReadQualityRows, &v.rows["audit.data_quality"]));
  return v;
}

// What the Delta logs must hold once no run is pending: every table's log
// ends at the version the catalog pins, with a checkpoint at every tenth
// version (as an uninterrupted run writes them) and _last_checkpoint naming
// the newest. "" if so, else what is wrong.
std::string CheckLogs(ObjectStore* store) {
  auto snap = LoadCurrentSnapshot(store);
  if (!snap.ok()) return snap.status().ToString();
  for (const auto& [table, pinned] : snap->versions) {
    const std::string root = TableFolder(table);
    auto t = LoadDeltaTable(store, root);
    if (!t.ok()) return t.status().ToString();
    if (t->version != pinned) return fmt::format("{} log ends at version {}, the catalog pins {}", table, t->version, pinned);
    for (int64_t v = kDeltaCheckpointInterval; v <= pinned; v += kDeltaCheckpointInterval) {
      if (!store->Head(fmt::format("{}_delta_log/{:020d}.checkpoint.parquet", root, v)).ok()) {
        return fmt::format("{} has no checkpoint of version {} (log at version {})", table, v, pinned);
      }
    }
    if (pinned >= kDeltaCheckpointInterval) {
      auto last = store->Get(root + "_delta_log/_last_checkpoint");
      const int64_t want = pinned / kDeltaCheckpointInterval * kDeltaCheckpointInterval;
      if (!last.ok() || nlohmann::json::parse(*last).value("version", int64_t{-1}) != want) {
        return fmt::format("{} _last_checkpoint is {}, want version {}", table,
                           last.ok() ? *last : last.status().ToString(), want);
      }
    }
  }
  return "";
}

// The first difference between two views, for a failure message.
std::string Diff(const LakeView& got, const LakeView& want) {
  if (got.bookmarks != want.bookmarks) return "catalog bookmarks differ";
  if (got.totals != want.totals) {
    for (const auto& [p, t] : want.totals) {
      auto it = got.totals.find(p);
      if (it == got.totals.end() || it->second != t) {
        return fmt::format("totals of {}: got [{}], want [{}]", p, it == got.totals.end() ? "none" : it->second, t);
      }
    }
    return "catalog totals differ";
  }
  for (const auto& [table, rows] : want.rows) {
    const auto& g = got.rows.at(table);
    if (g == rows) continue;
    std::vector<std::string> missing, extra;
    std::set_difference(rows.begin(), rows.end(), g.begin(), g.end(), std::back_inserter(missing));
    std::set_difference(g.begin(), g.end(), rows.begin(), rows.end(), std::back_inserter(extra));
    return fmt::format("{}: {} rows, want {}; {} missing (first: {}), {} extra (first: {})", table, g.size(),
                       rows.size(), missing.size(), missing.empty() ? "-" : missing[0], extra.size(),
                       extra.empty() ? "-" : extra[0]);
  }
  return "";
}

std::vector<std::string> FileKeys(const LakeState& state, std::string_view table) {
  std::vector<std::string> keys;
  auto files = LiveFiles(state, table);
  if (!files.ok()) return {"error: " + files.status().ToString()};
  for (const auto& f : *files) keys.push_back(f.key);
  return keys;
}

const char* ModeName(FaultMode m) {
  switch (m) {
    case FaultMode::kFailOnce: return "fail-once";
    case FaultMode::kKill: return "kill";
    case FaultMode::kLostReply: return "lost-reply";
  }
  return "?";
}

// Fails the ETL run `pre_store` is ready for at store calls, one per run;
// see the file comment for what must hold.
//   kKill:       every call k (`every_call`), else every Put and Delete. A
//                kill at a read leaves the store exactly as a kill at the
//                next write does (nothing is written in between), so killing
//                at the writes covers every kill point's outcome; with
//                `every_call` a kill at a read is still injected (the run
//                must reach that call, as the same call), but what readers
//                and the next runs see is checked at the next write's kill
//                and not repeated;
//   kFailOnce, kLostReply: every Put and Delete. (A read that fails once
//                ends the run as a kill there does, plus the lease's release.)
// k = calls (no fault at all) is always tried. A process that survives the
// fault keeps its cache of Delta state (as `tradelake run` does), so its calls
// are counted from a warm clean run; a killed one is counted cold.
// `limit` (optional) returns the last k to try, given the call log.
struct SweepStats {
  int64_t calls = 0;
  int iterations = 0;
  int kills_at_reads = 0;  // checked as the next write's kill (see the loop)
};

SweepStats SweepEveryCall(ObjectStore* pre_store, const std::string& scenario, std::vector<FaultMode> modes,
                          bool every_call, std::function<int64_t(const std::vector<std::string>&)> limit = nullptr) {
  SweepStats stats;
  // The uninterrupted run, through the wrapper to count its calls.
  auto ref_store = CopyStore(pre_store);
  auto before = ViewOf(pre_store);
  EXPECT_TRUE(before.ok()) << before.status().ToString();
  if (!before.ok()) return stats;
  // The files readers of the old snapshot see (immutable, so equal lists mean equal rows).
  auto before_files = LoadLakeState(pre_store);
  EXPECT_TRUE(before_files.ok());
  if (!before_files.ok()) return stats;
  // A run pending in `pre` (killed after its catalog commit), rolled forward:
  // readers may see it before the run under test commits its own.
  std::optional<LakeView> rolled;
  {
    auto copy = CopyStore(pre_store);
    auto snap = LoadCurrentSnapshot(copy.get());
    EXPECT_TRUE(snap.ok());
    if (snap.ok() && snap->seq != before->seq && RollForward(copy.get(), *snap).ok()) {
      if (auto v = ViewOf(copy.get()); v.ok()) rolled = std::move(*v);
    }
  }
  // The calls of a clean run, cold or with a warm cache.
  auto count_calls = [&](bool warm) {
    auto copy = CopyStore(pre_store);
    LakeState cache;
    if (auto w = LoadLakeState(copy.get()); w.ok()) cache = std::move(*w);
    EtlOptions opts = Opts();
    if (warm) opts.state_cache = &cache;
    FaultInjectionStore counting(copy.get());
    auto r = RunEtl(&counting, opts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return counting.call_log();
  };
  const std::vector<std::string> cold_log = count_calls(false), warm_log = count_calls(true);
  {
    auto r = RunEtl(ref_store.get(), Opts());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return stats;
    EXPECT_FALSE(r->nothing_to_do);
    stats.calls = static_cast<int64_t>(cold_log.size());
  }
  bool committed = false;
  for (const auto& call : cold_log) committed |= call.starts_with("Put _catalog/commits/");
  EXPECT_TRUE(committed) << "the run never committed the catalog";
  auto want = ViewOf(ref_store.get());
  EXPECT_TRUE(want.ok()) << want.status().ToString();
  if (!want.ok()) return stats;
  EXPECT_EQ(CheckLogs(ref_store.get()), "") << "the uninterrupted run";

  std::map<std::string, std::vector<std::string>> failures;  // fault -> what went wrong
  int lease_left_held = 0;
  for (FaultMode mode : modes) {
    const std::vector<std::string>& log = mode == FaultMode::kKill ? cold_log : warm_log;
    const int64_t calls = static_cast<int64_t>(log.size());
    const int64_t last_k = limit ? limit(log) : calls;
    for (int64_t k = 0; k <= calls; ++k) {
      if (k > last_k && k < calls) continue;
      const std::string call = k < calls ? log[static_cast<size_t>(k)] : "";
      const bool write = call.starts_with("Put ") || call.starts_with("Delete ");
      if (k < calls && !write && !(mode == FaultMode::kKill && every_call)) continue;
      const std::string fault = fmt::format("{} {} at call {} ({})", scenario, ModeName(mode), k,
                                            call.empty() ? "none: no fault" : call);
      auto fail = [&](const std::string& what) { failures[fault].push_back(what); };
      ++stats.iterations;
      auto store = CopyStore(pre_store);
      // A process that survives the fault (`tradelake run`) keeps its cache of
      // the tables' Delta state into the next run; a killed one starts cold.
      LakeState cache;
      EtlOptions opts = Opts();
      if (mode != FaultMode::kKill) {
        if (auto warm = LoadLakeState(store.get()); warm.ok()) cache = std::move(*warm);
        opts.state_cache = &cache;
      }
      {
        FaultInjectionStore faulty(store.get());
        faulty.set_local_paths(false);
        faulty.FailCall(k, mode, Unavailable(fmt::format("injected {} at call {}", ModeName(mode), k)));
        auto r = RunEtl(&faulty, opts);
        if (k < calls && faulty.injected() == 0) fail("the run never reached this call");
        // Same operation on the same folder (file names hold random tags).
        const auto folder = [](const std::string& c) { return c.substr(0, c.rfind('/')); };
        if (k < calls && folder(faulty.call_log()[static_cast<size_t>(k)]) != folder(call)) {
          fail("call " + std::to_string(k) + " of this run was " + faulty.call_log()[static_cast<size_t>(k)]);
        }
        if (k == calls && !r.ok()) fail("a run without a fault failed: " + r.status().ToString());
      }
      // A kill at a read left the store as the kill at the next write leaves
      // it (swept too), so what readers and the next runs see would repeat
      // that iteration's checks.
      if (mode == FaultMode::kKill && !write && k < calls) {
        ++stats.kills_at_reads;
        continue;
      }
      // Between the crash and the next run, readers see a committed snapshot,
      // whole: the one before the run, the pending one it rolled forward, or its own.
      auto mid_state = LoadLakeState(store.get());
      if (!mid_state.ok()) {
        fail("readers after the crash: " + mid_state.status().ToString());
      } else if (mid_state->catalog.seq == before->seq) {
        for (std::string_view t : EtlTables()) {
          if (FileKeys(*mid_state, t) != FileKeys(*before_files, t)) {
            fail(fmt::format("readers after the crash see other {} files than before the run", t));
          }
        }
      } else {
        auto mid = ViewOf(store.get());
        if (!mid.ok() || (!(*mid == *want) && !(rolled && *mid == *rolled))) {
          fail(fmt::format("readers after the crash see catalog commit {} that is not a whole snapshot: {}",
                           mid_state->catalog.seq, mid.ok() ? Diff(*mid, *want) : mid.status().ToString()));
        }
      }
      if (!LeaseReleased(store.get())) ++lease_left_held;
      ExpireLeases(store.get());
      auto again = RunEtl(store.get(), opts);
      if (!again.ok()) {
        fail("the next clean run failed: " + again.status().ToString());
        continue;
      }
      auto got = ViewOf(store.get());
      if (!got.ok()) {
        fail("after the next run: " + got.status().ToString());
        continue;
      }
      if (std::string d = Diff(*got, *want); !d.empty()) fail("after the next run: " + d);
      if (std::string d = CheckLogs(store.get()); !d.empty()) fail("Delta logs after the next run: " + d);
      if (!LeaseReleased(store.get())) fail("the next run left the ETL lease held");
      auto third = RunEtl(store.get(), opts);
      if (!third.ok() || !third->nothing_to_do) {
        fail("a third run still had something to do: " +
             (third.ok() ? fmt::format("{} records", third->records) : third.status().ToString()));
      }
    }
  }
  // One line per failed fault (the first 40), so a regression names its call.
  int shown = 0;
  for (const auto& [fault, whats] : failures) {
    if (++shown > 40) break;
    ADD_FAILURE() << "FAIL " << fault << ": " << fmt::format("{}", fmt::join(whats, "; "));
  }
  EXPECT_TRUE(failures.empty()) << "FAIL: " << failures.size() << " of " << stats.iterations
                                << " injected faults in " << scenario << " did not converge to the uninterrupted run";
  std::printf("%s: %lld store calls, %d faults injected (%d kills at reads), %d left the lease held until its ttl\n",
              scenario.c_str(), static_cast<long long>(stats.calls), stats.iterations, stats.kills_at_reads,
              lease_left_held);
  return stats;
}

// Two products, trades on both sides of midnight, a bad record, identical
// and conflicting copies within one run.
void LandFirstBatch(ObjectStore* store, Lander* l) {
  (void)store;
  l->Land("BTC-USD", 1, 120, 120, /*bad=*/{17});
  l->Land("ETH-USD", 1, 120, 121);
  l->Land("ETH-USD", 55, 65, 121);                 // identical copies
  l->Land("BTC-USD", 50, 52, 120, {}, {51});       // a conflicting copy of 51
}

TEST(EtlCrash, FirstRunConvergesAfterAFaultAtEveryStoreCall) {
  auto store = NewMemoryStore();
  Lander l(store.get());
  LandFirstBatch(store.get(), &l);
  const SweepStats s =
      SweepEveryCall(store.get(), "first run", {FaultMode::kKill, FaultMode::kFailOnce, FaultMode::kLostReply},
                     /*every_call=*/true);
  EXPECT_GT(s.calls, 30);
}

// Ten runs, each adding trades, a rejected record and copies, so every table
// is at Delta version 9; then the Bronze of the run under test, which writes
// version 10, the checkpoints, and compacts.
struct MemoryLake {
  std::unique_ptr<ObjectStore> store = NewMemoryStore();
  std::unique_ptr<Lander> lander = std::make_unique<Lander>(store.get());  // lands more
};

MemoryLake LakeBeforeACheckpoint() {
  MemoryLake lake;
  ObjectStore* store = lake.store.get();
  Lander* l = lake.lander.get();
  for (int64_t i = 0; i < 10; ++i) {
    const int64_t first = 1 + 24 * i, last = 24 + 24 * i;
    l->Land("BTC-USD", first, last, 60, {first + 6});
    l->Land("ETH-USD", first, last, 61);
    if (i > 0) l->Land("ETH-USD", first - 3, first + 1, 61);  // identical copies across runs
    auto r = RunEtl(store, Opts());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
  auto state = LoadLakeState(store);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  if (state.ok()) {
    for (std::string_view t : EtlTables()) {
      // audit.candle_reconciliation is written by `tradelake reconcile`; the ETL only creates it, empty.
      EXPECT_EQ(state->catalog.versions.at(std::string(t)), t == kAuditReconciliation ? 0 : 9) << t;
    }
  }
  l->Land("BTC-USD", 241, 270, 60, {250}, {});
  l->Land("BTC-USD", 99, 101, 60, {}, {100});  // a conflicting copy of a trade in Silver
  l->Land("ETH-USD", 235, 270, 61);            // overlaps the last run: identical copies
  return lake;
}

TEST(EtlCrash, RunThatWritesCheckpointsConvergesAfterAKillAtEveryWrite) {
  MemoryLake lake = LakeBeforeACheckpoint();
  ASSERT_FALSE(HasFailure());
  const SweepStats s = SweepEveryCall(lake.store.get(), "checkpoint run", {FaultMode::kKill}, /*every_call=*/false);
  EXPECT_GT(s.calls, 0);
}

TEST(EtlCrash, RunThatWritesCheckpointsConvergesAfterAFailedOrUnansweredWrite) {
  MemoryLake lake = LakeBeforeACheckpoint();
  ASSERT_FALSE(HasFailure());
  const SweepStats s =
      SweepEveryCall(lake.store.get(), "checkpoint run", {FaultMode::kFailOnce, FaultMode::kLostReply},
                     /*every_call=*/false);
  EXPECT_GT(s.calls, 0);
}

// The lake above after a run killed right after its catalog commit (commit
// 11 pins version 10 of every table, no log holds it yet), plus new Bronze:
// the run under test rolls version 10 forward (with its checkpoints), then
// writes version 11.
MemoryLake LakeWithARunToRollForward() {
  MemoryLake lake = LakeBeforeACheckpoint();
  ObjectStore* store = lake.store.get();
  auto before = ViewOf(store);
  EXPECT_TRUE(before.ok()) << before.status().ToString();
  if (!before.ok()) return lake;
  int64_t commit_call = -1;
  {
    auto probe = CopyStore(store);
    FaultInjectionStore counting(probe.get());
    EXPECT_TRUE(RunEtl(&counting, Opts()).ok());
    const auto log = counting.call_log();
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].starts_with("Put _catalog/commits/")) {
        commit_call = static_cast<int64_t>(i);
        break;
      }
    }
    EXPECT_GE(commit_call, 0);
    if (commit_call < 0) return lake;
    EXPECT_TRUE(log[static_cast<size_t>(commit_call + 1)].find("_delta_log/") != std::string::npos)
        << "after the catalog commit comes " << log[static_cast<size_t>(commit_call + 1)];
  }
  {
    FaultInjectionStore faulty(store);
    faulty.FailCall(commit_call + 1, FaultMode::kKill, Unavailable("killed after the catalog commit"));
    (void)RunEtl(&faulty, Opts());
  }
  ExpireLeases(store);  // the killed process's lease, after its ttl
  auto current = LoadCurrentSnapshot(store);
  EXPECT_TRUE(current.ok());
  auto silver_log = LoadDeltaTable(store, TableFolder(kSilverTrades));
  EXPECT_TRUE(silver_log.ok());
  if (current.ok() && silver_log.ok()) {
    EXPECT_EQ(current->versions.at(std::string(kSilverTrades)), 10);
    EXPECT_EQ(silver_log->version, 9);
  }
  // Readers keep seeing the snapshot before it, whole.
  auto mid = ViewOf(store);
  EXPECT_TRUE(mid.ok()) << mid.status().ToString();
  if (mid.ok()) {
    EXPECT_EQ(mid->seq, current->seq - 1);
    EXPECT_EQ(*mid, *before) << Diff(*mid, *before);
  }
  lake.lander->Land("BTC-USD", 271, 290, 60);
  lake.lander->Land("ETH-USD", 271, 290, 61);
  return lake;
}

// Up to the first data file the run writes: the roll-forward and the reads
// before it. (What follows is an ordinary run, swept in the tests above.)
int64_t ThroughTheRollForward(const std::vector<std::string>& log) {
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].starts_with("Put ") && log[i].ends_with(".parquet") && log[i].find("_delta_log") == std::string::npos) {
      return static_cast<int64_t>(i);
    }
  }
  return static_cast<int64_t>(log.size());
}

TEST(EtlCrash, RollForwardOfAKilledRunConvergesAfterAFaultAtEveryStoreCall) {
  MemoryLake lake = LakeWithARunToRollForward();
  ASSERT_FALSE(HasFailure());
  const SweepStats s =
      SweepEveryCall(lake.store.get(), "roll-forward run", {FaultMode::kKill, FaultMode::kFailOnce, FaultMode::kLostReply},
                     /*every_call=*/true, &ThroughTheRollForward);
  EXPECT_GT(s.calls, 0);
}

// ---- an external reader: plain DuckDB over the Delta log ----------------------

std::string SqlString(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

struct Observation {
  int64_t version = -1;
  std::set<std::pair<std::string, int64_t>> keys;  // the table's unique key of every row
  int64_t rows = 0;
  int64_t trades = 0;  // silver.trades: rows; gold.bars_1m: sum of trade_count
};

// One table as an external engine sees it, with its unique key.
struct ExternalTable {
  std::string_view table;
  const char* key_sql;     // second key column (after product_id), as BIGINT
  const char* trades_sql;  // trades a row stands for
};
constexpr ExternalTable kSilverExternal{kSilverTrades, "trade_id", "1"};
constexpr ExternalTable kBarsExternal{kGoldBars1m, "epoch_us(period_start)", "trade_count"};

// Replays <table>/_delta_log with DuckDB only: the checkpoint named by
// _last_checkpoint (if any), then every commit after it (adds minus removes,
// the newest action of a path wins), then reads exactly the live files.
// Version -1 when the table does not exist yet.
Result<Observation> ReadLikeAnExternalEngine(Connection* con, const fs::path& lake, const ExternalTable& t) {
  Observation o;
  const fs::path table_dir = lake / TableFolder(t.table);
  const fs::path log = table_dir / "_delta_log";
  if (!fs::exists(log / fmt::format("{:020d}.json", 0))) return o;
  int64_t cp_version = -1;
  std::string actions;
  if (fs::exists(log / "_last_checkpoint")) {
    ASSIGN_OR_RETURN(auto cp, con->Query(fmt::format("SELECT version FROM read_json({}, format='newline_delimited', "
                                                     "columns={{'version':'BIGINT'}})",
                                                     SqlString((log / "_last_checkpoint").string()))));
    if (cp.row_count() != 1) return DataLoss("_last_checkpoint has no version");
    cp_version = std::stoll(cp.GetString(0, 0).value_or("-1"));
    actions = fmt::format(
        "SELECT {} AS v, add.path AS add_path, NULL::VARCHAR AS remove_path FROM read_parquet({}) "
        "WHERE add IS NOT NULL UNION ALL ",
        cp_version, SqlString((log / fmt::format("{:020d}.checkpoint.parquet", cp_version)).string()));
  }
  // One statement, so the set of commits is fixed once.
  const std::string commits = fmt::format(
      "SELECT CAST(regexp_extract(filename, '([0-9]{{20}})\\.json$', 1) AS BIGINT) AS v, add.path AS add_path, "
      "remove.path AS remove_path FROM read_json({}, format='newline_delimited', filename=true, "
      "columns={{'add':'STRUCT(path VARCHAR)','remove':'STRUCT(path VARCHAR)'}})",
      SqlString((log / "*.json").string()));
  ASSIGN_OR_RETURN(auto live, con->Query(fmt::format(
      "WITH commits AS ({}), actions AS ({} SELECT * FROM commits WHERE v > {}), "
      "versions AS (SELECT count(DISTINCT v) AS n, min(v) AS lo, max(v) AS hi FROM commits WHERE v > {}), "
      "last AS (SELECT coalesce(add_path, remove_path) AS path, add_path IS NOT NULL AS live FROM actions "
      "WHERE coalesce(add_path, remove_path) IS NOT NULL "
      "QUALIFY row_number() OVER (PARTITION BY coalesce(add_path, remove_path) ORDER BY v DESC) = 1) "
      "SELECT n, lo, hi, path FROM versions LEFT JOIN (SELECT path FROM last WHERE live) ON true ORDER BY path",
      commits, actions, cp_version, cp_version)));
  if (live.row_count() == 0) return Internal("no version row");
  const int64_t n = std::stoll(live.GetStringOr(0, 0, "0"));
  const int64_t lo = std::stoll(live.GetStringOr(0, 1, "0"));
  const int64_t hi = std::stoll(live.GetStringOr(0, 2, std::to_string(cp_version)));
  std::vector<std::string> paths;
  for (uint64_t r = 0; r < live.row_count(); ++r) {
    if (auto p = live.GetString(r, 3)) paths.push_back(*p);
  }
  if (n > 0 && (lo != cp_version + 1 || hi - lo + 1 != n)) {
    return DataLoss(fmt::format("commits after {} are not contiguous: {} commits from {} to {}", cp_version, n, lo, hi));
  }
  o.version = hi;
  if (paths.empty()) return o;
  std::string list;
  for (const auto& p : paths) {
    if (!list.empty()) list += ", ";
    list += SqlString((table_dir / p).string());  // the paths need no percent-decoding here
  }
  ASSIGN_OR_RETURN(auto rows, con->Query(fmt::format(
                                  "SELECT product_id, {}, {} FROM read_parquet([{}], hive_partitioning=false)",
                                  t.key_sql, t.trades_sql, list)));
  o.rows = static_cast<int64_t>(rows.row_count());
  for (uint64_t r = 0; r < rows.row_count(); ++r) {
    o.keys.emplace(*rows.GetString(r, 0), std::stoll(*rows.GetString(r, 1)));
    o.trades += std::stoll(*rows.GetString(r, 2));
  }
  return o;
}

// What one reader thread found over all its reads of one table.
struct ReaderLog {
  std::vector<std::string> problems;
  std::map<int64_t, int64_t> trades_at;  // version -> trades it holds
  Observation last;
  int reads = 0;

  void Check(const ExternalTable& t, Result<Observation> o) {
    ++reads;
    if (!o.ok()) {
      problems.push_back(fmt::format("{}: read failed: {}", t.table, o.status().ToString()));
      return;
    }
    if (o->version < last.version) {
      problems.push_back(fmt::format("{}: version went back from {} to {}", t.table, last.version, o->version));
    }
    if (static_cast<int64_t>(o->keys.size()) != o->rows) {
      problems.push_back(fmt::format("{} version {}: {} rows but {} distinct keys (a duplicate)", t.table, o->version,
                                     o->rows, o->keys.size()));
    }
    for (const auto& k : last.keys) {
      if (!o->keys.contains(k)) {
        problems.push_back(fmt::format("{} version {} lost {} {} that version {} had", t.table, o->version, k.first,
                                       k.second, last.version));
        break;
      }
    }
    if (o->version >= 0) trades_at[o->version] = o->trades;
    last = std::move(*o);
  }
};

TEST(EtlConcurrentReader, PlainDuckDbOverTheDeltaLogSeesOnlyCommittedVersions) {
  TempDir lake;
  auto store = lake.Open();
  constexpr int kRuns = 30;
  std::atomic<bool> done{false};
  std::mutex mu;
  // table -> Delta version -> trades in the table at that version, as committed; GUARDED_BY(mu)
  std::map<std::string, std::map<int64_t, int64_t>> committed;
  std::vector<std::string> etl_errors;  // GUARDED_BY(mu)

  // The ETL loop of `tradelake run`: new Bronze, a run, again; it keeps its
  // tables' Delta state between runs as `run` does.
  std::thread etl([&] {
    Lander l(store.get());
    LakeState cache;
    EtlOptions opts = Opts(2);
    opts.state_cache = &cache;
    for (int run = 0; run < kRuns; ++run) {
      // 10 new trades per product and run (crossing midnight in run 12), and
      // the last few of the previous run again (identical copies).
      const int64_t first = 1 + 10 * run, last = 10 + 10 * run;
      l.Land("BTC-USD", first, last, 60);
      l.Land("ETH-USD", first, last, 60);
      if (run > 0) l.Land("BTC-USD", first - 4, first, 60);
      auto r = RunEtl(store.get(), opts);
      auto snap = LoadCurrentSnapshot(store.get());
      std::lock_guard lock(mu);
      if (!r.ok() || !snap.ok()) {
        etl_errors.push_back(!r.ok() ? r.status().ToString() : snap.status().ToString());
        break;
      }
      int64_t inserted = 0;
      for (const auto& [p, q] : snap->totals) inserted += q.inserted;
      for (std::string_view t : {kSilverTrades, kGoldBars1m}) {
        committed[std::string(t)][snap->versions.at(std::string(t))] = inserted;
      }
    }
    done = true;
  });

  auto db = Database::Open(":memory:", {{"threads", "1"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  ReaderLog silver, bars;
  for (bool finished = false; !finished;) {
    finished = done.load();  // one more read after the ETL stopped
    silver.Check(kSilverExternal, ReadLikeAnExternalEngine(&*con, lake.path, kSilverExternal));
    bars.Check(kBarsExternal, ReadLikeAnExternalEngine(&*con, lake.path, kBarsExternal));
    if (silver.last.version < 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (silver.problems.size() + bars.problems.size() > 20) break;
  }
  done = true;
  etl.join();
  for (const auto& e : etl_errors) ADD_FAILURE() << "ETL run failed: " << e;
  for (const auto* r : {&silver, &bars}) {
    for (const auto& p : r->problems) ADD_FAILURE() << "FAIL external reader: " << p;
  }
  // Every version seen holds exactly what the catalog committed with it.
  for (auto [t, r] : {std::pair{kSilverTrades, &silver}, std::pair{kGoldBars1m, &bars}}) {
    const auto& want = committed[std::string(t)];
    for (const auto& [version, trades] : r->trades_at) {
      // A run that compacts commits its data at version v and the compaction
      // (the same rows) at v + 1; the catalog it leaves pins v + 1.
      auto it = want.lower_bound(version);
      if (it == want.end() || it->first > version + 1) {
        ADD_FAILURE() << "FAIL external reader saw " << t << " version " << version << " that no run committed";
      } else {
        EXPECT_EQ(trades, it->second) << "FAIL external reader: " << t << " version " << version
                                      << " does not hold the trades committed with it";
      }
    }
    // The final read is of the final version: all 2 x 300 trades.
    EXPECT_EQ(r->last.trades, 2 * 10 * kRuns) << t;
    EXPECT_EQ(r->last.version, want.empty() ? -2 : want.rbegin()->first) << t;
    EXPECT_GE(r->last.version, kDeltaCheckpointInterval) << t << ": the reads never crossed a checkpoint";
    std::printf("external reader of %s: %d reads, %zu versions seen, final version %lld\n", std::string(t).c_str(),
                r->reads, r->trades_at.size(), static_cast<long long>(r->last.version));
  }
}

}  // namespace
}  // namespace tradelake
