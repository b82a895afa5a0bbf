#include "bronze/bronze.h"

#include <gtest/gtest.h>

namespace tradelake {
namespace {

TEST(BronzeKey, RoundTripsAndRejectsStrangers) {
  const std::string key = BronzeObjectKey("BTC-USD", "2024-05-01", 100, 199);
  EXPECT_EQ(key, "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/100-199.jsonl.zst");
  auto parsed = ParseBronzeObjectKey(key);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->product_id, "BTC-USD");
  EXPECT_EQ(parsed->date, "2024-05-01");
  EXPECT_EQ(parsed->first_id, 100);
  EXPECT_EQ(parsed->last_id, 199);
  for (const char* bad : {"bronze/source=coinbase/product=BTC-USD/date=2024-05-01/199-100.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/x-1.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/1-2.json",
                          "bronze/source=other/product=BTC-USD/date=2024-05-01/1-2.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/1-2.jsonl.zst"}) {
    EXPECT_FALSE(ParseBronzeObjectKey(bad).ok()) << bad;
  }
}

TEST(BronzeObject, KeepsTheExchangeBytesExactly) {
  const std::string a = R"({"trade_id":1,"side":"buy","size":"0.001","price":"65000.01","time":"2024-05-01T00:00:44.39Z"})";
  const std::string b = R"({ "time" : "2024-05-01T00:00:45Z", "trade_id" : 2, "extra":"caf\u00e9 \"q\"" })";
  const std::string c = "{\"trade_id\":3,\n\"price\":\"1\"}";  // a raw line break
  auto data = EncodeBronzeObject({{1, a}, {2, b}, {3, c}}, 1'714'521'600'000'000, "/products/X/trades?after=4");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  auto back = DecodeBronzeObject(*data);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[0].trade, a);
  EXPECT_EQ((*back)[1].trade, b);
  EXPECT_EQ((*back)[2].trade, c);
  EXPECT_EQ((*back)[2].trade_id, 3);
  EXPECT_EQ((*back)[0].ingested_at, "2024-05-01T00:00:00.000000Z");
}

TEST(BronzeObject, CorruptOrTruncatedObjectsAreDataLoss) {
  auto data = EncodeBronzeObject({{1, R"({"trade_id":1})"}}, 0, "/x");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(DecodeBronzeObject(data->substr(0, data->size() / 2)).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeBronzeObject("not zstd at all").status().code(), StatusCode::kDataLoss);
  auto no_id = EncodeBronzeObject({{1, R"({"price":"1"})"}}, 0, "/x");
  ASSERT_TRUE(no_id.ok());
  EXPECT_EQ(DecodeBronzeObject(*no_id).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tradelake
