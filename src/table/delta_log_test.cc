#include "table/delta_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "query/duckdb.h"

namespace tradelake {

// Readable failure messages (found by GoogleTest through argument-dependent lookup).
void PrintTo(const DeltaAddFile& a, std::ostream* os) {
  *os << "add{" << a.path << " size=" << a.size << " mtime=" << a.modification_time
      << " dataChange=" << a.data_change << " pv=" << a.partition_values.size()
      << " stats=" << a.stats << "}";
}
void PrintTo(const DeltaRemoveFile& r, std::ostream* os) {
  *os << "remove{" << r.path << " ts=" << r.deletion_timestamp << " dataChange=" << r.data_change
      << " pv=" << r.partition_values.size() << " size=" << r.size << "}";
}

namespace {

namespace fs = std::filesystem;

// tests/testdata/delta-golden of this source tree (src/table/ -> repository root).
fs::path GoldenDir() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "testdata" /
         "delta-golden";
}

std::unique_ptr<ObjectStore> OpenGolden() {
  auto store = OpenLocalStore(GoldenDir().string());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(store).value();
}

// Counts the List calls that reach the store it wraps.
class CountingStore : public ObjectStore {
 public:
  explicit CountingStore(ObjectStore* base) : base_(base) {}
  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    return base_->Put(key, data, mode);
  }
  Result<std::string> Get(std::string_view key) override {
    ++gets;
    return base_->Get(key);
  }
  Result<ObjectInfo> Head(std::string_view key) override { return base_->Head(key); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    ++lists;
    return base_->List(prefix);
  }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  std::string Describe() const override { return "counting:" + base_->Describe(); }

  std::atomic<int> lists{0};
  std::atomic<int> gets{0};

 private:
  ObjectStore* base_;
};

// Rows in the live files of `state`, read with DuckDB straight from the folder.
int64_t CountRows(ObjectStore* store, std::string_view root, const DeltaTableState& state) {
  if (state.files.empty()) return 0;
  std::string files;
  for (const auto& [path, add] : state.files) {
    auto key = DeltaPathToKey(root, path);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    std::optional<std::string> local = store->LocalPath(*key);
    EXPECT_TRUE(local.has_value());
    std::string quoted;
    for (char c : *local) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    files += fmt::format("{}'{}'", files.empty() ? "" : ", ", quoted);
  }
  auto db = Database::Open(":memory:");
  EXPECT_TRUE(db.ok());
  auto con = (*db)->Connect();
  EXPECT_TRUE(con.ok());
  auto result = con->Query(fmt::format("SELECT count(*) FROM read_parquet([{}])", files));
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (!result.ok()) return -1;
  return std::stoll(result->GetStringOr(0, 0, "-1"));
}

void ExpectSameState(const DeltaTableState& a, const DeltaTableState& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.protocol, b.protocol);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.files, b.files);
  EXPECT_EQ(a.tombstones, b.tombstones);
  EXPECT_EQ(a.app_versions, b.app_versions);
  EXPECT_EQ(a.last_commit_timestamp, b.last_commit_timestamp);
}

// ---------------------------------------------------------------------------
// Golden tables written by Spark

struct GoldenCase {
  const char* table;
  int64_t version;
  size_t live_files;
  int64_t rows;
};

class GoldenTable : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTable, ReplaysToSparksVersionFilesAndRows) {
  const GoldenCase& c = GetParam();
  auto store = OpenGolden();
  const std::string root = std::string(c.table) + "/";
  auto state = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->version, c.version);
  EXPECT_EQ(state->files.size(), c.live_files);
  EXPECT_EQ(state->protocol.min_reader_version, 1);
  EXPECT_FALSE(state->metadata.schema_string.empty());
  EXPECT_EQ(CountRows(store.get(), root, *state), c.rows);
}

