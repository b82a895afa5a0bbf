// End-to-end: the real `tradelake ingest` against the in-process simulator.
// The truth is the simulator's own record of what it published; Bronze is
// read back without tradelake's reader.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <random>
#include <set>

#include "e2e_util.h"
#include "exchange/simulator.h"

namespace tradelake {
namespace {

using e2e::FreshDir;
using e2e::RunTradelake;

const std::vector<std::string> kProducts = {"BTC-USD", "ETH-USD", "SOL-USD"};

std::unique_ptr<Simulator> StartSim(SimulatorOptions o) {
  auto sim = Simulator::Start(std::move(o));
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return sim.ok() ? std::move(sim).value() : nullptr;
}

// Bronze holds exactly the ids the simulator published (minus its holes),
// each once, byte for byte.
void ExpectBronzeEqualsExchange(const e2e::fs::path& lake, Simulator& sim, const std::string& product) {
  std::string error;
  const auto landed = e2e::ReadBronze(lake, product, &error);
  ASSERT_TRUE(error.empty()) << error;
  const int64_t first = sim.FirstTradeId(product), last = sim.LastTradeId(product);
  int64_t expected = 0, missing = 0, dup = 0, altered = 0, extra = 0;
  for (int64_t id = first; id <= last; ++id) {
    if (sim.IsHole(id)) continue;
    ++expected;
    auto it = landed.find(id);
    if (it == landed.end()) {
      if (missing++ < 5) ADD_FAILURE() << product << ": trade " << id << " missing from Bronze";
      continue;
    }
    if (it->second.size() != 1) ++dup;
    if (it->second[0].raw != sim.TradeJson(product, id)) ++altered;
  }
  for (const auto& [id, copies] : landed) {
    if (id < first || id > last || sim.IsHole(id)) ++extra;
  }
  EXPECT_EQ(missing, 0) << product;
  EXPECT_EQ(dup, 0) << product << ": trades stored more than once";
  EXPECT_EQ(altered, 0) << product << ": trades not byte-identical to what the exchange sent";
  EXPECT_EQ(extra, 0) << product << ": trades the exchange never published";
  EXPECT_EQ(static_cast<int64_t>(landed.size()), expected) << product;
}

std::vector<std::string> IngestArgs(const Simulator& sim, const e2e::fs::path& lake) {
  return {"ingest", "--products", "BTC-USD,ETH-USD,SOL-USD", "--exchange-url", sim.url(),
          "--lake", lake.string(), "--from-trade-id", "0", "--no-progress", "--rate-limit", "0",
          "--backoff-base-ms", "1", "--backoff-max-ms", "20", "--max-attempts", "30",
          "--log-level", "error"};
}

TEST(IngestE2E, MillionTradesThroughFaultsLandExactlyOnceAndObjectsNeverChange) {
  SimulatorOptions o;
  o.products = kProducts;
  o.seed = 7;
  o.history_micros = 24 * kMicrosPerHour;
  o.trades_per_second = 4.0;  // ~345k per product, > 1,000,000 in all
  o.live = false;
  o.rate_limit = false;
  o.faults.error_5xx = 0.05;
  o.faults.error_429 = 0.05;
  o.faults.truncate = 0.03;
  o.faults.drop = 0.01;
  o.faults.overlap = 0.05;
  o.faults.duplicate = 0.05;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  int64_t total = 0;
  for (const auto& p : kProducts) total += sim->LastTradeId(p) - sim->FirstTradeId(p) + 1;
  ASSERT_GE(total, 1'000'000);

  const auto dir = FreshDir("million");
  const auto lake = dir / "lake";
  auto args = IngestArgs(*sim, lake);
  // Walk back to the start of history by time, not by id: exercises --since.
  args[7] = "--since";
  args[8] = "2000-01-01T00:00:00Z";
  auto r = RunTradelake(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& p : kProducts) ExpectBronzeEqualsExchange(lake, *sim, p);
  EXPECT_EQ(e2e::CountTempFiles(lake), 0);
  EXPECT_GT(sim->counters().faults, 0);

  // A second run finds nothing new, writes nothing and changes nothing.
  const auto before = e2e::SnapshotBronze(lake);
  auto again = RunTradelake(args, dir);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(e2e::SnapshotBronze(lake), before);

  auto verify = RunTradelake({"verify", "--lake", lake.string()}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("ok: contiguous"), std::string::npos) << verify.out;
}

TEST(IngestE2E, KilledTwentyTimesThenResumesWithoutLossOrDuplicates) {
  SimulatorOptions o;
  o.products = kProducts;
  o.seed = 11;
  o.history_micros = 8 * kMicrosPerHour;
  o.trades_per_second = 5.0;  // ~144k per product
  o.live = false;
  o.rate_limit = false;
  o.faults.error_5xx = 0.02;
  o.faults.overlap = 0.02;
  o.faults.duplicate = 0.02;
  o.faults.latency_ms = 2;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("kill");
  const auto lake = dir / "lake";
  auto args = IngestArgs(*sim, lake);
  args.insert(args.end(), {"--object-trades", "3000"});

  std::mt19937 rng(20261127);
  std::map<std::string, std::string> seen;
  int killed_mid_run = 0;
  for (int i = 0; i < 20; ++i) {
    const pid_t pid = e2e::Spawn(args, dir / "out.txt", dir / "err.txt");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 400)(rng)));
    ::kill(pid, SIGKILL);
    const int code = e2e::Wait(pid);
    if (code == -SIGKILL) ++killed_mid_run;
    // Objects seen earlier are never modified or removed by later runs.
    const auto now = e2e::SnapshotBronze(lake);
    for (const auto& [path, bytes] : seen) {
      auto it = now.find(path);
      ASSERT_NE(it, now.end()) << path << " disappeared";
      ASSERT_EQ(it->second, bytes) << path << " was modified";
    }
    seen = now;
  }
  EXPECT_GE(killed_mid_run, 10) << "most runs should have been killed mid-work";
  auto r = RunTradelake(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& p : kProducts) ExpectBronzeEqualsExchange(lake, *sim, p);
  const auto final_snap = e2e::SnapshotBronze(lake);
  for (const auto& [path, bytes] : seen) EXPECT_EQ(final_snap.at(path), bytes) << path;
}

