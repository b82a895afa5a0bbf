#include "query/statement_limits.h"

#include <gtest/gtest.h>

#include "query/duckdb.h"

namespace tradelake {
namespace {

// A statement that would run for hours is stopped by the time limit, with
// the limit's message, and the connection runs the next statement normally.
TEST(StatementWatchdog, StopsAStatementOverTheTimeLimitAndTheNextOneRuns) {
  auto db = Database::Open(":memory:", {{"threads", "1"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  StatementLimits limits;
  limits.max_micros = 200'000;
  limits.poll_millis = 10;
  StatementWatchdog dog(limits, [&] { con->Interrupt(); });
  dog.Begin();
  auto r = con->Query("SELECT sum(range) FROM range(20000000000::BIGINT)");
  Status s = dog.Finish(r.ok() ? Status::OK() : r.status(), "--sql-timeout", "--sql-memory");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("time limit"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--sql-timeout"), std::string::npos) << s.message();
  EXPECT_EQ(dog.timeouts(), 1);

  dog.Begin();
  auto ok = con->Query("SELECT 42");
  EXPECT_TRUE(dog.Finish(ok.ok() ? Status::OK() : ok.status(), "t", "m").ok());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->GetStringOr(0, 0, ""), "42");
}

// DuckDB 1.4 accounts string_agg's state to memory_limit, but not every
// allocation goes through its buffer manager; the watchdog stops a statement
// by the growth of the process whatever it allocates (here with DuckDB's own
// limit out of the way).
TEST(StatementWatchdog, StopsAStringAggregateThatGrowsPastTheMemoryLimit) {
  auto db = Database::Open(":memory:", {{"threads", "2"}, {"memory_limit", "16GB"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  StatementLimits limits;
  limits.max_growth_bytes = int64_t{256} << 20;
  limits.poll_millis = 10;
  StatementWatchdog dog(limits, [&] { con->Interrupt(); });
  const int64_t before = ProcessRssBytes();
  dog.Begin();
  auto r = con->Query("SELECT length(string_agg(repeat('x',1000),'')) FROM range(20000000)");
  Status s = dog.Finish(r.ok() ? Status::OK() : r.status(), "--sql-timeout", "--sql-memory");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("memory limit"), std::string::npos) << s.message();
  EXPECT_EQ(dog.memory_stops(), 1);
  // Stopped near the limit (20 GB if it had run to the end).
  const int64_t peak = dog.peak_rss_bytes();
  std::printf("rss before %lld MiB, peak while running %lld MiB\n", static_cast<long long>(before >> 20),
              static_cast<long long>(peak >> 20));
  EXPECT_LT(peak - before, int64_t{1} << 30);
}

TEST(StatementWatchdog, DuckDbsMemoryLimitStopsTheStringAggregateItself) {
  auto db = Database::Open(":memory:", {{"threads", "2"}, {"memory_limit", "256MB"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  auto r = con->Query("SELECT length(string_agg(repeat('x',1000),'')) FROM range(20000000)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Out of Memory"), std::string::npos) << r.status().ToString();
}

TEST(StatementWatchdog, WithoutLimitsPassesStatusesThrough) {
  StatementWatchdog dog(StatementLimits{}, nullptr);
  dog.Begin();
  EXPECT_EQ(dog.Finish(InvalidArgument("x"), "t", "m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ProcessRssBytes() > 0, true);
}

}  // namespace
}  // namespace tradelake
