// The lake format change, end to end: a lake written by the release before
// Delta tables (format 1, commit 199e25d; tests/testdata/legacy-lake, see its
// README.md) is upgraded in place by the next ETL run, keeps every row and
// counter it had, and goes on taking new Bronze exactly once; and the upgrade
// itself survives a fault at any store call.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "e2e_util.h"
#include "etl/dec18.h"
#include "etl/etl.h"
#include "etl/gold.h"
#include "etl/table_io.h"
#include "query/duckdb.h"
#include "store/fault_store.h"
#include "store/object_store.h"
#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

namespace fs = e2e::fs;
using e2e::FreshDir;

fs::path LegacyLake() { return fs::path(__FILE__).parent_path() / "testdata" / "legacy-lake" / "lake"; }

EtlOptions Opts() {
  EtlOptions o;
  o.threads = 1;
  return o;
}

fs::path CopyOfLegacyLake(const std::string& name) {
  const fs::path dir = FreshDir(name);
  fs::copy(LegacyLake(), dir, fs::copy_options::recursive);
  return dir;
}

// What time does to the lease of a process that died (or whose release was
// lost): it expires after its ttl. This test process is still alive, so the
// lease's expiry is moved into the past instead of waiting the ttl out.
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

// The newest format-1 catalog commit, read as plain JSON.
struct OldCommit {
  int64_t seq = 0;
  std::map<std::string, std::vector<std::string>> files;  // table -> object keys
  std::map<std::string, QualityCounters> quality;         // "product_id=P/date=D" -> counters
  std::set<std::string> bronze_processed;
};

OldCommit ReadOldCommit(const fs::path& lake) {
  OldCommit c;
  std::vector<fs::path> commits;
  for (const auto& e : fs::directory_iterator(lake / "_catalog" / "commits")) commits.push_back(e.path());
  std::sort(commits.begin(), commits.end());
  EXPECT_FALSE(commits.empty());
  if (commits.empty()) return c;
  const auto doc = nlohmann::json::parse(e2e::ReadFile(commits.back()));
  EXPECT_FALSE(doc.contains("format")) << "the test lake is not a format-1 lake";
  c.seq = doc.at("seq").get<int64_t>();
  for (const auto& [table, parts] : doc.at("tables").items()) {
    for (const auto& [part, keys] : parts.items()) {
      for (const auto& k : keys) c.files[table].push_back(k.get<std::string>());
    }
  }
  for (const auto& [part, q] : doc.at("quality").items()) {
    QualityCounters& qc = c.quality[part];
    qc.records = q.at("records").get<int64_t>();
    qc.inserted = q.at("inserted").get<int64_t>();
    qc.duplicates = q.at("duplicates").get<int64_t>();
    for (const auto& [rule, n] : q.at("rejected").items()) qc.rejected[rule] = n.get<int64_t>();
  }
  for (const auto& k : doc.at("bronze_processed")) c.bronze_processed.insert(k.get<std::string>());
  return c;
}

bool ByTrade(const SilverTrade& a, const SilverTrade& b) {
  return std::tie(a.product_id, a.trade_id) < std::tie(b.product_id, b.trade_id);
}

std::vector<SilverTrade> ReadTrades(const fs::path& lake, const std::vector<std::string>& keys) {
  std::vector<SilverTrade> out;
  for (const auto& k : keys) {
    auto rows = ReadSilverTrades((lake / k).string());
    EXPECT_TRUE(rows.ok()) << k << ": " << rows.status().ToString();
    if (rows.ok()) out.insert(out.end(), rows->begin(), rows->end());
  }
  std::sort(out.begin(), out.end(), ByTrade);
  return out;
}

std::vector<RejectedRecord> ReadRejectedRows(const fs::path& lake, const std::vector<std::string>& keys) {
  std::vector<RejectedRecord> out;
  for (const auto& k : keys) {
    auto rows = ReadRejected((lake / k).string());
    EXPECT_TRUE(rows.ok()) << k << ": " << rows.status().ToString();
    if (rows.ok()) out.insert(out.end(), rows->begin(), rows->end());
  }
  std::sort(out.begin(), out.end(), [](const RejectedRecord& a, const RejectedRecord& b) {
    return std::tie(a.bronze_object, a.raw, a.rule) < std::tie(b.bronze_object, b.raw, b.rule);
  });
  return out;
}

