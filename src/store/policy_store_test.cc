#include "store/policy_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tradelake {
namespace {

namespace fs = std::filesystem;

const std::string kPolicies =
    (fs::path(__FILE__).parent_path().parent_path().parent_path() / "policies").string();
const LakeLocation kLake{"local", "lake"};

constexpr std::string_view kBronzeKey =
    "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/1-100.jsonl.zst";
constexpr std::string_view kSilverKey =
    "silver/trades/product_id=BTC-USD/date=2024-05-01/part-00000001-ab.parquet";
constexpr std::string_view kGoldKey =
    "gold/trades_hourly/product_id=BTC-USD/date=2024-05-01/part-00000001-ab.parquet";
constexpr std::string_view kCheckpointKey =
    "_state/ingest/source=coinbase/product=BTC-USD/checkpoint.json";
constexpr std::string_view kCommitKey = "_catalog/commits/00000000000000000001.json";

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A lake as the pipeline leaves it, written straight to the base store.
    for (std::string_view key : {kBronzeKey, kSilverKey, kGoldKey, kCheckpointKey, kCommitKey}) {
      ASSERT_TRUE(base_->Put(key, "data:" + std::string(key), WriteMode::kCreateOnly).ok());
    }
  }

  std::unique_ptr<PolicyEnforcingStore> As(std::string_view role) {
    auto policy = LoadRolePolicy(kPolicies, role, kLake);
    EXPECT_TRUE(policy.ok()) << policy.status().ToString();
    auto store = PolicyEnforcingStore::Wrap(base_.get(), std::move(policy).value(), kLake);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  // Everything in the base store, to prove a denied call changed nothing.
  std::vector<std::string> BaseKeys() {
    std::vector<std::string> keys;
    const std::vector<ObjectInfo> objects = base_->List("").value();
    for (const auto& o : objects) keys.push_back(o.key + "=" + base_->Get(o.key).value());
    return keys;
  }

  static void ExpectDenied(const Status& s, std::string_view message) {
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
    EXPECT_EQ(s.message(), message);
  }

  std::unique_ptr<ObjectStore> base_ = NewMemoryStore();
};

TEST_F(PolicyStoreTest, IngestWritesBronzeAndCheckpointsButNotSilver) {
  auto ingest = As("ingest");
  const std::string new_bronze =
      "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/101-200.jsonl.zst";
  EXPECT_TRUE(ingest->Put(new_bronze, "trades", WriteMode::kCreateOnly).ok());
  EXPECT_EQ(base_->Get(new_bronze).value(), "trades");
  // Re-reading an object it finds already written.
  EXPECT_EQ(ingest->Put(kBronzeKey, "again", WriteMode::kCreateOnly).code(),
            StatusCode::kAlreadyExists);
  EXPECT_TRUE(ingest->Get(kBronzeKey).ok());
  EXPECT_TRUE(ingest->Put(kCheckpointKey, "{}", WriteMode::kOverwrite).ok());
  EXPECT_TRUE(ingest->List("bronze/source=coinbase/product=BTC-USD/").ok());

  const auto before = BaseKeys();
  ExpectDenied(ingest->Put(kSilverKey, "forged", WriteMode::kOverwrite),
               "AccessDenied: role ingest may not s3:PutObject on arn:aws:s3:::local/lake/" +
                   std::string(kSilverKey) + " (" + kPolicies +
                   "/ingest.json: no statement allows it)");
  EXPECT_EQ(BaseKeys(), before);
  EXPECT_EQ(base_->Get(kSilverKey).value(), "data:" + std::string(kSilverKey));
}

