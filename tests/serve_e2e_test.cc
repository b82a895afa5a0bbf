// `tradelake serve` as a user starts it: --hash-token, --ready-file, a
// bearer token, the API over the demo-sized lake, and SIGTERM ending it
// cleanly.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "e2e_util.h"
#include "exchange/simulator.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

TEST(ServeE2E, HashedTokenReadyFileApiAndSigterm) {
  SimulatorOptions o;
  o.products = {"BTC-USD"};
  o.seed = 31;
  o.history_micros = 3 * kMicrosPerHour;
  o.trades_per_second = 0.5;
  o.live = false;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  const fs::path dir = e2e::FreshDir("serve");
  const std::string lake = (dir / "lake").string();
  auto ingest = e2e::RunTradelake({"ingest", "--products", "BTC-USD", "--exchange-url", (*sim)->url(), "--lake", lake,
                                   "--no-progress", "--rate-limit", "0", "--from-trade-id", "0", "--then-etl"},
                                  dir);
  ASSERT_EQ(ingest.exit_code, 0) << ingest.out << ingest.err;

  // The token's hash, as an operator makes it: never the token itself in a config.
  const std::string token = "s3cret-analyst-token";
  {
    std::ofstream(dir / "token.txt") << token << "\n";
  }
  const pid_t hasher = e2e::Spawn({"serve", "--hash-token"}, dir / "hash.txt", dir / "hash.err", dir / "token.txt");
  ASSERT_EQ(e2e::Wait(hasher), 0) << e2e::ReadFile(dir / "hash.err");
  std::string hash = e2e::ReadFile(dir / "hash.txt");
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == ' ')) hash.pop_back();
  ASSERT_EQ(hash.size(), 64u) << hash;

  const fs::path ready = dir / "url.txt";
  const pid_t server = e2e::Spawn({"serve", "--lake", lake, "--port", "0", "--token-hash", "analyst:" + hash,
                                   "--ready-file", ready.string()},
                                  dir / "serve.out", dir / "serve.err");
  ASSERT_GT(server, 0);
  for (int i = 0; i < 300 && !fs::exists(ready); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string url = e2e::ReadFile(ready);
  while (!url.empty() && url.back() == '\n') url.pop_back();
  ASSERT_FALSE(url.empty()) << e2e::ReadFile(dir / "serve.err");

  httplib::Client client(url);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto anonymous = client.Get("/api/v1/products");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  auto products = client.Get("/api/v1/products", auth);
  ASSERT_TRUE(products);
  EXPECT_EQ(products->status, 200) << products->body;
  EXPECT_NE(products->body.find("BTC-USD"), std::string::npos) << products->body;
  auto bars = client.Get("/api/v1/bars?product=BTC-USD&interval=1h&from=2000-01-01&to=2100-01-01", auth);
  ASSERT_TRUE(bars);
  EXPECT_EQ(bars->status, 400) << "a century of hourly bars is over the range limit: " << bars->body;
  auto sql = client.Post("/api/v1/sql", auth, "SELECT count(*) AS n FROM silver.trades", "text/plain");
  ASSERT_TRUE(sql);
  EXPECT_EQ(sql->status, 200) << sql->body;
  EXPECT_NE(sql->body.find("bytes_read"), std::string::npos) << sql->body;
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("tradelake_http_requests_total"), std::string::npos);

  ASSERT_EQ(::kill(server, SIGTERM), 0);
  EXPECT_EQ(e2e::Wait(server), 0) << e2e::ReadFile(dir / "serve.err");
}

}  // namespace
}  // namespace tradelake
