// The lake on S3: the whole pipeline (ingest -> etl -> sql) run by the real
// binary against moto_server on 127.0.0.1 with --lake s3://bucket/prefix
// gives the same Bronze bytes and the same tables as on a local folder, and
// `tradelake sql` downloads only the objects its pruning needs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zstd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "e2e_util.h"
#include "exchange/simulator.h"
#include "support/moto_server.h"
#include "store/object_store.h"
#include "store/s3_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using e2e::FreshDir;
using e2e::RunTradelake;

// Points the AWS settings of every child process at moto.
void UseMoto(const MotoServer& moto) {
  const auto creds = MotoFakeCredentials();
  setenv("AWS_ACCESS_KEY_ID", creds.access_key_id.c_str(), 1);
  setenv("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.c_str(), 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  setenv("AWS_REGION", "us-east-1", 1);
  setenv("AWS_ENDPOINT_URL", moto.endpoint().c_str(), 1);
  setenv("AWS_CONFIG_FILE", "/dev/null", 1);
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
}

std::string Unzstd(const std::string& z) {
  const unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) return "";
  std::string text(n, '\0');
  return ZSTD_decompress(text.data(), n, z.data(), z.size()) == n ? text : "";
}

// Bronze lines with the value of "ingested_at" blanked.
std::string WithoutIngestedAt(std::string text) {
  static const std::regex kIngestedAt("\"ingested_at\":\"[^\"]*\"");
  return std::regex_replace(text, kIngestedAt, "\"ingested_at\":\"\"");
}