// The live files of a table, as keys (LoadLakeState + LiveFiles).
std::vector<std::string> LiveKeys(ObjectStore* store, std::string_view table) {
  auto state = LoadLakeState(store);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  std::vector<std::string> keys;
  if (!state.ok()) return keys;
  auto files = LiveFiles(*state, table);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  if (!files.ok()) return keys;
  for (const auto& f : *files) keys.push_back(f.key);
  return keys;
}

// Gold rows as plain DuckDB reads them, without price_sum (which the old
// release did not write): one text line per bar, ordered.
std::vector<std::string> GoldText(const fs::path& lake, const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  if (keys.empty()) return out;
  std::vector<std::string> quoted;
  for (const auto& k : keys) quoted.push_back("'" + (lake / k).string() + "'");
  auto db = Database::Open(":memory:");
  EXPECT_TRUE(db.ok());
  auto con = (*db)->Connect();
  auto r = con->Query(fmt::format(
      "SELECT product_id, epoch_us(period_start), trade_count, avg_price, total_volume, quote_volume, vwap, open, "
      "high, low, close, buy_volume, sell_volume, first_trade_id, last_trade_id "
      "FROM read_parquet([{}], hive_partitioning=false, union_by_name=true) ORDER BY 1, 2",
      fmt::join(quoted, ", ")));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return out;
  for (uint64_t row = 0; row < r->row_count(); ++row) {
    std::string line;
    for (uint64_t col = 0; col < r->column_count(); ++col) line += r->GetStringOr(row, col, "NULL") + "|";
    out.push_back(std::move(line));
  }
  return out;
}

std::vector<GoldBar> ReadGold(const fs::path& lake, const std::vector<std::string>& keys) {
  std::vector<GoldBar> out;
  for (const auto& k : keys) {
    auto rows = ReadGoldBars((lake / k).string());
    EXPECT_TRUE(rows.ok()) << k << ": " << rows.status().ToString();
    if (rows.ok()) out.insert(out.end(), rows->begin(), rows->end());
  }
  std::sort(out.begin(), out.end(), [](const GoldBar& a, const GoldBar& b) {
    return std::tie(a.product_id, a.period_start) < std::tie(b.product_id, b.period_start);
  });
  return out;
}

constexpr std::pair<std::string_view, int64_t> kGold[] = {
    {kGoldBars1m, kMicrosPerMinute}, {kGoldHourly, kMicrosPerHour}, {kGoldDaily, kMicrosPerDay}};

// Gold of the upgraded lake is recomputed from Silver: it equals an
// aggregation of all of Silver, price_sum included.
void ExpectGoldEqualsSilver(const fs::path& lake, ObjectStore* store, const std::vector<SilverTrade>& silver) {
  for (auto [table, period] : kGold) {
    std::map<std::string, std::vector<SilverTrade>> by_product;
    for (const auto& t : silver) by_product[t.product_id].push_back(t);
    std::vector<GoldBar> want;
    for (auto& [p, rows] : by_product) {
      auto bars = AggregateBars(rows, period);
      ASSERT_TRUE(bars.ok()) << bars.status().ToString();
      want.insert(want.end(), bars->begin(), bars->end());
    }
    const auto got = ReadGold(lake, LiveKeys(store, table));
    ASSERT_EQ(got.size(), want.size()) << table;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << table << " bar " << i;
  }
}

QualityCounters Sum(const std::map<std::string, QualityCounters>& by_partition, const std::string& product) {
  QualityCounters q;
  for (const auto& [part, c] : by_partition) {
    if (part.starts_with("product_id=" + product + "/")) q.Add(c);
  }
  return q;
}

