#include "serve/api_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "sql/lake_quality.h"
#include "table/catalog.h"
#include "etl/dec18.h"
#include "etl/gold.h"
#include "etl/rows.h"
#include "etl/table_io.h"
#include "serve/dashboard_assets.h"
#include "store/lake.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kAnalystToken = "analyst-secret-token";
constexpr std::string_view kIngestToken = "ingest-secret-token";

// The token of each role in the role tests: "<role>-secret-token".
std::vector<TokenHash> EveryRoleToken() {
  std::vector<TokenHash> tokens;
  for (std::string_view role : kServeRoles) {
    tokens.push_back({std::string(role), Sha256Hex(fmt::format("{}-secret-token", role))});
  }
  return tokens;
}

// A fresh temporary folder, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tl_api_server_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TimestampMicros T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.value_or(0);
}

Dec18 D(std::string_view text) {
  auto d = Dec18FromString(text);
  EXPECT_TRUE(d.ok()) << text;
  return d.value_or(0);
}

SilverTrade Trade(std::string product, int64_t id, std::string_view time, std::string_view price,
                  std::string_view size, std::string side) {
  SilverTrade t;
  t.product_id = std::move(product);
  t.trade_id = id;
  t.price = D(price);
  t.size = D(size);
  t.quote_notional = *Dec18Multiply(t.price, t.size);
  t.taker_side = side == "buy" ? "sell" : "buy";
  t.side = std::move(side);
  t.time = T(time);
  t.ingested_at = t.time + kMicrosPerSecond;
  t.bronze_object = "bronze/source=coinbase/test.jsonl.zst";
  return t;
}

// "2024-05-01T10:00:05.250Z": a timestamp statistic as the Delta log holds
// it (quoted, milliseconds, UTC).
std::string TimeStat(TimestampMicros t) {
  const std::string micros = FormatRfc3339Micros(t);  // 2024-05-01T10:00:05.250000Z
  return fmt::format("\"{}Z\"", micros.substr(0, 23));
}

DeltaStats SilverStats(const std::vector<SilverTrade>& trades) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(trades.size());
  if (trades.empty()) return st;
  auto [lo, hi] = std::minmax_element(trades.begin(), trades.end(),
                                      [](const SilverTrade& a, const SilverTrade& b) { return a.trade_id < b.trade_id; });
  st.min_values["trade_id"] = std::to_string(lo->trade_id);
  st.max_values["trade_id"] = std::to_string(hi->trade_id);
  auto [first, last] = std::minmax_element(trades.begin(), trades.end(),
                                           [](const SilverTrade& a, const SilverTrade& b) { return a.time < b.time; });
  st.min_values["trade_time"] = TimeStat(first->time);
  st.max_values["trade_time"] = TimeStat(last->time);
  return st;
}

DeltaStats BarStats(const std::vector<GoldBar>& bars) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(bars.size());
  if (bars.empty()) return st;
  auto [first, last] = std::minmax_element(
      bars.begin(), bars.end(), [](const GoldBar& a, const GoldBar& b) { return a.period_start < b.period_start; });
  st.min_values["period_start"] = TimeStat(first->period_start);
  st.max_values["period_start"] = TimeStat(last->period_start);
  return st;
}

// Builds a lake the way the ETL commits one: Parquet files through the real
// writers, then one CommitLake with each table's Delta commit. Each call of
// AddPartition adds one (product, date) partition of Silver and bars_1m, and
// the partition's audit.data_quality row; Commit() adds, per product, one
// gold.trades_hourly and one gold.trades_daily file of the bars of the
// trades added (the lake's product partitions; a file per commit keeps
// the test simple, bars of different commits never share a period here).
class LakeWriter {
 public:
  explicit LakeWriter(const std::string& root) {
    auto store = OpenLocalStore(root);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (store.ok()) store_ = std::move(store).value();
    if (store_ == nullptr) return;
    auto current = LoadCurrentSnapshot(store_.get());
    EXPECT_TRUE(current.ok()) << current.status().ToString();
    if (current.ok()) next_ = std::move(current).value();
    next_.seq += 1;
    next_.commits.clear();
    next_.legacy.reset();
  }

  // `rejected`: records of this Bronze partition rejected, by rule.
  void AddPartition(const std::string& product, const std::string& date, const std::vector<SilverTrade>& trades,
                    std::map<std::string, int64_t> rejected = {}) {
    ASSERT_NE(store_, nullptr);
    const std::string partition = PartitionName(product, date);
    ASSERT_NO_FATAL_FAILURE(Write(kSilverTrades, fmt::format("{}{}/part-{}.parquet", TableFolder(kSilverTrades),
                                                             partition, next_.seq),
                                  WriteSilverTrades, trades, SilverStats(trades)));
    auto bars = AggregateBars(trades, kMicrosPerMinute);
    ASSERT_TRUE(bars.ok()) << bars.status().ToString();
    ASSERT_NO_FATAL_FAILURE(Write(kGoldBars1m, fmt::format("{}{}/part-{}.parquet", TableFolder(kGoldBars1m),
                                                           partition, next_.seq),
                                  WriteGoldBars, *bars, BarStats(*bars)));
    auto& added = trades_[product];
    added.insert(added.end(), trades.begin(), trades.end());
    QualityCounters q;
    q.inserted = static_cast<int64_t>(trades.size());
    q.rejected = std::move(rejected);
    q.records = q.inserted + q.rejected_total();
    next_.totals[product].Add(q);
    QualityRow row;
    row.product_id = product;
    row.date = date;
    row.etl_seq = next_.seq;
    row.records = q.records;
    row.inserted = q.inserted;
    row.rejected = q.rejected_total();
    std::string rules;
    for (const auto& [rule, n] : q.rejected) rules += fmt::format("{}\"{}\":{}", rules.empty() ? "" : ",", rule, n);
    row.rejected_by_rule = "{" + rules + "}";
    quality_[product].push_back(std::move(row));
  }

  // Rows of audit.candle_reconciliation for (product, date).
  void AddReconciliation(const std::string& product, const std::string& date, const std::vector<ReconRow>& rows) {
    ASSERT_NE(store_, nullptr);
    DeltaStats st;
    st.num_records = static_cast<int64_t>(rows.size());
    ASSERT_NO_FATAL_FAILURE(Write(kAuditReconciliation,
                                  fmt::format("{}{}/part-{}.parquet", TableFolder(kAuditReconciliation),
                                              PartitionName(product, date), next_.seq),
                                  WriteReconRows, rows, st));
  }