INSTANTIATE_TEST_SUITE_P(
    DeltaGolden, GoldenTable,
    ::testing::Values(GoldenCase{"basic-with-inserts-deletes-checkpoint", 13, 7, 41},
                      GoldenCase{"basic-decimal-table", 0, 4, 4},
                      GoldenCase{"data-reader-partition-values", 0, 3, 3},
                      GoldenCase{"data-skipping-basic-stats-all-types", 0, 1, 1},
                      GoldenCase{"data-skipping-basic-stats-all-types-checkpoint", 0, 1, 1},
                      GoldenCase{"decimal-various-scale-precision", 0, 1, 3},
                      GoldenCase{"kernel-timestamp-TIMESTAMP_MICROS", 0, 5, 5},
                      GoldenCase{"multi-part-checkpoint", 1, 10, 31},
                      GoldenCase{"log-replay-special-characters", 1, 0, 0},
                      GoldenCase{"snapshot-vacuumed", 5, 2, 20}),
    [](const ::testing::TestParamInfo<GoldenCase>& param_info) {
      std::string name;
      for (const char* p = param_info.param.table; *p; ++p)
        name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
      return name;
    });

TEST(DeltaGolden, RefusesNonContiguousVersions) {
  auto store = OpenGolden();
  auto state = LoadDeltaTable(store.get(), "versions-not-contiguous/");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), StatusCode::kDataLoss) << state.status().ToString();
  EXPECT_NE(state.status().message().find("missing version 1"), std::string::npos)
      << state.status().ToString();
}

TEST(DeltaGolden, RefusesAReaderVersionItDoesNotSupport) {
  auto store = OpenGolden();
  auto state = LoadDeltaTable(store.get(), "deltalog-invalid-protocol-version/");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), StatusCode::kFailedPrecondition) << state.status().ToString();
  EXPECT_NE(state.status().message().find("99"), std::string::npos) << state.status().ToString();
}

TEST(DeltaGolden, CheckpointStatsCountTheRowsOfEveryLiveFile) {
  auto store = OpenGolden();
  auto state = LoadDeltaTable(store.get(), "basic-with-inserts-deletes-checkpoint/");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  int64_t rows = 0;
  for (const auto& [path, add] : state->files) {
    auto stats = ParseDeltaStats(add.stats);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    ASSERT_GE(stats->num_records, 0) << path;
    rows += stats->num_records;
  }
  EXPECT_EQ(rows, 41);
}

TEST(DeltaGolden, OlderVersionsOfACheckpointedTable) {
  auto store = OpenGolden();
  const std::string root = "basic-with-inserts-deletes-checkpoint/";
  auto latest = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  for (int64_t v : {0, 5, 9, 10, 12}) {
    auto old = LoadDeltaTable(store.get(), root, v);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    EXPECT_EQ(old->version, v);
    DeltaTableState updated = *old;
    ASSERT_TRUE(UpdateDeltaTable(store.get(), root, &updated).ok());
    // Spark's checkpoint writes dataChange=false; the commits replayed say true.
    DeltaTableState from_checkpoint = *latest;
    for (DeltaTableState* s : {&updated, &from_checkpoint}) {
      for (auto& [path, add] : s->files) add.data_change = false;
      for (auto& [path, remove] : s->tombstones) remove.data_change = false;
    }
    ExpectSameState(updated, from_checkpoint);
  }
}

TEST(DeltaGolden, StatsKeepEveryTypeAsWritten) {
  auto store = OpenGolden();
  for (const char* table :
       {"data-skipping-basic-stats-all-types", "data-skipping-basic-stats-all-types-checkpoint"}) {
    SCOPED_TRACE(table);
    auto state = LoadDeltaTable(store.get(), std::string(table) + "/");
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    ASSERT_EQ(state->files.size(), 1u);
    auto stats = ParseDeltaStats(state->files.begin()->second.stats);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->num_records, 1);
    EXPECT_EQ(stats->min_values.at("as_int"), "0");
    EXPECT_EQ(stats->min_values.at("as_float"), "0.0");
    EXPECT_EQ(stats->max_values.at("as_double"), "0.0");
    EXPECT_EQ(stats->min_values.at("as_string"), "\"0\"");
    EXPECT_EQ(stats->min_values.at("as_date"), "\"2000-01-01\"");
    EXPECT_EQ(stats->max_values.at("as_timestamp"), "\"2000-01-01T00:00:00.000-08:00\"");
    EXPECT_EQ(stats->max_values.at("as_big_decimal"), "0");
    EXPECT_EQ(stats->null_count.size(), 10u);
    EXPECT_EQ(stats->null_count.at("as_timestamp"), 0);

    // Through a checkpoint of our own: the same text comes back.
    auto mem = NewMemoryStore();
    ASSERT_TRUE(WriteDeltaCheckpoint(mem.get(), "t/", *state).ok());
    auto reread = LoadDeltaTable(mem.get(), "t/");
    ASSERT_TRUE(reread.ok()) << reread.status().ToString();
    EXPECT_EQ(reread->files, state->files);
    auto reread_stats = ParseDeltaStats(reread->files.begin()->second.stats);
    ASSERT_TRUE(reread_stats.ok());
    EXPECT_EQ(*reread_stats, *stats);
  }
}