TEST(LakeFormat, UpgradesALakeOfThePreviousReleaseInPlace) {
  ASSERT_TRUE(fs::exists(LegacyLake() / "_catalog")) << LegacyLake() << " is missing (see its README.md)";
  const fs::path lake = CopyOfLegacyLake("legacy-upgrade");
  auto store = std::move(OpenLocalStore(lake.string()).value());

  // What the old lake holds, read before the upgrade.
  const OldCommit old = ReadOldCommit(lake);
  const auto old_silver = ReadTrades(lake, old.files.at("silver.trades"));
  ASSERT_GT(old_silver.size(), 100u);
  const auto old_rejected =
      ReadRejectedRows(lake, old.files.contains("silver.trades_rejected") ? old.files.at("silver.trades_rejected")
                                                                          : std::vector<std::string>{});
  std::map<std::string, std::vector<std::string>> old_gold;
  for (auto [table, period] : kGold) old_gold[std::string(table)] = GoldText(lake, old.files.at(std::string(table)));
  std::set<std::string> products;
  for (const auto& t : old_silver) products.insert(t.product_id);
  ASSERT_EQ(products.size(), 2u);
  // The new readers refuse the old lake until the ETL has upgraded it.
  auto refused = LoadLakeState(store.get());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status().ToString();

  auto r = RunEtl(store.get(), Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->upgraded);
  EXPECT_FALSE(r->nothing_to_do);
  EXPECT_EQ(r->records, 0) << "the old lake's Bronze was all processed by the old release";

  // Every table is a Delta table (reader 1 / writer 2) at the version the catalog pins.
  auto state = LoadLakeState(store.get());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  for (std::string_view table : EtlTables()) {
    auto t = LoadDeltaTable(store.get(), TableFolder(table));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_GE(t->version, 0) << table << " is not a Delta table";
    EXPECT_EQ(t->version, state->catalog.versions.at(std::string(table))) << table;
    EXPECT_EQ(t->protocol, DeltaProtocol{}) << table;
    EXPECT_EQ(t->metadata.partition_columns, PartitionColumns(table)) << table;
    // audit.candle_reconciliation is written by `tradelake reconcile`; the upgrade creates it, empty.
    EXPECT_EQ(t->files.empty(), table == kAuditReconciliation) << table;
  }

  // Silver: the very rows the old lake held; rejected records too.
  const auto silver = ReadTrades(lake, LiveKeys(store.get(), kSilverTrades));
  EXPECT_EQ(silver, old_silver);
  EXPECT_EQ(ReadRejectedRows(lake, LiveKeys(store.get(), kSilverRejected)), old_rejected);
  // Gold: recomputed with price_sum, equal to the old Gold on every column it had.
  ExpectGoldEqualsSilver(lake, store.get(), silver);
  for (auto [table, period] : kGold) {
    EXPECT_EQ(GoldText(lake, LiveKeys(store.get(), table)), old_gold[std::string(table)]) << table;
  }
  // Quality: the totals per product, and audit rows per Bronze partition.
  for (const auto& p : products) {
    EXPECT_EQ(state->catalog.totals[p], Sum(old.quality, p)) << p;
  }
  {
    std::map<std::string, std::array<int64_t, 4>> audit;
    for (const auto& k : LiveKeys(store.get(), kAuditQuality)) {
      auto rows = ReadQualityRows((lake / k).string());
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      for (const auto& q : *rows) {
        auto& a = audit[PartitionName(q.product_id, q.date)];
        a[0] += q.records;
        a[1] += q.inserted;
        a[2] += q.duplicates;
        a[3] += q.rejected;
      }
    }
    std::map<std::string, std::array<int64_t, 4>> want;
    for (const auto& [part, q] : old.quality) want[part] = {q.records, q.inserted, q.duplicates, q.rejected_total()};
    EXPECT_EQ(audit, want);
  }

  // A second run has nothing to do.
  auto again = RunEtl(store.get(), Opts());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->nothing_to_do);
  EXPECT_FALSE(again->upgraded);

  // New Bronze, landed the new way (object + landed-log entry), after the
  // upgrade: 20 new trades of one product after its newest one, in one object
  // with identical copies of its last 5 trades.
  const std::string product = *products.begin();
  std::vector<SilverTrade> mine;
  for (const auto& t : silver) {
    if (t.product_id == product) mine.push_back(t);
  }
  ASSERT_GE(mine.size(), 5u);
  std::vector<std::string> raws;
  // The last 5 trades, exactly as the exchange sent them (from their Bronze objects).
  std::map<int64_t, std::string> raw_of;
  for (size_t i = mine.size() - 5; i < mine.size(); ++i) {
    auto data = store->Get(mine[i].bronze_object);
    ASSERT_TRUE(data.ok());
    auto decoded = DecodeBronzeObject(*data);
    ASSERT_TRUE(decoded.ok());
    for (const auto& d : *decoded) {
      if (d.trade_id == mine[i].trade_id) raw_of[d.trade_id] = d.trade;
    }
  }
  ASSERT_EQ(raw_of.size(), 5u);
  const SilverTrade& newest = mine.back();
  for (int64_t i = 1; i <= 20; ++i) {
    const int64_t id = newest.trade_id + i;
    raw_of[id] = fmt::format(R"({{"trade_id":{},"side":"{}","size":"0.0{}","price":"{}","time":"{}"}})", id,
                             i % 2 ? "buy" : "sell", 10 + i, Dec18ToString(newest.price),
                             FormatRfc3339Micros(newest.time + i * kMicrosPerSecond));
  }
  std::vector<BronzeRecord> recs;
  for (const auto& [id, raw] : raw_of) recs.push_back({id, raw});
  auto data = EncodeBronzeObject(recs, NowMicros(), "/products/" + product + "/trades");
  ASSERT_TRUE(data.ok());
  const std::string key =
      BronzeObjectKey(product, FormatDate(newest.time + 20 * kMicrosPerSecond), raw_of.begin()->first,
                      raw_of.rbegin()->first);
  ASSERT_EQ(FormatDate(newest.time), FormatDate(newest.time + 20 * kMicrosPerSecond)) << "pick another product";
  int64_t next_seq = 0;
  ASSERT_TRUE(LandBronzeObject(store.get(), key, *data, raw_of.begin()->first, raw_of.rbegin()->first, 25,
                               &next_seq)
                  .ok());
  auto after = RunEtl(store.get(), Opts());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_FALSE(after->upgraded);
  EXPECT_EQ(after->records, 25);
  EXPECT_EQ(after->inserted, 20);
  EXPECT_EQ(after->duplicates, 5);
  EXPECT_EQ(after->rejected, 0);
  auto done = RunEtl(store.get(), Opts());
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->nothing_to_do) << "the new Bronze object was processed twice";

  const auto final_silver = ReadTrades(lake, LiveKeys(store.get(), kSilverTrades));
  EXPECT_EQ(final_silver.size(), old_silver.size() + 20);
  for (size_t i = 1; i < final_silver.size(); ++i) {
    EXPECT_FALSE(final_silver[i - 1].product_id == final_silver[i].product_id &&
                 final_silver[i - 1].trade_id == final_silver[i].trade_id)
        << "duplicate trade " << final_silver[i].trade_id;
  }
  for (const auto& t : old_silver) {
    EXPECT_TRUE(std::binary_search(final_silver.begin(), final_silver.end(), t, ByTrade)) << t.trade_id;
  }
  ExpectGoldEqualsSilver(lake, store.get(), final_silver);
  auto final_state = LoadLakeState(store.get());
  ASSERT_TRUE(final_state.ok());
  QualityCounters want_total = Sum(old.quality, product);
  want_total.records += 25;
  want_total.inserted += 20;
  want_total.duplicates += 5;
  EXPECT_EQ(final_state->catalog.totals[product], want_total);
  fs::remove_all(lake);
}