  void Commit(std::string_view committed_at) {
    ASSERT_NE(store_, nullptr);
    next_.committed_at = T(committed_at);
    for (auto& [product, rows] : quality_) {
      for (auto& row : rows) row.committed_at = next_.committed_at;
      DeltaStats st;
      st.num_records = static_cast<int64_t>(rows.size());
      ASSERT_NO_FATAL_FAILURE(Write(kAuditQuality, fmt::format("{}{}/part-{}.parquet", TableFolder(kAuditQuality),
                                                               ProductPartitionName(product), next_.seq),
                                    WriteQualityRows, rows, st));
    }
    for (auto& [product, trades] : trades_) {
      std::sort(trades.begin(), trades.end(),
                [](const SilverTrade& a, const SilverTrade& b) { return a.trade_id < b.trade_id; });
      for (auto [table, period] : {std::pair{kGoldHourly, kMicrosPerHour}, std::pair{kGoldDaily, kMicrosPerDay}}) {
        auto bars = AggregateBars(trades, period);
        ASSERT_TRUE(bars.ok()) << bars.status().ToString();
        ASSERT_NO_FATAL_FAILURE(Write(table, fmt::format("{}{}/part-{}.parquet", TableFolder(table),
                                                         ProductPartitionName(product), next_.seq),
                                      WriteGoldBars, *bars, BarStats(*bars)));
      }
    }
    for (auto& [table, commit] : next_.commits) commit.timestamp = next_.committed_at / 1000;
    Status s = CommitLake(store_.get(), &next_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

 private:
  template <typename Rows, typename Writer>
  void Write(std::string_view table, const std::string& key, Writer writer, const Rows& rows, const DeltaStats& stats) {
    auto path = store_->LocalPath(key);
    ASSERT_TRUE(path.has_value()) << key;
    Status s = writer(rows, *path);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto add = AddFileFor(store_.get(), table, key, stats);
    ASSERT_TRUE(add.ok()) << add.status().ToString();
    auto [commit, inserted] = next_.commits.try_emplace(std::string(table));
    if (inserted && !next_.versions.count(commit->first)) {  // version 0 creates the table
      commit->second.protocol = DeltaProtocol{};
      commit->second.metadata = DeltaMetadataFor(table, T("2024-05-01T00:00:00Z") / 1000);
    }
    commit->second.adds.push_back(std::move(add).value());
  }

  std::unique_ptr<ObjectStore> store_;
  Snapshot next_;
  std::map<std::string, std::vector<SilverTrade>> trades_;
  std::map<std::string, std::vector<QualityRow>> quality_;
};

// The test lake, commit 1:
//   BTC-USD 2024-05-01: ids 1-4; 2024-05-02: ids 5 and 7 (one id gap, 2 rejected)
//   ETH-USD 2024-05-02: ids 10, 11
void BuildLake(const std::string& root) {
  LakeWriter lake(root);
  ASSERT_NO_FATAL_FAILURE(lake.AddPartition("BTC-USD", "2024-05-01",
                                            {Trade("BTC-USD", 1, "2024-05-01T10:00:05Z", "100", "1", "buy"),
                                             Trade("BTC-USD", 2, "2024-05-01T10:00:30Z", "101.5", "2", "sell"),
                                             Trade("BTC-USD", 3, "2024-05-01T10:01:10Z", "99", "0.5", "buy"),
                                             Trade("BTC-USD", 4, "2024-05-01T11:30:00Z", "102", "1", "sell")}));
  ASSERT_NO_FATAL_FAILURE(lake.AddPartition("BTC-USD", "2024-05-02",
                                            {Trade("BTC-USD", 5, "2024-05-02T00:00:01Z", "103", "1", "buy"),
                                             Trade("BTC-USD", 7, "2024-05-02T09:15:00.25Z", "104.25", "0.25", "sell")},
                                            {{"price_not_positive", 2}}));
  ASSERT_NO_FATAL_FAILURE(lake.AddPartition("ETH-USD", "2024-05-02",
                                            {Trade("ETH-USD", 10, "2024-05-02T12:00:00Z", "3000", "0.1", "buy"),
                                             Trade("ETH-USD", 11, "2024-05-02T12:00:30Z", "3001", "0.2", "buy")}));
  // ETH-USD's two minutes against the exchange's candles: one matches, one
  // differs; BTC-USD's reconciliation is older than a day (not counted).
  auto recon = [](const char* product, const char* minute, const char* status) {
    ReconRow r;
    r.product_id = product;
    r.minute = T(minute);
    r.status = status;
    r.reconciled_at = T("2024-05-02T12:20:00Z");
    return r;
  };
  ASSERT_NO_FATAL_FAILURE(lake.AddReconciliation(
      "ETH-USD", "2024-05-02",
      {recon("ETH-USD", "2024-05-02T12:00:00Z", "match"), recon("ETH-USD", "2024-05-02T12:01:00Z", "differs")}));
  ASSERT_NO_FATAL_FAILURE(
      lake.AddReconciliation("BTC-USD", "2024-05-01", {recon("BTC-USD", "2024-05-01T10:00:00Z", "differs")}));
  ASSERT_NO_FATAL_FAILURE(lake.Commit("2024-05-02T12:30:00Z"));
}

// A parsed JSON document that owns its parser.
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;

  std::string Str(std::string_view pointer) {
    std::string_view s;
    EXPECT_EQ(root.at_pointer(pointer).get_string().get(s), simdjson::SUCCESS) << pointer;
    return std::string(s);
  }
  int64_t Int(std::string_view pointer) {
    int64_t v = -1;
    EXPECT_EQ(root.at_pointer(pointer).get_int64().get(v), simdjson::SUCCESS) << pointer;
    return v;
  }
  double Dbl(std::string_view pointer) {
    double v = -1;
    EXPECT_EQ(root.at_pointer(pointer).get_double().get(v), simdjson::SUCCESS) << pointer;
    return v;
  }
  size_t Size(std::string_view pointer) {
    simdjson::dom::array a;
    EXPECT_EQ(root.at_pointer(pointer).get_array().get(a), simdjson::SUCCESS) << pointer;
    return a.size();
  }
  bool IsNull(std::string_view pointer) { return root.at_pointer(pointer).is_null(); }
  bool Has(std::string_view pointer) { return root.at_pointer(pointer).error() == simdjson::SUCCESS; }
  bool Bool(std::string_view pointer) {
    bool v = false;
    EXPECT_EQ(root.at_pointer(pointer).get_bool().get(v), simdjson::SUCCESS) << pointer;
    return v;
  }
};

std::unique_ptr<Json> Parse(const std::string& body) {
  auto j = std::make_unique<Json>();
  j->ok = j->parser.parse(body).get(j->root) == simdjson::SUCCESS;
  EXPECT_TRUE(j->ok) << body;
  return j;
}

struct Answer {
  int status = 0;  // 0: no answer
  std::string body;
  httplib::Headers headers;
};

class ApiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();  // NOLINT: lives for the suite
    BuildLake(dir_->path());
    auto store = OpenLakeAs(dir_->path(), "analyst");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = store->release();
    server_ = Start({{"analyst", Sha256Hex(kAnalystToken)}, {"ingest", Sha256Hex(kIngestToken)}}, 0).release();
    ASSERT_NE(server_, nullptr);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete store_;
    delete dir_;
  }

  static std::unique_ptr<ApiServer> Start(std::vector<TokenHash> tokens, int64_t max_scan) {
    ApiServerOptions o;
    o.tokens = std::move(tokens);
    o.max_scan_bytes = max_scan;
    return StartWith(std::move(o));
  }
  // A server on the suite's lake with `o` and the pinned clock.
  static std::unique_ptr<ApiServer> StartWith(ApiServerOptions o) {
    o.sql_threads = 2;
    o.clock = [] { return T("2024-05-02T13:00:00Z"); };
    auto s = ApiServer::Start(store_, std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static Answer Get(ApiServer* server, const std::string& path, std::string_view token = kAnalystToken) {
    httplib::Client client("127.0.0.1", server->port());
    client.set_connection_timeout(10);
    client.set_read_timeout(60);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", fmt::format("Bearer {}", token));
    auto res = client.Get(path.c_str(), headers);
    if (!res) return {};
    return {res->status, res->body, res->headers};
  }
  static Answer Get(const std::string& path, std::string_view token = kAnalystToken) {
    return Get(server_, path, token);
  }
  static Answer Post(ApiServer* server, const std::string& path, const std::string& body,
                     std::string_view content_type = "text/plain", std::string_view token = kAnalystToken) {
    httplib::Client client("127.0.0.1", server->port());
    client.set_connection_timeout(10);
    client.set_read_timeout(60);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", fmt::format("Bearer {}", token));
    auto res = client.Post(path.c_str(), headers, body, std::string(content_type).c_str());
    if (!res) return {};
    return {res->status, res->body, res->headers};
  }
  static Answer Post(const std::string& body, std::string_view content_type = "text/plain",
                     std::string_view token = kAnalystToken) {
    return Post(server_, "/api/v1/sql", body, content_type, token);
  }

  // The JSON error of a 4xx answer, checking its status and that the
  // server keeps answering afterwards.
  static std::string ExpectError(const Answer& a, int status) {
    EXPECT_EQ(a.status, status) << a.body;
    auto j = Parse(a.body);
    std::string message = j->ok ? j->Str("/error") : "";
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(Get("/healthz", "").status, 200);
    return message;
  }

  // The value of one sample line `series value` of a /metrics text, or -1.
  static double Sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  static TempDir* dir_;
  static ObjectStore* store_;
  static ApiServer* server_;
};

TempDir* ApiServerTest::dir_ = nullptr;
ObjectStore* ApiServerTest::store_ = nullptr;
ApiServer* ApiServerTest::server_ = nullptr;

// `gz` decompressed by httplib's gzip decoder (zlib).
std::string Gunzip(const std::string& gz) {
  httplib::detail::gzip_decompressor d;
  std::string out;
  EXPECT_TRUE(d.decompress(gz.data(), gz.size(), [&out](const char* p, size_t n) {
    out.append(p, n);
    return true;
  }));
  return out;
}

// A GET with `accept_encoding`, the body as sent (not decompressed).
Answer GetEncoded(int port, const std::string& path, std::string_view accept_encoding) {
  httplib::Client client("127.0.0.1", port);
  client.set_decompress(false);
  client.set_read_timeout(60);
  auto res = client.Get(path.c_str(), {{"Authorization", fmt::format("Bearer {}", kAnalystToken)},
                                       {"Accept-Encoding", std::string(accept_encoding)}});
  if (!res) return {};
  return {res->status, res->body, res->headers};
}

std::string HeaderOf(const Answer& a, const std::string& name) {
  auto it = a.headers.find(name);
  return it == a.headers.end() ? "" : it->second;
}

// format=columnar read back as rows: the rows answer, field for field.
nlohmann::ordered_json RowsOfColumnar(const std::string& body) {
  using J = nlohmann::ordered_json;
  J j = J::parse(body);
  EXPECT_EQ(j.value("format", ""), "columnar");
  j.erase("format");
  const J cols = j["bars"];
  J rows = J::array();
  for (size_t i = 0; i < cols["time"].size(); ++i) {
    J row = J::object();
    for (std::string_view f : {"time", "open", "high", "low", "close", "volume", "quote_volume", "vwap", "trades",
                               "buy_volume", "sell_volume"}) {
      const std::string name(f);
      EXPECT_EQ(cols[name].size(), cols["time"].size()) << name;
      row[name] = cols[name][i];
    }
    if (cols.contains("provisional") && cols["provisional"][i].get<bool>()) {
      row["provisional"] = true;
      row["complete"] = cols["complete"][i];
    } else if (cols.contains("complete")) {
      EXPECT_TRUE(cols["complete"][i].is_null());
    }
    rows.push_back(std::move(row));
  }
  j["bars"] = std::move(rows);
  return j;
}

// The columnar answer of `query` equals its rows answer; the rows answer is
// the JSON library's own compact text. Returns the number of bars.
size_t ExpectColumnarEqualsRows(ApiServer* server, const std::string& query) {
  const Answer rows = GetEncoded(server->port(), "/api/v1/bars?" + query, "identity");
  const Answer cols = GetEncoded(server->port(), "/api/v1/bars?format=columnar&" + query, "gzip");
  EXPECT_EQ(rows.status, 200) << query << ": " << rows.body;
  EXPECT_EQ(cols.status, 200) << query << ": " << cols.body;
  if (rows.status != 200 || cols.status != 200) return 0;
  const std::string columnar = HeaderOf(cols, "Content-Encoding") == "gzip" ? Gunzip(cols.body) : cols.body;
  const auto expected = nlohmann::ordered_json::parse(rows.body);
  EXPECT_EQ(expected.dump(), rows.body) << query;
  EXPECT_EQ(RowsOfColumnar(columnar), expected) << query << "\n" << columnar;
  const size_t n = expected["bars"].size();
  if (n >= 3) {
    EXPECT_LT(columnar.size(), rows.body.size()) << query;  // the keys once, not per bar
  }
  return n;
}


TEST_F(ApiServerTest, HealthzNeedsNoToken) {
  Answer a = Get("/healthz", "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "ok\n");
}

TEST_F(ApiServerTest, ProductsListsGoldProductsWithTheirDates) {
  Answer a = Get("/api/v1/products");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.body,
            "{\"commit\":1,\"products\":["
            "{\"product\":\"BTC-USD\",\"first_date\":\"2024-05-01\",\"last_date\":\"2024-05-02\"},"
            "{\"product\":\"ETH-USD\",\"first_date\":\"2024-05-02\",\"last_date\":\"2024-05-02\"}]}");
}

TEST_F(ApiServerTest, HourlyBarsAreExactDecimalsWithRfc3339Times) {
  Answer a = Get("/api/v1/bars?product=BTC-USD&interval=1h&from=2024-05-01&to=2024-05-03");
  ASSERT_EQ(a.status, 200) << a.body;
  auto j = Parse(a.body);
  EXPECT_EQ(j->Str("/product"), "BTC-USD");
  EXPECT_EQ(j->Str("/interval"), "1h");
  EXPECT_EQ(j->Str("/from"), "2024-05-01T00:00:00Z");
  EXPECT_EQ(j->Str("/to"), "2024-05-03T00:00:00Z");
  ASSERT_EQ(j->Size("/bars"), 4u);
  EXPECT_EQ(j->Str("/bars/0/time"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(j->Str("/bars/0/open"), "100");
  EXPECT_EQ(j->Str("/bars/0/high"), "101.5");
  EXPECT_EQ(j->Str("/bars/0/low"), "99");
  EXPECT_EQ(j->Str("/bars/0/close"), "99");
  EXPECT_EQ(j->Str("/bars/0/volume"), "3.5");
  EXPECT_EQ(j->Str("/bars/0/quote_volume"), "352.5");
  EXPECT_EQ(j->Str("/bars/0/vwap"), "100.714285714285714286");
  EXPECT_EQ(j->Int("/bars/0/trades"), 3);
  EXPECT_EQ(j->Str("/bars/0/buy_volume"), "2");  // taker bought trade 2 (maker sold)
  EXPECT_EQ(j->Str("/bars/0/sell_volume"), "1.5");
  EXPECT_EQ(j->Str("/bars/1/time"), "2024-05-01T11:00:00Z");
  EXPECT_EQ(j->Str("/bars/2/time"), "2024-05-02T00:00:00Z");
  EXPECT_EQ(j->Str("/bars/3/time"), "2024-05-02T09:00:00Z");
  EXPECT_EQ(j->Str("/bars/3/close"), "104.25");
}

TEST_F(ApiServerTest, MinuteAndDailyBarsComeFromTheirTables) {
  Answer m = Get("/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01T10:00:00Z&to=2024-05-01T10:02:00Z");
  ASSERT_EQ(m.status, 200) << m.body;
  auto jm = Parse(m.body);
  ASSERT_EQ(jm->Size("/bars"), 2u);
  EXPECT_EQ(jm->Str("/bars/0/time"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(jm->Int("/bars/0/trades"), 2);
  EXPECT_EQ(jm->Str("/bars/1/time"), "2024-05-01T10:01:00Z");
  EXPECT_EQ(jm->Str("/bars/1/open"), "99");

  Answer d = Get("/api/v1/bars?product=BTC-USD&interval=1d&from=2024-04-01&to=2024-06-01");
  ASSERT_EQ(d.status, 200) << d.body;
  auto jd = Parse(d.body);
  ASSERT_EQ(jd->Size("/bars"), 2u);
  EXPECT_EQ(jd->Str("/bars/0/time"), "2024-05-01T00:00:00Z");
  EXPECT_EQ(jd->Int("/bars/0/trades"), 4);
  EXPECT_EQ(jd->Str("/bars/1/volume"), "1.25");
}

TEST_F(ApiServerTest, TradesAreNewestFirstAndLimited) {
  Answer a = Get("/api/v1/trades?product=BTC-USD&from=2024-05-01&to=2024-05-03&limit=2");
  ASSERT_EQ(a.status, 200) << a.body;
  auto j = Parse(a.body);
  EXPECT_EQ(j->Int("/limit"), 2);
  ASSERT_EQ(j->Size("/trades"), 2u);
  EXPECT_EQ(j->Int("/trades/0/trade_id"), 7);
  EXPECT_EQ(j->Str("/trades/0/time"), "2024-05-02T09:15:00.25Z");
  EXPECT_EQ(j->Str("/trades/0/price"), "104.25");
  EXPECT_EQ(j->Str("/trades/0/size"), "0.25");
  EXPECT_EQ(j->Str("/trades/0/side"), "sell");
  EXPECT_EQ(j->Str("/trades/0/taker_side"), "buy");
  EXPECT_EQ(j->Int("/trades/1/trade_id"), 5);

  // Default limit (100) and default range (the day before the pinned now).
  Answer d = Get("/api/v1/trades?product=ETH-USD");
  ASSERT_EQ(d.status, 200) << d.body;
  auto jd = Parse(d.body);
  EXPECT_EQ(jd->Int("/limit"), 100);
  EXPECT_EQ(jd->Str("/from"), "2024-05-01T13:00:00Z");
  ASSERT_EQ(jd->Size("/trades"), 2u);
  EXPECT_EQ(jd->Int("/trades/0/trade_id"), 11);
}

TEST_F(ApiServerTest, StatusReportsFreshnessQualityAndTables) {
  Answer a = Get("/api/v1/status");
  ASSERT_EQ(a.status, 200) << a.body;
  auto j = Parse(a.body);
  EXPECT_EQ(j->Str("/now"), "2024-05-02T13:00:00Z");
  EXPECT_EQ(j->Int("/catalog/commit"), 1);
  EXPECT_EQ(j->Str("/catalog/committed_at"), "2024-05-02T12:30:00Z");
  ASSERT_EQ(j->Size("/products"), 2u);
  EXPECT_EQ(j->Str("/products/0/product"), "BTC-USD");
  EXPECT_EQ(j->Str("/products/0/last_trade_time"), "2024-05-02T09:15:00.25Z");
  EXPECT_DOUBLE_EQ(j->Dbl("/products/0/freshness_seconds"), 13499.75);
  EXPECT_EQ(j->Int("/products/0/silver_rows"), 6);
  EXPECT_EQ(j->Int("/products/0/records"), 8);
  EXPECT_EQ(j->Int("/products/0/rejected"), 2);
  EXPECT_EQ(j->Int("/products/0/id_gaps"), 1);
  EXPECT_EQ(j->Str("/products/1/product"), "ETH-USD");
  EXPECT_DOUBLE_EQ(j->Dbl("/products/1/freshness_seconds"), 3570);
  EXPECT_EQ(j->Int("/products/1/rejected"), 0);
  std::map<std::string, int64_t> files;
  for (size_t i = 0; i < j->Size("/tables"); ++i) {
    files[j->Str(fmt::format("/tables/{}/name", i))] = j->Int(fmt::format("/tables/{}/files", i));
    EXPECT_GE(j->Int(fmt::format("/tables/{}/bytes", i)), 0);
  }
  EXPECT_EQ(files["silver.trades"], 3);
  EXPECT_EQ(files["gold.trades_hourly"], 2);  // a file per product (and month)
  EXPECT_EQ(files["gold.bars_1m"], 3);
}

TEST_F(ApiServerTest, ReconciliationWithTheExchangeInStatusMetricsAndItsEndpoint) {
  auto status = Parse(Get("/api/v1/status").body);
  EXPECT_EQ(status->Str("/products/1/product"), "ETH-USD");
  EXPECT_EQ(status->Int("/products/1/candles/compared"), 2);
  EXPECT_EQ(status->Int("/products/1/candles/matched"), 1);
  EXPECT_DOUBLE_EQ(status->Dbl("/products/1/candles/match_share"), 0.5);
  EXPECT_EQ(status->Str("/products/1/candles/last_minute"), "2024-05-02T12:01:00Z");
  simdjson::dom::element btc;
  ASSERT_EQ(status->root.at_pointer("/products/0/candles").get(btc), simdjson::SUCCESS);
  EXPECT_TRUE(btc.is_null());  // its only row is older than a day

  Answer a = Get("/api/v1/reconciliation?product=ETH-USD");
  ASSERT_EQ(a.status, 200) << a.body;
  auto j = Parse(a.body);
  EXPECT_EQ(j->Int("/compared"), 2);
  ASSERT_EQ(j->Size("/minutes"), 1u);
  EXPECT_EQ(j->Str("/minutes/0/minute"), "2024-05-02T12:01:00Z");
  EXPECT_EQ(j->Str("/minutes/0/status"), "differs");
  EXPECT_EQ(Get("/api/v1/reconciliation?product=ETH-USD'--").status, 400);
  EXPECT_EQ(Get("/api/v1/reconciliation?product=ETH-USD", kIngestToken).status, 403);

  const std::string metrics = Get("/metrics", "").body;
  EXPECT_NE(metrics.find("tradelake_candle_match_ratio{product=\"ETH-USD\"} 0.5\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("tradelake_candle_minutes_compared{product=\"ETH-USD\"} 2\n"), std::string::npos);
}

TEST_F(ApiServerTest, SqlReturnsTypedColumnsRowsAndScan) {
  Answer a = Post(
      "SELECT product_id, count(*) AS n, sum(size) AS volume FROM silver.trades "
      "WHERE product_id = 'BTC-USD' GROUP BY 1");
  ASSERT_EQ(a.status, 200) << a.body;
  auto j = Parse(a.body);
  EXPECT_EQ(j->Str("/statement_type"), "SELECT");
  ASSERT_EQ(j->Size("/columns"), 3u);
  EXPECT_EQ(j->Str("/columns/0/name"), "product_id");
  EXPECT_EQ(j->Str("/columns/0/type"), "VARCHAR");
  EXPECT_EQ(j->Str("/columns/1/type"), "BIGINT");
  EXPECT_EQ(j->Str("/columns/2/type"), "DECIMAL(38,18)");
  ASSERT_EQ(j->Size("/rows"), 1u);
  EXPECT_EQ(j->Str("/rows/0/0"), "BTC-USD");
  EXPECT_EQ(j->Int("/rows/0/1"), 6);
  EXPECT_EQ(j->Str("/rows/0/2"), "5.750000000000000000");
  EXPECT_EQ(j->Int("/scan/files_read"), 2);  // BTC's two partitions only
  EXPECT_EQ(j->Int("/scan/files_total"), 3);
  EXPECT_GT(j->Int("/scan/bytes_read"), 0);
  EXPECT_EQ(j->Int("/scan/rows"), 1);
  EXPECT_GT(j->Dbl("/scan/athena_usd"), 0);

  Answer js = Post("{\"sql\": \"SELECT 40 + 2 AS answer\"}", "application/json");
  ASSERT_EQ(js.status, 200) << js.body;
  EXPECT_EQ(Parse(js.body)->Int("/rows/0/0"), 42);
}

TEST_F(ApiServerTest, BadParametersAreJson400sAndTheServerKeepsServing) {
  EXPECT_NE(ExpectError(Get("/api/v1/bars?interval=1h"), 400).find("missing parameter product"), std::string::npos);
  ExpectError(Get("/api/v1/bars?product=BTC%20USD&interval=1h"), 400);
  ExpectError(Get("/api/v1/bars?product=../etc&interval=1h"), 400);
  EXPECT_NE(ExpectError(Get("/api/v1/bars?product=FOO-USD&interval=1h"), 404).find("FOO-USD"), std::string::npos);
  EXPECT_NE(ExpectError(Get("/api/v1/bars?product=BTC-USD&interval=5m"), 400).find("interval"), std::string::npos);
  EXPECT_NE(ExpectError(Get("/api/v1/bars?product=BTC-USD&interval=1h&from=yesterday"), 400).find("from"),
            std::string::npos);
  ExpectError(Get("/api/v1/bars?product=BTC-USD&interval=1h&from=2024-05-03&to=2024-05-01"), 400);
  EXPECT_NE(
      ExpectError(Get("/api/v1/bars?product=BTC-USD&interval=1m&from=2024-03-01&to=2024-05-01"), 400).find("31"),
      std::string::npos);
  ExpectError(Get("/api/v1/bars?product=BTC-USD&interval=1h&from=2010-01-01&to=2024-05-01"), 400);
  EXPECT_NE(ExpectError(Get("/api/v1/trades?product=BTC-USD&limit=10001"), 400).find("limit"), std::string::npos);
  ExpectError(Get("/api/v1/trades?product=BTC-USD&limit=abc"), 400);
  ExpectError(Get("/api/v1/trades?product=BTC-USD&limit=0"), 400);
  EXPECT_NE(ExpectError(Get("/api/v1/nope"), 404).find("/api/v1/nope"), std::string::npos);
  ExpectError(Get("/api/v1/sql"), 404);  // GET on a POST endpoint
}

TEST_F(ApiServerTest, SqlErrorsMapToHttpStatuses) {
  ExpectError(Post("SELEC 1"), 400);
  EXPECT_NE(ExpectError(Post("COPY (SELECT 1) TO '/tmp/tl_api_copy.csv'"), 403).find("COPY"), std::string::npos);
  ExpectError(Post(""), 400);
  ExpectError(Post("{\"query\": 1}", "application/json"), 400);
  const std::string big(70 * 1024, ' ');
  ExpectError(Post("SELECT 1" + big), 413);
  EXPECT_FALSE(fs::exists("/tmp/tl_api_copy.csv"));
}

TEST_F(ApiServerTest, ScanLimitRefusesWithTheSizes) {
  auto limited = Start({{"analyst", Sha256Hex(kAnalystToken)}}, 1);
  ASSERT_NE(limited, nullptr);
  Answer a = Post(limited.get(), "/api/v1/sql", "SELECT count(*) FROM silver.trades");
  EXPECT_EQ(a.status, 400) << a.body;
  const std::string message = Parse(a.body)->Str("/error");
  EXPECT_NE(message.find("scan limit"), std::string::npos) << message;
  EXPECT_NE(message.find("bytes"), std::string::npos) << message;
  EXPECT_EQ(Post(limited.get(), "/api/v1/sql", "SELECT 1").status, 200);
}

TEST_F(ApiServerTest, TokensAndRolesAreEnforced) {
  Answer none = Get("/api/v1/products", "");
  EXPECT_EQ(none.status, 401) << none.body;
  auto challenge = none.headers.find("WWW-Authenticate");
  ASSERT_NE(challenge, none.headers.end());
  EXPECT_TRUE(challenge->second.starts_with("Bearer")) << challenge->second;
  ExpectError(none, 401);
  ExpectError(Get("/api/v1/products", "not-a-token"), 401);
  EXPECT_NE(ExpectError(Post("SELECT 1", "text/plain", kIngestToken), 403).find("ingest"), std::string::npos);
  ExpectError(Get("/api/v1/bars?product=BTC-USD", kIngestToken), 403);
  EXPECT_EQ(Get("/api/v1/status", kIngestToken).status, 200);
  EXPECT_EQ(Get("/metrics", "").status, 200);
}

TEST(ApiServerAuth, RoleTableAndTokenHashes) {
  EXPECT_TRUE(RoleMayUse("analyst", "/api/v1/sql"));
  EXPECT_TRUE(RoleMayUse("admin", "/api/v1/sql"));
  EXPECT_FALSE(RoleMayUse("etl", "/api/v1/sql"));
  EXPECT_TRUE(RoleMayUse("etl", "/api/v1/status"));
  EXPECT_FALSE(RoleMayUse("analyst", "/api/v1/unknown"));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto t = ParseTokenHash("analyst:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->role, "analyst");
  EXPECT_EQ(t->sha256_hex, Sha256Hex("abc"));
  EXPECT_FALSE(ParseTokenHash("root:" + Sha256Hex("abc")).ok());
  EXPECT_FALSE(ParseTokenHash("analyst:abc").ok());
  EXPECT_FALSE(ParseTokenHash(Sha256Hex("abc")).ok());
}

TEST_F(ApiServerTest, WithoutTokensLoopbackClientsAreServed) {
  auto open = Start({}, 0);
  ASSERT_NE(open, nullptr);
  EXPECT_TRUE(open->open_mode());
  EXPECT_EQ(Get(open.get(), "/api/v1/products", "").status, 200);
  EXPECT_EQ(Post(open.get(), "/api/v1/sql", "SELECT 1", "text/plain", "").status, 200);
}

// Every sample line is `name{labels} value`.
TEST_F(ApiServerTest, MetricsAreParseableAndCountersIncrease) {
  const auto sample = &ApiServerTest::Sample;
  const std::string healthz = "tradelake_http_requests_total{path=\"/healthz\",code=\"200\"}";
  const std::string ok_statements = "tradelake_sql_statements_total{outcome=\"ok\"}";
  EXPECT_EQ(Get("/healthz", "").status, 200);
  ASSERT_EQ(Post("SELECT count(*) FROM gold.trades_daily").status, 200);
  const std::string before = Get("/metrics", "").body;
  EXPECT_EQ(Get("/healthz", "").status, 200);
  ASSERT_EQ(Post("SELECT count(*) FROM gold.trades_daily").status, 200);
  const std::string after = Get("/metrics", "").body;

  const std::regex sample_line(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.eE+-]+$)");
  std::istringstream in(after);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample_line)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 5);
  EXPECT_GE(sample(before, healthz), 1);
  EXPECT_EQ(sample(after, healthz), sample(before, healthz) + 1);
  EXPECT_EQ(sample(after, ok_statements), sample(before, ok_statements) + 1);
  EXPECT_GT(sample(after, "tradelake_sql_bytes_scanned_total"), sample(before, "tradelake_sql_bytes_scanned_total"));
  EXPECT_EQ(sample(after, "tradelake_catalog_commit"), 1);
  EXPECT_EQ(sample(after, "tradelake_freshness_seconds{product=\"ETH-USD\"}"), 3570);
  EXPECT_NE(after.find("# TYPE tradelake_http_requests_total counter"), std::string::npos);
  EXPECT_NE(after.find("# TYPE tradelake_freshness_seconds gauge"), std::string::npos);
}

TEST_F(ApiServerTest, ConcurrentBarRequestsAllSucceed) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&ok, t] {
      httplib::Client client("127.0.0.1", server_->port());
      client.set_connection_timeout(10);
      client.set_read_timeout(60);
      const httplib::Headers headers = {{"Authorization", fmt::format("Bearer {}", kAnalystToken)}};
      for (int i = 0; i < 50; ++i) {
        const char* interval = (i + t) % 2 == 0 ? "1h" : "1m";
        auto res = client.Get(
            fmt::format("/api/v1/bars?product=BTC-USD&interval={}&from=2024-05-01&to=2024-05-02", interval).c_str(),
            headers);
        if (res && res->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8 * 50);
}

// A server over a freshly built lake (BuildLake) that re-reads the catalog
// on every request, and a writer that commits one more partition under it.
class RefreshingLake {
 public:
  void Start() {
    BuildLake(dir_.path());
    auto store = OpenLakeAs(dir_.path(), "analyst");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    ApiServerOptions o;
    o.refresh_interval_micros = 0;
    o.sql_threads = 1;
    auto server = ApiServer::Start(store_.get(), o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(60);
  }

  // Commits seq 2: the current snapshot plus one partition holding `trade`.
  void CommitOneMore(const std::string& product, const std::string& date, const SilverTrade& trade,
                     std::string_view committed_at) {
    LakeWriter writer(dir_.path());
    ASSERT_NO_FATAL_FAILURE(writer.AddPartition(product, date, {trade}));
    ASSERT_NO_FATAL_FAILURE(writer.Commit(committed_at));
  }

  ApiServer* server() { return server_.get(); }
  httplib::Client& client() { return *client_; }
  std::string dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST(ApiServerRefresh, ServesANewCommitWithoutRestart) {
  RefreshingLake lake;
  ASSERT_NO_FATAL_FAILURE(lake.Start());
  httplib::Client& client = lake.client();
  auto before = client.Get("/api/v1/products");
  ASSERT_TRUE(before);
  EXPECT_EQ(Parse(before->body)->Int("/commit"), 1);

  ASSERT_NO_FATAL_FAILURE(lake.CommitOneMore("SOL-USD", "2024-05-02",
                                             Trade("SOL-USD", 100, "2024-05-02T13:00:00Z", "150", "3", "buy"),
                                             "2024-05-02T13:30:00Z"));

  auto after = client.Get("/api/v1/products");
  ASSERT_TRUE(after);
  auto j = Parse(after->body);
  EXPECT_EQ(j->Int("/commit"), 2);
  ASSERT_EQ(j->Size("/products"), 3u);
  EXPECT_EQ(j->Str("/products/2/product"), "SOL-USD");
  auto bars = client.Get("/api/v1/bars?product=SOL-USD&interval=1d&from=2024-05-01&to=2024-05-03");
  ASSERT_TRUE(bars);
  EXPECT_EQ(bars->status, 200) << bars->body;
  EXPECT_NE(lake.server()->MetricsText().find("tradelake_catalog_commit 2"), std::string::npos);
}

// Status's Silver figures are kept per partition, redone only for the
// partitions a commit changed: after each commit they equal a computation
// from the whole Delta log, for every product (new, changed or untouched).
TEST(ApiServerRefresh, StatusSilverFiguresAfterEachCommitEqualAFreshComputation) {
  RefreshingLake lake;
  ASSERT_NO_FATAL_FAILURE(lake.Start());
  auto check = [&](int64_t commit) {
    auto a = lake.client().Get("/api/v1/status");
    ASSERT_TRUE(a);
    ASSERT_EQ(a->status, 200) << a->body;
    auto j = Parse(a->body);
    ASSERT_EQ(j->Int("/catalog/commit"), commit);
    auto store = OpenLocalStore(lake.dir());
    ASSERT_TRUE(store.ok());
    auto state = LoadLakeState(store->get());
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    auto partitions = SilverStatsByPartition(*state);
    ASSERT_TRUE(partitions.ok()) << partitions.status().ToString();
    std::map<std::string, std::pair<int64_t, int64_t>> want, got;  // product -> rows, id gaps
    for (const auto& [key, st] : *partitions) {
      want[key.first].first += st.rows;
      want[key.first].second += st.id_gaps;
    }
    for (size_t i = 0; i < j->Size("/products"); ++i) {
      const std::string product = j->Str(fmt::format("/products/{}/product", i));
      if (!want.count(product)) continue;  // a product known from elsewhere (Gold, reconciliation)
      got[product] = {j->Int(fmt::format("/products/{}/silver_rows", i)), j->Int(fmt::format("/products/{}/id_gaps", i))};
    }
    EXPECT_EQ(got, want) << "commit " << commit;
  };
  ASSERT_NO_FATAL_FAILURE(check(1));
  // A new product; a new file in a partition that had one; a new day.
  ASSERT_NO_FATAL_FAILURE(lake.CommitOneMore("SOL-USD", "2024-05-02",
                                             Trade("SOL-USD", 100, "2024-05-02T13:00:00Z", "150", "3", "buy"),
                                             "2024-05-02T13:30:00Z"));
  ASSERT_NO_FATAL_FAILURE(check(2));
  ASSERT_NO_FATAL_FAILURE(lake.CommitOneMore("BTC-USD", "2024-05-02",
                                             Trade("BTC-USD", 40, "2024-05-02T12:59:00Z", "64000", "1", "sell"),
                                             "2024-05-02T13:31:00Z"));
  ASSERT_NO_FATAL_FAILURE(check(3));
  ASSERT_NO_FATAL_FAILURE(lake.CommitOneMore("ETH-USD", "2024-05-03",
                                             Trade("ETH-USD", 900, "2024-05-03T00:00:01Z", "3000", "2", "buy"),
                                             "2024-05-03T00:01:00Z"));
  ASSERT_NO_FATAL_FAILURE(check(4));
  auto a = lake.client().Get("/api/v1/status");
  ASSERT_TRUE(a);
  auto j = Parse(a->body);
  for (size_t i = 0; i < j->Size("/products"); ++i) {
    const std::string product = j->Str(fmt::format("/products/{}/product", i));
    const std::string last = j->Str(fmt::format("/products/{}/last_trade_time", i));
    if (product == "ETH-USD") {
      EXPECT_EQ(last, "2024-05-03T00:00:01Z");
    } else if (product == "SOL-USD") {
      EXPECT_EQ(last, "2024-05-02T13:00:00Z");
    }
  }
}

// ------------------------------------------------------------ the pipeline

// A stand-in for `tradelake run`'s pipeline: a schedule that records who
// paused or resumed it, or refuses with `refuse`.
// The live tail of `tradelake run`: 1m bars end with the provisional bars
// after Gold's newest minute, marked, and /api/v1/live streams them.
TEST_F(ApiServerTest, MinuteBarsEndWithTheLiveTailsProvisionalBarsAndLiveStreamsThem) {
  // Gold's newest BTC-USD minute, as the server reads it.
  Answer gold = Get("/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01&to=2024-05-03");
  ASSERT_EQ(gold.status, 200) << gold.body;
  auto jg = Parse(gold.body);
  const size_t n = jg->Size("/bars");
  ASSERT_GT(n, 0u);
  const std::string last_gold = jg->Str(fmt::format("/bars/{}/time", n - 1));
  const TimestampMicros m0 = T(last_gold);

  LiveTail tail;
  auto match = [](int64_t id, TimestampMicros t, std::string price, std::string size, std::string side) {
    WsMatch m;
    m.product = "BTC-USD";
    m.trade_id = id;
    m.time = t;
    m.price = std::move(price);
    m.size = std::move(size);
    m.side = std::move(side);
    return m;
  };
  // One trade in Gold's newest minute (Gold's bar of that minute may lack
  // later trades: the tail's replaces it), three in the next minute and one
  // in the minute after.
  ASSERT_TRUE(tail.Add(match(900, m0 + 5 * kMicrosPerSecond, "104", "1", "buy")).ok());
  ASSERT_TRUE(tail.Add(match(1001, m0 + kMicrosPerMinute + 1, "105.5", "0.5", "sell")).ok());
  ASSERT_TRUE(tail.Add(match(1002, m0 + kMicrosPerMinute + 2, "106", "0.25", "buy")).ok());
  ASSERT_TRUE(tail.Add(match(1003, m0 + kMicrosPerMinute + 3, "105", "1.25", "sell")).ok());
  ASSERT_TRUE(tail.Add(match(1004, m0 + 2 * kMicrosPerMinute + 9, "107", "2", "buy")).ok());
  // ETH-USD: the tail starts after Gold's newest minute, which stays.
  Answer eth_gold = Get("/api/v1/bars?product=ETH-USD&interval=1m&from=2024-05-01&to=2024-05-03");
  ASSERT_EQ(eth_gold.status, 200) << eth_gold.body;
  auto je = Parse(eth_gold.body);
  const size_t n_eth = je->Size("/bars");
  ASSERT_GT(n_eth, 0u);
  const std::string last_eth = je->Str(fmt::format("/bars/{}/time", n_eth - 1));
  WsMatch eth = match(5000, T(last_eth) + kMicrosPerMinute + 7, "3000", "0.1", "buy");
  eth.product = "ETH-USD";
  ASSERT_TRUE(tail.Add(eth).ok());
  ApiServerOptions o;
  o.tokens = {{"analyst", Sha256Hex(kAnalystToken)}};
  o.pipeline.provisional_bars = [&tail](const std::string& product, TimestampMicros after) {
    return tail.BarsAfter(product, after);
  };
  auto server = StartWith(std::move(o));
  ASSERT_NE(server, nullptr);

  Answer a = Get(server.get(), "/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01&to=2024-05-03");
  ASSERT_EQ(a.status, 200) << a.body;
  auto j = Parse(a.body);
  ASSERT_TRUE(j->ok) << a.body;
  ASSERT_EQ(j->Size("/bars"), n + 2) << a.body;
  // Gold's bars before its newest minute unchanged and unmarked.
  if (n >= 2) {
    EXPECT_EQ(j->Str(fmt::format("/bars/{}/time", n - 2)), jg->Str(fmt::format("/bars/{}/time", n - 2)));
    EXPECT_FALSE(j->Has(fmt::format("/bars/{}/provisional", n - 2)));
  }
  const std::string p0 = fmt::format("/bars/{}", n - 1), p1 = fmt::format("/bars/{}", n),
                    p2 = fmt::format("/bars/{}", n + 1);
  EXPECT_EQ(j->Str(p0 + "/time"), last_gold);
  EXPECT_TRUE(j->Bool(p0 + "/provisional"));
  EXPECT_EQ(j->Int(p0 + "/trades"), 1);
  EXPECT_EQ(j->Str(p0 + "/close"), "104");
  EXPECT_EQ(j->Str(p1 + "/time"), FormatRfc3339Trimmed(m0 + kMicrosPerMinute));
  EXPECT_TRUE(j->Bool(p1 + "/provisional"));
  EXPECT_EQ(j->Str(p1 + "/open"), "105.5");
  EXPECT_EQ(j->Str(p1 + "/high"), "106");
  EXPECT_EQ(j->Str(p1 + "/low"), "105");
  EXPECT_EQ(j->Str(p1 + "/close"), "105");
  EXPECT_EQ(j->Str(p1 + "/volume"), "2");
  EXPECT_EQ(j->Str(p1 + "/quote_volume"), "210.5");  // 52.75 + 26.5 + 131.25
  EXPECT_EQ(j->Str(p1 + "/vwap"), "105.25");
  EXPECT_EQ(j->Int(p1 + "/trades"), 3);
  EXPECT_EQ(j->Str(p1 + "/buy_volume"), "1.75");  // makers sold 0.5 and 1.25: takers bought
  EXPECT_EQ(j->Str(p1 + "/sell_volume"), "0.25");
  EXPECT_EQ(j->Str(p2 + "/time"), FormatRfc3339Trimmed(m0 + 2 * kMicrosPerMinute));
  EXPECT_TRUE(j->Bool(p2 + "/provisional"));
  EXPECT_EQ(j->Int(p2 + "/trades"), 1);
  Answer e = Get(server.get(), "/api/v1/bars?product=ETH-USD&interval=1m&from=2024-05-01&to=2024-05-03");
  ASSERT_EQ(e.status, 200) << e.body;
  auto jeth = Parse(e.body);
  ASSERT_EQ(jeth->Size("/bars"), n_eth + 1) << e.body;
  EXPECT_EQ(jeth->Str(fmt::format("/bars/{}/time", n_eth - 1)), last_eth);
  EXPECT_FALSE(jeth->Has(fmt::format("/bars/{}/provisional", n_eth - 1)));
  EXPECT_TRUE(jeth->Bool(fmt::format("/bars/{}/provisional", n_eth)));
  // A range that ends before the tail, and the hourly bars: nothing added.
  Answer before = Get(server.get(), fmt::format("/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01&to={}",
                                                last_gold));
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(Parse(before.body)->Size("/bars"), n - 1);
  EXPECT_EQ(before.body.find("provisional"), std::string::npos);
  Answer hourly = Get(server.get(), "/api/v1/bars?product=BTC-USD&interval=1h&from=2024-05-01&to=2024-05-03");
  EXPECT_EQ(hourly.body.find("provisional"), std::string::npos);

  // The stream: a commit event, then the bars; a new trade is pushed.
  httplib::Client client("127.0.0.1", server->port());
  client.set_read_timeout(30);
  std::string received;
  bool pushed = false;
  auto res = client.Get("/api/v1/live?product=BTC-USD",
                        httplib::Headers{{"Authorization", fmt::format("Bearer {}", kAnalystToken)}},
                        [&](const char* data, size_t size) {
                          received.append(data, size);
                          if (!pushed && received.find("event: bars") != std::string::npos) {
                            pushed = true;
                            EXPECT_TRUE(tail.Add(match(1005, m0 + 2 * kMicrosPerMinute + 10, "108", "1", "sell")).ok());
                          }
                          return received.find("\"trades\":2") == std::string::npos;  // until the push arrives
                        });
  EXPECT_TRUE(pushed) << received;
  // The bars answer follows the tail: the pushed trade is in its bar (a
  // cached answer is keyed by the tail's bars), in rows and in columns.
  Answer pushed_bars = Get(server.get(), "/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01&to=2024-05-03");
  ASSERT_EQ(pushed_bars.status, 200) << pushed_bars.body;
  EXPECT_EQ(Parse(pushed_bars.body)->Int(p2 + "/trades"), 2);
  EXPECT_EQ(Parse(pushed_bars.body)->Str(p2 + "/close"), "108");
  EXPECT_EQ(ExpectColumnarEqualsRows(server.get(), "product=BTC-USD&interval=1m&from=2024-05-01&to=2024-05-03"),
            n + 2);
  EXPECT_NE(received.find("event: commit\ndata: {\"commit\":1}"), std::string::npos) << received;
  EXPECT_NE(received.find(fmt::format("\"gold_minute\":\"{}\"", last_gold)), std::string::npos) << received;
  EXPECT_NE(received.find("\"trades\":2"), std::string::npos) << received;

  Answer status = Get(server.get(), "/api/v1/status");
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_TRUE(Parse(status.body)->Bool("/live"));
  // Hostile or missing product: 400; a server without a live tail: 404.
  ExpectError(Get(server.get(), "/api/v1/live?product=BTC'USD"), 400);
  ExpectError(Get("/api/v1/live?product=BTC-USD"), 404);
}

class FakePipeline {
 public:
  PipelineHooks Hooks() {
    PipelineHooks h;
    h.status_json = [] { return std::string(R"({"state":"running","runs":3})"); };
    h.schedule_json = [this] { return ScheduleJson(); };
    h.set_paused = [this](bool paused, std::string_view by) -> Result<std::string> {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!refuse_.ok()) return refuse_;
        paused_ = paused;
        by_ = std::string(by);
      }
      return ScheduleJson();
    };
    h.metrics_text = [] {
      return std::string(
          "# HELP tradelake_pipeline_runs_total Pipeline runs.\n"
          "# TYPE tradelake_pipeline_runs_total counter\n"
          "tradelake_pipeline_runs_total 3\n");
    };
    return h;
  }
  void Refuse(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_ = std::move(s);
  }

 private:
  std::string ScheduleJson() {
    std::lock_guard<std::mutex> lock(mu_);
    return fmt::format(R"({{"paused":{},"changed_at":null,"by":"{}"}})", paused_, by_);
  }

  std::mutex mu_;
  bool paused_ = false;
  std::string by_;
  Status refuse_;
};

TEST_F(ApiServerTest, WithoutAPipelineTheScheduleIs404AndStatusShowsNull) {
  for (auto [method, path] : {std::pair{"GET", "/api/v1/schedule"}, std::pair{"POST", "/api/v1/schedule/pause"},
                              std::pair{"POST", "/api/v1/schedule/resume"}}) {
    const bool post = std::string_view(method) == "POST";
    // The token check comes first: a caller without a token learns nothing.
    Answer none = post ? Post(server_, path, "", "text/plain", "") : Get(path, "");
    ExpectError(none, 401);
    Answer a = post ? Post(server_, path, "", "text/plain", kIngestToken) : Get(path, kIngestToken);
    EXPECT_EQ(ExpectError(a, 404), "this server runs no pipeline; start one with `tradelake run`") << path;
  }
  Answer status = Get("/api/v1/status");
  ASSERT_EQ(status.status, 200) << status.body;
  auto j = Parse(status.body);
  EXPECT_TRUE(j->IsNull("/pipeline"));
  EXPECT_FALSE(j->Bool("/live"));
  EXPECT_EQ(j->Int("/catalog/commit"), 1);
  EXPECT_EQ(Get("/metrics", "").body.find("tradelake_pipeline"), std::string::npos);
}

// Tests of the pipeline hooks, on the suite's lake.
class ApiServerPipelineTest : public ApiServerTest {
 protected:
  // A server with a token for every role and `pipeline`'s hooks.
  static std::unique_ptr<ApiServer> StartWithPipeline(FakePipeline* pipeline) {
    ApiServerOptions o;
    o.tokens = EveryRoleToken();
    o.pipeline = pipeline->Hooks();
    return StartWith(std::move(o));
  }
};

TEST_F(ApiServerPipelineTest, IngestAndAdminPauseAndResumeTheSchedule) {
  FakePipeline pipeline;
  auto server = StartWithPipeline(&pipeline);
  ASSERT_NE(server, nullptr);

  Answer before = Get(server.get(), "/api/v1/schedule", "analyst-secret-token");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.body, R"({"paused":false,"changed_at":null,"by":""})");

  Answer paused = Post(server.get(), "/api/v1/schedule/pause", "", "text/plain", "ingest-secret-token");
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(paused.body, R"({"paused":true,"changed_at":null,"by":"ingest"})");
  EXPECT_EQ(Get(server.get(), "/api/v1/schedule", "etl-secret-token").body, paused.body);

  Answer resumed = Post(server.get(), "/api/v1/schedule/resume", "ignored", "text/plain", "admin-secret-token");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(resumed.body, R"({"paused":false,"changed_at":null,"by":"admin"})");

  // Wrong role, no token, unknown token, wrong method.
  const std::string denied =
      ExpectError(Post(server.get(), "/api/v1/schedule/pause", "", "text/plain", "analyst-secret-token"), 403);
  EXPECT_NE(denied.find("ingest,admin"), std::string::npos) << denied;
  Answer none = Post(server.get(), "/api/v1/schedule/pause", "", "text/plain", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.headers.find("WWW-Authenticate"), none.headers.end());
  ExpectError(Post(server.get(), "/api/v1/schedule/resume", "", "text/plain", "not-a-token"), 401);
  ExpectError(Get(server.get(), "/api/v1/schedule/pause", "admin-secret-token"), 404);
  EXPECT_EQ(Get(server.get(), "/api/v1/schedule", "analyst-secret-token").body, resumed.body);  // unchanged

  // The pipeline's refusal is the answer, with its status's code.
  pipeline.Refuse(FailedPrecondition("the pipeline is stopping"));
  EXPECT_EQ(ExpectError(Post(server.get(), "/api/v1/schedule/pause", "", "text/plain", "admin-secret-token"), 400),
            "the pipeline is stopping");
  pipeline.Refuse(Unavailable("the scheduler is busy; try again"));
  ExpectError(Post(server.get(), "/api/v1/schedule/resume", "", "text/plain", "ingest-secret-token"), 503);
}

TEST_F(ApiServerPipelineTest, ScheduleRolesAreExactlyTheEndpointTable) {
  FakePipeline pipeline;
  auto server = StartWithPipeline(&pipeline);
  ASSERT_NE(server, nullptr);
  int checked = 0;
  for (const EndpointRoles& e : kEndpointRoles) {
    if (!e.path.starts_with("/api/v1/schedule")) continue;
    for (std::string_view role : kServeRoles) {
      const std::string token = fmt::format("{}-secret-token", role);
      const std::string path(e.path);
      Answer a =
          e.method == "POST" ? Post(server.get(), path, "", "text/plain", token) : Get(server.get(), path, token);
      EXPECT_EQ(a.status, RoleMayUse(role, e.path) ? 200 : 403) << role << " " << e.path << ": " << a.body;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 15);
}

TEST_F(ApiServerTest, OpenModePausesAsAdmin) {
  FakePipeline pipeline;
  ApiServerOptions o;
  o.pipeline = pipeline.Hooks();
  auto server = StartWith(std::move(o));
  ASSERT_NE(server, nullptr);
  Answer a = Post(server.get(), "/api/v1/schedule/pause", "", "text/plain", "");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Parse(a.body)->Str("/by"), "admin");
}

TEST_F(ApiServerPipelineTest, StatusAndMetricsCarryThePipeline) {
  FakePipeline pipeline;
  auto server = StartWithPipeline(&pipeline);
  ASSERT_NE(server, nullptr);
  Answer status = Get(server.get(), "/api/v1/status", "ingest-secret-token");
  ASSERT_EQ(status.status, 200) << status.body;
  auto j = Parse(status.body);
  EXPECT_EQ(j->Str("/pipeline/state"), "running");
  EXPECT_EQ(j->Int("/pipeline/runs"), 3);
  EXPECT_EQ(j->Int("/catalog/commit"), 1);  // the lake's part is all there too
  EXPECT_EQ(j->Size("/products"), 2u);

  const std::string metrics = Get(server.get(), "/metrics", "").body;
  EXPECT_EQ(Sample(metrics, "tradelake_pipeline_runs_total"), 3);
  EXPECT_GE(Sample(metrics, "tradelake_catalog_commit"), 1);
  EXPECT_NE(metrics.find("# TYPE tradelake_pipeline_runs_total counter\n"), std::string::npos);
  EXPECT_EQ(Sample(server->MetricsText(), "tradelake_pipeline_runs_total"), 3);
}

// ------------------------------------------------------------ the dashboard

TEST_F(ApiServerTest, DashboardIsServedWithoutATokenAndWithSafeHeaders) {
  const DashboardAsset* page = FindDashboardAsset("/");
  ASSERT_NE(page, nullptr);
  const std::string requests = "tradelake_http_requests_total{path=\"dashboard\",code=\"200\"}";
  const double before = std::max(0.0, Sample(Get("/metrics", "").body, requests));
  for (const char* path : {"/", "/index.html"}) {
    Answer a = Get(path, "");
    ASSERT_EQ(a.status, 200) << path << ": " << a.body;
    EXPECT_EQ(a.body, page->content) << path;
    auto header = [&](const char* name) {
      auto it = a.headers.find(name);
      return it == a.headers.end() ? std::string() : it->second;
    };
    EXPECT_EQ(header("Content-Type"), page->content_type);
    EXPECT_EQ(header("Cache-Control"), "no-cache");
    EXPECT_EQ(header("X-Content-Type-Options"), "nosniff");
    const std::string csp = header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("style-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  }

  const DashboardAsset* charts = FindDashboardAsset("/assets/lightweight-charts.js");
  ASSERT_NE(charts, nullptr);
  Answer js = Get("/assets/lightweight-charts.js", "");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.body.size(), charts->content.size());
  EXPECT_TRUE(js.body == charts->content);
  EXPECT_EQ(js.headers.find("Content-Type")->second, charts->content_type);
  EXPECT_EQ(js.headers.find("Cache-Control")->second, "no-cache");
  EXPECT_EQ(js.headers.find("X-Content-Type-Options")->second, "nosniff");
  // Revalidation: the same bytes answer 304 with no body; another ETag gets the file.
  const std::string etag = js.headers.find("ETag")->second;
  ASSERT_FALSE(etag.empty());
  {
    httplib::Client client("127.0.0.1", server_->port());
    auto same = client.Get("/assets/lightweight-charts.js", {{"If-None-Match", etag}});
    ASSERT_TRUE(same);
    EXPECT_EQ(same->status, 304);
    EXPECT_TRUE(same->body.empty());
    auto other = client.Get("/assets/lightweight-charts.js", {{"If-None-Match", "\"0\""}});
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 200);
    EXPECT_EQ(other->body.size(), charts->content.size());
  }

  EXPECT_NE(ExpectError(Get("/assets/no-such-file.js", ""), 404).find("/assets/no-such-file.js"), std::string::npos);
  ExpectError(Get("/assets/", ""), 404);
  ExpectError(Get("/assets/../api_server.h", ""), 404);

  const std::string metrics = Get("/metrics", "").body;
  EXPECT_EQ(Sample(metrics, requests), before + 4);  // 200s: page, index, asset, asset again (not the 304)
  EXPECT_GE(Sample(metrics, "tradelake_http_requests_total{path=\"dashboard\",code=\"404\"}"), 1);
}

// ------------------------------------------------------------ the bars cache

// The "bars" array of a bars answer, as text.
std::string BarsOf(const std::string& body) {
  const size_t start = body.find(",\"bars\":");
  return start == std::string::npos ? "" : body.substr(start + 8, body.size() - start - 9);
}

TEST_F(ApiServerTest, RepeatedAndSameIntervalBarRequestsAreCacheHits) {
  auto server = Start({{"analyst", Sha256Hex(kAnalystToken)}}, 0);
  ASSERT_NE(server, nullptr);
  const std::string hit = "tradelake_bars_cache_total{result=\"hit\"}";
  const std::string miss = "tradelake_bars_cache_total{result=\"miss\"}";
  const std::string m0 = server->MetricsText();
  EXPECT_EQ(Sample(m0, hit), 0);
  EXPECT_EQ(Sample(m0, miss), 0);
  EXPECT_NE(m0.find("# TYPE tradelake_bars_cache_total counter"), std::string::npos);

  const std::string path =
      "/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01T10:00:30Z&to=2024-05-01T10:02:00.5Z";
  Answer first = Get(server.get(), path);
  ASSERT_EQ(first.status, 200) << first.body;
  Answer second = Get(server.get(), path);
  EXPECT_EQ(second.body, first.body);
  // Another request inside the same minutes: the same entry, its own from/to.
  Answer third =
      Get(server.get(), "/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01T10:00:59Z&to=2024-05-01T10:02:59Z");
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(BarsOf(third.body), BarsOf(first.body));
  EXPECT_EQ(Parse(third.body)->Str("/from"), "2024-05-01T10:00:59Z");
  auto j = Parse(first.body);
  EXPECT_EQ(j->Str("/from"), "2024-05-01T10:00:30Z");
  EXPECT_EQ(j->Str("/to"), "2024-05-01T10:02:00.5Z");
  ASSERT_EQ(j->Size("/bars"), 1u);  // 10:00 starts before from; 10:01 is in; 10:02 starts before to
  EXPECT_EQ(j->Str("/bars/0/time"), "2024-05-01T10:01:00Z");

  // Bad parameters and unknown products are neither hits nor cached.
  ExpectError(Get(server.get(), "/api/v1/bars?product=BTC-USD&interval=5m"), 400);
  ExpectError(Get(server.get(), "/api/v1/bars?product=FOO-USD&interval=1m"), 404);
  ExpectError(Get(server.get(), "/api/v1/bars?product=FOO-USD&interval=1m"), 404);

  const std::string m1 = server->MetricsText();
  EXPECT_EQ(Sample(m1, hit), 2);
  EXPECT_EQ(Sample(m1, miss), 3);  // the first request and the two unknown products
  const std::string ok = "tradelake_sql_statements_total{outcome=\"ok\"}";
  EXPECT_EQ(Sample(m1, ok), Sample(m0, ok) + 1);  // the hits ran nothing
}

// httplib would compress every answer anew, with brotli at its slowest
// quality for clients offering "br"; the server sends them as they are,
// except /api/v1/bars, which sends the gzip encoding it made once.
TEST_F(ApiServerTest, BarsAreGzippedOnceForClientsThatAcceptItOtherAnswersNever) {
  const std::string bars = "/api/v1/bars?product=BTC-USD&interval=1m&from=2024-05-01&to=2024-05-02";
  const Answer plain = GetEncoded(server_->port(), bars, "identity");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(HeaderOf(plain, "Content-Encoding"), "");
  EXPECT_EQ(HeaderOf(plain, "Vary"), "Accept-Encoding");
  ASSERT_GT(plain.body.size(), 512u);  // big enough to be gzipped
  for (const char* accept : {"gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*", "GZIP"}) {
    for (int round = 0; round < 2; ++round) {  // made, then from the cache
      const Answer gz = GetEncoded(server_->port(), bars, accept);
      ASSERT_EQ(gz.status, 200) << accept;
      EXPECT_EQ(HeaderOf(gz, "Content-Encoding"), "gzip") << accept;
      EXPECT_EQ(HeaderOf(gz, "Content-Length"), std::to_string(gz.body.size())) << accept;
      EXPECT_LT(gz.body.size(), plain.body.size()) << accept;
      EXPECT_EQ(Gunzip(gz.body), plain.body) << accept;
    }
  }
  for (const char* accept : {"identity", "gzip;q=0", "br, deflate", "*, gzip;q=0.0", ""}) {
    const Answer a = GetEncoded(server_->port(), bars, accept);
    EXPECT_EQ(HeaderOf(a, "Content-Encoding"), "") << accept;
    EXPECT_EQ(a.body, plain.body) << accept;
  }
  for (const char* path : {"/assets/lightweight-charts.js", "/metrics", "/api/v1/status"}) {
    const Answer a = GetEncoded(server_->port(), path, "gzip, deflate, br");
    EXPECT_EQ(a.status, 200) << path;
    EXPECT_EQ(HeaderOf(a, "Content-Encoding"), "") << path;
    EXPECT_EQ(HeaderOf(a, "Content-Length"), std::to_string(a.body.size())) << path;
  }
}

TEST_F(ApiServerTest, ColumnarBarsEqualTheRowForm) {
  size_t bars = 0;
  for (const char* q : {"product=BTC-USD&interval=1m&from=2024-05-01&to=2024-05-02",
                        "product=BTC-USD&interval=1h&from=2024-05-01&to=2024-05-03",
                        "product=ETH-USD&interval=1d&from=2024-04-01&to=2024-06-01",
                        "product=BTC-USD&interval=1m&from=2024-05-01T10:00:30Z&to=2024-05-01T10:00:45Z"}) {
    bars += ExpectColumnarEqualsRows(server_, q);
  }
  EXPECT_GT(bars, 3u);
  EXPECT_EQ(Get("/api/v1/bars?product=BTC-USD&interval=1h&format=csv").status, 400);
}

TEST_F(ApiServerTest, ConcurrentMissesOfOneKeyRunOneStatement) {
  auto server = Start({{"analyst", Sha256Hex(kAnalystToken)}}, 0);
  ASSERT_NE(server, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      if (Get(server.get(), "/api/v1/bars?product=BTC-USD&interval=1h&from=2024-05-01&to=2024-05-03").status == 200) {
        ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8);
  const std::string m = server->MetricsText();
  // The first to get the lake computes; the others, waiting for it, find the answer.
  EXPECT_EQ(Sample(m, "tradelake_bars_cache_total{result=\"miss\"}"), 1);
  EXPECT_EQ(Sample(m, "tradelake_bars_cache_total{result=\"hit\"}"), 7);
}

TEST_F(ApiServerTest, CachedBarsEqualUncachedBarsForUnalignedRanges) {
  auto cached = Start({{"analyst", Sha256Hex(kAnalystToken)}}, 0);
  ApiServerOptions o;
  o.tokens = {{"analyst", Sha256Hex(kAnalystToken)}};
  o.bars_cache_entries = 0;
  auto uncached = StartWith(std::move(o));
  ASSERT_NE(cached, nullptr);
  ASSERT_NE(uncached, nullptr);
  const std::vector<std::string> queries = {
      "product=BTC-USD&interval=1m&from=2024-05-01T10:00:00.000001Z&to=2024-05-01T10:01:00.000001Z",
      "product=BTC-USD&interval=1m&from=2024-05-01T09:59:59.999999Z&to=2024-05-01T10:00:59.999999Z",
      "product=BTC-USD&interval=1m&from=2024-05-01T10:00:30Z&to=2024-05-01T10:00:45Z",
      "product=BTC-USD&interval=1h&from=2024-05-01T10:00:00.5Z&to=2024-05-02T09:00:00.000001Z",
      "product=BTC-USD&interval=1h&from=2024-05-01T09:59:59Z&to=2024-05-02T08:59:59Z",
      "product=BTC-USD&interval=1h&from=2024-05-01T10:59:59Z&to=2024-05-02T00:00:00Z",
      "product=BTC-USD&interval=1d&from=2024-04-30T23:59:59Z&to=2024-05-02T00:00:01Z",
      "product=BTC-USD&interval=1d&from=2024-05-01T00:00:01Z&to=2024-05-03T00:00:00Z",
      "product=ETH-USD&interval=1m&from=2024-05-02T11:59:30Z&to=2024-05-02T12:00:30.5Z",
      "product=ETH-USD&interval=1h&from=5h&to=1h",
  };
  int bars = 0;
  for (const std::string& q : queries) {
    Answer expected = Get(uncached.get(), "/api/v1/bars?" + q);
    ASSERT_EQ(expected.status, 200) << q << ": " << expected.body;
    bars += static_cast<int>(Parse(expected.body)->Size("/bars"));
    for (int round = 0; round < 2; ++round) {  // a miss, then a hit
      Answer a = Get(cached.get(), "/api/v1/bars?" + q);
      EXPECT_EQ(a.status, 200);
      EXPECT_EQ(a.body, expected.body) << q << " round " << round;
    }
  }
  EXPECT_GT(bars, 5);  // the ranges do cut through bars
  EXPECT_GE(Sample(cached->MetricsText(), "tradelake_bars_cache_total{result=\"hit\"}"), 10);
  EXPECT_EQ(Sample(uncached->MetricsText(), "tradelake_bars_cache_total{result=\"hit\"}"), 0);
}

TEST(ApiServerBarsCache, ANewCommitIsAMissWithTheNewBars) {
  RefreshingLake lake;
  ASSERT_NO_FATAL_FAILURE(lake.Start());
  httplib::Client& client = lake.client();
  ApiServer* server = lake.server();
  const char* path = "/api/v1/bars?product=BTC-USD&interval=1d&from=2024-05-01&to=2024-05-04";
  auto count = [&](std::string_view result) {
    const std::string series = fmt::format("tradelake_bars_cache_total{{result=\"{}\"}} ", result);
    const std::string text = server->MetricsText();
    const size_t at = text.find(series);
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + series.size()));
  };
  auto first = client.Get(path);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(Parse(first->body)->Size("/bars"), 2u);
  auto again = client.Get(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(count("hit"), 1);
  EXPECT_EQ(count("miss"), 1);

  ASSERT_NO_FATAL_FAILURE(lake.CommitOneMore("BTC-USD", "2024-05-03",
                                             Trade("BTC-USD", 8, "2024-05-03T01:00:00Z", "105", "2", "buy"),
                                             "2024-05-03T13:30:00Z"));

  auto after = client.Get(path);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->status, 200) << after->body;
  auto j = Parse(after->body);
  ASSERT_EQ(j->Size("/bars"), 3u);
  EXPECT_EQ(j->Str("/bars/2/time"), "2024-05-03T00:00:00Z");
  EXPECT_EQ(j->Str("/bars/2/close"), "105");
  EXPECT_EQ(count("miss"), 2);
  EXPECT_EQ(count("hit"), 1);
  auto after_again = client.Get(path);
  ASSERT_TRUE(after_again);
  EXPECT_EQ(after_again->body, after->body);
  EXPECT_EQ(count("hit"), 2);

  // The cached encodings follow the commit too: the identity and gzip
  // bodies, and the columnar form, hold the new bar.
  const Answer plain = GetEncoded(server->port(), path, "identity");
  EXPECT_EQ(plain.body, after->body);
  ASSERT_NO_FATAL_FAILURE(lake.CommitOneMore("BTC-USD", "2024-05-03",
                                             Trade("BTC-USD", 9, "2024-05-03T02:00:00Z", "99.5", "1", "sell"),
                                             "2024-05-03T14:30:00Z"));
  const Answer gz = GetEncoded(server->port(), path, "gzip");
  ASSERT_EQ(gz.status, 200) << gz.body;
  const std::string body = HeaderOf(gz, "Content-Encoding") == "gzip" ? Gunzip(gz.body) : gz.body;
  // The new file's bar of 2024-05-03 (a second file of the day: a second bar).
  EXPECT_EQ(Parse(body)->Size("/bars"), 4u);
  EXPECT_NE(body.find(R"("open":"99.5","high":"99.5","low":"99.5","close":"99.5")"), std::string::npos) << body;
  EXPECT_EQ(GetEncoded(server->port(), path, "identity").body, body);
  ExpectColumnarEqualsRows(server, "product=BTC-USD&interval=1d&from=2024-05-01&to=2024-05-04");
}

}  // namespace
}  // namespace tradelake

