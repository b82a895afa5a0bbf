// `tradelake dq` shows, per product, the gaps the ingester reported: open
// and closed by repair. The gap index lives under _state/ingest, which the
// analyst role dq reads the lake as may not read: dq says so in one line
// and goes on; --gaps-role ingest reads it as a role that may.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "e2e_util.h"
#include "exchange/simulator.h"

namespace tradelake {
namespace {

TEST(DqGapsE2E, DqShowsOpenAndRepairedGapsWhenReadAsARoleThatMayAndSaysWhyNotOtherwise) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD"};
  o.seed = 5;
  o.history_micros = kMicrosPerHour / 2;
  o.trades_per_second = 2;
  o.live = false;
  o.rate_limit = false;
  const int64_t first = [&] {
    auto probe = Simulator::Start(o);
    return probe.ok() ? (*probe)->FirstTradeId("BTC-USD") : 0;
  }();
  ASSERT_GT(first, 0);
  // Ids first+1000..first+1009 are missing from the first 3 pages that cover
  // them, then served; first+2000 never is. Holes apply to every product: ETH-USD's
  // ids are elsewhere, so it has none.
  FaultOptions::HealingHole heal;
  heal.first_id = first + 1000;
  heal.last_id = first + 1009;
  heal.heal_after_asks = 3;
  o.faults.healing_holes = {heal};
  o.faults.holes = {{first + 2000, first + 2000}};
  auto sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  const auto dir = e2e::FreshDir("dq_gaps");
  const std::string lake = (dir / "lake").string();
  std::vector<std::string> ingest = {"ingest", "--products", "BTC-USD,ETH-USD", "--exchange-url", (*sim)->url(),
                                     "--lake", lake, "--from-trade-id", "0", "--no-progress", "--rate-limit", "0",
                                     "--log-level", "error", "--refetch-attempts", "2", "--gap-retry-first", "0s"};
  // Detected, then retried by the next runs (due at once) until repaired.
  for (int run = 0; run < 3; ++run) {
    auto r = e2e::RunTradelake(ingest, dir);
    ASSERT_EQ(r.exit_code, 0) << run << "\n" << r.out << r.err;
  }
  auto etl = e2e::RunTradelake({"etl", "--lake", lake}, dir);
  ASSERT_EQ(etl.exit_code, 0) << etl.out << etl.err;

  // As analyst: the report, and one line on why the gaps are not shown.
  auto dq = e2e::RunTradelake({"dq", "--lake", lake}, dir);
  EXPECT_EQ(dq.exit_code, 0) << dq.out << dq.err;
  EXPECT_NE(dq.out.find("records = inserted + duplicates + rejected: holds"), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find("gaps: not shown: the analyst role may not read _state/ingest"), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find("--gaps-role ingest"), std::string::npos) << dq.out;

  // As ingest: the open gap and the repaired one, per product.
  dq = e2e::RunTradelake({"dq", "--lake", lake, "--gaps-role", "ingest"}, dir);
  EXPECT_EQ(dq.exit_code, 0) << dq.out << dq.err;
  const std::string open = std::to_string(first + 2000) + "-" + std::to_string(first + 2000);
  const std::string closed = std::to_string(first + 1000) + "-" + std::to_string(first + 1009);
  EXPECT_NE(dq.out.find("BTC-USD    1 open (1 ids), 1 closed by repair (10 trades)"), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find("    open    " + open + "  opened "), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find("    closed  " + closed + "  10 trades, opened "), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find(" repair attempt"), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find("ETH-USD    none"), std::string::npos) << dq.out;
  EXPECT_EQ(dq.out.find("not shown"), std::string::npos) << dq.out;

  // Only the products asked for.
  dq = e2e::RunTradelake({"dq", "--lake", lake, "--gaps-role", "ingest", "--products", "ETH-USD"}, dir);
  EXPECT_EQ(dq.exit_code, 0) << dq.out << dq.err;
  EXPECT_EQ(dq.out.find("BTC-USD    1 open"), std::string::npos) << dq.out;
  EXPECT_NE(dq.out.find("ETH-USD    none"), std::string::npos) << dq.out;
}

}  // namespace
}  // namespace tradelake
