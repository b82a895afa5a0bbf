#include "serve/bars_body.h"

#include <gtest/gtest.h>

#include <vector>

#include <nlohmann/json.hpp>

namespace tradelake {
namespace {

TEST(BarsBody, AcceptsGzipReadsTheCodingsAndTheirWeights) {
  for (const char* yes : {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*", "x-gzip", "GZip", " gzip ; q=1",
                          "deflate, *;q=0.1", "gzip;q=0.001"}) {
    EXPECT_TRUE(AcceptsGzip(yes)) << yes;
  }
  for (const char* no : {"", "identity", "br, deflate", "gzip;q=0", "gzip; q=0.000", "*;q=0", "*, gzip;q=0",
                         "gzipped", "gzip;q="}) {
    EXPECT_FALSE(AcceptsGzip(no)) << no;
  }
}

TEST(BarsBody, RowsAndColumnsWithAndWithoutTheLiveTail) {
  BarCells a{60'000'000, {"\"1970-01-01T00:01:00Z\"", "\"1.5\"", "\"2\"", "\"1\"", "\"1.25\"", "\"3\"", "\"4.5\"",
                          "\"1.5\"", "2", "\"1\"", "\"2\""}};
  BarCells b = a;
  b.time = 120'000'000;
  b.cells[0] = "\"1970-01-01T00:02:00Z\"";
  std::vector<BarCells> gold = {a};
  std::vector<LiveBarCells> live = {{b, true}};
  const std::string rows = BarsJson(gold, live, BarsFormat::kRows);
  const auto j = nlohmann::ordered_json::parse(rows);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["close"], "1.25");
  EXPECT_FALSE(j[0].contains("provisional"));
  EXPECT_EQ(j[1]["time"], "1970-01-01T00:02:00Z");
  EXPECT_EQ(j[1]["provisional"], true);
  EXPECT_EQ(j[1]["complete"], true);
  EXPECT_EQ(j.dump(), rows);

  const auto c = nlohmann::ordered_json::parse(BarsJson(gold, live, BarsFormat::kColumnar));
  EXPECT_EQ(c["open"], nlohmann::ordered_json::array({"1.5", "1.5"}));
  EXPECT_EQ(c["trades"], nlohmann::ordered_json::array({2, 2}));
  EXPECT_EQ(c["provisional"], nlohmann::ordered_json::array({false, true}));
  EXPECT_EQ(c["complete"], nlohmann::ordered_json::parse("[null,true]"));
  const auto only_gold = nlohmann::ordered_json::parse(BarsJson(gold, {}, BarsFormat::kColumnar));
  EXPECT_FALSE(only_gold.contains("provisional"));
  EXPECT_EQ(only_gold.size(), 11u);
  EXPECT_EQ(BarsJson({}, {}, BarsFormat::kRows), "[]");
  EXPECT_EQ(nlohmann::ordered_json::parse(BarsJson({}, live, BarsFormat::kColumnar))["complete"],
            nlohmann::ordered_json::parse("[true]"));
}

TEST(BarsBody, GzipIsDecodableAndSmallerForRepetitiveJson) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += R"({"time":"2024-05-01T00:00:00Z","open":"65000.01"},)";
  const std::string gz = Gzip(text);
  ASSERT_FALSE(gz.empty());
  EXPECT_LT(gz.size(), text.size() / 10);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // the gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
}

}  // namespace
}  // namespace tradelake
