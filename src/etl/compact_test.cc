#include "etl/compact.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <tuple>

#include <fmt/format.h>

#include "etl/lease.h"
#include "etl/table_io.h"
#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMicros kT0 = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z
constexpr Dec18 kOne = static_cast<Dec18>(1'000'000'000'000'000'000);

std::string StatsTime(TimestampMicros t) {
  const std::string full = FormatRfc3339Micros(t / 1000 * 1000);
  return "\"" + full.substr(0, full.size() - 4) + "Z\"";
}

SilverTrade Trade(std::string product, int64_t id) {
  SilverTrade t;
  t.product_id = std::move(product);
  t.trade_id = id;
  t.price = 65000 * kOne + id;
  t.size = kOne / 100;
  t.quote_notional = t.price / 100;
  t.side = id % 2 ? "buy" : "sell";
  t.taker_side = id % 2 ? "sell" : "buy";
  t.time = kT0 + id * kMicrosPerSecond;
  t.ingested_at = kT0 + kMicrosPerDay;
  t.bronze_object = fmt::format("bronze/source=coinbase/product={}/date=2024-05-01/{}.jsonl.zst", t.product_id, id);
  return t;
}

GoldBar Bar(TimestampMicros period, int64_t n) {
  GoldBar b;
  b.product_id = "BTC-USD";
  b.period_start = period;
  b.trade_count = n;
  b.avg_price = b.vwap = b.open = b.high = b.low = b.close = 65000 * kOne;
  b.total_volume = n * kOne;
  b.quote_volume = n * 65000 * kOne;
  b.buy_volume = b.sell_volume = b.total_volume / 2;
  b.first_trade_id = n;
  b.last_trade_id = n + 1;
  b.price_sum = n * 65000 * kOne;
  return b;
}

// Writes rows to a Parquet object at key (through a local scratch file).
template <typename Row>
void PutRows(ObjectStore* store, const std::string& key, const std::vector<Row>& rows,
             Status (*writer)(const std::vector<Row>&, const std::string&)) {
  const fs::path tmp = fs::temp_directory_path() / fmt::format("tl-compact-test-{}.parquet", std::random_device{}());
  ASSERT_TRUE(writer(rows, tmp.string()).ok());
  std::string bytes;
  {
    std::FILE* f = std::fopen(tmp.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
    std::fclose(f);
  }
  fs::remove(tmp);
  ASSERT_TRUE(store->Put(key, bytes, WriteMode::kCreateOnly).ok()) << key;
}

template <typename Row>
std::vector<Row> GetRows(ObjectStore* store, const std::string& key,
                         Result<std::vector<Row>> (*reader)(const std::string&)) {
  auto bytes = store->Get(key);
  EXPECT_TRUE(bytes.ok()) << key;
  const fs::path tmp = fs::temp_directory_path() / fmt::format("tl-compact-test-{}.parquet", std::random_device{}());
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    std::fwrite(bytes->data(), 1, bytes->size(), f);
    std::fclose(f);
  }
  auto rows = reader(tmp.string());
  fs::remove(tmp);
  EXPECT_TRUE(rows.ok()) << key << ": " << rows.status().ToString();
  return rows.ok() ? *rows : std::vector<Row>{};
}

// Everything a query can see, in a comparable form.
struct LakeRows {
  std::vector<SilverTrade> silver;  // sorted by (product, trade_id)
  std::map<std::string, std::vector<RejectedRecord>> rejected;  // partition -> rows in file-key order
  std::map<std::string, std::vector<GoldBar>> gold;             // table -> sorted by period
  std::vector<QualityRow> quality;                              // sorted
};

struct Files {
  std::map<std::string, std::vector<std::string>> by_table;
  size_t count(std::string_view table) const {
    auto it = by_table.find(std::string(table));
    return it == by_table.end() ? 0 : it->second.size();
  }
};

class CompactTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      dir_ = fs::temp_directory_path() / fmt::format("tl-compact-{}", std::random_device{}());
      auto local = OpenLocalStore(dir_.string());
      ASSERT_TRUE(local.ok());
      store_ = std::move(local).value();
    } else {
      store_ = NewMemoryStore();
    }
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  // One ETL-like commit adding files; bookmarks and totals as a real run has them.
  void CommitAdds(std::map<std::string, std::vector<std::pair<std::string, DeltaStats>>> files) {
    auto snap = LoadCurrentSnapshot(store_.get());
    ASSERT_TRUE(snap.ok());
    Snapshot next = *snap;
    next.seq += 1;
    next.committed_at = kT0;
    next.commits.clear();
    next.commit_text.clear();
    next.bookmarks["BTC-USD"] = 42;
    next.totals["BTC-USD"].records = 117;
    next.totals["BTC-USD"].inserted = 100;
    next.totals["BTC-USD"].rejected["price_not_positive"] = 17;
    for (auto& [table, list] : files) {
      DeltaCommit& c = next.commits[table];
      if (!next.versions.contains(table)) {
        c.protocol = DeltaProtocol{};
        c.metadata = DeltaMetadataFor(table, kT0 / 1000);
      }
      for (auto& [key, stats] : list) {
        auto add = AddFileFor(store_.get(), table, key, stats);
        ASSERT_TRUE(add.ok()) << add.status().ToString();
        c.adds.push_back(*add);
      }
    }
    ASSERT_TRUE(CommitLake(store_.get(), &next).ok());
  }

  static DeltaStats Count(size_t n) {
    DeltaStats s;
    s.num_records = static_cast<int64_t>(n);
    return s;
  }

  // silver BTC-USD: 9 small files with interleaved trade ids; ETH-USD: 3;
  // rejected: 8 files; audit: 8 files; bars_1m: 2 files of one day; hourly:
  // 2 files of May and one of June; daily: 1 file.
  void BuildLake() {
    std::map<std::string, std::vector<std::pair<std::string, DeltaStats>>> files;
    const std::string btc = "silver/trades/product_id=BTC-USD/date=2024-05-01/";
    for (int f = 0; f < 9; ++f) {
      std::vector<SilverTrade> rows;
      for (int i = 0; i < 10; ++i) rows.push_back(Trade("BTC-USD", 1000 + f + 9 * i));
      const std::string key = fmt::format("{}part-{:08d}-a.parquet", btc, f);
      PutRows(store_.get(), key, rows, WriteSilverTrades);
      DeltaStats st = Count(rows.size());
      st.min_values["trade_id"] = std::to_string(rows.front().trade_id);
      st.max_values["trade_id"] = std::to_string(rows.back().trade_id);
      st.min_values["product_id"] = st.max_values["product_id"] = "\"BTC-USD\"";
      st.null_count["trade_id"] = 0;
      files[std::string(kSilverTrades)].push_back({key, st});
    }
    for (int f = 0; f < 3; ++f) {
      const std::string key = fmt::format("silver/trades/product_id=ETH-USD/date=2024-05-01/part-{:08d}-a.parquet", f);
      PutRows(store_.get(), key, std::vector<SilverTrade>{Trade("ETH-USD", 10 + f)}, WriteSilverTrades);
      files[std::string(kSilverTrades)].push_back({key, Count(1)});
    }
    for (int f = 0; f < 8; ++f) {
      std::vector<RejectedRecord> rows;
      for (int i = 0; i < 2; ++i) {
        RejectedRecord r;
        r.product_id = "BTC-USD";
        r.date = "2024-05-01";
        if (i == 0) r.trade_id = 5000 - f;  // not sorted: the order must be kept as it is
        r.rule = "price_not_positive";
        r.detail = fmt::format("file {} row {}", f, i);
        r.raw = "{}";
        r.bronze_object = "bronze/x";
        r.rejected_at = kT0 + f;
        rows.push_back(r);
      }
      const std::string key =
          fmt::format("silver/trades_rejected/product_id=BTC-USD/date=2024-05-01/part-{:08d}-a.parquet", f);
      PutRows(store_.get(), key, rows, WriteRejected);
      files[std::string(kSilverRejected)].push_back({key, Count(rows.size())});
    }
    for (int f = 0; f < 8; ++f) {
      QualityRow q;
      q.product_id = "BTC-USD";
      q.date = "2024-05-01";
      q.etl_seq = 8 - f;
      q.committed_at = kT0;
      q.records = q.inserted = 10;
      q.rejected_by_rule = "{}";
      const std::string key = fmt::format("audit/data_quality/product_id=BTC-USD/part-{:08d}-a.parquet", f);
      PutRows(store_.get(), key, std::vector<QualityRow>{q}, WriteQualityRows);
      files[std::string(kAuditQuality)].push_back({key, Count(1)});
    }
    auto gold = [&](std::string_view table, const std::string& folder, const std::string& name,
                    std::vector<GoldBar> bars) {
      const std::string key = TableFolder(table) + folder + name;
      PutRows(store_.get(), key, bars, WriteGoldBars);
      DeltaStats st = Count(bars.size());
      st.min_values["period_start"] = StatsTime(bars.front().period_start);
      st.max_values["period_start"] = StatsTime(bars.back().period_start);
      files[std::string(table)].push_back({key, st});
    };
    gold(kGoldBars1m, "product_id=BTC-USD/date=2024-05-01/", "part-1.parquet",
         {Bar(kT0 + 5 * kMicrosPerMinute, 3), Bar(kT0 + 6 * kMicrosPerMinute, 4)});
    gold(kGoldBars1m, "product_id=BTC-USD/date=2024-05-01/", "part-2.parquet",
         {Bar(kT0 + 1 * kMicrosPerMinute, 1), Bar(kT0 + 7 * kMicrosPerMinute, 2)});
    gold(kGoldHourly, "product_id=BTC-USD/", "part-may-a.parquet", {Bar(kT0, 5), Bar(kT0 + 5 * kMicrosPerHour, 6)});
    gold(kGoldHourly, "product_id=BTC-USD/", "part-may-b.parquet",
         {Bar(kT0 + 6 * kMicrosPerHour, 7), Bar(kT0 + 9 * kMicrosPerHour, 8)});
    gold(kGoldHourly, "product_id=BTC-USD/", "part-jun.parquet", {Bar(kT0 + 31 * kMicrosPerDay, 9)});
    gold(kGoldDaily, "product_id=BTC-USD/", "part-2024.parquet", {Bar(kT0, 40)});
    CommitAdds(std::move(files));
  }

  Files LiveKeys() {
    Files out;
    auto lake = LoadLakeState(store_.get());
    EXPECT_TRUE(lake.ok()) << lake.status().ToString();
    for (std::string_view table : EtlTables()) {
      auto live = LiveFiles(*lake, table);
      EXPECT_TRUE(live.ok());
      for (const TableFile& f : *live) out.by_table[std::string(table)].push_back(f.key);
    }
    return out;
  }

  LakeRows ReadAll() {
    LakeRows out;
    const Files files = LiveKeys();
    auto keys = [&](std::string_view t) {
      auto it = files.by_table.find(std::string(t));
      return it == files.by_table.end() ? std::vector<std::string>{} : it->second;
    };
    for (const auto& key : keys(kSilverTrades)) {
      auto rows = GetRows(store_.get(), key, ReadSilverTrades);
      out.silver.insert(out.silver.end(), rows.begin(), rows.end());
    }
    std::sort(out.silver.begin(), out.silver.end(), [](const SilverTrade& a, const SilverTrade& b) {
      return std::tie(a.product_id, a.trade_id) < std::tie(b.product_id, b.trade_id);
    });
    for (const auto& key : keys(kSilverRejected)) {
      auto rows = GetRows(store_.get(), key, ReadRejected);
      auto& part = out.rejected[key.substr(0, key.rfind('/'))];
      part.insert(part.end(), rows.begin(), rows.end());
    }
    for (std::string_view t : {kGoldBars1m, kGoldHourly, kGoldDaily}) {
      auto& bars = out.gold[std::string(t)];
      for (const auto& key : keys(t)) {
        auto rows = GetRows(store_.get(), key, ReadGoldBars);
        bars.insert(bars.end(), rows.begin(), rows.end());
      }
      std::sort(bars.begin(), bars.end(),
                [](const GoldBar& a, const GoldBar& b) { return a.period_start < b.period_start; });
    }
    for (const auto& key : keys(kAuditQuality)) {
      auto rows = GetRows(store_.get(), key, ReadQualityRows);
      out.quality.insert(out.quality.end(), rows.begin(), rows.end());
    }
    std::sort(out.quality.begin(), out.quality.end(),
              [](const QualityRow& a, const QualityRow& b) { return a.etl_seq < b.etl_seq; });
    return out;
  }

  static void ExpectSameAnswers(const LakeRows& a, const LakeRows& b) {
    EXPECT_EQ(a.silver, b.silver);
    EXPECT_EQ(a.rejected, b.rejected);
    EXPECT_EQ(a.gold, b.gold);
    EXPECT_EQ(a.quality, b.quality);
  }

  std::unique_ptr<ObjectStore> store_;
  fs::path dir_;
};