TEST(DeltaGolden, DecimalStatsStayExactText) {
  auto store = OpenGolden();
  auto state = LoadDeltaTable(store.get(), "decimal-various-scale-precision/");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  auto stats = ParseDeltaStats(state->files.begin()->second.stats);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->num_records, 3);
  // A double would print these as -24199 and -2.9546424e-17.
  EXPECT_EQ(stats->min_values.at("decimal_25_18"), "-24199.000000000000000000");
  EXPECT_EQ(stats->min_values.at("decimal_38_36"), "-2.9546424000000000000E-17");
  EXPECT_EQ(stats->min_values.at("decimal_35_30"), "-32805.309000000000000000000000000000");
  auto again = ParseDeltaStats(SerializeDeltaStats(*stats));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *stats);
}

TEST(DeltaGolden, EncodedPathsDecodeToTheFilesOnDisk) {
  auto store = OpenGolden();
  const std::string root = "data-reader-partition-values/";
  auto state = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  bool saw_escape = false;
  for (const auto& [path, add] : state->files) {
    auto key = DeltaPathToKey(root, path);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_TRUE(store->Head(*key).ok()) << *key;
    EXPECT_EQ(KeyToDeltaPath(root, *key), path);
    if (key->find("11%3A11%3A11") != std::string::npos) saw_escape = true;
    // Null partition values stay null; the string "null" stays a string.
    if (!add.partition_values.at("as_int")) {
      EXPECT_FALSE(add.partition_values.at("as_string_lit_null").has_value());
    } else {
      EXPECT_EQ(add.partition_values.at("as_string_lit_null"), "null");
      EXPECT_EQ(add.partition_values.at("as_timestamp"), "2021-09-08 11:11:11");
    }
  }
  EXPECT_TRUE(saw_escape);

  auto special = LoadDeltaTable(store.get(), "log-replay-special-characters/");
  ASSERT_TRUE(special.ok()) << special.status().ToString();
  ASSERT_EQ(special->tombstones.size(), 1u);
  const DeltaRemoveFile& removed = special->tombstones.begin()->second;
  EXPECT_EQ(removed.path, "special%20p@%23h");
  EXPECT_EQ(removed.size, 100);
  EXPECT_EQ(DeltaPathToKey("log-replay-special-characters/", removed.path).value_or(""),
            "log-replay-special-characters/special p@#h");
  EXPECT_EQ(KeyToDeltaPath("t/", "t/special p@#h"), "special%20p@%23h");
}

TEST(DeltaPaths, RefusesAbsoluteAndMalformedPaths) {
  EXPECT_EQ(DeltaPathToKey("t/", "s3://bucket/x.parquet").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DeltaPathToKey("t/", "file:/tmp/x.parquet").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DeltaPathToKey("t/", "a%2").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DeltaPathToKey("t/", "a/%2E%2E/../b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DeltaPathToKey("t/", "date=2024-05-01/x:y.parquet").value_or(""),
            "t/date=2024-05-01/x:y.parquet");
  EXPECT_EQ(KeyToDeltaPath("t/", "t/a:b/c"), "a%3Ab/c");
}

// ---------------------------------------------------------------------------
// tradelake's own writer

TEST(DeltaStatsText, NestedColumnsFlattenAndComeBack) {
  auto stats = ParseDeltaStats(
      R"({"numRecords":2,"minValues":{"a":{"b":1.10,"c":"x"},"d":65000.01},"maxValues":{"d":1E+2},)"
      R"("nullCount":{"a":{"b":0,"c":1},"d":0},"tightBounds":true})");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->min_values.at("a.b"), "1.10");
  EXPECT_EQ(stats->min_values.at("a.c"), "\"x\"");
  EXPECT_EQ(stats->min_values.at("d"), "65000.01");
  EXPECT_EQ(stats->max_values.at("d"), "1E+2");
  EXPECT_EQ(stats->null_count.at("a.c"), 1);
  EXPECT_EQ(
      SerializeDeltaStats(*stats),
      R"({"numRecords":2,"minValues":{"a":{"b":1.10,"c":"x"},"d":65000.01},"maxValues":{"d":1E+2},)"
      R"("nullCount":{"a":{"b":0,"c":1},"d":0}})");
  EXPECT_EQ(ParseDeltaStats("").value().num_records, -1);
  EXPECT_EQ(ParseDeltaStats("[1]").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseDeltaStats("{\"numRecords\":\"x\"}").status().code(), StatusCode::kDataLoss);
}

