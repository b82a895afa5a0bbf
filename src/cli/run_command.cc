#include "cli/run_command.h"

#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "cli/serve_command.h"
#include "core/exit_codes.h"
#include "core/text.h"
#include "core/time.h"
#include "exchange/coinbase_client.h"
#include "exchange/ws_feed.h"
#include "ingest/trade_hints.h"
#include "live/live_tail.h"
#include "ingest/product_selection.h"
#include "pipeline/pipeline.h"
#include "reconcile/live_reconciler.h"
#include "pipeline/schedule.h"
#include "serve/api_server.h"
#include "sql/render.h"
#include "store/lake.h"

namespace tradelake {
namespace {

Result<int64_t> Millis(const std::string& text, std::string_view flag) {
  auto micros = ParseDuration(text);
  if (!micros.ok()) return micros.status().WithContext(flag);
  return *micros / 1000;
}

std::string WhoAmI() {
  const char* user = std::getenv("USER");
  if (user && *user) return fmt::format("cli:{}", user);
  if (const passwd* pw = getpwuid(getuid())) return fmt::format("cli:{}", pw->pw_name);
  return fmt::format("cli:uid {}", getuid());
}

}  // namespace

struct RunCommand::Flags {
  CLI::App* run = nullptr;
  CLI::App* schedule = nullptr;
  CLI::App* pause = nullptr;
  CLI::App* resume = nullptr;
  CLI::App* show_schedule = nullptr;
  CLI::App* config = nullptr;
  CLI::App* show_config = nullptr;

  std::string lake = "lake";
  std::string products;
  std::string quote, exclude;  // product selection (ingest/product_selection.h)
  std::string exchange_url = std::string(kCoinbaseExchangeUrl);
  std::string since;
  std::string poll_interval = "1s";
  std::string flush_interval = "2s";
  int64_t flush_trades = 5000;
  std::string etl_debounce = "1s";
  std::string etl_max_delay = "10s";
  std::string schedule_poll = "2s";
  int etl_threads = 2;
  std::string reconcile_delay = "10m";
  std::string reconcile_every = "10m";
  bool no_reconcile = false;
  std::string ws_url;  // "": Coinbase's feed for Coinbase's REST URL, else none
  bool no_live = false;
  std::string live_flush_interval = "1m";
  double rate_limit = 10;
  double burst = 15;
  int workers = 0;
  ServerFlags server;