TEST_P(CompactTest, SmallFilesBecomeFewWithEveryAnswerUnchanged) {
  BuildLake();
  const LakeRows before = ReadAll();
  ASSERT_EQ(before.silver.size(), 93u);
  auto snap_before = LoadCurrentSnapshot(store_.get());
  ASSERT_TRUE(snap_before.ok());

  auto r = CompactLake(store_.get(), CompactOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->nothing_to_do);
  EXPECT_EQ(r->seq, snap_before->seq + 1);
  EXPECT_EQ(r->files_removed, 9 + 8 + 8 + 2 + 2);
  EXPECT_EQ(r->files_added, 5);
  EXPECT_FALSE(r->budget_exhausted);

  const Files after = LiveKeys();
  EXPECT_EQ(after.count(kSilverTrades), 1u + 3u);  // ETH-USD's 3 files are below the threshold
  EXPECT_EQ(after.count(kSilverRejected), 1u);
  EXPECT_EQ(after.count(kAuditQuality), 1u);
  EXPECT_EQ(after.count(kGoldBars1m), 1u);
  EXPECT_EQ(after.count(kGoldHourly), 2u);  // May merged, June alone
  EXPECT_EQ(after.count(kGoldDaily), 1u);
  ExpectSameAnswers(before, ReadAll());

  // The merged Silver file is sorted by trade_id; rejected rows kept their order.
  for (const auto& key : after.by_table.at(std::string(kSilverTrades))) {
    if (key.find("BTC-USD") == std::string::npos) continue;
    auto rows = GetRows(store_.get(), key, ReadSilverTrades);
    ASSERT_EQ(rows.size(), 90u);
    EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end(),
                               [](const SilverTrade& a, const SilverTrade& b) { return a.trade_id < b.trade_id; }));
  }

  // Bookmarks and totals unchanged; one Delta version per changed table.
  auto snap_after = LoadCurrentSnapshot(store_.get());
  ASSERT_TRUE(snap_after.ok());
  EXPECT_EQ(snap_after->seq, snap_before->seq + 1);
  EXPECT_EQ(snap_after->bookmarks, snap_before->bookmarks);
  EXPECT_EQ(snap_after->totals, snap_before->totals);
  EXPECT_EQ(snap_after->versions.at(std::string(kGoldDaily)), snap_before->versions.at(std::string(kGoldDaily)));
  EXPECT_EQ(snap_after->versions.at(std::string(kSilverTrades)),
            snap_before->versions.at(std::string(kSilverTrades)) + 1);

  // The commit changes no data: dataChange=false on every add and remove.
  for (std::string_view table : {kSilverTrades, kSilverRejected, kAuditQuality, kGoldBars1m, kGoldHourly}) {
    auto state = LoadDeltaTable(store_.get(), TableFolder(table));
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    ASSERT_EQ(state->version, snap_after->versions.at(std::string(table))) << table;
    auto text = store_->Get(DeltaCommitKey(TableFolder(table), state->version));
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(text->find("\"dataChange\":true"), std::string::npos) << *text;
    EXPECT_NE(text->find("\"dataChange\":false"), std::string::npos) << *text;
    EXPECT_NE(text->find("OPTIMIZE"), std::string::npos);
    EXPECT_FALSE(state->tombstones.empty());
    for (const auto& [path, rm] : state->tombstones) EXPECT_FALSE(rm.data_change) << path;
  }
  auto silver = LoadDeltaTable(store_.get(), TableFolder(kSilverTrades));
  ASSERT_TRUE(silver.ok());
  for (const auto& [path, add] : silver->files) {
    if (path.find("compact") == std::string::npos) continue;
    EXPECT_FALSE(add.data_change);
    auto st = ParseDeltaStats(add.stats);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->num_records, 90);
    EXPECT_EQ(st->min_values.at("trade_id"), "1000");
    EXPECT_EQ(st->max_values.at("trade_id"), "1089");
    EXPECT_EQ(st->null_count.at("trade_id"), 0);
  }

  // Nothing left to do: no commit.
  auto again = CompactLake(store_.get(), CompactOptions{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->nothing_to_do);
  EXPECT_EQ(again->seq, snap_after->seq);
  EXPECT_EQ(LatestCommitSeq(store_.get()).value_or(-1), snap_after->seq);
}