constexpr int64_t kT0 = 1'714'521'600'000;  // 2024-05-01T00:00:00Z

DeltaMetadata TradesMetadata() {
  DeltaMetadata m;
  m.id = "5a7f6c9e-0000-4000-8000-000000000001";
  m.name = "trades";
  m.schema_string =
      R"({"type":"struct","fields":[{"name":"product_id","type":"string","nullable":true,"metadata":{}},)"
      R"({"name":"date","type":"date","nullable":true,"metadata":{}},)"
      R"j({"name":"price","type":"decimal(38,18)","nullable":true,"metadata":{}}]})j";
  m.partition_columns = {"product_id", "date"};
  m.configuration = {{"delta.appendOnly", "false"}};
  m.created_time = kT0;
  return m;
}

DeltaAddFile MakeAdd(int64_t version, int n, std::optional<std::string> product = "BTC-USD") {
  DeltaAddFile add;
  const std::string date = fmt::format("2024-05-{:02d}", 1 + version % 28);
  const std::string key =
      fmt::format("silver/trades/product_id={}/date={}/part {}-{}#.parquet",
                  product.value_or("__HIVE_DEFAULT_PARTITION__"), date, version, n);
  add.path = KeyToDeltaPath("silver/trades/", key);
  add.partition_values = {{"product_id", product}, {"date", date}};
  add.size = 1000 + version * 10 + n;
  add.modification_time = kT0 + version * 1000;
  DeltaStats stats;
  stats.num_records = 10 + n;
  stats.min_values = {{"price", "65000.010000000000000001"}, {"date", "\"" + date + "\""}};
  stats.max_values = {{"price", "65123.450000000000000000"}, {"date", "\"" + date + "\""}};
  stats.null_count = {{"price", 0}};
  add.stats = SerializeDeltaStats(stats);
  return add;
}

DeltaRemoveFile RemoveOf(const DeltaAddFile& add, int64_t version) {
  DeltaRemoveFile remove;
  remove.path = add.path;
  remove.deletion_timestamp = kT0 + version * 1000;
  remove.partition_values = add.partition_values;
  remove.size = add.size;
  return remove;
}

// Writes versions 0..last of a table, with a checkpoint at every version in
// `checkpoints`; returns the state of every version as ApplyDeltaCommit saw it.
std::vector<DeltaTableState> WriteTable(ObjectStore* store, const std::string& root, int64_t last,
                                        const std::vector<int64_t>& checkpoints) {
  std::vector<DeltaTableState> states;
  DeltaTableState state;
  for (int64_t v = 0; v <= last; ++v) {
    DeltaCommit commit;
    commit.timestamp = kT0 + v * 1000;
    if (v == 0) {
      commit.protocol = DeltaProtocol{};
      commit.metadata = TradesMetadata();
      commit.operation = "CREATE TABLE";
      commit.adds = {MakeAdd(v, 0), MakeAdd(v, 1, std::nullopt)};
    } else {
      commit.adds = {MakeAdd(v, 0), MakeAdd(v, 1)};
      if (v % 3 == 0) {
        // Replace a file of an earlier version.
        commit.removes = {RemoveOf(MakeAdd(v - 2, 1), v)};
        commit.operation = "DELETE";
      }
      commit.txn = std::make_pair(std::string("tradelake-etl"), v);
    }
    if (v == 7)
      commit.metadata = [] {
        DeltaMetadata m = TradesMetadata();
        m.configuration["k"] = "v7";
        return m;
      }();
    Status written = WriteDeltaCommit(store, root, v, commit);
    EXPECT_TRUE(written.ok()) << written.ToString();
    Status applied = ApplyDeltaCommit(&state, commit);
    EXPECT_TRUE(applied.ok()) << applied.ToString();
    if (std::find(checkpoints.begin(), checkpoints.end(), v) != checkpoints.end()) {
      Status checkpoint = WriteDeltaCheckpoint(store, root, state);
      EXPECT_TRUE(checkpoint.ok()) << checkpoint.ToString();
    }
    states.push_back(state);
  }
  return states;
}