TEST(IngestE2E, HolesTheExchangeCannotReturnGoToTheGapReport) {
  SimulatorOptions o;
  o.products = {"BTC-USD"};
  o.seed = 3;
  o.history_micros = kMicrosPerHour;
  o.live = false;
  o.rate_limit = false;
  auto probe = StartSim(o);
  ASSERT_NE(probe, nullptr);
  const int64_t first = probe->FirstTradeId("BTC-USD");
  probe.reset();
  o.faults.holes = {{first + 1500, first + 1504}, {first + 4000, first + 4000}};
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("holes");
  const auto lake = dir / "lake";
  auto r = RunTradelake({"ingest", "--products", "BTC-USD", "--exchange-url", sim->url(), "--lake", lake.string(),
                "--from-trade-id", std::to_string(first), "--no-progress", "--rate-limit", "0",
                "--backoff-base-ms", "1", "--log-level", "error"},
               dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("GAPS 2 (6 trades"), std::string::npos) << r.out;
  ExpectBronzeEqualsExchange(lake, *sim, "BTC-USD");
  const auto gaps = lake / "_state/ingest/source=coinbase/product=BTC-USD/gaps";
  EXPECT_TRUE(e2e::fs::exists(gaps / (std::to_string(first + 1500) + "-" + std::to_string(first + 1504) + ".json")));
  EXPECT_TRUE(e2e::fs::exists(gaps / (std::to_string(first + 4000) + "-" + std::to_string(first + 4000) + ".json")));
  auto verify = RunTradelake({"verify", "--lake", lake.string()}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("6 ids in gap reports"), std::string::npos) << verify.out;
}

TEST(IngestE2E, ShortPagesOfSevenTradesThroughFaultsLandEveryTradeWithoutAGapReport) {
  // An exchange may return fewer trades than `limit`: every page here holds
  // at most 7, and 429s, 5xx and cut bodies come on top.
  SimulatorOptions o;
  o.products = kProducts;
  o.seed = 12;
  o.history_micros = 30 * kMicrosPerMinute;
  o.trades_per_second = 2.0;  // ~3,600 trades a product: ~500 short pages each
  o.live = false;
  o.rate_limit = false;
  o.faults.short_page_max = 7;
  o.faults.error_5xx = 0.05;
  o.faults.error_429 = 0.05;
  o.faults.truncate = 0.05;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("short-pages");
  const auto lake = dir / "lake";
  auto r = RunTradelake(IngestArgs(*sim, lake), dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("GAPS"), std::string::npos) << r.out;
  for (const auto& p : kProducts) {
    ExpectBronzeEqualsExchange(lake, *sim, p);
    EXPECT_FALSE(e2e::fs::exists(lake / ("_state/ingest/source=coinbase/product=" + p) / "gaps")) << p;
  }
  EXPECT_GT(sim->counters().faults, 0);
  auto verify = RunTradelake({"verify", "--lake", lake.string()}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out.find("gap reports"), std::string::npos) << verify.out;
}

