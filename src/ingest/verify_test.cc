#include "ingest/verify.h"

#include <gtest/gtest.h>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"

namespace tradelake {
namespace {

std::string Object(int64_t first, int64_t last) {
  std::vector<std::string> raws;
  std::vector<BronzeRecord> recs;
  for (int64_t id = first; id <= last; ++id) raws.push_back("{\"trade_id\":" + std::to_string(id) + "}");
  for (int64_t id = first; id <= last; ++id) recs.push_back({id, raws[static_cast<size_t>(id - first)]});
  auto data = EncodeBronzeObject(recs, 0, "/r");
  EXPECT_TRUE(data.ok());
  return data.ok() ? *data : "";
}

TEST(VerifyBronze, AnObjectTheLandedLogDoesNotAnnounceIsAProblemNamingIt) {
  auto store = NewMemoryStore();
  int64_t next = 0;
  const std::string a = BronzeObjectKey("BTC-USD", "2024-05-01", 1, 3);
  const std::string b = BronzeObjectKey("BTC-USD", "2024-05-01", 4, 6);
  ASSERT_TRUE(LandBronzeObject(store.get(), a, Object(1, 3), 1, 3, 3, &next).ok());
  auto clean = VerifyBronze(store.get(), "BTC-USD");
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  EXPECT_TRUE(clean->ok());

  ASSERT_TRUE(store->Put(b, Object(4, 6), WriteMode::kCreateOnly).ok());  // landed, never announced
  auto sum = VerifyBronze(store.get(), "BTC-USD");
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_FALSE(sum->ok());
  ASSERT_EQ(sum->problems.size(), 1u);
  EXPECT_NE(sum->problems[0].find(b), std::string::npos) << sum->problems[0];
  EXPECT_NE(sum->problems[0].find("not announced"), std::string::npos) << sum->problems[0];
  EXPECT_EQ(sum->trades, 6);
}

TEST(VerifyBronze, AnEntryNamingAMissingObjectIsAProblem) {
  auto store = NewMemoryStore();
  int64_t next = 0;
  LandedEntry e;
  e.key = BronzeObjectKey("ETH-USD", "2024-05-01", 1, 3);
  e.first_trade_id = 1;
  e.last_trade_id = 3;
  ASSERT_TRUE(AppendLanded(store.get(), "ETH-USD", e, &next).ok());
  ASSERT_TRUE(LandBronzeObject(store.get(), BronzeObjectKey("ETH-USD", "2024-05-01", 4, 6), Object(4, 6), 4, 6, 3,
                               &next)
                  .ok());
  auto sum = VerifyBronze(store.get(), "ETH-USD");
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  ASSERT_EQ(sum->problems.size(), 1u);
  EXPECT_NE(sum->problems[0].find("announced in the landed-object log but not in Bronze"), std::string::npos);
}

}  // namespace
}  // namespace tradelake