// An update in place records exactly the paths its commits touched, and its
// undo gives back the state it started from: field for field, tombstones
// and all (readers follow tables for months: copying the state on every
// update would cost the table's size).
TEST(DeltaUpdate, InPlaceRecordsTheTouchedPathsAndItsUndoGivesBackTheStateBefore) {
  auto store = NewMemoryStore();
  const std::string root = "silver/trades/";
  std::vector<DeltaTableState> states = WriteTable(store.get(), root, 9, {});
  DeltaTableState state = states[5];
  DeltaTableUpdate update;
  ASSERT_TRUE(UpdateDeltaTable(store.get(), root, &state, 9, &update).ok());
  ExpectSameState(state, states[9]);
  EXPECT_FALSE(update.reloaded);
  // Versions 6..9 add files n=0,1 each; version 6 and 9 remove the n=1 file of
  // versions 4 and 7.
  std::set<std::string> expected;
  for (int64_t v = 6; v <= 9; ++v) {
    expected.insert(MakeAdd(v, 0).path);
    expected.insert(MakeAdd(v, 1).path);
  }
  expected.insert(MakeAdd(4, 1).path);
  EXPECT_EQ(update.touched, expected);
  EXPECT_FALSE(state.files.count(MakeAdd(4, 1).path));
  EXPECT_TRUE(state.tombstones.count(MakeAdd(4, 1).path));

  RevertDeltaTableUpdate(&state, &update);
  ExpectSameState(state, states[5]);
  EXPECT_TRUE(update.touched.empty());

  // A commit that cannot be read after good ones: the error, and the state
  // exactly as it was (the good commits' changes taken back).
  ASSERT_TRUE(store->Put(DeltaCommitKey(root, 10), "{\"add\": {\"path\": 7}}\n", WriteMode::kCreateOnly).ok());
  Status broken = UpdateDeltaTable(store.get(), root, &state, std::nullopt, &update);
  EXPECT_EQ(broken.code(), StatusCode::kDataLoss) << broken.ToString();
  ExpectSameState(state, states[5]);
  EXPECT_TRUE(update.touched.empty());

  // Going back to an older version reads it afresh, and says so.
  DeltaTableState newer = states[9];
  ASSERT_TRUE(UpdateDeltaTable(store.get(), root, &newer, 3, &update).ok());
  ExpectSameState(newer, states[3]);
  EXPECT_TRUE(update.reloaded);
  RevertDeltaTableUpdate(&newer, &update);
  ExpectSameState(newer, states[9]);
}