TEST_F(PolicyStoreTest, NobodyDeletesBronzeAndTheMessageNamesTheDenyingStatement) {
  for (const char* role : {"ingest", "etl"}) {
    auto store = As(role);
    ExpectDenied(store->Delete(kBronzeKey),
                 "AccessDenied: role " + std::string(role) +
                     " may not s3:DeleteObject on arn:aws:s3:::local/lake/" +
                     std::string(kBronzeKey) + " (" + kPolicies + "/" + role +
                     ".json: explicitly denied by statement BronzeIsImmutable)");
  }
  auto analyst = As("analyst");
  EXPECT_EQ(analyst->Delete(kBronzeKey).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(base_->Head(kBronzeKey).ok());
}

TEST_F(PolicyStoreTest, EtlReadsBronzeAndWritesTablesButNeverWritesBronze) {
  auto etl = As("etl");
  EXPECT_TRUE(etl->Get(kBronzeKey).ok());
  EXPECT_TRUE(etl->List("bronze/source=coinbase/").ok());
  EXPECT_TRUE(etl->Put("_state/etl/lock", "{\"pid\":1}", WriteMode::kCreateOnly).ok());
  EXPECT_TRUE(etl->Put("gold/bars_1m/x.parquet", "bars", WriteMode::kCreateOnly).ok());
  EXPECT_TRUE(etl->Delete("gold/bars_1m/x.parquet").ok());
  EXPECT_TRUE(etl->Delete("_state/etl/lock").ok());
  EXPECT_TRUE(etl->List("_catalog/commits/").ok());
  EXPECT_TRUE(etl->Head(kCommitKey).ok());

  const auto before = BaseKeys();
  EXPECT_EQ(etl->Put(kBronzeKey, "rewritten", WriteMode::kOverwrite).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(etl->Get(kCheckpointKey).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(BaseKeys(), before);
}

TEST_F(PolicyStoreTest, AnalystListsAndReadsGoldButNotBronze) {
  auto analyst = As("analyst");
  auto gold = analyst->List("gold/");
  ASSERT_TRUE(gold.ok()) << gold.status().ToString();
  ASSERT_EQ(gold->size(), 1u);
  EXPECT_EQ((*gold)[0].key, kGoldKey);
  EXPECT_EQ(analyst->Get(kGoldKey).value(), "data:" + std::string(kGoldKey));
  EXPECT_TRUE(analyst->Head(kSilverKey).ok());
  EXPECT_TRUE(analyst->List("_catalog/commits/").ok());

  auto bronze = analyst->Get(kBronzeKey);
  ExpectDenied(bronze.status(),
               "AccessDenied: role analyst may not s3:GetObject on arn:aws:s3:::local/lake/" +
                   std::string(kBronzeKey) + " (" + kPolicies +
                   "/analyst.json: no statement allows it)");
  EXPECT_EQ(analyst->Head(kBronzeKey).status().code(), StatusCode::kPermissionDenied);
  ExpectDenied(
      analyst->List("bronze/").status(),
      "AccessDenied: role analyst may not s3:ListBucket on arn:aws:s3:::local with s3:prefix "
      "\"lake/bronze/\" (" +
          kPolicies + "/analyst.json: no statement allows it)");
  // Listing the whole lake would reveal Bronze keys too.
  EXPECT_EQ(analyst->List("").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(analyst->Put(kGoldKey, "x", WriteMode::kOverwrite).code(),
            StatusCode::kPermissionDenied);
}

TEST_F(PolicyStoreTest, DeployerSeesNoLakeData) {
  auto deployer = As("deployer");
  for (std::string_view key : {kBronzeKey, kSilverKey, kGoldKey, kCheckpointKey, kCommitKey}) {
    EXPECT_EQ(deployer->Get(key).status().code(), StatusCode::kPermissionDenied) << key;
  }
  EXPECT_EQ(deployer->List("gold/").status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(deployer->Put("_artifacts/tradelake-0.1.0.zip", "zip", WriteMode::kOverwrite).ok());
}

TEST_F(PolicyStoreTest, KeysThatClimbOutOfAPrefixAreInvalidNotAuthorized) {
  auto etl = As("etl");
  const auto before = BaseKeys();
  EXPECT_EQ(etl->Put("silver/../bronze/x", "x", WriteMode::kOverwrite).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(etl->Delete("gold/../" + std::string(kBronzeKey)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(etl->List("silver/../bronze/").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(etl->List("/silver/").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BaseKeys(), before);
}

TEST_F(PolicyStoreTest, LocalPathIsOfferedOnlyForReadableKeys) {
  const fs::path dir =
      fs::temp_directory_path() / ("tradelake-policy-store-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto local = OpenLocalStore(dir.string());
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto policy = LoadRolePolicy(kPolicies, "analyst", kLake);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto analyst =
      PolicyEnforcingStore::Wrap(std::move(local).value(), std::move(policy).value(), kLake);
  ASSERT_TRUE(analyst.ok()) << analyst.status().ToString();
  EXPECT_EQ((*analyst)->LocalPath(kGoldKey), (dir / kGoldKey).string());
  EXPECT_EQ((*analyst)->LocalPath(kBronzeKey), std::nullopt);
  EXPECT_NE((*analyst)->Describe().find("role analyst"), std::string::npos);
  fs::remove_all(dir);
}

TEST(PolicyStore, RefusesBadRolesAndLakeLocations) {
  EXPECT_EQ(LoadRolePolicy(kPolicies, "../etl", kLake).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadRolePolicy(kPolicies, "nobody", kLake).status().code(), StatusCode::kNotFound);
  for (const LakeLocation& bad :
       {LakeLocation{"", "lake"}, LakeLocation{"Bucket", "lake"}, LakeLocation{"b\"x", "lake"},
        LakeLocation{"local", ""}, LakeLocation{"local", "/lake"}, LakeLocation{"local", "lake/"},
        LakeLocation{"local", "la*ke"}, LakeLocation{"local", "a/../b"}}) {
    EXPECT_EQ(LoadRolePolicy(kPolicies, "etl", bad).status().code(), StatusCode::kInvalidArgument)
        << bad.bucket << " " << bad.prefix;
  }
  // A nested prefix is a fine lake location.
  auto nested = LoadRolePolicy(kPolicies, "analyst", LakeLocation{"my-bucket", "data/lake"});
  ASSERT_TRUE(nested.ok()) << nested.status().ToString();
  auto base = NewMemoryStore();
  auto store = PolicyEnforcingStore::Wrap(base.get(), std::move(nested).value(),
                                          LakeLocation{"my-bucket", "data/lake"});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->ObjectRequest("s3:GetObject", "gold/x").resource,
            "arn:aws:s3:::my-bucket/data/lake/gold/x");
  EXPECT_EQ((*store)->ListRequest("gold/").context.at("s3:prefix"), "data/lake/gold/");
  EXPECT_TRUE((*store)->List("gold/").ok());
}

}  // namespace
}  // namespace tradelake