std::vector<std::string> FilesUnder(const fs::path& root) {
  std::vector<std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class S3Pipeline : public ::testing::Test {
 protected:
  void Ingest(const std::string& lake, const fs::path& dir) {
    auto r = RunTradelake({"ingest", "--products", "BTC-USD,ETH-USD", "--exchange-url", sim_->url(), "--lake", lake,
                           "--no-progress", "--rate-limit", "0", "--from-trade-id", "0", "--log-level", "warn"},
                          dir);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  std::unique_ptr<Simulator> sim_;
};

TEST_F(S3Pipeline, IngestEtlSqlOnS3GiveTheSameLakeAsOnAFolder) {
  TL_REQUIRE_SHARED_MOTO(moto);
  UseMoto(*moto);
  const std::string bucket = UniqueBucketName("pipeline");
  ASSERT_TRUE(CreateBucket(moto->ClientConfig(), bucket).ok());
  const std::string s3_lake = "s3://" + bucket + "/data/lake";

  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD"};
  o.seed = 17;
  o.history_micros = 50 * kMicrosPerHour;  // three UTC dates
  o.trades_per_second = 0.4;
  o.live = false;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  sim_ = std::move(*sim);

  const auto dir = FreshDir("s3-pipeline");
  const auto local_lake = dir / "lake";
  Ingest(local_lake.string(), dir);
  Ingest(s3_lake, dir);

  // Bronze: the same objects holding the same records; only each record's
  // ingested_at (when this run landed it) differs between the two runs.
  S3StoreOptions so;
  so.bucket = bucket;
  so.prefix = "data/lake";
  so.aws = moto->ClientConfig();
  auto s3 = OpenS3Store(so);
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  auto local = OpenLocalStore(local_lake.string());
  ASSERT_TRUE(local.ok());
  auto s3_bronze = (*s3)->List("bronze/");
  auto local_bronze = (*local)->List("bronze/");
  ASSERT_TRUE(s3_bronze.ok() && local_bronze.ok());
  ASSERT_GT(local_bronze->size(), 2u);
  ASSERT_EQ(s3_bronze->size(), local_bronze->size());
  for (size_t i = 0; i < local_bronze->size(); ++i) {
    ASSERT_EQ((*s3_bronze)[i].key, (*local_bronze)[i].key);
    const std::string a = WithoutIngestedAt(Unzstd(*(*s3)->Get((*s3_bronze)[i].key)));
    const std::string b = WithoutIngestedAt(Unzstd(*(*local)->Get((*local_bronze)[i].key)));
    EXPECT_FALSE(a.empty());
    EXPECT_TRUE(a == b) << (*s3_bronze)[i].key;
  }
  auto verify = RunTradelake({"verify", "--lake", s3_lake}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  for (const std::string& lake : std::vector<std::string>{local_lake.string(), s3_lake}) {
    auto etl = RunTradelake({"etl", "--lake", lake}, dir);
    ASSERT_EQ(etl.exit_code, 0) << lake << "\n" << etl.out << etl.err;
    EXPECT_NE(etl.out.find("invariant holds"), std::string::npos) << etl.out;
  }
  auto silver = (*s3)->List("silver/trades/");
  ASSERT_TRUE(silver.ok());
  EXPECT_GE(silver->size(), 4u) << "2 products x >= 2 dates";

  // The same tables: every column of every table, in a stable order.
  const std::vector<std::string> queries = {
      "SELECT * EXCLUDE (ingested_at) FROM silver.trades ORDER BY product_id, trade_id",
      "SELECT count(*) FROM silver.trades_rejected",
      "SELECT * FROM gold.trades_hourly ORDER BY product_id, period_start",
      "SELECT * FROM gold.trades_daily ORDER BY product_id, period_start",
      "SELECT * FROM gold.bars_1m ORDER BY product_id, period_start",
      "SELECT product_id, date, count(*), sum(quote_notional), sum(size) FROM silver.trades GROUP BY ALL ORDER BY ALL",
  };
  for (const auto& q : queries) {
    auto a = RunTradelake({"sql", "--lake", local_lake.string(), "--format", "csv", "-q", q}, dir);
    auto b = RunTradelake({"sql", "--lake", s3_lake, "--format", "csv", "-q", "--cache-dir", (dir / "cache").string(), q},
                          dir);
    ASSERT_EQ(a.exit_code, 0) << q << "\n" << a.err;
    ASSERT_EQ(b.exit_code, 0) << q << "\n" << b.err;
    EXPECT_GT(a.out.size(), 10u) << q;
    EXPECT_EQ(a.out, b.out) << q;
  }
}

TEST_F(S3Pipeline, SqlDownloadsOnlyThePartitionsItReads) {
  TL_REQUIRE_SHARED_MOTO(moto);
  UseMoto(*moto);
  const std::string bucket = UniqueBucketName("pruned");
  ASSERT_TRUE(CreateBucket(moto->ClientConfig(), bucket).ok());
  const std::string s3_lake = "s3://" + bucket + "/lake";

  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD"};
  o.seed = 23;
  o.history_micros = 50 * kMicrosPerHour;
  o.trades_per_second = 0.2;
  o.live = false;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok());
  sim_ = std::move(*sim);
  const auto dir = FreshDir("s3-pruned");
  Ingest(s3_lake, dir);
  auto etl = RunTradelake({"etl", "--lake", s3_lake}, dir);
  ASSERT_EQ(etl.exit_code, 0) << etl.out << etl.err;

  // One committed Silver partition of ETH-USD.
  S3StoreOptions so;
  so.bucket = bucket;
  so.prefix = "lake";
  so.aws = moto->ClientConfig();
  auto s3 = OpenS3Store(so);
  ASSERT_TRUE(s3.ok());
  auto files = (*s3)->List("silver/trades/product_id=ETH-USD/");
  ASSERT_TRUE(files.ok());
  ASSERT_GE(files->size(), 2u);
  const std::string key = (*files)[0].key;
  const std::string date = key.substr(key.find("date=") + 5, 10);

  const fs::path cache = dir / "cache";
  auto r = RunTradelake({"sql", "--lake", s3_lake, "--format", "csv", "--cache-dir", cache.string(),
                         "SELECT count(*) FROM silver.trades WHERE product_id = 'ETH-USD' AND date = '" + date + "'"},
                        dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("read 1 of"), std::string::npos) << r.err;
  // The cache holds exactly that one object (under a folder named for the lake).
  std::vector<std::string> cached = FilesUnder(cache);
  ASSERT_EQ(cached.size(), 1u) << ::testing::PrintToString(cached);
  EXPECT_NE(cached[0].find(key), std::string::npos) << cached[0];
  EXPECT_EQ(e2e::ReadFile(cache / cached[0]), *(*s3)->Get(key));

  // A second query reuses it: nothing new is downloaded for the same partition.
  auto again = RunTradelake({"sql", "--lake", s3_lake, "--format", "csv", "-q", "--cache-dir", cache.string(),
                             "SELECT max(price) FROM silver.trades WHERE product_id = 'ETH-USD' AND date = '" + date + "'"},
                            dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(FilesUnder(cache).size(), 1u);
}

TEST_F(S3Pipeline, AMissingBucketAndAnUnreachableEndpointFailClearly) {
  TL_REQUIRE_SHARED_MOTO(moto);
  UseMoto(*moto);
  const auto dir = FreshDir("s3-errors");
  auto missing = RunTradelake({"sql", "--lake", "s3://no-such-bucket-tradelake/lake", "-q", "SELECT 1"}, dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no-such-bucket-tradelake"), std::string::npos) << missing.err;

  setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);  // discard port: nothing listens
  auto refused = RunTradelake({"catalog", "list", "--lake", "s3://some-bucket/lake"}, dir);
  EXPECT_EQ(refused.exit_code, 69) << refused.err;  // unavailable after retries
  EXPECT_NE(refused.err.find("127.0.0.1:9"), std::string::npos) << refused.err;
  UseMoto(*moto);
}

}  // namespace
}  // namespace tradelake