TEST(DeltaWriter, CommitsAndCheckpointsReadBackAtEveryVersion) {
  auto store = NewMemoryStore();
  const std::string root = "silver/trades/";
  std::vector<DeltaTableState> states = WriteTable(store.get(), root, 14, {10});
  ASSERT_EQ(states.size(), 15u);
  EXPECT_TRUE(store->Head(root + "_delta_log/00000000000000000010.checkpoint.parquet").ok());
  EXPECT_EQ(store->Get(root + "_delta_log/_last_checkpoint").value_or("").substr(0, 14),
            "{\"version\":10,");

  auto latest = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ExpectSameState(*latest, states.back());
  EXPECT_EQ(latest->app_versions.at("tradelake-etl"), 14);
  EXPECT_EQ(latest->metadata.configuration.at("k"), "v7");
  for (int64_t v = 0; v <= 14; ++v) {
    SCOPED_TRACE(v);
    auto old = LoadDeltaTable(store.get(), root, v);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    ExpectSameState(*old, states[static_cast<size_t>(v)]);
    DeltaTableState updated = *old;
    ASSERT_TRUE(UpdateDeltaTable(store.get(), root, &updated).ok());
    ExpectSameState(updated, *latest);
  }
  // The null partition value survived both the JSON log and the checkpoint.
  const DeltaAddFile& first = latest->files.at(MakeAdd(0, 1, std::nullopt).path);
  EXPECT_FALSE(first.partition_values.at("product_id").has_value());
  EXPECT_EQ(first.partition_values.at("date"), "2024-05-01");
  EXPECT_EQ(
      DeltaPathToKey(root, first.path).value_or(""),
      "silver/trades/product_id=__HIVE_DEFAULT_PARTITION__/date=2024-05-01/part 0-1#.parquet");
  auto stats = ParseDeltaStats(first.stats);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->min_values.at("price"), "65000.010000000000000001");

  // The checkpoint alone, read by our own reader, is version 10.
  auto only_checkpoint = NewMemoryStore();
  auto bytes = store->Get(root + "_delta_log/00000000000000000010.checkpoint.parquet");
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(only_checkpoint
                  ->Put("x/_delta_log/00000000000000000010.checkpoint.parquet", *bytes,
                        WriteMode::kCreateOnly)
                  .ok());
  auto from_checkpoint = LoadDeltaTable(only_checkpoint.get(), "x/");
  ASSERT_TRUE(from_checkpoint.ok()) << from_checkpoint.status().ToString();
  EXPECT_EQ(from_checkpoint->version, 10);
  EXPECT_EQ(from_checkpoint->files, states[10].files);
  EXPECT_EQ(from_checkpoint->tombstones, states[10].tombstones);
  EXPECT_EQ(from_checkpoint->app_versions, states[10].app_versions);
  EXPECT_EQ(from_checkpoint->metadata, states[10].metadata);
}

TEST(DeltaWriter, CheckpointReadsBackInALocalFolder) {
  const fs::path dir =
      fs::temp_directory_path() /
      fmt::format("tl-delta-test-{}", ::testing::UnitTest::GetInstance()->random_seed());
  fs::remove_all(dir);
  {
    auto store = OpenLocalStore(dir.string());
    ASSERT_TRUE(store.ok());
    std::vector<DeltaTableState> states = WriteTable(store->get(), "t/", 11, {10});
    auto latest = LoadDeltaTable(store->get(), "t/");
    ASSERT_TRUE(latest.ok()) << latest.status().ToString();
    ExpectSameState(*latest, states.back());
  }
  fs::remove_all(dir);
}

TEST(DeltaWriter, CheckpointHasSparksColumnTypes) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("tl-delta-schema-{}", ::getpid());
  fs::remove_all(dir);
  auto store = OpenLocalStore(dir.string());
  ASSERT_TRUE(store.ok());
  WriteTable(store->get(), "t/", 10, {10});
  std::optional<std::string> path =
      (*store)->LocalPath("t/_delta_log/00000000000000000010.checkpoint.parquet");
  ASSERT_TRUE(path.has_value());
  auto db = Database::Open(":memory:");
  ASSERT_TRUE(db.ok());
  auto con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  auto described = con->Query(fmt::format("DESCRIBE SELECT * FROM read_parquet('{}')", *path));
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  std::map<std::string, std::string> types;
  for (uint64_t row = 0; row < described->row_count(); ++row) {
    types[described->GetStringOr(row, 0, "")] = described->GetStringOr(row, 1, "");
  }
  ASSERT_EQ(types.size(), 5u);
  EXPECT_NE(types["add"].find("partitionValues MAP(VARCHAR, VARCHAR)"), std::string::npos)
      << types["add"];
  EXPECT_NE(types["add"].find("stats VARCHAR"), std::string::npos) << types["add"];
  EXPECT_NE(types["remove"].find("extendedFileMetadata BOOLEAN"), std::string::npos)
      << types["remove"];
  EXPECT_NE(types["metaData"].find("partitionColumns VARCHAR[]"), std::string::npos)
      << types["metaData"];
  EXPECT_NE(types["txn"].find("appId VARCHAR"), std::string::npos) << types["txn"];
  EXPECT_EQ(types["protocol"], "STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)");
  // One row per action: protocol, metaData, txn, tombstones, live files.
  auto counted = con->Query(fmt::format(
      "SELECT count(protocol), count(\"metaData\"), count(txn), count(\"remove\"), count(\"add\") "
      "FROM read_parquet('{}')",
      *path));
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  auto state = LoadDeltaTable(store->get(), "t/");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(counted->GetStringOr(0, 0, ""), "1");
  EXPECT_EQ(counted->GetStringOr(0, 1, ""), "1");
  EXPECT_EQ(counted->GetStringOr(0, 2, ""), "1");
  EXPECT_EQ(counted->GetStringOr(0, 3, ""), std::to_string(state->tombstones.size()));
  EXPECT_EQ(counted->GetStringOr(0, 4, ""), std::to_string(state->files.size()));
  fs::remove_all(dir);
}

