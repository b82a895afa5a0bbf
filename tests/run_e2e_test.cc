// `tradelake run` as an operator uses it: stopped with SIGTERM in the middle
// of landing (and once killed outright), restarted, and nothing is lost or
// doubled; paused and resumed from another shell; an unknown product; the
// effective config printed and read back.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <simdjson.h>

#include "e2e_util.h"
#include "exchange/simulator.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::unique_ptr<Simulator> LiveSimulator(uint64_t seed, double trades_per_second) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD"};
  o.seed = seed;
  o.history_micros = kMicrosPerHour;
  o.trades_per_second = trades_per_second;
  o.live = true;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return sim.ok() ? std::move(sim).value() : nullptr;
}

// Waits for the ready file (the API's URL); "" after 30 s.
std::string WaitForUrl(const fs::path& ready) {
  for (int i = 0; i < 600 && !fs::exists(ready); ++i) std::this_thread::sleep_for(milliseconds(50));
  std::string url = e2e::ReadFile(ready);
  while (!url.empty() && url.back() == '\n') url.pop_back();
  return url;
}

std::vector<std::string> RunArgs(const std::string& lake, const std::string& exchange, const fs::path& ready) {
  return {"run",           "--lake",        lake,    "--products",      "BTC-USD,ETH-USD",
          "--exchange-url", exchange,       "--since", "2h",            "--port",
          "0",             "--ready-file",  ready.string(), "--rate-limit", "0",
          "--poll-interval", "200ms",       "--flush-interval", "300ms", "--flush-trades",
          "500",           "--etl-debounce", "200ms", "--schedule-poll", "200ms"};
}