  std::string schedule_lake = "lake";
};

RunCommand::RunCommand(CLI::App* app, const std::string* policies_dir)
    : f_(std::make_unique<Flags>()), policies_dir_(policies_dir) {
  Flags& f = *f_;
  f.run = app->add_subcommand("run", "Keep the lake fresh and serve it: follow, land, transform, API and dashboard");
  f.run->footer(
      "One process: each product is followed on the exchange, trades land in Bronze every\n"
      "--flush-interval or --flush-trades (whichever first), the ETL runs --etl-debounce after\n"
      "the last landed object (at most --etl-max-delay after the first), and the HTTP API and\n"
      "dashboard serve the lake with the pipeline's status at http://BIND:PORT/.\n"
      "Pause and resume without a restart: `tradelake schedule pause|resume`, the dashboard's\n"
      "button or POST /api/v1/schedule/pause|resume; a paused pipeline sends no request.\n"
      "SIGINT/SIGTERM flush pending trades, checkpoint and exit 0; a restart loses nothing.\n"
      "Every flag can also come from a TOML file: --config FILE with a [run] section\n"
      "(`tradelake config show` prints the effective settings in that form).\n\n"
      "Example:\n"
      "  tradelake run --lake lake --products BTC-USD,ETH-USD --since 6h --port 8080");
  f.run->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  // Required, but checked when running, so `config show` works without it.
  f.run->add_option("--products,-p", f.products,
                    "comma-separated product ids, e.g. BTC-USD,ETH-USD, or all (every online product) (required)");
  f.run->add_option("--quote", f.quote, "keep only products quoted in these currencies, e.g. USD,USDC");
  f.run->add_option("--exclude", f.exclude, "comma-separated product ids to leave out");
  f.run->add_option("--exchange-url", f.exchange_url, "Coinbase Exchange REST base URL")->capture_default_str();
  f.run->add_option("--since", f.since, "on a product's first start, backfill from this time (6h, RFC 3339)");
  f.run->add_option("--poll-interval", f.poll_interval, "time between polls of a caught-up product")
      ->capture_default_str();
  f.run->add_option("--flush-interval", f.flush_interval, "land a Bronze object at least this often")
      ->capture_default_str();
  f.run->add_option("--flush-trades", f.flush_trades, "... or as soon as this many trades are pending")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))
      ->capture_default_str();
  f.run->add_option("--etl-debounce", f.etl_debounce, "run the ETL once no object has landed for this long")
      ->capture_default_str();
  f.run->add_option("--etl-max-delay", f.etl_max_delay, "... but at the latest this long after the first one")
      ->capture_default_str();
  f.run->add_option("--etl-threads", f.etl_threads, "products the ETL processes in parallel")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  f.run->add_option("--reconcile-delay", f.reconcile_delay,
                    "compare 1-minute bars with the exchange's candles once they are this old")
      ->capture_default_str();
  f.run->add_option("--reconcile-every", f.reconcile_every, "... in batches at most this often")
      ->capture_default_str();
  f.run->add_flag("--no-reconcile", f.no_reconcile, "do not reconcile Gold with the exchange's candles");
  f.run->add_option("--ws-url", f.ws_url,
                    "the exchange's WebSocket feed (matches, heartbeats) for the live tail and to know where REST "
                    "has new trades; default: Coinbase's feed with Coinbase's REST URL, else none (e.g. "
                    "ws://127.0.0.1:8090 for `tradelake simulate --ws-port 8090`)");
  f.run->add_flag("--no-live", f.no_live, "no WebSocket feed: poll REST every --poll-interval, no provisional bars");
  f.run->add_option("--live-flush-interval", f.live_flush_interval,
                    "with the live tail carrying freshness, land a Bronze object this often (unless "
                    "--flush-interval is given)")
      ->capture_default_str();
  f.run->add_option("--schedule-poll", f.schedule_poll, "how often the schedule is re-read from the lake")
      ->capture_default_str();
  f.run->add_option("--rate-limit", f.rate_limit, "requests per second to the exchange, all products (0: off)")
      ->capture_default_str();
  f.run->add_option("--burst", f.burst, "rate limiter burst")->capture_default_str();
  f.run->add_option("--workers", f.workers,
                    "threads serving the products, longest-waiting first (0: one per product, at most 8)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  AddServerFlags(f.run, &f.server);

  f.schedule = app->add_subcommand("schedule", "Pause or resume the ingest schedule of `tradelake run` (cost switch)");
  f.schedule->footer(
      "The schedule is stored in the lake (_state/ingest/schedule.json); a running\n"
      "`tradelake run` follows it within --schedule-poll, and a paused one sends no request\n"
      "to the exchange. The ETL and the API keep working while paused.");
  f.schedule->require_subcommand(1);
  f.pause = f.schedule->add_subcommand("pause", "stop fetching trades (no exchange requests)");
  f.resume = f.schedule->add_subcommand("resume", "fetch trades again, from where ingestion stopped");
  f.show_schedule = f.schedule->add_subcommand("show", "print the schedule");
  for (CLI::App* sub : {f.pause, f.resume, f.show_schedule}) {
    sub->add_option("--lake", f.schedule_lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  }

  f.config = app->add_subcommand("config", "Print the effective settings of `tradelake run`");
  f.config->require_subcommand(1);
  f.show_config = f.config->add_subcommand(
      "show", "tradelake config show [--config FILE] [run flags]: defaults, then the file, then the flags, as TOML");
  // `config show ARGS` is parsed as `run ARGS` (RewriteConfigShow).
}

RunCommand::~RunCommand() = default;

bool RunCommand::RewriteConfigShow(std::vector<std::string>* args) {
  // The first two words that are not options (nor an option's value) must be "config show".
  for (size_t i = 1; i + 1 < args->size(); ++i) {
    const std::string& a = (*args)[i];
    if (a == "--config" || a == "--log-format" || a == "--log-level" || a == "--policies") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    if (a != "config" || (*args)[i + 1] != "show") return false;
    (*args)[i] = "run";
    args->erase(args->begin() + static_cast<std::ptrdiff_t>(i) + 1);
    print_config_ = true;
    return true;
  }
  return false;
}

namespace {

// The effective settings of `run`: every option with its value, as TOML
// that --config reads back.
std::string RunConfigToml(CLI::App* run) {
  std::string out = "[run]\n";
  for (const CLI::Option* opt : run->get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help") continue;
    out += fmt::format("# {}\n", opt->get_description());
    std::vector<std::string> values = opt->count() > 0 ? opt->results() : std::vector<std::string>{};
    if (values.empty() && !opt->get_default_str().empty()) values = {opt->get_default_str()};
    auto quoted = [](const std::string& v) {
      std::string q;
      AppendJsonString(&q, v);  // a TOML basic string is JSON-compatible for these values
      return q;
    };
    const bool numeric = !values.empty() && values.size() == 1 &&
                         values[0].find_first_not_of("0123456789.-") == std::string::npos && !values[0].empty() &&
                         std::count(values[0].begin(), values[0].end(), '.') <= 1;
    if (values.empty()) {
      out += fmt::format("# {} =\n", name);
    } else if (opt->get_expected_max() > 1) {
      std::string list;
      for (const auto& v : values) list += (list.empty() ? "" : ", ") + quoted(v);
      out += fmt::format("{} = [{}]\n", name, list);
    } else {
      out += fmt::format("{} = {}\n", name, numeric ? values[0] : quoted(values[0]));
    }
  }
  return out;
}

int RunSchedule(bool paused, const std::string& lake, const std::string& policies) {
  auto store = OpenLakeAs(lake, "ingest", policies);
  if (!store.ok()) return FailCommand(store.status());
  Schedule s{paused, NowMicros(), WhoAmI()};
  if (Status st = SaveSchedule(store->get(), s); !st.ok()) return FailCommand(st);
  std::printf("schedule %s: %s\n", paused ? "paused" : "resumed", ScheduleJson(s).c_str());
  std::printf(paused ? "a running `tradelake run` on %s stops fetching within its --schedule-poll (2s by default)\n"
                     : "a running `tradelake run` on %s starts fetching again within its --schedule-poll\n",
              lake.c_str());
  return kExitOk;
}

}  // namespace

std::optional<int> RunCommand::RunIfParsed(CLI::App* app) {
  Flags& f = *f_;
  if (f.pause->parsed()) return RunSchedule(true, f.schedule_lake, *policies_dir_);
  if (f.resume->parsed()) return RunSchedule(false, f.schedule_lake, *policies_dir_);
  if (f.show_schedule->parsed()) {
    auto store = OpenLakeAs(f.schedule_lake, "ingest", *policies_dir_);
    if (!store.ok()) return FailCommand(store.status());
    auto s = LoadSchedule(store->get());
    if (!s.ok()) return FailCommand(s.status());
    std::printf("%s\n", ScheduleJson(*s).c_str());
    return kExitOk;
  }
  if (!f.run->parsed()) return std::nullopt;
  if (print_config_) {
    const CLI::Option* c = app->get_config_ptr();
    if (c && c->count() > 0) {
      std::printf("# effective settings of `tradelake run` (defaults, %s, flags)\n", c->as<std::string>().c_str());
    } else {
      std::printf("# effective settings of `tradelake run` (defaults and flags)\n");
    }
    std::printf("%s", RunConfigToml(f.run).c_str());
    return kExitOk;
  }

  // ---------------------------------------------------------------- run
  PipelineOptions p;
  const ProductSelection selection = ParseProductSelection(f.products, f.quote, f.exclude);
  if (selection.products.empty()) {
    return FailCommand(InvalidArgument("no products; pass --products BTC-USD,ETH-USD or --products all"));
  }
  p.ingest.exchange.base_url = f.exchange_url;
  while (!p.ingest.exchange.base_url.empty() && p.ingest.exchange.base_url.back() == '/') {
    p.ingest.exchange.base_url.pop_back();
  }
  p.ingest.rate_per_second = f.rate_limit;
  p.ingest.burst = f.burst;
  p.ingest.object_max_trades = f.flush_trades;
  p.ingest.workers = f.workers;
  if (!f.since.empty()) {
    auto since = ParseTimeOrAgo(f.since, NowMicros());
    if (!since.ok()) return FailCommand(since.status().WithContext("--since"));
    p.ingest.since = *since;
  }
  struct {
    const std::string* text;
    std::string_view flag;
    int64_t* out;
  } durations[] = {{&f.poll_interval, "--poll-interval", &p.ingest.poll_interval_ms},
                   {&f.flush_interval, "--flush-interval", &p.ingest.flush_interval_ms},
                   {&f.etl_debounce, "--etl-debounce", &p.etl_debounce_ms},
                   {&f.etl_max_delay, "--etl-max-delay", &p.etl_max_delay_ms},
                   {&f.schedule_poll, "--schedule-poll", &p.schedule_poll_ms}};
  for (auto& d : durations) {
    auto ms = Millis(*d.text, d.flag);
    if (!ms.ok()) return FailCommand(ms.status());
    *d.out = *ms;
  }
  if (p.etl_max_delay_ms < p.etl_debounce_ms) {
    return FailCommand(InvalidArgument("--etl-max-delay must be at least --etl-debounce"));
  }
  p.etl.threads = f.etl_threads;
  auto server_options = ServerOptionsFrom(f.server);
  if (!server_options.ok()) return FailCommand(server_options.status());

  // The lake as each role: what ingest writes, what the ETL writes, what the API reads.
  auto ingest_store = OpenLakeAs(f.lake, "ingest", *policies_dir_);
  if (!ingest_store.ok()) return FailCommand(ingest_store.status());
  auto etl_store = OpenLakeAs(f.lake, "etl", *policies_dir_);
  if (!etl_store.ok()) return FailCommand(etl_store.status());
  auto analyst_store = OpenLakeAs(f.lake, "analyst", *policies_dir_);
  if (!analyst_store.ok()) return FailCommand(analyst_store.status());

  // Closed minutes are reconciled with the exchange's candles on the ETL
  // thread, sharing the ingester's rate limiter (reconcile/live_reconciler.h).
  auto limiter = NewIngestRateLimiter(p.ingest.rate_per_second, p.ingest.burst);
  p.ingest.limiter = limiter.get();
  auto resolved = ResolveProducts(selection, p.ingest.exchange, limiter.get());
  if (!resolved.ok()) return FailCommand(resolved.status());
  p.ingest.products = std::move(*resolved);
  if (selection.all() || !selection.quotes.empty() || !selection.exclude.empty()) {
    spdlog::info("following {} products: {}", p.ingest.products.size(), fmt::join(p.ingest.products, ","));
  }
  // The live tail: the WebSocket feed's matches become provisional 1m bars
  // (live/live_tail.h) and, with its heartbeats, tell the ingester where REST
  // has new trades (ingest/trade_hints.h). REST stays the truth for Bronze.
  std::string ws_url = f.ws_url;
  if (ws_url.empty() && p.ingest.exchange.base_url == kCoinbaseExchangeUrl) ws_url = std::string(kCoinbaseWsUrl);
  LiveTail tail;
  TradeHints hints;
  std::unique_ptr<WsFeed> feed;
  if (!f.no_live && !ws_url.empty()) {
    WsFeedOptions wo;
    wo.url = ws_url;
    wo.products = p.ingest.products;
    WsCallbacks cb;
    cb.on_match = [&tail, &hints](const WsMatch& m) {
      if (Status s = tail.Add(m); !s.ok()) spdlog::warn("live: {}", s.ToString());
      hints.Notify(m.product, m.trade_id);
    };
    cb.on_heartbeat = [&tail, &hints](const WsHeartbeat& h) {
      tail.ObserveHeartbeat(h);
      hints.Notify(h.product, h.last_trade_id);
    };
    cb.on_error = [&hints](const std::string& product, const Status& error) {
      if (product.empty()) {
        spdlog::warn("live: WebSocket feed: {}", error.ToString());
      } else {
        // No hints will come for it: REST polls it every --poll-interval.
        hints.Unfollow(product);
        spdlog::warn("live: WebSocket feed refused {} ({}); REST keeps ingesting it, polling", product,
                     error.ToString());
      }
    };
    cb.on_state = [](const WsStateChange& c) {
      if (c.connected) {
        spdlog::info("live: WebSocket connection {} subscribed ({} products)", c.connection, c.products.size());
      } else {
        spdlog::warn("live: WebSocket connection {} closed: {}; reconnecting", c.connection, c.reason);
      }
    };
    auto started = WsFeed::Start(std::move(wo), std::move(cb));
    if (!started.ok()) return FailCommand(started.status().WithContext("--ws-url"));
    feed = std::move(*started);
    p.ingest.hints = &hints;
    if (f.run->get_option("--flush-interval")->count() == 0) {
      auto ms = Millis(f.live_flush_interval, "--live-flush-interval");
      if (!ms.ok()) return FailCommand(ms.status());
      p.ingest.flush_interval_ms = *ms;
    }
  }
  std::unique_ptr<LiveReconciler> reconciler;
  if (!f.no_reconcile) {
    LiveReconcileOptions ro;
    ro.products = p.ingest.products;
    auto delay = ParseDuration(f.reconcile_delay);
    if (!delay.ok()) return FailCommand(delay.status().WithContext("--reconcile-delay"));
    auto every = ParseDuration(f.reconcile_every);
    if (!every.ok()) return FailCommand(every.status().WithContext("--reconcile-every"));
    ro.delay = *delay;
    ro.every = *every;
    reconciler = std::make_unique<LiveReconciler>(etl_store->get(), p.ingest.exchange, limiter.get(), ro);
    p.after_etl = [r = reconciler.get()](const EtlReport& etl, const std::atomic<bool>* stop) {
      auto done = r->Step(etl, NowMicros(), stop);
      if (!done.ok()) spdlog::warn("reconcile: {}; trying again after the next ETL run", done.status().ToString());
    };
  }
  if (feed) {
    // After each ETL commit: Gold holds every trade of the minutes before its
    // newest one (trades land in id order), so the tail may drop them, and
    // the newest minute's first id minus one is the last id Gold holds before
    // it, which lets the tail judge that minute's bar complete. Gold's newest
    // minute itself stays in the tail: trades may land in it after the ETL.
    // The drop lags one commit: the API reads a commit up to its refresh
    // interval (1 s) after the ETL made it, and until then asks the tail for
    // the minutes after its older Gold; dropped at once, they would show as
    // Gold's bars of the commit before (lacking trades) for that while.
    p.on_gold_newest = [&tail, previous = std::map<std::string, GoldNewestBar>()](
                           const std::map<std::string, GoldNewestBar>& moved) mutable {
      for (const auto& [product, newest] : moved) {
        auto [before, first] = previous.try_emplace(product, newest);
        if (first) continue;
        tail.DropThrough(product, before->second.minute - kMicrosPerMinute, before->second.first_trade_id - 1);
        before->second = newest;
      }
    };
  }
  sigset_t stop_signals = BlockStopSignals();
  auto pipeline = Pipeline::Start(ingest_store->get(), etl_store->get(), p);
  if (!pipeline.ok()) return FailCommand(pipeline.status());
  Pipeline* pl = pipeline->get();
  server_options->pipeline.status_json = [pl] { return pl->StatusJson(); };
  server_options->pipeline.schedule_json = [pl] { return pl->ScheduleJson(); };
  server_options->pipeline.set_paused = [pl](bool paused, std::string_view by) -> Result<std::string> {
    ASSIGN_OR_RETURN(Schedule s, pl->SetPaused(paused, fmt::format("api:{}", by)));
    return ScheduleJson(s);
  };
  server_options->pipeline.metrics_text = [pl] { return pl->MetricsText(); };
  if (feed) {
    server_options->pipeline.provisional_bars = [&tail](const std::string& product, TimestampMicros after) {
      return tail.BarsAfter(product, after);
    };
  }
  auto server = ApiServer::Start(analyst_store->get(), *server_options);
  if (!server.ok()) {
    pl->Stop();
    return FailCommand(server.status());
  }
  if ((*server)->open_mode()) {
    std::fprintf(stderr,
                 "tradelake: WARNING: no --token-hash given: the API answers only clients on 127.0.0.1, as admin, "
                 "without authentication\n");
  }
  std::printf("tradelake run: following %s from %s into %s\n", f.products.c_str(),
              p.ingest.exchange.base_url.c_str(), f.lake.c_str());
  std::printf("  dashboard and API: %s/\n", (*server)->url().c_str());
  if (feed) {
    std::printf("  live tail: %s (provisional 1m bars; REST asked where the feed shows new trades)\n",
                ws_url.c_str());
  }
  std::printf("  Bronze every %s or %lld trades; ETL %s after the last landed object; Ctrl-C stops cleanly\n",
              feed && f.run->get_option("--flush-interval")->count() == 0 ? f.live_flush_interval.c_str()
                                                                           : f.flush_interval.c_str(),
              static_cast<long long>(f.flush_trades), f.etl_debounce.c_str());
  std::fflush(stdout);
  WriteReadyFile(f.server.ready_file, (*server)->url());

  // Wait for a stop signal, or for the pipeline to fail for good.
  int exit_code = kExitOk;
  const timespec tick{0, 250'000'000};
  while (true) {
    siginfo_t info{};
    const int sig = sigtimedwait(&stop_signals, &info, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      std::printf("stopping (%s): flushing pending trades and checkpointing\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
      std::fflush(stdout);
      break;
    }
    if (auto fatal = pl->fatal()) {
      std::fprintf(stderr, "tradelake: %s\n", fatal->ToString().c_str());
      exit_code = fatal->ExitCode();
      break;
    }
  }
  (*server)->Stop();
  if (feed) feed->Stop();
  pl->Stop();
  const PipelineStatus st = pl->GetStatus();
  for (const auto& prod : st.products) {
    std::printf("  %-12s %lld trades landed in %lld Bronze objects\n", prod.product.c_str(),
                static_cast<long long>(prod.trades_landed), static_cast<long long>(prod.objects_landed));
  }
  std::printf("  ETL: %lld runs (%lld failed)%s\n", static_cast<long long>(st.etl_runs),
              static_cast<long long>(st.etl_failures),
              st.last_etl && st.last_etl->ok ? fmt::format(", last commit {}", st.last_etl->commit).c_str() : "");
  return exit_code;
}

}  // namespace tradelake