TEST(DeltaGolden, MultiPartCheckpointFromANonLocalStore) {
  auto golden = OpenGolden();
  auto mem = NewMemoryStore();
  auto objects = golden->List("multi-part-checkpoint/_delta_log/");
  ASSERT_TRUE(objects.ok());
  for (const ObjectInfo& object : *objects) {
    auto bytes = golden->Get(object.key);
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(mem->Put(object.key, *bytes, WriteMode::kCreateOnly).ok());
  }
  auto from_memory = LoadDeltaTable(mem.get(), "multi-part-checkpoint/");
  ASSERT_TRUE(from_memory.ok()) << from_memory.status().ToString();
  auto from_folder = LoadDeltaTable(golden.get(), "multi-part-checkpoint/");
  ASSERT_TRUE(from_folder.ok()) << from_folder.status().ToString();
  ExpectSameState(*from_memory, *from_folder);
  EXPECT_EQ(from_memory->files.size(), 10u);
  // A missing part makes the checkpoint unusable: the commits from version 0 give the same table.
  ASSERT_TRUE(mem->Delete("multi-part-checkpoint/_delta_log/"
                          "00000000000000000001.checkpoint.0000000002.0000000002.parquet")
                  .ok());
  auto replayed = LoadDeltaTable(mem.get(), "multi-part-checkpoint/");
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_EQ(replayed->version, 1);
  EXPECT_EQ(replayed->files.size(), 10u);
}

TEST(DeltaWriter, ASecondWriterOfTheSameVersionGetsAlreadyExists) {
  auto store = NewMemoryStore();
  WriteTable(store.get(), "t/", 2, {});
  DeltaCommit commit;
  commit.adds = {MakeAdd(3, 0)};
  ASSERT_TRUE(WriteDeltaCommit(store.get(), "t/", 3, commit).ok());
  Status again = WriteDeltaCommit(store.get(), "t/", 3, commit);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  // Version 0 without protocol and metadata is refused before anything is written.
  auto fresh = NewMemoryStore();
  EXPECT_EQ(WriteDeltaCommit(fresh.get(), "u/", 0, commit).code(), StatusCode::kInvalidArgument);
  DeltaTableState empty;
  EXPECT_EQ(ApplyDeltaCommit(&empty, commit).code(), StatusCode::kInvalidArgument);
  // An empty partition value is null, as the protocol says.
  DeltaTableState created;
  DeltaCommit create;
  create.protocol = DeltaProtocol{};
  create.metadata = TradesMetadata();
  create.adds = {MakeAdd(0, 0, "")};
  ASSERT_TRUE(ApplyDeltaCommit(&created, create).ok());
  EXPECT_FALSE(created.files.begin()->second.partition_values.at("product_id").has_value());
  EXPECT_EQ(LoadDeltaTable(fresh.get(), "u/").value().version, -1);
  // Writing an existing checkpoint again is fine.
  auto state = LoadDeltaTable(store.get(), "t/");
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(WriteDeltaCheckpoint(store.get(), "t/", *state).ok());
  ASSERT_TRUE(WriteDeltaCheckpoint(store.get(), "t/", *state).ok());
}

