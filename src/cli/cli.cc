#include "cli/cli.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/run_command.h"
#include "cli/serve_command.h"
#include "cli/lambda_commands.h"
#include "cli/maintenance_commands.h"
#include "cli/reconcile_commands.h"
#include "cli/sql_commands.h"
#include "core/exit_codes.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time.h"
#include "table/catalog.h"
#include "etl/dec18.h"
#include "etl/etl.h"
#include "etl/table_io.h"
#include "etl/validate.h"
#include "exchange/simulator.h"
#include "exchange/simulator_ws.h"
#include "ingest/ingester.h"
#include "ingest/product_selection.h"
#include "ingest/verify.h"
#include "sql/lake_quality.h"
#include "sql/lake_sql.h"
#include "sql/render.h"
#include "store/lake.h"
#include "store/object_store.h"

namespace tradelake {

int FailCommand(const Status& s) {
  std::fprintf(stderr, "tradelake: %s\n", s.ToString().c_str());
  return s.ExitCode();
}

namespace {

// Set by SIGINT/SIGTERM; the only mutable global, because a signal handler
// can reach nothing else.
std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// --policies: a folder of role documents replacing the built-in ones.
std::string g_policies_dir;

// Every command opens the lake as its role (store/lake.h).
Result<std::unique_ptr<ObjectStore>> OpenLake(const std::string& uri, std::string_view role) {
  return OpenLakeAs(uri, role, g_policies_dir);
}


std::string Thousands(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

struct GlobalFlags {
  std::string log_format = "text";
  std::string log_level = "info";
};

// ---------------------------------------------------------------- ingest
struct IngestFlags {
  std::string lake = "lake";
  std::string products;
  std::string quote, exclude;
  std::string exchange_url = std::string(kCoinbaseExchangeUrl);
  std::string since;
  int64_t from_trade_id = -1;
  bool follow = false;
  std::string poll_interval = "2s";
  std::string flush_interval = "30s";
  double rate_limit = 10;
  double burst = 15;
  int64_t object_trades = 50'000;
  int max_attempts = 6;
  int64_t backoff_base_ms = 250;
  int64_t backoff_max_ms = 8000;
  int64_t timeout_ms = 30'000;
  int refetch_attempts = 10;
  int workers = 0;
  std::string gap_retry_first = "1m";
  std::string gap_retry_max = "1h";
  bool no_gap_repair = false;
  bool no_progress = false;
  bool then_etl = false;
};

void PrintEtlReport(const EtlReport& r);

int RunIngestCommand(const IngestFlags& f, const GlobalFlags& g) {
  IngestOptions o;
  const ProductSelection selection = ParseProductSelection(f.products, f.quote, f.exclude);
  if (selection.products.empty()) {
    return FailCommand(InvalidArgument("no products; pass --products BTC-USD,ETH-USD or --products all"));
  }
  o.exchange.base_url = f.exchange_url;
  while (!o.exchange.base_url.empty() && o.exchange.base_url.back() == '/') o.exchange.base_url.pop_back();
  o.exchange.retry.max_attempts = f.max_attempts;
  o.exchange.retry.base_delay_ms = f.backoff_base_ms;
  o.exchange.retry.max_delay_ms = f.backoff_max_ms;
  o.exchange.http.timeout_ms = f.timeout_ms;
  o.rate_per_second = f.rate_limit;
  o.burst = f.burst;
  o.object_max_trades = f.object_trades;
  o.refetch_attempts = f.refetch_attempts;
  o.repair_gaps = !f.no_gap_repair;
  o.workers = f.workers;
  auto gap_first = ParseDuration(f.gap_retry_first);
  if (!gap_first.ok()) return FailCommand(gap_first.status().WithContext("--gap-retry-first"));
  auto gap_max = ParseDuration(f.gap_retry_max);
  if (!gap_max.ok()) return FailCommand(gap_max.status().WithContext("--gap-retry-max"));
  o.gap_retry.first_delay_ms = *gap_first / 1000;
  o.gap_retry.max_delay_ms = std::max(*gap_max / 1000, o.gap_retry.first_delay_ms);
  o.follow = f.follow;
  auto poll = ParseDuration(f.poll_interval);
  if (!poll.ok()) return FailCommand(poll.status().WithContext("--poll-interval"));
  o.poll_interval_ms = *poll / 1000;
  auto flush = ParseDuration(f.flush_interval);
  if (!flush.ok()) return FailCommand(flush.status().WithContext("--flush-interval"));
  o.flush_interval_ms = *flush / 1000;
  if (!f.since.empty()) {
    auto t = ParseTimeOrAgo(f.since, NowMicros());
    if (!t.ok()) return FailCommand(t.status().WithContext("--since"));
    o.since = *t;
  }
  if (f.from_trade_id >= 0) o.from_trade_id = f.from_trade_id;
  o.progress = !f.no_progress && g.log_format == "text";
  o.stop = &g_stop;

  auto store = OpenLake(f.lake, "ingest");
  if (!store.ok()) return FailCommand(store.status());
  // One limiter for the listing and the run.
  auto limiter = NewIngestRateLimiter(o.rate_per_second, o.burst);
  o.limiter = limiter.get();
  auto resolved = ResolveProducts(selection, o.exchange, limiter.get());
  if (!resolved.ok()) return FailCommand(resolved.status());
  o.products = std::move(*resolved);
  InstallStopHandlers();
  spdlog::info("ingesting {} from {} into {}", fmt::join(o.products, ","), o.exchange.base_url, (*store)->Describe());
  IngestReport r = RunIngest(store->get(), o);

  // Summary on stdout: one line per product, then the request counters.
  int64_t total = 0, bytes = 0;
  for (const auto& p : r.products) {
    total += p.trades_landed;
    bytes += p.bytes_written;
    std::string gaps;
    if (p.gaps) gaps += fmt::format("  GAPS {} ({} trades, see _state/ingest/.../gaps/)", p.gaps, p.gap_trades);
    if (p.gap_repairs) gaps += fmt::format("  repaired {} gaps ({} trades)", p.gap_repairs, p.gap_trades_repaired);
    if (p.open_gaps) {
      gaps += fmt::format("  {} gaps open ({} ids; retried automatically, `tradelake verify` lists them)",
                          p.open_gaps, p.open_gap_ids);
    }
    std::printf("%-10s landed %12s trades in %4lld objects (%9s)  coverage %lld..%lld%s%s%s\n",
                p.product_id.c_str(), Thousands(p.trades_landed).c_str(),
                static_cast<long long>(p.objects_written), HumanBytes(p.bytes_written).c_str(),
                static_cast<long long>(p.low), static_cast<long long>(p.high),
                p.high_time ? ("  newest " + FormatRfc3339Micros(*p.high_time)).c_str() : "", gaps.c_str(),
                p.status.ok() ? "" : ("  FAILED: " + p.status.message()).c_str());
  }
  const double secs = r.elapsed_seconds > 0 ? r.elapsed_seconds : 1e-9;
  std::printf("total      %s trades, %s in %.1f s (%s trades/s); %lld requests, %lld retries "
              "(%lld rate-limited, %lld server errors, %lld transport errors, %lld bad bodies)\n",
              Thousands(total).c_str(), HumanBytes(bytes).c_str(), r.elapsed_seconds,
              Thousands(static_cast<int64_t>(static_cast<double>(total) / secs)).c_str(),
              static_cast<long long>(r.requests), static_cast<long long>(r.retries),
              static_cast<long long>(r.rate_limited), static_cast<long long>(r.server_errors),
              static_cast<long long>(r.transport_errors), static_cast<long long>(r.invalid_bodies));
  std::fflush(stdout);
  if (!r.status.ok()) return FailCommand(r.status);
  if (f.then_etl) {
    EtlOptions eo;
    eo.stop = &g_stop;
    auto etl_store = OpenLake(f.lake, "etl");
    if (!etl_store.ok()) return FailCommand(etl_store.status());
    auto er = RunEtl(etl_store->get(), eo);
    if (!er.ok()) return FailCommand(er.status().WithContext("etl after ingest"));
    PrintEtlReport(*er);
  }
  return kExitOk;
}

// ---------------------------------------------------------------- verify
struct VerifyFlags {
  std::string lake = "lake";
  std::string products;
};

int RunVerifyCommand(const VerifyFlags& f) {
  auto store = OpenLake(f.lake, "ingest");
  if (!store.ok()) return FailCommand(store.status());
  std::vector<std::string> products = SplitCommaList(f.products);
  if (products.empty()) {
    auto listed = ListBronzeProducts(store->get());
    if (!listed.ok()) return FailCommand(listed.status());
    products = *listed;
  }
  if (products.empty()) {
    std::printf("no Bronze objects in %s\n", (*store)->Describe().c_str());
    return kExitOk;
  }
  bool all_ok = true;
  std::printf("%-10s %12s %8s %10s  %-40s  %-40s  %s\n", "product", "trades", "objects", "bytes",
              "first trade", "last trade", "check");
  for (const auto& p : products) {
    auto s = VerifyBronze(store->get(), p);
    if (!s.ok()) return FailCommand(s.status());
    std::string check = "ok: contiguous";
    if (s->reported_gap_trades) check = fmt::format("ok: {} ids in gap reports", s->reported_gap_trades);
    if (!s->ok()) {
      all_ok = false;
      check = fmt::format("FAILED: {} duplicates, {} unexplained missing ranges, {} problems", s->duplicates,
                          s->unexplained_missing.size(), s->problems.size());
    }
    std::printf("%-10s %12s %8lld %10s  %-40s  %-40s  %s\n", p.c_str(), Thousands(s->trades).c_str(),
                static_cast<long long>(s->objects), HumanBytes(s->bytes).c_str(),
                fmt::format("{} {}", s->first_id, s->first_time).c_str(),
                fmt::format("{} {}", s->last_id, s->last_time).c_str(), check.c_str());
    if (!s->open_gaps.empty() || !s->closed_gaps.empty()) {
      int64_t open_ids = 0, closed_trades = 0;
      for (const auto& [a, b] : s->open_gaps) open_ids += b - a + 1;
      for (const auto& c : s->closed_gaps) closed_trades += c.trades;
      std::printf("  %s gaps: %zu closed by repair (%s trades), %zu open (%s ids)\n", p.c_str(), s->closed_gaps.size(),
                  Thousands(closed_trades).c_str(), s->open_gaps.size(), Thousands(open_ids).c_str());
      for (const auto& c : s->closed_gaps) {
        std::printf("    closed %lld..%lld (%lld trades%s): opened %s, closed %s after %d attempts by %s\n",
                    static_cast<long long>(c.first_id), static_cast<long long>(c.last_id),
                    static_cast<long long>(c.trades), c.partial ? ", part of the report" : "",
                    FormatRfc3339Trimmed(c.opened_at).c_str(), FormatRfc3339Trimmed(c.closed_at).c_str(), c.attempts,
                    fmt::format("{}", fmt::join(c.objects, ", ")).c_str());
      }
      for (const auto& [a, b] : s->open_gaps) {
        std::string schedule = "not scheduled for repair (reported before tradelake repaired gaps)";
        for (const auto& g : s->gap_index.open) {
          if (g.first_id <= b && a <= g.last_id) {
            schedule = fmt::format("opened {}, {} attempts, next attempt {}", FormatRfc3339Trimmed(g.opened_at),
                                   g.attempts, FormatRfc3339Trimmed(g.next_attempt_at));
            break;
          }
        }
        std::printf("    open   %lld..%lld (%lld ids): %s\n", static_cast<long long>(a), static_cast<long long>(b),
                    static_cast<long long>(b - a + 1), schedule.c_str());
      }
    }
    for (const auto& m : s->unexplained_missing) {
      std::fprintf(stderr, "  %s: trades %lld..%lld are missing and no gap report explains them\n", p.c_str(),
                   static_cast<long long>(m.first), static_cast<long long>(m.second));
    }
    for (const auto& pr : s->problems) std::fprintf(stderr, "  %s: %s\n", p.c_str(), pr.c_str());
  }
  return all_ok ? kExitOk : kExitDataError;
}

// ---------------------------------------------------------------- simulate
struct SimulateFlags {
  SimulatorOptions o;
  std::string products = "BTC-USD,ETH-USD,SOL-USD";
  std::string history = "6h";
  std::string now;
  bool no_rate_limit = false;
  std::string holes;
  std::string product_status;
  std::string ready_file;
  std::string duration;
  int ws_port = -1;  // -1: no WebSocket feed; 0: any free port
  SimulatorWsOptions ws;
  std::string ws_disconnect_every, ws_stall_every, ws_stall;
};

int RunSimulateCommand(SimulateFlags& f) {
  f.o.products = SplitCommaList(f.products);
  auto h = ParseDuration(f.history);
  if (!h.ok()) return FailCommand(h.status().WithContext("--history"));
  f.o.history_micros = *h;
  if (!f.now.empty()) {
    auto t = ParseRfc3339(f.now);
    if (!t.ok()) return FailCommand(t.status().WithContext("--now"));
    f.o.now = *t;
  }
  f.o.rate_limit = !f.no_rate_limit;
  for (const auto& item : SplitCommaList(f.product_status)) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      return FailCommand(InvalidArgument(
          fmt::format("--product-status: bad item \"{}\" (want PRODUCT=STATUS, e.g. LUNA-USD=delisted)", item)));
    }
    f.o.product_status[item.substr(0, eq)] = item.substr(eq + 1);
  }
  for (const auto& item : SplitCommaList(f.holes)) {
    // FIRST-LAST, optionally @DURATION (heals after that long) or @Nasks
    // (heals once asked for N times).
    const size_t at = item.find('@');
    const std::string r = item.substr(0, at);
    const std::string heal = at == std::string::npos ? "" : item.substr(at + 1);
    const auto bad = [&] {
      return FailCommand(InvalidArgument(
          fmt::format("--holes: bad range \"{}\" (want FIRST-LAST, FIRST-LAST@30s or FIRST-LAST@3asks)", item)));
    };
    const size_t dash = r.find('-');
    int64_t a = 0, b = 0;
    try {
      a = std::stoll(r.substr(0, dash));
      b = dash == std::string::npos ? a : std::stoll(r.substr(dash + 1));
    } catch (...) {
      return bad();
    }
    if (heal.empty()) {
      f.o.faults.holes.emplace_back(a, b);
      continue;
    }
    FaultOptions::HealingHole healing;
    healing.first_id = a;
    healing.last_id = b;
    if (heal.ends_with("asks")) {
      try {
        healing.heal_after_asks = std::stoll(heal.substr(0, heal.size() - 4));
      } catch (...) {
        return bad();
      }
    } else {
      auto d = ParseDuration(heal);
      if (!d.ok()) return bad();
      healing.heal_after_ms = *d / 1000;
    }
    f.o.faults.healing_holes.push_back(healing);
  }
  int64_t duration_us = 0;
  if (!f.duration.empty()) {
    auto d = ParseDuration(f.duration);
    if (!d.ok()) return FailCommand(d.status().WithContext("--duration"));
    duration_us = *d;
  }
  auto sim = Simulator::Start(f.o);
  if (!sim.ok()) return FailCommand(sim.status());
  std::unique_ptr<SimulatorWs> feed;
  if (f.ws_port >= 0) {
    f.ws.port = f.ws_port;
    f.ws.bind = f.o.bind;
    f.ws.seed = f.o.seed;
    struct {
      const std::string* text;
      std::string_view flag;
      int64_t* out;
    } durations[] = {{&f.ws_disconnect_every, "--ws-disconnect-every", &f.ws.faults.disconnect_every_ms},
                     {&f.ws_stall_every, "--ws-stall-every", &f.ws.faults.stall_every_ms},
                     {&f.ws_stall, "--ws-stall", &f.ws.faults.stall_ms}};
    for (auto& d : durations) {
      if (d.text->empty()) continue;
      auto us = ParseDuration(*d.text);
      if (!us.ok()) return FailCommand(us.status().WithContext(d.flag));
      *d.out = *us / 1000;
    }
    auto started = SimulatorWs::Start(sim->get(), f.ws);
    if (!started.ok()) return FailCommand(started.status().WithContext("--ws-port"));
    feed = std::move(*started);
  }
  InstallStopHandlers();
  std::printf("simulating %s at %s (seed %llu, rate limit %s)\n", f.products.c_str(), (*sim)->url().c_str(),
              static_cast<unsigned long long>(f.o.seed), f.o.rate_limit ? "on" : "off");
  for (const auto& p : f.o.products) {
    std::printf("  %-10s trades %lld..%lld\n", p.c_str(), static_cast<long long>((*sim)->FirstTradeId(p)),
                static_cast<long long>((*sim)->LastTradeId(p)));
  }
  if (feed) std::printf("  WebSocket feed (matches, heartbeat) at %s\n", feed->url().c_str());
  std::fflush(stdout);
  if (!f.ready_file.empty()) {
    // Written last, atomically, so a script can wait for it.
    const std::string tmp = f.ready_file + ".tmp";
    if (std::FILE* out = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(out, "%s\n", (*sim)->url().c_str());
      std::fclose(out);
      std::rename(tmp.c_str(), f.ready_file.c_str());
    }
  }
  const auto start = NowMicros();
  while (!g_stop.load() && (duration_us == 0 || NowMicros() - start < duration_us)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (feed) feed->Stop();
  (*sim)->Stop();
  const auto c = (*sim)->counters();
  std::printf("simulator stopped: %lld requests, %lld ok, %lld rate-limited, %lld faults\n",
              static_cast<long long>(c.requests), static_cast<long long>(c.ok),
              static_cast<long long>(c.rate_limited), static_cast<long long>(c.faults));
  return kExitOk;
}

// ---------------------------------------------------------------- etl
struct EtlFlags {
  std::string lake = "lake";
  bool rebuild = false;
  int threads = 2;
};

void PrintEtlReport(const EtlReport& r) {
  if (r.nothing_to_do) {
    std::printf("etl: no new Bronze objects since commit %lld; nothing to do\n", static_cast<long long>(r.seq));
    return;
  }
  std::printf("etl: commit %lld: %s Bronze objects, %s records read = %s inserted + %s duplicates + %s rejected  [%s]\n",
              static_cast<long long>(r.seq), Thousands(r.bronze_objects).c_str(), Thousands(r.records).c_str(),
              Thousands(r.inserted).c_str(), Thousands(r.duplicates).c_str(), Thousands(r.rejected).c_str(),
              r.invariant_holds() ? "invariant holds" : "INVARIANT BROKEN");
  for (const auto& [rule, n] : r.rejected_by_rule) {
    std::printf("     rejected %-22s %s\n", rule.c_str(), Thousands(n).c_str());
  }
  for (const std::string& skipped : r.skipped_objects) {
    std::printf("     skipped  %s: the landed log names no Bronze object of its product there\n", skipped.c_str());
  }
  std::printf("     %lld Silver partitions and their Gold rewritten; %lld files, %s written in %.2f s (%s records/s)\n",
              static_cast<long long>(r.silver_partitions), static_cast<long long>(r.files_written),
              HumanBytes(r.bytes_written).c_str(), r.elapsed_seconds,
              Thousands(static_cast<int64_t>(static_cast<double>(r.records) / std::max(r.elapsed_seconds, 1e-9))).c_str());
}

int RunEtlCommand(const EtlFlags& f) {
  auto store = OpenLake(f.lake, "etl");
  if (!store.ok()) return FailCommand(store.status());
  InstallStopHandlers();
  EtlOptions o;
  o.rebuild = f.rebuild;
  o.threads = f.threads;
  o.stop = &g_stop;
  auto r = RunEtl(store->get(), o);
  if (!r.ok()) return FailCommand(r.status());
  PrintEtlReport(*r);
  return kExitOk;
}

// ---------------------------------------------------------------- dq
struct DqFlags {
  std::string lake = "lake";
  std::string products;
  std::string gaps_role;  // the role the gap index is read as ("": analyst, like the rest)
};

// Open and closed gaps per product, from the ingester's gap index
// (ingest/gap_index.h: one GET per product whatever the lake's age). The
// index is under _state/ingest, which the analyst role may not read
// (policies/analyst.json): then one line says so and how to see the gaps,
// and dq goes on. --gaps-role ingest reads it as a role that may.
void PrintDqGaps(ObjectStore* analyst, const DqFlags& f, const std::vector<std::string>& products) {
  std::unique_ptr<ObjectStore> own;
  ObjectStore* store = analyst;
  const std::string role = f.gaps_role.empty() ? "analyst" : f.gaps_role;
  if (!f.gaps_role.empty()) {
    auto opened = OpenLake(f.lake, f.gaps_role);
    if (!opened.ok()) {
      std::printf("\ngaps: not shown: %s\n", opened.status().WithContext("--gaps-role").ToString().c_str());
      return;
    }
    own = std::move(*opened);
    store = own.get();
  }
  std::vector<GapIndex> indexes;
  for (const std::string& product : products) {
    auto index = LoadGapIndex(store, product);
    if (index.status().code() == StatusCode::kPermissionDenied) {
      std::printf("\ngaps: not shown: the %s role may not read _state/ingest, where the ingester keeps its gap "
                  "index (policies/%s.json); add --gaps-role ingest to read it as a role that may, or run "
                  "`tradelake verify`\n",
                  role.c_str(), role.c_str());
      return;
    }
    if (!index.ok()) {
      std::printf("\ngaps: not shown: %s\n", index.status().ToString().c_str());
      return;
    }
    indexes.push_back(std::move(*index));
  }
  std::printf("\ngaps in Bronze: trade ids the exchange did not return (the ingester's gap index, read as %s):\n",
              role.c_str());
  for (size_t i = 0; i < products.size(); ++i) {
    const GapIndex& g = indexes[i];
    if (g.open.empty() && g.closed_repairs == 0) {
      std::printf("  %-10s none\n", products[i].c_str());
      continue;
    }
    std::printf("  %-10s %zu open (%s ids), %s closed by repair (%s trades)\n", products[i].c_str(), g.open.size(),
                Thousands(g.open_ids()).c_str(), Thousands(g.closed_repairs).c_str(),
                Thousands(g.closed_trades).c_str());
    for (const OpenGap& o : g.open) {
      std::printf("    open    %lld-%lld  opened %s, %d repair attempt%s, next %s\n",
                  static_cast<long long>(o.first_id), static_cast<long long>(o.last_id),
                  FormatRfc3339Trimmed(o.opened_at).c_str(), o.attempts, o.attempts == 1 ? "" : "s",
                  FormatRfc3339Trimmed(o.next_attempt_at).c_str());
    }
    for (const ClosedGap& c : g.recent_closed) {
      std::printf("    closed  %lld-%lld  %s trades, opened %s, closed %s after %d repair attempt%s%s\n",
                  static_cast<long long>(c.first_id), static_cast<long long>(c.last_id), Thousands(c.trades).c_str(),
                  FormatRfc3339Trimmed(c.opened_at).c_str(), FormatRfc3339Trimmed(c.closed_at).c_str(), c.attempts,
                  c.attempts == 1 ? "" : "s", c.partial ? " (partly: the rest is open)" : "");
    }
    const int64_t older = g.closed_repairs - static_cast<int64_t>(g.recent_closed.size());
    if (older > 0) {
      std::printf("    and %s older closures (`tradelake verify` lists every one)\n", Thousands(older).c_str());
    }
  }
}

int RunDqCommand(const DqFlags& f) {
  auto store = OpenLake(f.lake, "analyst");
  if (!store.ok()) return FailCommand(store.status());
  auto lake = LoadLakeState(store->get());
  if (!lake.ok()) return FailCommand(lake.status());
  const Snapshot& snap = lake->catalog;
  if (snap.seq == 0) {
    std::printf("no ETL commit in %s yet; run `tradelake etl`\n", (*store)->Describe().c_str());
    return kExitOk;
  }
  // Per partition: records .. rejected by the Bronze date of the records
  // (audit.data_quality), silver rows and id gaps by trade date (Silver's
  // Delta statistics); one line per (product, date) either of them knows.
  auto partitions = LoadPartitionQuality(store->get(), *lake);
  if (!partitions.ok()) return FailCommand(partitions.status());
  const auto wanted = SplitCommaList(f.products);
  auto is_wanted = [&wanted](const std::string& product) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), product) != wanted.end();
  };
  std::printf("data quality as of commit %lld (%s)\n", static_cast<long long>(snap.seq),
              FormatRfc3339Micros(snap.committed_at).c_str());
  std::printf("%-10s %-10s %11s %11s %10s %9s %11s %8s  %s\n", "product", "date", "records", "inserted",
              "duplicates", "rejected", "silver rows", "id gaps", "rejected by rule");
  auto rules_text = [](const QualityCounters& q) {
    std::string rules;
    for (const auto& [rule, n] : q.rejected) rules += fmt::format("{}{}={}", rules.empty() ? "" : " ", rule, n);
    return rules;
  };
  int64_t silver_rows = 0, id_gaps = 0;
  bool balanced = true;
  for (const auto& [key, p] : *partitions) {
    const auto& [product, date] = key;
    if (!is_wanted(product)) continue;
    const QualityCounters& q = p.counters;
    std::printf("%-10s %-10s %11s %11s %10s %9s %11s %8s  %s\n", product.c_str(), date.c_str(),
                Thousands(q.records).c_str(), Thousands(q.inserted).c_str(), Thousands(q.duplicates).c_str(),
                Thousands(q.rejected_total()).c_str(), Thousands(p.silver.rows).c_str(),
                Thousands(p.silver.id_gaps).c_str(), rules_text(q).c_str());
    if (q.records != q.inserted + q.duplicates + q.rejected_total()) balanced = false;
    silver_rows += p.silver.rows;
    id_gaps += p.silver.id_gaps;
  }
  // Totals over every run, as the catalog keeps them per product.
  QualityCounters total;
  for (const auto& [product, q] : snap.totals) {
    if (is_wanted(product)) total.Add(q);
  }
  if (total.records != total.inserted + total.duplicates + total.rejected_total()) balanced = false;
  std::printf("%-10s %-10s %11s %11s %10s %9s %11s %8s  records = inserted + duplicates + rejected: %s\n", "total", "",
              Thousands(total.records).c_str(), Thousands(total.inserted).c_str(), Thousands(total.duplicates).c_str(),
              Thousands(total.rejected_total()).c_str(), Thousands(silver_rows).c_str(), Thousands(id_gaps).c_str(),
              balanced ? "holds" : "BROKEN");
  // Gold against the exchange's candles (tradelake reconcile), last 24 hours.
  auto candles = CandleMatchSince(store->get(), *lake, NowMicros() - kMicrosPerDay);
  if (!candles.ok()) return FailCommand(candles.status());
  bool any_candles = false;
  for (const auto& [product, m] : *candles) {
    if (!is_wanted(product)) continue;
    if (!any_candles) std::printf("\ngold.bars_1m against the exchange's candles, last 24 h (tradelake reconcile):\n");
    any_candles = true;
    std::printf("  %-10s %s of %s minutes match (%.2f%%), %s differ; last minute %s\n", product.c_str(),
                Thousands(m.matched).c_str(), Thousands(m.compared).c_str(), 100.0 * m.share(),
                Thousands(m.compared - m.matched).c_str(), FormatRfc3339Trimmed(m.last_minute).c_str());
  }
  std::vector<std::string> gap_products;
  for (const auto& [product, q] : snap.totals) {
    if (is_wanted(product)) gap_products.push_back(product);
  }
  for (const std::string& product : wanted) {
    if (!snap.totals.contains(product)) gap_products.push_back(product);
  }
  PrintDqGaps(store->get(), f, gap_products);
  std::printf("\nrules:\n");
  for (const auto& rule : kDqRules) std::printf("  %-22s %s\n", std::string(rule.name).c_str(), std::string(rule.description).c_str());
  std::printf("  %-22s %s\n", std::string(kConflictingDuplicateRule).c_str(),
              "the trade id is already in Silver with another price, size, side or time");
  return balanced ? kExitOk : kExitDataError;
}