TEST_P(CompactTest, ABudgetBoundsTheWorkOfOneCallAndTheNextCallContinues) {
  BuildLake();
  const LakeRows before = ReadAll();
  CompactOptions o;
  o.max_input_files = 9;
  auto r = CompactLake(store_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 9);
  EXPECT_TRUE(r->budget_exhausted);
  EXPECT_EQ(r->tables.size(), 1u);
  EXPECT_TRUE(r->tables.contains(std::string(kSilverTrades)));
  ExpectSameAnswers(before, ReadAll());

  o.max_input_files = 256;
  r = CompactLake(store_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 8 + 8 + 2 + 2);
  ExpectSameAnswers(before, ReadAll());
}

TEST_P(CompactTest, MergedRowsAreSplitIntoFilesOfTheTargetSize) {
  BuildLake();
  const LakeRows before = ReadAll();
  auto lake = LoadLakeState(store_.get());
  ASSERT_TRUE(lake.ok());
  int64_t btc_bytes = 0;
  auto live = LiveFiles(*lake, kSilverTrades);
  ASSERT_TRUE(live.ok());
  for (const auto& f : *live) {
    if (f.product_id == "BTC-USD") btc_bytes += f.size;
  }
  CompactOptions o;
  o.target_file_bytes = btc_bytes / 3 + 1;  // -> three output files
  o.min_tier_bytes = btc_bytes;             // every small file in tier 0
  auto r = CompactLake(store_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tables.at(std::string(kSilverTrades)).files_added, 3);
  ExpectSameAnswers(before, ReadAll());

  // Consecutive trade_id ranges, exact bounds per file.
  auto silver = LoadDeltaTable(store_.get(), TableFolder(kSilverTrades));
  ASSERT_TRUE(silver.ok());
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const auto& [path, add] : silver->files) {
    if (path.find("compact") == std::string::npos) continue;
    auto st = ParseDeltaStats(add.stats).value();
    EXPECT_EQ(st.num_records, 30);
    ranges.emplace_back(std::stoll(st.min_values.at("trade_id")), std::stoll(st.max_values.at("trade_id")));
  }
  std::sort(ranges.begin(), ranges.end());
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], std::make_pair(int64_t{1000}, int64_t{1029}));
  EXPECT_EQ(ranges[1], std::make_pair(int64_t{1030}, int64_t{1059}));
  EXPECT_EQ(ranges[2], std::make_pair(int64_t{1060}, int64_t{1089}));
}