// Everything a reader of the upgraded lake sees, as text, for comparing lakes.
struct View {
  int64_t seq = 0;
  std::map<std::string, int64_t> versions, bookmarks;
  std::vector<std::string> totals;
  std::map<std::string, std::vector<std::string>> rows;
  friend bool operator==(const View&, const View&) = default;
};

// The object at `key` as a local file the table_io readers can open (staged
// in a temporary file for a memory store).
Result<std::string> LocalCopy(ObjectStore* store, const std::string& key) {
  if (auto path = store->LocalPath(key)) return *path;
  ASSIGN_OR_RETURN(std::string bytes, store->Get(key));
  const fs::path tmp = fs::temp_directory_path() / fmt::format("tl-lake-format-{}.parquet", ::getpid());
  [[maybe_unused]] static const bool registered = (test::RemoveAtExitIfPassed(tmp), true);  // one per process
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return IOError("staging " + key);
  return tmp.string();
}

// A lake folder copied into a memory store.
std::unique_ptr<ObjectStore> InMemory(const fs::path& lake) {
  auto store = NewMemoryStore();
  for (const auto& e : fs::recursive_directory_iterator(lake)) {
    if (!e.is_regular_file()) continue;
    const std::string key = fs::relative(e.path(), lake).generic_string();
    EXPECT_TRUE(store->Put(key, e2e::ReadFile(e.path()), WriteMode::kCreateOnly).ok()) << key;
  }
  return store;
}