// ---------------------------------------------------------------- bars
struct BarsFlags {
  std::string lake = "lake";
  std::string product;
  std::string interval = "1h";
  std::string from, to;
  int64_t limit = 24;
};

int RunBarsCommand(const BarsFlags& f) {
  const std::map<std::string, std::string_view> tables = {
      {"1m", kGoldBars1m}, {"1h", kGoldHourly}, {"1d", kGoldDaily}};
  auto table = tables.find(f.interval);
  if (table == tables.end()) return FailCommand(InvalidArgument("--interval must be 1m, 1h or 1d"));
  const TimestampMicros now = NowMicros();
  TimestampMicros from = INT64_MIN, to = INT64_MAX;
  if (!f.from.empty()) {
    auto t = ParseTimeOrAgo(f.from, now);
    if (!t.ok()) return FailCommand(t.status().WithContext("--from"));
    from = *t;
  }
  if (!f.to.empty()) {
    auto t = ParseTimeOrAgo(f.to, now);
    if (!t.ok()) return FailCommand(t.status().WithContext("--to"));
    to = *t;
  }
  Status valid = ValidateProductId(f.product);
  if (!valid.ok()) return FailCommand(valid.WithContext("--product"));
  auto store = OpenLake(f.lake, "analyst");
  if (!store.ok()) return FailCommand(store.status());
  auto sql = LakeSql::Open(store->get(), SqlOptions{});
  if (!sql.ok()) return FailCommand(sql.status());
  if (!(*sql)->HasProduct(table->second, f.product)) {
    return FailCommand(NotFound(fmt::format("no Gold data for product {} in {}; run `tradelake etl` or check --product",
                                     f.product, (*store)->Describe())));
  }
  // The same pruned, accounted path as `tradelake sql`; the product id is
  // validated above, so it is safe inside the literal.
  auto sql_time = [](TimestampMicros t) {
    std::string s = FormatRfc3339Micros(t);  // 2024-05-01T12:00:00.000000Z
    s[10] = ' ';
    s.pop_back();
    return s;
  };
  std::string query = fmt::format(
      "SELECT period_start, open, high, low, close, total_volume, vwap, trade_count FROM {} WHERE product_id = '{}'",
      table->second, f.product);
  if (from != INT64_MIN) query += fmt::format(" AND period_start >= TIMESTAMP '{}'", sql_time(from));
  if (to != INT64_MAX) query += fmt::format(" AND period_start <= TIMESTAMP '{}'", sql_time(to));
  query += " ORDER BY period_start DESC";
  if (f.limit > 0) query += fmt::format(" LIMIT {}", f.limit);
  auto r = (*sql)->ExecuteOne(query);
  if (!r.ok()) return FailCommand(r.status());
  const QueryResult& rows = r->rows;
  std::printf("%-20s %12s %12s %12s %12s %16s %16s %8s\n", "period_start (UTC)", "open", "high", "low", "close",
              "volume", "vwap", "trades");
  // Decimals print without trailing zeros; vwap to 8 places (Gold keeps 18).
  auto trim = [](std::string v, size_t max_fraction) {
    const size_t dot = v.find('.');
    if (dot == std::string::npos) return v;
    if (v.size() > dot + 1 + max_fraction) v.resize(dot + 1 + max_fraction);
    while (v.back() == '0') v.pop_back();
    if (v.back() == '.') v.pop_back();
    return v;
  };
  for (uint64_t i = rows.row_count(); i-- > 0;) {
    std::printf("%-20s %12s %12s %12s %12s %16s %16s %8s\n", rows.GetStringOr(i, 0, "").substr(0, 19).c_str(),
                trim(rows.GetStringOr(i, 1, ""), 18).c_str(), trim(rows.GetStringOr(i, 2, ""), 18).c_str(),
                trim(rows.GetStringOr(i, 3, ""), 18).c_str(), trim(rows.GetStringOr(i, 4, ""), 18).c_str(),
                trim(rows.GetStringOr(i, 5, ""), 18).c_str(), trim(rows.GetStringOr(i, 6, ""), 8).c_str(),
                rows.GetStringOr(i, 7, "").c_str());
  }
  return kExitOk;
}