TEST_P(CompactTest, ALostLeaseCommitsNothingAndLeavesNoFiles) {
  BuildLake();
  const int64_t seq = LatestCommitSeq(store_.get()).value_or(-1);
  TimestampMicros now = kT0;
  LeaseOptions lo;
  lo.owner = "compactor";
  lo.clock = [&now] { return now; };
  auto lease = EtlLease::Acquire(store_.get(), lo);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  CompactOptions o;
  o.lease = lease->get();
  now += lo.ttl_micros;  // the lease runs out while compacting
  auto r = CompactLake(store_.get(), o);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_EQ(LatestCommitSeq(store_.get()).value_or(-1), seq);
  auto all = store_->List("");
  ASSERT_TRUE(all.ok());
  for (const ObjectInfo& o2 : *all) EXPECT_EQ(o2.key.find("compact"), std::string::npos) << o2.key;

  now = kT0;  // within the lease again (a renewed one): compaction commits
  auto again = EtlLease::Acquire(store_.get(), lo);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  o.lease = again->get();
  r = CompactLake(store_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seq, seq + 1);
}

TEST_P(CompactTest, AnEmptyLakeHasNothingToDo) {
  auto r = CompactLake(store_.get(), CompactOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->nothing_to_do);
  EXPECT_EQ(r->seq, 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, CompactTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "LocalFolder" : "Memory"; });

}  // namespace
}  // namespace tradelake