std::unique_ptr<ObjectStore> CopyStore(ObjectStore* from) {
  auto to = NewMemoryStore();
  auto listed = from->List("");
  EXPECT_TRUE(listed.ok());
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

Result<View> ViewOf(ObjectStore* store) {
  ASSIGN_OR_RETURN(LakeState state, LoadLakeState(store));
  View v;
  v.seq = state.catalog.seq;
  v.versions = state.catalog.versions;
  v.bookmarks = state.catalog.bookmarks;
  for (const auto& [p, q] : state.catalog.totals) {
    v.totals.push_back(fmt::format("{} {} {} {} {}", p, q.records, q.inserted, q.duplicates, q.rejected_total()));
  }
  for (std::string_view table : EtlTables()) {
    ASSIGN_OR_RETURN(auto files, LiveFiles(state, table));
    auto& rows = v.rows[std::string(table)];
    for (const auto& f : files) {
      ASSIGN_OR_RETURN(const std::string path, LocalCopy(store, f.key));
      if (table == kSilverTrades) {
        ASSIGN_OR_RETURN(auto rs, ReadSilverTrades(path));
        for (const auto& t : rs) {
          rows.push_back(fmt::format("{} {} {} {} {} {} {}", t.product_id, t.trade_id, Dec18ToString(t.price),
                                     Dec18ToString(t.size), t.side, t.time, t.bronze_object));
        }
      } else if (table == kSilverRejected) {
        ASSIGN_OR_RETURN(auto rs, ReadRejected(path));
        for (const auto& t : rs) rows.push_back(fmt::format("{} {} {} {}", t.product_id, t.rule, t.raw, t.bronze_object));
      } else if (table == kAuditQuality) {
        ASSIGN_OR_RETURN(auto rs, ReadQualityRows(path));
        for (const auto& q : rs) {
          rows.push_back(fmt::format("{} {} {} {} {} {} {} {}", q.product_id, q.date, q.etl_seq, q.records,
                                     q.inserted, q.duplicates, q.rejected, q.rejected_by_rule));
        }
      } else {
        ASSIGN_OR_RETURN(auto rs, ReadGoldBars(path));
        for (const auto& b : rs) {
          rows.push_back(fmt::format("{} {} {} {} {} {} {}", b.product_id, b.period_start, b.trade_count,
                                     Dec18ToString(b.price_sum), Dec18ToString(b.quote_volume), Dec18ToString(b.vwap),
                                     b.last_trade_id));
        }
      }
    }
    std::sort(rows.begin(), rows.end());
  }
  return v;
}

// The upgrade, failed at every store call (the process killed there), and at
// every write that fails once or whose reply is lost: the next clean run
// finishes it, with the same lake as an upgrade that was never interrupted;
// in between, readers see the upgraded lake or are told to run the ETL.
TEST(LakeFormat, UpgradeConvergesAfterAFaultAtEveryStoreCall) {
  ASSERT_TRUE(fs::exists(LegacyLake() / "_catalog"));
  // In memory: a local folder fsyncs every Put, too slow for hundreds of runs.
  const auto legacy = InMemory(LegacyLake());
  auto ref_store = CopyStore(legacy.get());
  std::vector<std::string> log;
  {
    FaultInjectionStore counting(ref_store.get());
    counting.set_local_paths(false);
    auto r = RunEtl(&counting, Opts());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->upgraded);
    log = counting.call_log();
  }
  auto want = ViewOf(ref_store.get());
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  const int64_t calls = static_cast<int64_t>(log.size());

  std::vector<std::string> failures;
  int iterations = 0;
  for (FaultMode mode : {FaultMode::kKill, FaultMode::kFailOnce, FaultMode::kLostReply}) {
    for (int64_t k = 0; k < calls; ++k) {
      const std::string& call = log[static_cast<size_t>(k)];
      // A read that fails once ends the run as a kill there does: only writes
      // behave differently in the other modes.
      if (mode != FaultMode::kKill && !call.starts_with("Put ") && !call.starts_with("Delete ")) continue;
      ++iterations;
      const std::string where = fmt::format("{} at call {} ({})",
                                            mode == FaultMode::kKill       ? "kill"
                                            : mode == FaultMode::kFailOnce ? "fail-once"
                                                                           : "lost-reply",
                                            k, call);
      auto store = CopyStore(legacy.get());
      {
        FaultInjectionStore faulty(store.get());
        faulty.set_local_paths(false);
        faulty.FailCall(k, mode, Unavailable("injected"));
        (void)RunEtl(&faulty, Opts());
        if (faulty.injected() == 0) failures.push_back(where + ": never reached");
      }
      // Readers see the finished upgrade, or are told to run the ETL.
      auto mid = ViewOf(store.get());
      if (!mid.ok() && mid.status().code() != StatusCode::kFailedPrecondition) {
        failures.push_back(where + ": readers after the crash: " + mid.status().ToString());
      } else if (mid.ok() && !(*mid == *want)) {
        failures.push_back(where + ": readers after the crash see a lake that is not the upgraded one");
      }
      ExpireLeases(store.get());
      auto again = RunEtl(store.get(), Opts());
      if (!again.ok()) {
        failures.push_back(where + ": the next run failed: " + again.status().ToString());
        continue;
      }
      auto got = ViewOf(store.get());
      if (!got.ok()) {
        failures.push_back(where + ": after the next run: " + got.status().ToString());
      } else if (!(*got == *want)) {
        std::string what = got->seq != want->seq ? fmt::format("seq {} != {}", got->seq, want->seq) : "";
        for (const auto& [t, rows] : want->rows) {
          if (got->rows.at(t) != rows) what += fmt::format(" {}: {} rows, want {};", t, got->rows.at(t).size(), rows.size());
        }
        if (got->totals != want->totals) what += fmt::format(" totals [{}] want [{}]", fmt::join(got->totals, ", "),
                                                             fmt::join(want->totals, ", "));
        failures.push_back(where + ": after the next run the lake differs from an uninterrupted upgrade:" + what);
      }
      auto third = RunEtl(store.get(), Opts());
      if (!third.ok() || !third->nothing_to_do) failures.push_back(where + ": a third run still had work");
    }
  }
  for (size_t i = 0; i < failures.size() && i < 40; ++i) ADD_FAILURE() << "FAIL " << failures[i];
  EXPECT_TRUE(failures.empty()) << "FAIL: " << failures.size() << " of " << iterations
                                << " faults during the upgrade did not converge";
  std::printf("upgrade: %lld store calls, %d faults injected\n", static_cast<long long>(calls), iterations);
}

}  // namespace
}  // namespace tradelake
