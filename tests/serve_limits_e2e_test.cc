// Hostile statements through POST /api/v1/sql of `tradelake run` (issue 14,
// part 7): a statement that would run for hours and one that would grow the
// process by gigabytes are both stopped with a message naming the limit,
// the pipeline in the same process keeps landing trades, and the process
// stays within its memory limit (its resident set, read from /proc while the
// statements run).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>

#include "e2e_util.h"
#include "exchange/simulator.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

int64_t RssOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/statm", pid));
  int64_t total = 0, resident = 0;
  in >> total >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

int64_t CatalogCommit(httplib::Client& client) {
  auto r = client.Get("/api/v1/status");
  if (!r || r->status != 200) return -1;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  int64_t commit = -1;
  if (parser.parse(r->body).get(doc) != simdjson::SUCCESS) return -1;
  if (doc.at_pointer("/catalog/commit").get_int64().get(commit) != simdjson::SUCCESS) return -1;
  return commit;
}

TEST(ServeLimitsE2E, HostileStatementsAreStoppedWhileRunKeepsLandingTrades) {
  SimulatorOptions o;
  o.products = {"BTC-USD"};
  o.seed = 41;
  o.history_micros = kMicrosPerHour;
  o.trades_per_second = 20;
  o.live = true;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  const fs::path dir = e2e::FreshDir("serve_limits");
  const fs::path ready = dir / "url.txt";
  constexpr int64_t kMemoryLimit = int64_t{512} << 20;
  const pid_t run = e2e::Spawn(
      {"run", "--lake", (dir / "lake").string(), "--products", "BTC-USD", "--exchange-url", (*sim)->url(), "--since",
       "1h", "--port", "0", "--ready-file", ready.string(), "--rate-limit", "0", "--poll-interval", "200ms",
       "--flush-interval", "300ms", "--etl-debounce", "200ms", "--sql-timeout", "8s", "--sql-memory", "512MiB",
       "--sql-max-concurrent", "2"},
      dir / "run.out", dir / "run.err");
  ASSERT_GT(run, 0);
  for (int i = 0; i < 600 && !fs::exists(ready); ++i) std::this_thread::sleep_for(milliseconds(50));
  std::string url = e2e::ReadFile(ready);
  while (!url.empty() && url.back() == '\n') url.pop_back();
  ASSERT_FALSE(url.empty()) << e2e::ReadFile(dir / "run.err");
  httplib::Client client(url);
  client.set_read_timeout(120);
  int64_t commit0 = -1;
  for (int i = 0; i < 1200 && commit0 < 1; ++i) {
    commit0 = CatalogCommit(client);
    if (commit0 < 1) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(commit0, 1) << e2e::ReadFile(dir / "run.err");
  const int64_t rss_start = RssOf(run);

  // The resident set of `run`, sampled while the statements run.
  std::atomic<bool> done{false};
  std::atomic<int64_t> rss_peak{rss_start};
  std::thread sampler([&] {
    while (!done) {
      rss_peak = std::max<int64_t>(rss_peak, RssOf(run));
      std::this_thread::sleep_for(milliseconds(20));
    }
  });

  // The time limit leaves the memory-hungry statement time to reach its
  // limit on a loaded machine (with 3 s, CI's load once stopped it by time).
  auto slow = client.Post("/api/v1/sql", "SELECT sum(range) FROM range(20000000000::BIGINT)", "text/plain");
  auto big = client.Post("/api/v1/sql", "SELECT length(string_agg(repeat('x',1000),'')) FROM range(20000000)",
                         "text/plain");
  done = true;
  sampler.join();
  ASSERT_TRUE(slow && big);
  EXPECT_EQ(slow->status, 400) << slow->body;
  EXPECT_NE(slow->body.find("time limit of 8 s"), std::string::npos) << slow->body;
  EXPECT_EQ(big->status, 400) << big->body;
  EXPECT_NE(big->body.find("memory limit of 512 MiB"), std::string::npos) << big->body;

  // The pipeline lands and commits after the hostile statements (progress, not a timing).
  int64_t commit1 = commit0;
  for (int i = 0; i < 1200 && commit1 <= commit0 + 1; ++i) {
    commit1 = CatalogCommit(client);
    if (commit1 <= commit0 + 1) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GT(commit1, commit0 + 1) << e2e::ReadFile(dir / "run.err");
  auto ok = client.Post("/api/v1/sql", "SELECT count(*) FROM silver.trades", "text/plain");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;

  std::printf("run RSS at start %lld MiB, peak during the hostile statements %lld MiB (limit: start + %lld MiB); "
              "catalog commit %lld before, %lld after\n",
              static_cast<long long>(rss_start >> 20), static_cast<long long>(rss_peak.load() >> 20),
              static_cast<long long>(kMemoryLimit >> 20), static_cast<long long>(commit0),
              static_cast<long long>(commit1));
  // The limit plus what one watchdog poll lets through.
  EXPECT_LT(rss_peak.load() - rss_start, kMemoryLimit + (int64_t{128} << 20));

  kill(run, SIGTERM);
  EXPECT_EQ(e2e::Wait(run), 0) << e2e::ReadFile(dir / "run.err");
}

}  // namespace
}  // namespace tradelake
