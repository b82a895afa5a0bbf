#include "table/catalog.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "table/delta_log.h"

namespace tradelake {
namespace {

// A Gold table's Delta state with files of several products and days,
// product ids chosen so that their folders sort around each other
// ("BTC-USD-X/" < "BTC-USD/" < "BTC-USDC/").
LakeState StateWithFiles() {
  LakeState state;
  DeltaTableState& t = state.tables[std::string(kGoldBars1m)];
  t.version = 3;
  for (const char* product : {"BTC-USD", "BTC-USD-X", "BTC-USDC", "ETH-USD"}) {
    for (const char* date : {"2024-05-01", "2024-05-02", "2024-05-03"}) {
      for (int part = 0; part < 2; ++part) {
        DeltaAddFile add;
        add.path = fmt::format("product_id={}/date={}/part-{}.parquet", product, date, part);
        add.partition_values = {{"product_id", product}, {"date", date}};
        add.size = 100 + part;
        DeltaStats stats;
        stats.num_records = 1;
        stats.min_values = {{"period_start", fmt::format("\"{}T00:0{}:00.000Z\"", date, part)}};
        stats.max_values = {{"period_start", fmt::format("\"{}T23:5{}:00.000Z\"", date, part)}};
        add.stats = SerializeDeltaStats(stats);
        std::string path = add.path;
        t.files.emplace(std::move(path), std::move(add));
      }
    }
  }
  return state;
}

std::vector<std::string> Keys(const std::vector<TableFile>& files) {
  std::vector<std::string> out;
  for (const TableFile& f : files) out.push_back(f.key);
  return out;
}

// The range lookups return exactly what filtering every live file would.
TEST(CatalogLookup, FilesInRangeEqualTheLiveFilesFiltered) {
  const LakeState state = StateWithFiles();
  auto all = LiveFiles(state, kGoldBars1m);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  struct Case {
    std::vector<std::string> products;
    std::string from, to;
  };
  const std::vector<Case> cases = {{{}, "", ""},
                                   {{}, "2024-05-02", ""},
                                   {{}, "", "2024-05-01"},
                                   {{"BTC-USD"}, "", ""},
                                   {{"BTC-USD"}, "2024-05-02", "2024-05-02"},
                                   {{"BTC-USDC", "BTC-USD-X"}, "2024-05-03", ""},
                                   {{"SOL-USD"}, "", ""},
                                   {{"ETH-USD"}, "2024-05-04", ""}};
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("products {} from '{}' to '{}'", fmt::join(c.products, ","), c.from, c.to));
    std::vector<std::string> want;
    for (const TableFile& f : *all) {
      const bool product = c.products.empty() ||
                           std::find(c.products.begin(), c.products.end(), f.product_id) != c.products.end();
      if (product && (c.from.empty() || f.date >= c.from) && (c.to.empty() || f.date <= c.to)) want.push_back(f.key);
    }
    auto got = LiveFilesInRange(state, kGoldBars1m, c.products, c.from, c.to);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Keys(*got), want);
  }
}

TEST(CatalogLookup, ProductEndsHoldTheFirstAndLastDayOfEachProduct) {
  const LakeState state = StateWithFiles();
  auto ends = ProductEnds(state, kGoldBars1m);
  ASSERT_TRUE(ends.ok()) << ends.status().ToString();
  ASSERT_EQ(ends->size(), 4u);
  for (const auto& [product, days] : *ends) {
    SCOPED_TRACE(product);
    ASSERT_EQ(days.first_day.size(), 2u);
    ASSERT_EQ(days.last_day.size(), 2u);
    for (const TableFile& f : days.first_day) {
      EXPECT_EQ(f.product_id, product);
      EXPECT_EQ(f.date, "2024-05-01");
    }
    for (const TableFile& f : days.last_day) {
      EXPECT_EQ(f.product_id, product);
      EXPECT_EQ(f.date, "2024-05-03");
    }
  }
  auto some = ProductEnds(state, kGoldBars1m, {"BTC-USDC", "SOL-USD", "BTC-USD"});
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  ASSERT_EQ(some->size(), 2u);
  EXPECT_TRUE(some->count("BTC-USD"));
  EXPECT_TRUE(some->count("BTC-USDC"));
  // A file outside the partitions is reported, not skipped.
  LakeState bad = StateWithFiles();
  DeltaAddFile stray;
  stray.path = "stray.parquet";
  bad.tables[std::string(kGoldBars1m)].files.emplace(stray.path, stray);
  EXPECT_EQ(ProductEnds(bad, kGoldBars1m).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(LiveFilesInRange(bad, kGoldBars1m, {}).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tradelake