TEST(DeltaWriter, AStaleLastCheckpointStillFindsNewerCommits) {
  auto store = NewMemoryStore();
  const std::string root = "t/";
  std::vector<DeltaTableState> states = WriteTable(store.get(), root, 25, {10});
  auto hint10 = store->Get(root + "_delta_log/_last_checkpoint");
  ASSERT_TRUE(hint10.ok());
  auto latest = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ExpectSameState(*latest, states.back());

  // A checkpoint at 20 whose _last_checkpoint update was lost: the hint says 10.
  ASSERT_TRUE(WriteDeltaCheckpoint(store.get(), root, states[20]).ok());
  ASSERT_TRUE(
      store->Put(root + "_delta_log/_last_checkpoint", *hint10, WriteMode::kOverwrite).ok());
  latest = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ExpectSameState(*latest, states.back());

  // A hint newer than the version asked for.
  ASSERT_TRUE(WriteDeltaCheckpoint(store.get(), root, states[25]).ok());
  for (int64_t v : {3, 10, 15, 20, 24}) {
    auto old = LoadDeltaTable(store.get(), root, v);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    ExpectSameState(*old, states[static_cast<size_t>(v)]);
  }
  // No hint at all: the whole log is listed, the newest checkpoint used.
  ASSERT_TRUE(store->Delete(root + "_delta_log/_last_checkpoint").ok());
  latest = LoadDeltaTable(store.get(), root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ExpectSameState(*latest, states.back());
}

TEST(DeltaWriter, AHoleAfterTheCheckpointIsDataLoss) {
  auto store = NewMemoryStore();
  WriteTable(store.get(), "t/", 14, {10});
  ASSERT_TRUE(store->Delete("t/_delta_log/00000000000000000012.json").ok());
  auto state = LoadDeltaTable(store.get(), "t/");
  EXPECT_EQ(state.status().code(), StatusCode::kDataLoss) << state.status().ToString();
  auto before = LoadDeltaTable(store.get(), "t/", 11);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->version, 11);
}

TEST(DeltaWriter, LoadingListsOnlyTheNewestDecades) {
  auto base = NewMemoryStore();
  const std::string root = "t/";
  std::vector<DeltaTableState> states = WriteTable(base.get(), root, 34, {10, 20, 30});
  CountingStore counting(base.get());
  auto latest = LoadDeltaTable(&counting, root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ExpectSameState(*latest, states.back());
  const int lists_for_35 = counting.lists.load();
  EXPECT_LE(lists_for_35, 2);
  EXPECT_LE(counting.gets.load(),
            1 + 1 + 4);  // _last_checkpoint, the checkpoint (staged), commits 31..34

  // A table with many more old versions costs the same number of List calls.
  auto big = NewMemoryStore();
  std::vector<DeltaTableState> big_states =
      WriteTable(big.get(), root, 94, {10, 20, 30, 40, 50, 60, 70, 80, 90});
  CountingStore counting_big(big.get());
  auto big_latest = LoadDeltaTable(&counting_big, root);
  ASSERT_TRUE(big_latest.ok()) << big_latest.status().ToString();
  ExpectSameState(*big_latest, big_states.back());
  EXPECT_EQ(counting_big.lists.load(), lists_for_35);

  // Catching up from a recent version lists one or two decades too.
  CountingStore counting_update(big.get());
  DeltaTableState state = big_states[88];
  ASSERT_TRUE(UpdateDeltaTable(&counting_update, root, &state).ok());
  ExpectSameState(state, *big_latest);
  EXPECT_LE(counting_update.lists.load(), 2);
}

}  // namespace
}  // namespace tradelake

namespace tradelake {
namespace {

TEST(DeltaStatsTime, ATimestampStatisticIsReadWithItsOffsetAndAnythingElseIsNone) {
  const std::map<std::string, std::string> values = {{"t", "\"2024-05-01T12:34:56.789Z\""},
                                                     {"offset", "\"2024-05-01T23:30:00.000+02:00\""},
                                                     {"date", "\"2024-05-01\""},
                                                     {"number", "42"},
                                                     {"unquoted", "2024-05-01T12:34:56Z"}};
  auto t = StatTime(values, "t");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339Trimmed(*t), "2024-05-01T12:34:56.789Z");
  auto o = StatTime(values, "offset");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(FormatRfc3339Trimmed(*o), "2024-05-01T21:30:00Z");
  for (const char* none : {"date", "number", "unquoted", "absent"}) EXPECT_FALSE(StatTime(values, none)) << none;
}

TEST(DeltaStats, StatIntReadsWholeNumbersOnly) {
  const std::map<std::string, std::string> values = {
      {"id", "9007199254740993"}, {"negative", "-5"}, {"fraction", "1.5"}, {"quoted", "\"7\""}, {"empty", ""}};
  EXPECT_EQ(StatInt(values, "id"), 9007199254740993);
  EXPECT_EQ(StatInt(values, "negative"), -5);
  for (const char* none : {"fraction", "quoted", "empty", "absent"}) EXPECT_FALSE(StatInt(values, none)) << none;
}

}  // namespace
}  // namespace tradelake