constexpr const char* kExitCodeHelp =
    "Exit codes: 0 ok, 1 failure, 2 bad usage or unknown product, 65 malformed data,\n"
    "69 exchange or store unavailable after retries, 74 local disk error,\n"
    "77 access denied, 130 interrupted (resumable).";

}  // namespace

int RunCli(int argc, char** argv) {
  // `tradelake dq | head` must end quietly, not die from SIGPIPE mid-line.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"tradelake: a lakehouse for crypto exchange trades (Coinbase -> Bronze -> Silver -> Gold)",
               "tradelake"};
  app.footer(kExitCodeHelp);
  app.set_version_flag("--version", std::string("tradelake ") + TRADELAKE_VERSION);
  app.set_config("--config", "", "read flags from a TOML file (key = value, [section] per subcommand)");
  app.require_subcommand(1);
  // Global flags may also follow the subcommand (tradelake ingest ... --log-format json).
  app.fallthrough();
  GlobalFlags g;
  app.add_option("--log-format", g.log_format, "log lines on stderr: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--policies", g_policies_dir,
                 "folder of role policy documents (<role>.json) to enforce instead of the built-in ones");

  IngestFlags in;
  auto* ingest = app.add_subcommand("ingest", "Land every trade of the given products in Bronze, exactly once");
  ingest->footer(
      "Catches up from each product's checkpoint to the newest trade, then exits (or keeps\n"
      "polling with --follow). The first run starts at the newest page unless --since or\n"
      "--from-trade-id asks for history. A killed run resumes where it stopped. A page with\n"
      "fewer trades than asked is followed with the cursor; ids the exchange still does not\n"
      "return are written to _state/ingest/.../gaps/, never skipped silently, and fetched\n"
      "again later (every run retries the gaps that are due first; --follow retries them\n"
      "while polling) until they land; `tradelake verify` shows which gaps were closed.\n\n"
      "Examples:\n"
      "  tradelake ingest --products BTC-USD,ETH-USD --since 6h\n"
      "  tradelake ingest --products BTC-USD --follow --lake /data/lake\n"
      "  tradelake ingest --products all --quote USD,USDC --exclude USDT-USD --follow\n\n" +
      std::string(kExitCodeHelp));
  ingest->add_option("--products,-p", in.products,
                     "comma-separated product ids, e.g. BTC-USD,ETH-USD, or all (every product the exchange lists as "
                     "online)")
      ->required();
  ingest->add_option("--quote", in.quote, "keep only products quoted in these currencies, e.g. USD,USDC");
  ingest->add_option("--exclude", in.exclude, "comma-separated product ids to leave out");
  ingest->add_option("--lake", in.lake, "lake folder")->capture_default_str();
  ingest->add_option("--exchange-url", in.exchange_url, "Coinbase Exchange REST base URL")->capture_default_str();
  ingest->add_option("--since", in.since, "backfill from this time: RFC 3339, YYYY-MM-DD, or a duration ago (6h, 2d)");
  ingest->add_option("--from-trade-id", in.from_trade_id, "backfill from this trade id");
  ingest->add_flag("--follow", in.follow, "keep polling for new trades until interrupted");
  ingest->add_option("--poll-interval", in.poll_interval, "with --follow: time between polls")->capture_default_str();
  ingest->add_option("--flush-interval", in.flush_interval, "with --follow: land a Bronze object at least this often")
      ->capture_default_str();
  ingest->add_option("--rate-limit", in.rate_limit, "requests per second to the exchange, shared by all products (0: off)")
      ->capture_default_str();
  ingest->add_option("--burst", in.burst, "rate limiter burst")->capture_default_str();
  ingest->add_option("--object-trades", in.object_trades, "most trades in one Bronze object")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))
      ->capture_default_str();
  ingest->add_option("--max-attempts", in.max_attempts, "tries per request before giving up")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  ingest->add_option("--backoff-base-ms", in.backoff_base_ms, "first retry delay")->capture_default_str();
  ingest->add_option("--backoff-max-ms", in.backoff_max_ms, "longest retry delay")->capture_default_str();
  ingest->add_option("--timeout-ms", in.timeout_ms, "per-request timeout")->capture_default_str();
  ingest->add_option("--refetch-attempts", in.refetch_attempts,
                     "walks over a range with missing ids (following short pages) before they go to the gap report")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  ingest->add_option("--workers", in.workers,
                     "threads serving the products, longest-waiting first (0: one per product, at most 8)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  ingest->add_option("--gap-retry-first", in.gap_retry_first,
                     "reported gaps are fetched again this long after detection, then after twice as long each time")
      ->capture_default_str();
  ingest->add_option("--gap-retry-max", in.gap_retry_max, "longest wait between two attempts to repair a gap")
      ->capture_default_str();
  ingest->add_flag("--no-gap-repair", in.no_gap_repair, "never fetch reported gaps again");
  ingest->add_flag("--no-progress", in.no_progress, "no progress bar");
  ingest->add_flag("--then-etl", in.then_etl, "after landing, build Silver and Gold from the new Bronze objects");

  VerifyFlags vf;
  auto* verify = app.add_subcommand("verify", "Read all of Bronze and prove it: trades, objects, gaps, duplicates");
  verify->footer("Exits 0 when every product is contiguous (or its holes are in gap reports), 65 otherwise.");
  verify->add_option("--lake", vf.lake, "lake folder")->capture_default_str();
  verify->add_option("--products,-p", vf.products, "products to check (default: all in the lake)");

  EtlFlags ef;
  auto* etl = app.add_subcommand("etl", "Build Silver and Gold from new Bronze objects: exact, de-duplicated, validated");
  etl->footer(
      "Reads only Bronze objects no earlier run processed, rewrites the Silver partitions\n"
      "they touch and recomputes their Gold hourly, daily and 1-minute bars, then commits\n"
      "one catalog snapshot atomically. Checks Bronze records read = inserted + duplicates\n"
      "+ rejected on every run. A killed run leaves the last commit intact; rerun it.\n\n"
      "Examples:\n  tradelake etl --lake lake\n  tradelake etl --lake lake --rebuild");
  etl->add_option("--lake", ef.lake, "lake folder")->capture_default_str();
  etl->add_flag("--rebuild", ef.rebuild, "recompute every table from all of Bronze");
  etl->add_option("--threads", ef.threads, "products processed in parallel")->check(CLI::Range(1, 64))->capture_default_str();

  DqFlags df;
  auto* dq = app.add_subcommand("dq", "Data-quality report per product and day: records, inserted, duplicates, rejected");
  dq->add_option("--lake", df.lake, "lake folder")->capture_default_str();
  dq->add_option("--products,-p", df.products, "products to show (default: all)");
  dq->add_option("--gaps-role", df.gaps_role,
                 "read the ingester's gap index (open and closed gaps, under _state/ingest) as this role; the "
                 "analyst role may not read it (e.g. --gaps-role ingest)");

  BarsFlags bf;
  auto* bars = app.add_subcommand("bars", "OHLCV bars of one product from Gold, newest last");
  bars->footer("vwap is shown to 8 decimals here; Gold keeps 18.\n\nExample:\n  tradelake bars --product BTC-USD --interval 1h --from 6h");
  bars->add_option("--lake", bf.lake, "lake folder")->capture_default_str();
  bars->add_option("--product,-p", bf.product, "product id, e.g. BTC-USD")->required();
  bars->add_option("--interval", bf.interval, "1m, 1h or 1d")->capture_default_str();
  bars->add_option("--from", bf.from, "start: RFC 3339, YYYY-MM-DD or a duration ago (6h)");
  bars->add_option("--to", bf.to, "end: RFC 3339, YYYY-MM-DD or a duration ago");
  bars->add_option("--limit", bf.limit, "show at most the newest N bars (0: all)")->capture_default_str();

  SimulateFlags sf;
  SqlCommands sql_commands(&app, &g_policies_dir);
  MaintenanceCommands maintenance_commands(&app, &g_policies_dir);
  ServeCommand serve_command(&app, &g_policies_dir);
  RunCommand run_command(&app, &g_policies_dir);
  ReconcileCommand reconcile_command(&app, &g_policies_dir);
  LambdaCommands lambda_commands(&app, &g_policies_dir);

  auto* simulate = app.add_subcommand("simulate", "Serve an offline Coinbase Exchange (REST) over a synthetic market");
  simulate->footer(
      "Same API shapes as api.exchange.coinbase.com: /products, /products/{id}/trades\n"
      "(after, before, limit, CB-AFTER/CB-BEFORE), /products/{id}/candles. Deterministic per\n"
      "--seed; keeps making new trades in real time. Fault flags take a probability 0..1.\n\n"
      "Example:\n  tradelake simulate --port 8089 --products BTC-USD,ETH-USD --seed 42 --history 6h");
  simulate->add_option("--port", sf.o.port, "port (0: any free port)")->capture_default_str();
  simulate->add_option("--bind", sf.o.bind, "address to bind")->capture_default_str();
  simulate->add_option("--products", sf.products, "comma-separated product ids")->capture_default_str();
  simulate->add_option("--seed", sf.o.seed, "random seed")->capture_default_str();
  simulate->add_option("--history", sf.history, "trade history before start (e.g. 6h)")->capture_default_str();
  simulate->add_option("--trades-per-second", sf.o.trades_per_second, "mean trade rate per product")
      ->capture_default_str();
  simulate->add_option("--now", sf.now, "pin the start time (RFC 3339) for reproducible timestamps");
  simulate->add_flag("--no-rate-limit", sf.no_rate_limit, "do not enforce the public rate limit");
  simulate->add_option("--rate", sf.o.rate, "rate limit: requests per second")->capture_default_str();
  simulate->add_option("--burst", sf.o.burst, "rate limit: burst")->capture_default_str();
  simulate->add_option("--fault-5xx", sf.o.faults.error_5xx, "share of requests answered 500/502/503");
  simulate->add_option("--fault-429", sf.o.faults.error_429, "share of requests answered 429");
  simulate->add_option("--fault-truncate", sf.o.faults.truncate, "share of bodies cut short");
  simulate->add_option("--fault-drop", sf.o.faults.drop, "share of connections dropped without an answer");
  simulate->add_option("--fault-overlap", sf.o.faults.overlap, "share of trade pages shifted to overlap");
  simulate->add_option("--fault-duplicate", sf.o.faults.duplicate, "share of trade pages with repeated trades");
  simulate->add_option("--fault-latency-ms", sf.o.faults.latency_ms, "added latency per answer");
  simulate->add_option("--fault-short-page", sf.o.faults.short_page_max,
                       "every trades page holds at most N trades (fewer than `limit`; 0: off)")
      ->check(CLI::NonNegativeNumber);
  simulate->add_option("--fault-candle-perturb", sf.o.faults.candle_perturb,
                       "share of 1-minute candles with one value off by one increment");
  simulate->add_option("--fault-candle-drop", sf.o.faults.candle_drop, "share of 1-minute candles left out");
  simulate->add_option("--candle-lag-ms", sf.o.faults.candle_lag_ms,
                       "candles include only trades older than this (not final yet)");
  simulate->add_option("--holes", sf.holes,
                       "trade id ranges the exchange cannot return, e.g. 1000-1005,2000-2000; a hole that heals "
                       "(served from then on): 1000-1005@30s (after 30 s) or 1000-1005@3asks (after 3 pages lacked it)");
  simulate->add_option("--product-status", sf.product_status,
                       "status GET /products gives these products (default online), e.g. LUNA-USD=delisted");
  simulate->add_option("--ws-port", sf.ws_port,
                       "also serve the WebSocket feed (matches, heartbeat) on this port (0: any free port)");
  simulate->add_option("--ws-fault-drop", sf.ws.faults.drop, "share of feed messages not sent");
  simulate->add_option("--ws-fault-duplicate", sf.ws.faults.duplicate, "share of feed messages sent twice");
  simulate->add_option("--ws-fault-reorder", sf.ws.faults.reorder, "share of feed messages sent after the next");
  simulate->add_option("--ws-disconnect-every", sf.ws_disconnect_every, "close each feed connection after this long");
  simulate->add_option("--ws-stall-every", sf.ws_stall_every, "stall each feed connection this often ...");
  simulate->add_option("--ws-stall", sf.ws_stall, "... for this long");
  simulate->add_flag("--ws-refuse-whole-subscribe", sf.ws.refuse_whole_subscribe,
                     "refuse a whole subscribe naming an unknown product, as Coinbase does (default: refuse that "
                     "product, serve the others)");
  simulate->add_option("--threads", sf.o.threads, "HTTP worker threads")->capture_default_str();
  simulate->add_option("--ready-file", sf.ready_file, "write the URL to this file once serving");
  simulate->add_option("--duration", sf.duration, "stop after this long (default: until interrupted)");

  std::vector<std::string> args(argv, argv + argc);
  run_command.RewriteConfigShow(&args);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  try {
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  auto fmt_ = ParseLogFormat(g.log_format);
  if (!fmt_.ok()) return FailCommand(fmt_.status());
  if (Status s = InitLogging(*fmt_, g.log_level); !s.ok()) return FailCommand(s);

  if (auto code = sql_commands.RunIfParsed()) return *code;
  if (auto code = maintenance_commands.RunIfParsed()) return *code;
  if (auto code = reconcile_command.RunIfParsed()) return *code;
  if (auto code = serve_command.RunIfParsed()) return *code;
  if (auto code = run_command.RunIfParsed(&app)) return *code;
  if (auto code = lambda_commands.RunIfParsed()) return *code;
  if (ingest->parsed()) return RunIngestCommand(in, g);
  if (verify->parsed()) return RunVerifyCommand(vf);
  if (etl->parsed()) return RunEtlCommand(ef);
  if (dq->parsed()) return RunDqCommand(df);
  if (bars->parsed()) return RunBarsCommand(bf);
  if (simulate->parsed()) return RunSimulateCommand(sf);
  return kExitUsage;
}

}  // namespace tradelake
