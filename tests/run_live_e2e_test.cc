// `tradelake run` on the live path, as an operator runs it: `tradelake
// simulate --ws-port 0` (REST with 5xx, 429 and truncated answers; a
// WebSocket feed that drops 5% of its messages and closes every connection
// periodically), `tradelake run --ws-url ...` on 50 products, then stopped
// with SIGTERM. Checked:
//   - Bronze holds exactly the simulator's trades: every id from each
//     product's first trade to where the run stopped (at least every trade
//     published before the check began), once, byte for byte as REST serves
//     it (compared with the same seed's market tape, computed here);
//   - every provisional bar the API served as `complete` equals, field for
//     field as text, the committed Gold bar of its minute once Gold holds a
//     later minute (so that minute is final in Gold); a `complete` bar never
//     changes while it is served.
// The simulator serves with 64 threads: its HTTP server gives each keep-alive
// connection a thread while it is open, and the run keeps one per product.
// The simulator's clock is pinned 2 s before a minute, so the first minute the
// feed sees whole (the only kind a bar can be judged complete from) ends about
// 62 s into the run: that is the floor of this test's length (about 75 s).
//
// Configurable by environment, for the full version by hand:
//   TL_RUN_LIVE_SECONDS      observe at least this long (default 0: until the
//                            first whole minute is judged, ~64 s)
//   TL_RUN_LIVE_DISCONNECT   feed disconnect period (default 10s)
//   TL_RUN_LIVE_PRODUCTS     products (default 50)
//   TL_RUN_LIVE_FLUSH        run's --flush-interval (default 2s)
// The 5 minutes with a disconnect every 30 s:
//   TL_RUN_LIVE_SECONDS=300 TL_RUN_LIVE_DISCONNECT=30s build/h-crash/tradelake_e2e_tests --gtest_filter='RunLiveE2E.Fifty*'
//
// Also: products the feed refuses (one the exchange lists as delisted, one
// the feed does not know) are named in run's log, and every product goes on,
// the refused ones by REST polling.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "e2e_util.h"
#include "etl/gold.h"
#include "exchange/market.h"
#include "exchange/simulator.h"
#include "exchange/simulator_ws.h"
#include "support/child_process.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Env(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// A GET of the run's API, parsed; null on any failure.
Json GetJson(httplib::Client& client, const std::string& path) {
  auto res = client.Get(path);
  if (!res || res->status != 200) return nullptr;
  return Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
}

// The bar without the live tail's marks: what Gold's bar of that minute must be.
Json Unmarked(Json bar) {
  bar.erase("provisional");
  bar.erase("complete");
  return bar;
}

// silver_rows by product from /api/v1/status.
std::map<std::string, int64_t> SilverRows(httplib::Client& client) {
  std::map<std::string, int64_t> rows;
  const Json status = GetJson(client, "/api/v1/status");
  if (!status.is_object() || !status.contains("products")) return rows;
  for (const Json& p : status["products"]) {
    if (p.contains("product") && p.contains("silver_rows")) rows[p["product"]] = p["silver_rows"].get<int64_t>();
  }
  return rows;
}