namespace tradelake {
namespace {

// A request with exactly `headers` (Host included) on a raw connection, as a
// browser page would send it: httplib's client always sets its own Host.
Answer Raw(int port, std::string_view method, std::string_view path, const httplib::Headers& headers,
           std::string_view body = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(10);
  client.set_read_timeout(60);
  httplib::Request req;
  req.method = std::string(method);
  req.path = std::string(path);
  req.headers = headers;
  req.body = std::string(body);
  if (!body.empty() && !req.has_header("Content-Type")) req.set_header("Content-Type", "text/plain");
  auto res = client.send(req);
  if (!res) return {};
  return {res->status, res->body, res->headers};
}

TEST_F(ApiServerTest, OpenModeRefusesCrossSitePagesAndReboundHostsBeforeAnyHandler) {
  FakePipeline pipeline;
  ApiServerOptions o;
  o.pipeline = pipeline.Hooks();
  auto server = StartWith(std::move(o));
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  const std::string own = fmt::format("127.0.0.1:{}", port);
  auto host = [&](std::string h) { return httplib::Headers{{"Host", std::move(h)}}; };

  // What the issue saw: a page on another site posts text/plain SQL, or pauses the schedule.
  httplib::Headers evil = {{"Host", own}, {"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}};
  Answer sql = Raw(port, "POST", "/api/v1/sql", evil, "SELECT 42");
  EXPECT_EQ(sql.status, 403) << sql.body;
  EXPECT_NE(sql.body.find("cross-site request refused"), std::string::npos) << sql.body;
  EXPECT_EQ(Raw(port, "POST", "/api/v1/schedule/pause", evil).status, 403);
  // A form post from a page of another port (same site, other origin), and a sandboxed page (Origin: null).
  EXPECT_EQ(Raw(port, "POST", "/api/v1/schedule/pause",
                {{"Host", own}, {"Origin", "http://127.0.0.1:1"}, {"Sec-Fetch-Site", "same-site"},
                 {"Content-Type", "application/x-www-form-urlencoded"}},
                "a=b")
                .status,
            403);
  EXPECT_EQ(Raw(port, "POST", "/api/v1/sql", {{"Host", own}, {"Origin", "null"}}, "SELECT 1").status, 403);
  // Older browsers send only Origin.
  EXPECT_EQ(Raw(port, "GET", "/api/v1/products", {{"Host", own}, {"Origin", "http://localhost:9"}}).status, 403);
  // Nothing was paused.
  EXPECT_EQ(Get(server.get(), "/api/v1/schedule", "").body, R"({"paused":false,"changed_at":null,"by":""})");

  // DNS rebinding: the page's own origin, but its Host is the attacker's name.
  for (const char* path : {"/api/v1/products", "/api/v1/status", "/metrics", "/"}) {
    Answer a = Raw(port, "GET", path, host(fmt::format("evil.example:{}", port)));
    EXPECT_EQ(a.status, 403) << path << ": " << a.body;
    EXPECT_NE(a.body.find("is not a name of this server"), std::string::npos) << a.body;
  }
  EXPECT_EQ(Raw(port, "POST", "/api/v1/schedule/pause",
                {{"Host", fmt::format("evil.example:{}", port)}, {"Origin", fmt::format("http://evil.example:{}", port)},
                 {"Sec-Fetch-Site", "same-origin"}})
                .status,
            403);
  EXPECT_EQ(Get(server.get(), "/api/v1/schedule", "").body, R"({"paused":false,"changed_at":null,"by":""})");
  // Probes need no name.
  EXPECT_EQ(Raw(port, "GET", "/healthz", host("10.0.0.1")).status, 200);

  // The dashboard's own requests, and clients that are not browsers, pass.
  for (const std::string& name : {own, fmt::format("localhost:{}", port), fmt::format("[::1]:{}", port)}) {
    EXPECT_EQ(Raw(port, "GET", "/api/v1/products", host(name)).status, 200) << name;
  }
  EXPECT_EQ(Raw(port, "POST", "/api/v1/sql",
                {{"Host", own}, {"Origin", fmt::format("http://{}", own)}, {"Sec-Fetch-Site", "same-origin"}},
                "SELECT 42")
                .status,
            200);
  EXPECT_EQ(Raw(port, "POST", "/api/v1/schedule/pause",
                {{"Host", own}, {"Origin", fmt::format("http://{}", own)}, {"Sec-Fetch-Site", "same-origin"}})
                .status,
            200);

  const std::string metrics = server->MetricsText();
  EXPECT_EQ(Sample(metrics, "tradelake_http_refused_total{reason=\"cross_site\"}"), 5) << metrics;
  EXPECT_EQ(Sample(metrics, "tradelake_http_refused_total{reason=\"host\"}"), 5) << metrics;
}

TEST_F(ApiServerTest, APublicUrlIsAcceptedAsHostAndOrigin) {
  ApiServerOptions o;
  o.tokens = {{"analyst", Sha256Hex(kAnalystToken)}};
  o.bind = "127.0.0.1";
  o.public_url = "https://lake.example.com";
  auto server = StartWith(std::move(o));
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  const httplib::Headers proxied = {{"Host", "lake.example.com"},
                                    {"Origin", "https://lake.example.com"},
                                    {"Sec-Fetch-Site", "same-origin"},
                                    {"Authorization", fmt::format("Bearer {}", kAnalystToken)}};
  EXPECT_EQ(Raw(port, "GET", "/api/v1/products", proxied).status, 200);
  EXPECT_EQ(Raw(port, "GET", "/api/v1/products",
                {{"Host", "other.example.com"}, {"Authorization", fmt::format("Bearer {}", kAnalystToken)}})
                .status,
            403);
  ApiServerOptions bad;
  bad.public_url = "lake.example.com";
  EXPECT_EQ(ApiServer::Start(store_, std::move(bad)).status().code(), StatusCode::kInvalidArgument);
}

// The two statements of issue 14: one runs for hours, one grows the process
// by gigabytes. Both are stopped with a message naming the limit, the server
// stays within its memory limit and keeps answering.
TEST_F(ApiServerTest, HostileStatementsAreStoppedByTheTimeAndMemoryLimits) {
  // Two servers, so that neither outcome depends on how fast this machine is:
  // one with only a time limit, one with only a memory limit.
  ApiServerOptions timed;
  timed.sql_timeout_micros = 2 * kMicrosPerSecond;
  timed.sql_memory_bytes = 0;
  auto server = StartWith(std::move(timed));
  ASSERT_NE(server, nullptr);
  ApiServerOptions bounded;
  bounded.sql_timeout_micros = 0;
  bounded.sql_memory_bytes = int64_t{512} << 20;
  auto small = StartWith(std::move(bounded));
  ASSERT_NE(small, nullptr);
  const int64_t rss_before = static_cast<int64_t>(Sample(small->MetricsText(), "tradelake_process_resident_bytes"));

  Answer slow = Post(server.get(), "/api/v1/sql", "SELECT sum(range) FROM range(20000000000::BIGINT)", "text/plain", "");
  const std::string slow_error = ExpectError(slow, 400);
  EXPECT_NE(slow_error.find("time limit of 2 s"), std::string::npos) << slow_error;
  EXPECT_NE(slow_error.find("--sql-timeout"), std::string::npos) << slow_error;

  Answer big = Post(small.get(), "/api/v1/sql", "SELECT length(string_agg(repeat('x',1000),'')) FROM range(20000000)",
                    "text/plain", "");
  const std::string big_error = ExpectError(big, 400);
  EXPECT_NE(big_error.find("memory limit of 512 MiB"), std::string::npos) << big_error;
  EXPECT_NE(big_error.find("--sql-memory"), std::string::npos) << big_error;

  const std::string metrics = small->MetricsText();
  const int64_t rss_after = static_cast<int64_t>(Sample(metrics, "tradelake_process_resident_bytes"));
  std::printf("serve RSS before %lld MiB, after the hostile statements %lld MiB; %s\n",
              static_cast<long long>(rss_before >> 20), static_cast<long long>(rss_after >> 20), big_error.c_str());
  EXPECT_LT(rss_after - rss_before, int64_t{768} << 20);
  EXPECT_EQ(Sample(server->MetricsText(), "tradelake_sql_stopped_total{limit=\"time\"}"), 1);
  EXPECT_EQ(Sample(metrics, "tradelake_sql_stopped_total{limit=\"memory\"}"), 1);
  EXPECT_EQ(Sample(metrics, "tradelake_sql_statements_total{outcome=\"over_limit\"}"), 1);
  // Still serving, statements included.
  for (ApiServer* s : {server.get(), small.get()}) {
    EXPECT_EQ(Get(s, "/api/v1/bars?product=BTC-USD&interval=1h&from=2024-05-01&to=2024-05-03", "").status, 200);
    EXPECT_EQ(Post(s, "/api/v1/sql", "SELECT 42", "text/plain", "").status, 200);
  }
}

TEST_F(ApiServerTest, StatementsOverTheConcurrencyCapAre429WithRetryAfter) {
  ApiServerOptions o;
  o.sql_timeout_micros = 5 * kMicrosPerSecond;
  o.sql_max_concurrent = 1;
  auto server = StartWith(std::move(o));
  ASSERT_NE(server, nullptr);
  std::atomic<int> slow_status{0};
  std::string slow_body;
  std::thread slow([&] {
    Answer a = Post(server.get(), "/api/v1/sql", "SELECT sum(range) FROM range(20000000000::BIGINT)", "text/plain", "");
    slow_body = a.body;
    slow_status = a.status;
  });
  // While the slow statement runs, another is turned away at once.
  while (slow_status == 0 && Sample(server->MetricsText(), "tradelake_sql_requests_in_flight") < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Answer busy = Post(server.get(), "/api/v1/sql", "SELECT 1", "text/plain", "");
  slow.join();
  ASSERT_EQ(busy.status, 429) << busy.body << "; the slow statement answered " << slow_body;
  EXPECT_EQ(busy.headers.find("Retry-After")->second, "1");
  EXPECT_NE(busy.body.find("--sql-max-concurrent 1"), std::string::npos) << busy.body;
  EXPECT_EQ(slow_status, 400);
  EXPECT_GE(Sample(server->MetricsText(), "tradelake_sql_statements_total{outcome=\"busy\"}"), 1);
  EXPECT_EQ(Post(server.get(), "/api/v1/sql", "SELECT 1", "text/plain", "").status, 200);
}

}  // namespace
}  // namespace tradelake