TEST(IngestE2E, AGapThatHealsIsRepairedAutomaticallyAndVerifyIsCleanAfterwards) {
  SimulatorOptions o;
  o.products = {"BTC-USD"};
  o.seed = 3;
  o.history_micros = kMicrosPerHour;
  o.live = false;
  o.rate_limit = false;
  auto probe = StartSim(o);
  ASSERT_NE(probe, nullptr);
  const int64_t first = probe->FirstTradeId("BTC-USD");
  probe.reset();
  // Missing from the first 3 pages that cover it: the detecting run asks
  // twice (--refetch-attempts 2), the next run's repair once; then it heals.
  FaultOptions::HealingHole heal;
  heal.first_id = first + 2500;
  heal.last_id = first + 2509;
  heal.heal_after_asks = 3;
  o.faults.healing_holes = {heal};
  o.faults.holes = {{first + 4000, first + 4000}};  // never heals
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("healing");
  const auto lake = dir / "lake";
  std::vector<std::string> args = {"ingest", "--products", "BTC-USD", "--exchange-url", sim->url(), "--lake",
                                   lake.string(), "--from-trade-id", std::to_string(first), "--no-progress",
                                   "--rate-limit", "0", "--backoff-base-ms", "1", "--log-level", "error",
                                   "--refetch-attempts", "2"};
  auto r = RunTradelake(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("GAPS 2 (11 trades"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 gaps open (11 ids"), std::string::npos) << r.out;
  auto verify = RunTradelake({"verify", "--lake", lake.string()}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("0 closed by repair (0 trades), 2 open (11 ids)"), std::string::npos) << verify.out;

  // A one-shot run retries the due gaps first (due at once with
  // --gap-retry-first 0s): still missing.
  auto due_now = args;
  due_now.insert(due_now.end(), {"--gap-retry-first", "0s"});
  r = RunTradelake(due_now, dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("repaired"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 gaps open (11 ids"), std::string::npos) << r.out;

  // Following, the gap is retried while polling, heals and is repaired.
  auto follow = args;
  follow.insert(follow.end(), {"--follow", "--poll-interval", "50ms", "--gap-retry-first", "100ms"});
  const pid_t pid = e2e::Spawn(follow, dir / "follow.out", dir / "follow.err");
  ASSERT_GT(pid, 0);
  const auto repairs = lake / "_state/ingest/source=coinbase/product=BTC-USD/gap_repairs";
  for (int i = 0; i < 600 && !(e2e::fs::exists(repairs) && !e2e::fs::is_empty(repairs)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a deadline, not a timing assertion
  }
  ::kill(pid, SIGINT);
  EXPECT_EQ(e2e::Wait(pid), 0) << e2e::ReadFile(dir / "follow.err");
  ASSERT_TRUE(e2e::fs::exists(repairs / (std::to_string(first + 2500) + "-" + std::to_string(first + 2509) + ".json")))
      << e2e::ReadFile(dir / "follow.out") << e2e::ReadFile(dir / "follow.err");
  EXPECT_FALSE(sim->IsHole(first + 2500));
  ExpectBronzeEqualsExchange(lake, *sim, "BTC-USD");  // the healed ids once, byte for byte

  verify = RunTradelake({"verify", "--lake", lake.string()}, dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("ok: 1 ids in gap reports"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("1 closed by repair (10 trades), 1 open (1 ids)"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("after 2 attempts"), std::string::npos) << verify.out;

  // The ETL finds the repaired object through the landed log like any other.
  auto etl = RunTradelake({"etl", "--lake", lake.string()}, dir);
  ASSERT_EQ(etl.exit_code, 0) << etl.out << etl.err;
  const int64_t expected = sim->LastTradeId("BTC-USD") - first + 1 - 1;  // minus the hole that never heals
  std::string text = std::to_string(expected);
  for (int i = static_cast<int>(text.size()) - 3; i > 0; i -= 3) text.insert(static_cast<size_t>(i), ",");
  EXPECT_NE(etl.out.find(text + " inserted"), std::string::npos) << etl.out;
}

TEST(IngestE2E, AllOnlineProductsNarrowedByQuoteAndExclusions) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD", "SOL-USD", "BTC-USDC", "DOGE-EUR", "LUNA-USD"};
  o.product_status = {{"LUNA-USD", "delisted"}};
  o.history_micros = 10 * kMicrosPerMinute;
  o.live = false;
  o.rate_limit = false;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("all-products");
  const auto lake = dir / "lake";
  auto r = RunTradelake({"ingest", "--products", "all", "--quote", "USD,USDC", "--exclude", "ETH-USD",
                         "--exchange-url", sim->url(), "--lake", lake.string(), "--no-progress", "--rate-limit", "0",
                         "--log-level", "error"},
                        dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::set<std::string> landed;
  for (const auto& e : e2e::fs::directory_iterator(lake / "bronze/source=coinbase")) {
    landed.insert(e.path().filename().string());
  }
  EXPECT_EQ(landed, (std::set<std::string>{"product=BTC-USD", "product=BTC-USDC", "product=SOL-USD"}));
  for (const auto& p : {"BTC-USD", "BTC-USDC", "SOL-USD"}) EXPECT_NE(r.out.find(p), std::string::npos) << r.out;

  // An explicit list still names an unknown product; a delisted one may be asked for.
  r = RunTradelake({"ingest", "--products", "LUNA-USD,NOPE-USD", "--exchange-url", sim->url(), "--lake",
                    lake.string(), "--no-progress"},
                   dir);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("product NOPE-USD is not listed by the exchange"), std::string::npos) << r.err;
  r = RunTradelake({"ingest", "--products", "all", "--quote", "JPY", "--exchange-url", sim->url(), "--lake",
                    lake.string(), "--no-progress"},
                   dir);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("selects nothing"), std::string::npos) << r.err;
}

TEST(IngestE2E, UnknownProductIsAClearErrorAndWritesNothing) {
  SimulatorOptions o;
  o.products = {"BTC-USD"};
  o.history_micros = kMicrosPerHour;
  o.live = false;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("unknown");
  const auto lake = dir / "lake";
  auto r = RunTradelake({"ingest", "--products", "BTC-USD,FOO-USD", "--exchange-url", sim->url(), "--lake",
                lake.string(), "--no-progress"},
               dir);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("product FOO-USD is not listed by the exchange"), std::string::npos) << r.err;
  EXPECT_FALSE(e2e::fs::exists(lake / "bronze"));
  EXPECT_FALSE(e2e::fs::exists(lake / "_state"));
}

TEST(IngestE2E, RefusedConnectionIsAClearErrorAndWritesNothing) {
  // A port that was just free: bind it, learn it, close it; nothing listens there.
  int port = 0;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port = ntohs(addr.sin_port);
    ::close(fd);
  }
  const auto dir = FreshDir("refused");
  const auto lake = dir / "lake";
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto r = RunTradelake({"ingest", "--products", "BTC-USD", "--exchange-url", url, "--lake", lake.string(),
                "--no-progress", "--max-attempts", "2", "--backoff-base-ms", "1"},
               dir);
  EXPECT_EQ(r.exit_code, 69) << r.out << r.err;
  EXPECT_NE(r.err.find(url), std::string::npos) << r.err;
  EXPECT_FALSE(e2e::fs::exists(lake / "bronze"));
}

TEST(IngestE2E, MalformedTradePageIsAClearErrorAndLeavesNoPartialObject) {
  httplib::Server server;
  server.Get("/products", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"([{"id":"BTC-USD","status":"online","base_increment":"0.00000001","quote_increment":"0.01"}])",
                    "application/json");
  });
  server.Get(R"(/products/BTC-USD/trades)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"([{"trade_id":5,"side":"buy","size":"1","price":"2","time":"2024-05-01T00:00:00Z"},{"trade_id":4,"si)",
                    "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  const auto dir = FreshDir("malformed");
  const auto lake = dir / "lake";
  auto r = RunTradelake({"ingest", "--products", "BTC-USD", "--exchange-url", "http://127.0.0.1:" + std::to_string(port),
                "--lake", lake.string(), "--no-progress", "--max-attempts", "3", "--backoff-base-ms", "1",
                "--from-trade-id", "1"},
               dir);
  server.stop();
  t.join();
  EXPECT_EQ(r.exit_code, 69) << r.out << r.err;
  EXPECT_NE(r.err.find("malformed JSON"), std::string::npos) << r.err;
  EXPECT_FALSE(e2e::fs::exists(lake / "bronze"));
  EXPECT_EQ(e2e::CountTempFiles(lake), 0);
}

TEST(IngestE2E, HelpExplainsEveryCommand) {
  const auto dir = FreshDir("help");
  const std::vector<std::pair<std::string, std::string>> expect = {
      {"ingest", "--since"}, {"verify", "--lake"}, {"simulate", "--fault-5xx"}};
  for (const auto& [cmd, flag] : expect) {
    auto r = RunTradelake({cmd, "--help"}, dir);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find(flag), std::string::npos) << cmd << ": " << r.out;
  }
  auto top = RunTradelake({"--help"}, dir);
  EXPECT_NE(top.out.find("Exit codes"), std::string::npos) << top.out;
  auto bad = RunTradelake({"ingest"}, dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--products"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace tradelake