TEST(RunLiveE2E, FiftyProductsThroughRunUnderFeedDropsDisconnectsAndRestFaultsLandExactlyAndBarsMatchGold) {
  const int n_products = std::stoi(Env("TL_RUN_LIVE_PRODUCTS", "50"));
  const int observe_seconds = std::stoi(Env("TL_RUN_LIVE_SECONDS", "0"));
  const std::string disconnect = Env("TL_RUN_LIVE_DISCONNECT", "10s");
  const std::string flush = Env("TL_RUN_LIVE_FLUSH", "2s");
  constexpr uint64_t kSeed = 12;
  constexpr double kTradesPerSecond = 0.3;
  const int64_t history = 10 * kMicrosPerMinute;

  std::vector<std::string> products;
  for (int i = 0; i < n_products; ++i) products.push_back(fmt::format("P{:02d}-USD", i));
  std::string product_list;
  for (const auto& p : products) product_list += (product_list.empty() ? "" : ",") + p;

  const fs::path dir = e2e::FreshDir("run_live");
  const std::string lake = (dir / "lake").string();
  // The simulator's clock: 2 s before a minute boundary when it starts.
  const TimestampMicros wall = NowMicros();
  const TimestampMicros sim_start = PeriodStart(wall, kMicrosPerMinute) + kMicrosPerMinute - 2 * kMicrosPerSecond;
  const TimestampMicros offset = sim_start - wall;
  const TimestampMicros first_whole_minute = sim_start + 2 * kMicrosPerSecond;
  auto sim_now = [&] { return NowMicros() + offset; };

  e2e::Child sim(e2e::Spawn({"simulate", "--port", "0", "--ws-port", "0", "--products", product_list, "--seed",
                             std::to_string(kSeed), "--history", "10m", "--trades-per-second",
                             fmt::format("{}", kTradesPerSecond), "--now", FormatRfc3339Micros(sim_start),
                             "--no-rate-limit", "--threads", "64", "--fault-5xx", "0.02", "--fault-429", "0.02", "--fault-truncate",
                             "0.02", "--ws-fault-drop", "0.05", "--ws-disconnect-every", disconnect, "--ready-file",
                             (dir / "sim.ready").string()},
                            dir / "sim.out", dir / "sim.err"));
  ASSERT_TRUE(sim.running());
  const std::string rest_url = e2e::WaitForReadyFile(dir / "sim.ready", seconds(60));
  ASSERT_FALSE(rest_url.empty()) << e2e::ReadFile(dir / "sim.err");
  const std::string sim_out = e2e::ReadFile(dir / "sim.out");
  const size_t at = sim_out.find("ws://");
  ASSERT_NE(at, std::string::npos) << sim_out;
  const std::string ws_url = sim_out.substr(at, sim_out.find('\n', at) - at);

  const auto t0 = std::chrono::steady_clock::now();
  e2e::Child run(e2e::Spawn({"run", "--lake", lake, "--products", product_list, "--exchange-url", rest_url, "--ws-url",
                             ws_url, "--port", "0", "--ready-file", (dir / "run.ready").string(), "--rate-limit", "0",
                             "--flush-interval", flush, "--etl-debounce", "500ms", "--etl-max-delay", "5s",
                             "--no-reconcile", "--poll-interval", "1s"},
                            dir / "run.out", dir / "run.err"));
  ASSERT_TRUE(run.running());
  const std::string api = e2e::WaitForReadyFile(dir / "run.ready", seconds(60));
  ASSERT_FALSE(api.empty()) << e2e::ReadFile(dir / "run.err");
  httplib::Client client(api);
  client.set_read_timeout(30, 0);

  // Observe: every product's 1m bars, about once a second. A complete bar is
  // kept as first served; it must never change.
  const std::string from = FormatRfc3339Trimmed(sim_start - history - kMicrosPerHour);
  const std::string to = FormatRfc3339Trimmed(sim_start + 2 * kMicrosPerHour);
  std::map<std::pair<std::string, std::string>, Json> complete;  // (product, minute) -> bar
  int changed = 0, polls = 0;
  auto poll_bars = [&](std::map<std::string, Json>* last_answer) {
    for (const std::string& p : products) {
      const Json answer =
          GetJson(client, fmt::format("/api/v1/bars?product={}&interval=1m&from={}&to={}", p, from, to));
      if (!answer.is_object() || !answer.contains("bars")) continue;
      if (last_answer) (*last_answer)[p] = answer;
      for (const Json& bar : answer["bars"]) {
        if (!bar.value("provisional", false) || !bar.value("complete", false)) continue;
        auto [it, inserted] = complete.try_emplace({p, bar["time"].get<std::string>()}, Unmarked(bar));
        if (!inserted && it->second != Unmarked(bar)) {
          ADD_FAILURE() << p << " " << it->first.second << ": a complete bar changed from " << it->second.dump()
                        << " to " << bar.dump();
          ++changed;
        }
      }
    }
    ++polls;
  };
  // The first whole minute can be judged 2 s (the heartbeat grace) after it
  // ends; on a busy machine a little later: then up to a minute more is
  // given for the first complete bar to show.
  const TimestampMicros judged = first_whole_minute + kMicrosPerMinute + 4 * kMicrosPerSecond;
  while (sim_now() < judged || std::chrono::steady_clock::now() - t0 < seconds(observe_seconds) ||
         (complete.empty() && sim_now() < judged + kMicrosPerMinute)) {
    ASSERT_LT(std::chrono::steady_clock::now() - t0, seconds(observe_seconds + 240))
        << "the observation did not end";
    const auto round = std::chrono::steady_clock::now();
    poll_bars(nullptr);
    std::this_thread::sleep_until(round + seconds(1));  // a polling period, not a wait for an outcome
  }

  // Catch up: Silver (through the API) holds every trade published before the check.
  const TimestampMicros check = sim_now();
  std::map<std::string, std::unique_ptr<Market>> tape;
  std::map<std::string, int64_t> expected_rows;
  for (const std::string& p : products) {
    auto profile = ProfileFor(p);
    ASSERT_TRUE(profile.ok()) << profile.status().ToString();
    auto m = std::make_unique<Market>(*profile, kSeed, sim_start - history, kTradesPerSecond);
    m->AdvanceTo(check + 10 * kMicrosPerMinute);  // beyond anything the run can have landed
    expected_rows[p] = m->FirstIdAtOrAfter(check + 1) - m->first_trade_id();
    tape[p] = std::move(m);
  }
  std::map<std::string, int64_t> rows;
  const bool caught_up = e2e::PollUntil(
      [&] {
        rows = SilverRows(client);
        for (const std::string& p : products) {
          if (rows[p] < expected_rows[p]) return false;
        }
        return true;
      },
      seconds(120), milliseconds(250));
  ASSERT_TRUE(caught_up) << "Silver did not reach every trade published before the check; e.g. " << products[0]
                         << " has " << rows[products[0]] << " of " << expected_rows[products[0]];
  const double caught_up_at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  poll_bars(nullptr);
  ASSERT_EQ(run.Stop(SIGTERM), 0) << e2e::ReadFile(dir / "run.err");
  const double seconds_run = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(sim.Stop(SIGTERM), 0) << e2e::ReadFile(dir / "sim.err");
  const std::string run_err = e2e::ReadFile(dir / "run.err");

  // Bronze: exactly the tape's trades from the first to the last landed, each once, byte-exact.
  int64_t trades = 0;
  for (const std::string& p : products) {
    std::string error;
    const auto landed = e2e::ReadBronze(lake, p, &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_FALSE(landed.empty()) << p;
    const Market& m = *tape[p];
    EXPECT_EQ(landed.begin()->first, m.first_trade_id()) << p;
    EXPECT_GE(landed.rbegin()->first - m.first_trade_id() + 1, expected_rows[p]) << p;
    int64_t expect = m.first_trade_id();
    int64_t missing = 0, doubled = 0, altered = 0;
    for (const auto& [id, copies] : landed) {
      missing += id - expect;
      expect = id + 1;
      doubled += copies.size() != 1;
      ASSERT_LE(id, m.last_trade_id()) << p;
      altered += copies.front().raw != m.TradeJson(id);
    }
    EXPECT_EQ(missing, 0) << p;
    EXPECT_EQ(doubled, 0) << p;
    EXPECT_EQ(altered, 0) << p;
    trades += static_cast<int64_t>(landed.size());
  }

  // Provisional bars judged complete = the committed Gold bar of the minute,
  // as `tradelake serve` (no live tail) serves it from the lake the run
  // left, once Gold holds a later minute (its newest bar may still grow).
  e2e::Child serve(e2e::Spawn({"serve", "--lake", lake, "--port", "0", "--ready-file", (dir / "serve.ready").string()},
                              dir / "serve.out", dir / "serve.err"));
  const std::string serve_url = e2e::WaitForReadyFile(dir / "serve.ready", seconds(60));
  ASSERT_FALSE(serve_url.empty()) << e2e::ReadFile(dir / "serve.err");
  httplib::Client gold_client(serve_url);
  gold_client.set_read_timeout(30, 0);
  std::map<std::string, Json> gold_answer;
  int compared = 0, not_final = 0;
  for (const auto& [key, bar] : complete) {
    const auto& [product, minute] = key;
    if (!gold_answer.contains(product)) {
      gold_answer[product] =
          GetJson(gold_client, fmt::format("/api/v1/bars?product={}&interval=1m&from={}&to={}", product, from, to));
    }
    const Json& answer = gold_answer[product];
    ASSERT_TRUE(answer.is_object() && answer.contains("bars")) << product;
    std::map<std::string, Json> gold;
    std::string newest_gold;
    for (const Json& b : answer["bars"]) {
      EXPECT_FALSE(b.contains("provisional")) << b.dump();
      gold[b["time"]] = b;
      newest_gold = std::max(newest_gold, b["time"].get<std::string>());
    }
    if (minute >= newest_gold) {
      ++not_final;
      continue;
    }
    const auto g = gold.find(minute);
    ASSERT_NE(g, gold.end()) << product << " " << minute << ": complete provisional bar " << bar.dump()
                             << ", but Gold has no bar there";
    EXPECT_EQ(bar, g->second) << product << " " << minute;
    ++compared;
  }
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << e2e::ReadFile(dir / "serve.err");
  EXPECT_EQ(changed, 0);
  EXPECT_GT(compared, 0) << "no complete provisional bar could be compared with Gold (" << complete.size()
                         << " complete, " << not_final << " not final in Gold)";
  const size_t reconnects = [&] {
    size_t n = 0;
    for (size_t pos = run_err.find("reconnecting"); pos != std::string::npos;
         pos = run_err.find("reconnecting", pos + 1)) {
      ++n;
    }
    return n;
  }();
  EXPECT_GT(reconnects, 0u) << "the feed was disconnected every " << disconnect;
  std::printf("run live e2e: %d products, run for %.0f s (caught up %.0f s after start); %lld trades in Bronze "
              "(exact); %zu complete provisional bars, %d equal to Gold, %d not final in Gold; %zu feed reconnects; "
              "%d polls; test %.0f s\n",
              n_products, seconds_run, caught_up_at, static_cast<long long>(trades), complete.size(), compared,
              not_final, reconnects, polls,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

// A product the feed does not know and one the exchange lists as delisted
// (served here by a feed that does not carry them): run names each in its
// log, keeps the feed for the others, and keeps landing every product, the
// refused ones by polling REST.
TEST(RunLiveE2E, ProductsTheFeedRefusesAreNamedAndEveryProductGoesOn) {
  const TimestampMicros now = NowMicros();
  SimulatorOptions rest;
  rest.products = {"BTC-USD", "ETH-USD", "OLD-USD", "NEW-USD"};
  rest.product_status = {{"OLD-USD", "delisted"}};
  rest.seed = 31;
  rest.now = now;
  rest.history_micros = 5 * kMicrosPerMinute;
  rest.trades_per_second = 2;
  rest.rate_limit = false;
  auto rest_sim = Simulator::Start(rest);
  ASSERT_TRUE(rest_sim.ok()) << rest_sim.status().ToString();
  // The feed's exchange carries only BTC-USD and ETH-USD (the same tapes).
  SimulatorOptions feed_options = rest;
  feed_options.products = {"BTC-USD", "ETH-USD"};
  feed_options.product_status.clear();
  auto feed_sim = Simulator::Start(feed_options);
  ASSERT_TRUE(feed_sim.ok()) << feed_sim.status().ToString();
  auto ws = SimulatorWs::Start(feed_sim->get(), SimulatorWsOptions{});
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();

  const fs::path dir = e2e::FreshDir("run_refused");
  const std::string lake = (dir / "lake").string();
  e2e::Child run(e2e::Spawn({"run", "--lake", lake, "--products", "BTC-USD,ETH-USD,OLD-USD,NEW-USD", "--exchange-url",
                             (*rest_sim)->url(), "--ws-url", (*ws)->url(), "--port", "0", "--ready-file",
                             (dir / "run.ready").string(), "--rate-limit", "0", "--flush-interval", "500ms",
                             "--poll-interval", "300ms", "--etl-debounce", "300ms", "--no-reconcile"},
                            dir / "run.out", dir / "run.err"));
  ASSERT_TRUE(run.running());
  const std::string api = e2e::WaitForReadyFile(dir / "run.ready", seconds(60));
  ASSERT_FALSE(api.empty()) << e2e::ReadFile(dir / "run.err");

  // Named, each.
  const bool named = e2e::PollUntil(
      [&] {
        const std::string err = e2e::ReadFile(dir / "run.err");
        return err.find("refused OLD-USD") != std::string::npos && err.find("refused NEW-USD") != std::string::npos;
      },
      seconds(30));
  const std::string err = e2e::ReadFile(dir / "run.err");
  EXPECT_TRUE(named) << err;
  EXPECT_NE(err.find("OLD-USD: the exchange lists it as \"delisted\""), std::string::npos) << err;
  EXPECT_NE(err.find("product NEW-USD: the exchange refused the WebSocket subscription"), std::string::npos) << err;

  // Every product lands trades published after the refusals (the refused
  // ones by polling REST every --poll-interval, not the 60 s safety poll);
  // those the feed carries also get provisional bars.
  std::map<std::string, int64_t> at_refused;
  for (const std::string& p : rest.products) at_refused[p] = (*rest_sim)->LastTradeId(p);
  std::map<std::string, int64_t> newest;
  const bool landed = e2e::PollUntil(
      [&] {
        for (const std::string& p : rest.products) {
          std::string error;
          const auto bronze = e2e::ReadBronze(lake, p, &error);
          newest[p] = bronze.empty() ? 0 : bronze.rbegin()->first;
          if (newest[p] <= at_refused[p]) return false;
        }
        return true;
      },
      seconds(30), milliseconds(250));
  EXPECT_TRUE(landed) << "OLD-USD " << newest["OLD-USD"] << " / " << at_refused["OLD-USD"] << ", NEW-USD "
                      << newest["NEW-USD"] << " / " << at_refused["NEW-USD"] << "\n"
                      << e2e::ReadFile(dir / "run.err");
  httplib::Client client(api);
  const std::string from = FormatRfc3339Trimmed(now - kMicrosPerHour);
  const std::string to = FormatRfc3339Trimmed(now + kMicrosPerHour);
  bool provisional = false;
  e2e::PollUntil(
      [&] {
        const Json answer =
            GetJson(client, fmt::format("/api/v1/bars?product=BTC-USD&interval=1m&from={}&to={}", from, to));
        if (!answer.is_object() || !answer.contains("bars")) return false;
        for (const Json& b : answer["bars"]) provisional = provisional || b.value("provisional", false);
        return provisional;
      },
      seconds(30), milliseconds(250));
  EXPECT_TRUE(provisional) << "BTC-USD's feed goes on: its provisional bars are served";
  EXPECT_EQ(run.Stop(SIGTERM), 0) << e2e::ReadFile(dir / "run.err");
}

}  // namespace
}  // namespace tradelake