TEST(RunE2E, SigtermMidFlushAndAKillThenRestartLoseNothingAndDoubleNothing) {
  auto sim = LiveSimulator(21, 10);
  ASSERT_TRUE(sim);
  const fs::path dir = e2e::FreshDir("run_restart");
  const std::string lake = (dir / "lake").string();
  // Backfilling an hour of two products in objects of 500 trades keeps the
  // ingester flushing all the time: every stop below lands mid-flush.
  const int stop_after_ms[] = {400, 900, 1600, 700};
  for (int cycle = 0; cycle < 4; ++cycle) {
    const bool kill_it = cycle == 3;
    const fs::path ready = dir / ("ready" + std::to_string(cycle));
    const fs::path out = dir / ("run" + std::to_string(cycle) + ".out");
    const fs::path err = dir / ("run" + std::to_string(cycle) + ".err");
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = e2e::Spawn(RunArgs(lake, sim->url(), ready), out, err);
    ASSERT_GT(pid, 0);
    ASSERT_FALSE(WaitForUrl(ready).empty()) << e2e::ReadFile(err);
    std::this_thread::sleep_for(milliseconds(stop_after_ms[cycle]));
    kill(pid, kill_it ? SIGKILL : SIGTERM);
    const int code = e2e::Wait(pid);
    if (kill_it) {
      EXPECT_EQ(code, -SIGKILL);
    } else {
      EXPECT_EQ(code, 0) << e2e::ReadFile(err);
      EXPECT_NE(e2e::ReadFile(out).find("stopping (SIGTERM)"), std::string::npos) << e2e::ReadFile(out);
    }
    std::printf("cycle %d: %s after %d ms, stopped in %.1f s\n", cycle, kill_it ? "SIGKILL" : "SIGTERM",
                stop_after_ms[cycle],
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // The last start catches up with the exchange and keeps following.
  const fs::path ready = dir / "ready-final";
  const pid_t pid = e2e::Spawn(RunArgs(lake, sim->url(), ready), dir / "final.out", dir / "final.err");
  const std::string url = WaitForUrl(ready);
  ASSERT_FALSE(url.empty()) << e2e::ReadFile(dir / "final.err");
  // Caught up: Silver, through the API, holds every trade the exchange had
  // published when this start began (progress, not a timing).
  std::map<std::string, int64_t> published;
  for (const std::string product : {"BTC-USD", "ETH-USD"}) {
    published[product] = sim->LastTradeId(product) - sim->FirstTradeId(product) + 1;
  }
  httplib::Client client(url);
  bool caught_up = false;
  std::string last_status;
  for (int i = 0; i < 1800 && !caught_up; ++i) {
    auto status = client.Get("/api/v1/status");
    if (status && status->status == 200) {
      last_status = status->body;
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      simdjson::dom::array products;
      int done = 0;
      if (parser.parse(status->body).get(doc) == simdjson::SUCCESS &&
          doc["products"].get_array().get(products) == simdjson::SUCCESS) {
        for (auto p : products) {
          std::string_view name;
          int64_t rows = 0;
          if (p["product"].get_string().get(name) == simdjson::SUCCESS &&
              p["silver_rows"].get_int64().get(rows) == simdjson::SUCCESS && rows >= published[std::string(name)]) {
            ++done;
          }
        }
      }
      caught_up = done == 2;
    }
    if (!caught_up) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(caught_up) << "the restarted pipeline did not catch up within 3 minutes: " << last_status;
  std::printf("final start caught up\n");
  kill(pid, SIGTERM);
  ASSERT_EQ(e2e::Wait(pid), 0) << e2e::ReadFile(dir / "final.err");

  // Bronze: every id from the exchange's first trade to the checkpoint, once,
  // byte for byte what the exchange published.
  std::map<std::string, size_t> bronze_count;
  for (const std::string product : {"BTC-USD", "ETH-USD"}) {
    std::string error;
    const auto landed = e2e::ReadBronze(lake, product, &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_FALSE(landed.empty());
    EXPECT_EQ(landed.begin()->first, sim->FirstTradeId(product));
    int64_t expect = landed.begin()->first;
    size_t doubled = 0, missing = 0, different = 0;
    for (const auto& [id, copies] : landed) {
      if (id != expect) missing += static_cast<size_t>(id - expect);
      expect = id + 1;
      if (copies.size() != 1) ++doubled;
      if (copies.front().raw != sim->TradeJson(product, id)) ++different;
    }
    EXPECT_EQ(doubled, 0u) << product;
    EXPECT_EQ(missing, 0u) << product;
    EXPECT_EQ(different, 0u) << product;
    bronze_count[product] = landed.size();
  }
  auto verify = e2e::RunTradelake({"verify", "--lake", lake}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  // Silver after a final ETL: the same trades, once each.
  auto etl = e2e::RunTradelake({"etl", "--lake", lake}, dir);
  ASSERT_EQ(etl.exit_code, 0) << etl.out << etl.err;
  auto sql = e2e::RunTradelake({"sql", "--lake", lake, "--format", "csv",
                                "SELECT product_id, count(*) AS n, count(DISTINCT trade_id) AS d FROM silver.trades "
                                "GROUP BY ALL ORDER BY ALL"},
                               dir);
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  auto row = [&](const std::string& p) {
    return p + "," + std::to_string(bronze_count[p]) + "," + std::to_string(bronze_count[p]) + "\r\n";
  };
  EXPECT_EQ(sql.out, "product_id,n,d\r\n" + row("BTC-USD") + row("ETH-USD"));
}

TEST(RunE2E, SchedulePauseFromAnotherShellStopsExchangeRequestsUntilResumed) {
  auto sim = LiveSimulator(22, 5);
  ASSERT_TRUE(sim);
  const fs::path dir = e2e::FreshDir("run_schedule");
  const std::string lake = (dir / "lake").string();
  const fs::path ready = dir / "ready";
  const pid_t pid = e2e::Spawn(RunArgs(lake, sim->url(), ready), dir / "run.out", dir / "run.err");
  ASSERT_FALSE(WaitForUrl(ready).empty()) << e2e::ReadFile(dir / "run.err");
  std::this_thread::sleep_for(milliseconds(1500));
  auto pause = e2e::RunTradelake({"schedule", "pause", "--lake", lake}, dir);
  ASSERT_EQ(pause.exit_code, 0) << pause.err;
  EXPECT_NE(pause.out.find("\"paused\": true"), std::string::npos) << pause.out;
  std::this_thread::sleep_for(milliseconds(1500));  // > --schedule-poll + a poll
  const int64_t requests = sim->counters().requests;
  std::this_thread::sleep_for(milliseconds(2000));
  EXPECT_EQ(sim->counters().requests, requests) << "a paused pipeline must not call the exchange";
  auto show = e2e::RunTradelake({"schedule", "show", "--lake", lake}, dir);
  EXPECT_NE(show.out.find("\"paused\": true"), std::string::npos) << show.out;
  auto resume = e2e::RunTradelake({"schedule", "resume", "--lake", lake}, dir);
  ASSERT_EQ(resume.exit_code, 0) << resume.err;
  bool calling = false;
  for (int i = 0; i < 100 && !calling; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    calling = sim->counters().requests > requests;
  }
  EXPECT_TRUE(calling) << "resumed, the pipeline polls again";
  kill(pid, SIGTERM);
  EXPECT_EQ(e2e::Wait(pid), 0) << e2e::ReadFile(dir / "run.err");
  EXPECT_NE(e2e::ReadFile(dir / "run.err").find("schedule paused by cli:"), std::string::npos)
      << e2e::ReadFile(dir / "run.err");
}

TEST(RunE2E, AnUnknownProductEndsTheRunWithExit2NamingIt) {
  auto sim = LiveSimulator(23, 1);
  ASSERT_TRUE(sim);
  const fs::path dir = e2e::FreshDir("run_unknown");
  auto r = e2e::RunTradelake({"run", "--lake", (dir / "lake").string(), "--products", "BTC-USD,NOPE-USD",
                              "--exchange-url", sim->url(), "--port", "0"},
                             dir);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("product NOPE-USD is not listed"), std::string::npos) << r.err;
}

TEST(RunE2E, ConfigShowPrintsTheEffectiveSettingsAsTomlThatReadsBack) {
  const fs::path dir = e2e::FreshDir("run_config");
  {
    std::ofstream(dir / "tradelake.toml") << "log-level = \"warn\"\n"
                                             "[run]\n"
                                             "products = \"BTC-USD,SOL-USD\"\n"
                                             "flush-interval = \"5s\"\n"
                                             "token-hash = [\"analyst:" << std::string(64, 'a') << "\"]\n";
  }
  auto shown = e2e::RunTradelake(
      {"--config", (dir / "tradelake.toml").string(), "config", "show", "--port", "9001", "--etl-debounce", "3s"},
      dir);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  // Defaults, then the file, then the flags.
  for (const std::string& line : std::vector<std::string>{"[run]", "products = \"BTC-USD,SOL-USD\"", "flush-interval = \"5s\"",
                                 "port = 9001", "etl-debounce = \"3s\"", "poll-interval = \"1s\"",
                                 "bind = \"127.0.0.1\"", "token-hash = [\"analyst:" + std::string(64, 'a') + "\"]"}) {
    EXPECT_NE(shown.out.find("\n" + line + "\n"), std::string::npos) << line << "\n" << shown.out;
  }
  {
    std::ofstream(dir / "shown.toml") << shown.out;
  }
  auto again = e2e::RunTradelake({"config", "show", "--config", (dir / "shown.toml").string()}, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto settings = [](const std::string& toml) {  // without comments
    std::string out;
    std::istringstream in(toml);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') out += line + "\n";
    }
    return out;
  };
  EXPECT_EQ(settings(again.out), settings(shown.out));
}

}  // namespace
}  // namespace tradelake
