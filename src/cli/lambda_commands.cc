#include "cli/lambda_commands.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "core/text.h"
#include "core/time.h"
#include "exchange/coinbase_client.h"
#include "lambda/cost.h"
#include "lambda/runtime_client.h"
#include "lambda/step.h"
#include "store/lake.h"

namespace tradelake {

struct LambdaCommands::Flags {
  CLI::App* lambda = nullptr;
  CLI::App* cost = nullptr;
  // lambda
  std::string runtime_api;
  std::string lake;
  std::string products;
  std::string exchange_url = std::string(kCoinbaseExchangeUrl);
  std::string ingest_margin = "20s";
  std::string etl_min_time = "15s";
  std::string etl_margin = "5s";
  double rate_limit = 10;
  double burst = 15;
  int64_t object_trades = 50'000;
  int max_attempts = 4;
  int64_t timeout_ms = 10'000;
  int etl_threads = 2;
  std::string function_name = "tradelake";
  int64_t max_invocations = 0;
  // cost
  std::string cost_products = "1";
  CostInputs in;
  std::string step_json;
};

LambdaCommands::LambdaCommands(CLI::App* app, const std::string* policies_dir)
    : f_(std::make_unique<Flags>()), policies_dir_(policies_dir) {
  Flags& f = *f_;
  f.lambda = app->add_subcommand("lambda", "Serve AWS Lambda events: the custom runtime of the deployed step");
  f.lambda->footer(
      "Started by the package's bootstrap (make package) on provided.al2023. Events:\n"
      "  a scheduled event, {} or {\"action\":\"step\"}: ingest catch-up, then the ETL if time is left\n"
      "  {\"action\":\"ingest\"|\"etl\"|\"compact\"|\"reconcile\", \"products\":[...], \"since\":\"6h\"}\n"
      "Ingest stops --ingest-margin before the invocation's deadline (flushed and checkpointed);\n"
      "the ETL runs only if --etl-min-time is left. One CloudWatch EMF line per step on stdout.\n"
      "Every flag can come from the environment variable named in its help.");
  auto env = [&](CLI::Option* o, const char* name) { o->envname(name); };
  env(f.lambda->add_option("--runtime-api", f.runtime_api, "Runtime API host:port [AWS_LAMBDA_RUNTIME_API]"),
      "AWS_LAMBDA_RUNTIME_API");
  env(f.lambda->add_option("--lake", f.lake, "s3://bucket/prefix (or a folder) [TRADELAKE_LAKE]"), "TRADELAKE_LAKE");
  env(f.lambda->add_option("--products,-p", f.products, "comma-separated product ids [TRADELAKE_PRODUCTS]"),
      "TRADELAKE_PRODUCTS");
  env(f.lambda->add_option("--exchange-url", f.exchange_url, "Coinbase Exchange REST base URL [TRADELAKE_EXCHANGE_URL]")
          ->capture_default_str(),
      "TRADELAKE_EXCHANGE_URL");
  env(f.lambda->add_option("--ingest-margin", f.ingest_margin, "stop ingest this long before the deadline [TRADELAKE_INGEST_MARGIN]")
          ->capture_default_str(),
      "TRADELAKE_INGEST_MARGIN");
  env(f.lambda->add_option("--etl-min-time", f.etl_min_time, "run the ETL only with this much time left [TRADELAKE_ETL_MIN_TIME]")
          ->capture_default_str(),
      "TRADELAKE_ETL_MIN_TIME");
  env(f.lambda->add_option("--etl-margin", f.etl_margin, "stop the ETL this long before the deadline [TRADELAKE_ETL_MARGIN]")
          ->capture_default_str(),
      "TRADELAKE_ETL_MARGIN");
  env(f.lambda->add_option("--rate-limit", f.rate_limit, "exchange requests per second [TRADELAKE_RATE_LIMIT]")
          ->capture_default_str(),
      "TRADELAKE_RATE_LIMIT");
  env(f.lambda->add_option("--burst", f.burst, "rate limiter burst [TRADELAKE_BURST]")->capture_default_str(),
      "TRADELAKE_BURST");
  env(f.lambda->add_option("--object-trades", f.object_trades, "most trades in one Bronze object [TRADELAKE_OBJECT_TRADES]")
          ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))
          ->capture_default_str(),
      "TRADELAKE_OBJECT_TRADES");
  env(f.lambda->add_option("--max-attempts", f.max_attempts, "tries per exchange request [TRADELAKE_MAX_ATTEMPTS]")
          ->check(CLI::Range(1, 100))
          ->capture_default_str(),
      "TRADELAKE_MAX_ATTEMPTS");
  env(f.lambda->add_option("--timeout-ms", f.timeout_ms, "per-request exchange timeout [TRADELAKE_TIMEOUT_MS]")
          ->capture_default_str(),
      "TRADELAKE_TIMEOUT_MS");
  env(f.lambda->add_option("--etl-threads", f.etl_threads, "products processed in parallel by the ETL [TRADELAKE_ETL_THREADS]")
          ->check(CLI::Range(1, 64))
          ->capture_default_str(),
      "TRADELAKE_ETL_THREADS");
  env(f.lambda->add_option("--function-name", f.function_name, "the metrics' Function dimension [AWS_LAMBDA_FUNCTION_NAME]")
          ->capture_default_str(),
      "AWS_LAMBDA_FUNCTION_NAME");
  f.lambda->add_option("--max-invocations", f.max_invocations, "serve this many events, then exit 0 (tests; 0: for ever)")
      ->capture_default_str();

  f.cost = app->add_subcommand("cost", "Monthly AWS cost of a deployment, next to the original serverless design");
  f.cost->footer(
      "An estimate from AWS list prices (the date is printed) and the per-step requests a step\n"
      "reports in its \"store\" counts. Every load figure is a flag; --step-json takes the JSON\n"
      "answer of one ingest+etl step (`tradelake lambda`, or `aws lambda invoke`) to use its\n"
      "measured requests.\n\nExample:\n  tradelake cost --products 10 --trades-per-day 200000");
  f.cost->add_option("--products,-p", f.cost_products, "number of products, or their ids")->capture_default_str();
  f.cost->add_option("--trades-per-day", f.in.trades_per_product_day, "trades per product per day")->capture_default_str();
  f.cost->add_option("--months", f.in.months_of_data, "price storage for a lake this many months old")
      ->capture_default_str();
  f.cost->add_option("--queries-per-day", f.in.athena_queries_per_day, "Athena queries per day")->capture_default_str();
  f.cost->add_option("--scan-bytes", f.in.athena_bytes_per_query, "bytes one Athena query scans")->capture_default_str();
  f.cost->add_option("--memory-gb", f.in.memory_gb, "Lambda memory in GB")->capture_default_str();
  f.cost->add_option("--etl-every", f.in.etl_every_minutes, "minutes between ETL runs (the original design: 60)")
      ->check(CLI::Range(1.0, 1440.0))
      ->capture_default_str();
  f.cost->add_option("--glue-runs-per-day", f.in.glue_runs_per_day, "original design: Glue job runs per day")
      ->capture_default_str();
  f.cost->add_option("--glue-minutes", f.in.glue_minutes_per_run, "original design: minutes billed per Glue run")
      ->capture_default_str();
  f.cost->add_option("--step-json", f.step_json, "a step's JSON answer with measured store requests (1 product)");
}

LambdaCommands::~LambdaCommands() = default;

namespace {

Result<int64_t> Millis(const std::string& text, std::string_view flag) {
  auto d = ParseDuration(text);
  if (!d.ok()) return d.status().WithContext(flag);
  return *d / 1000;
}

// Takes the measured per-step requests of a one-product step answer.
Status ApplyStepJson(const std::string& path, CostInputs* in) {
  std::ifstream file(path);
  if (!file) return NotFound(fmt::format("cannot read --step-json {}", path));
  std::stringstream ss;
  ss << file.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument(fmt::format("--step-json {} is not JSON", path));
  auto take = [&](const char* step, double* puts, double* gets, double* lists) {
    if (!j.contains(step) || !j[step].contains("store")) return false;
    const auto& s = j[step]["store"];
    *puts = s.value("puts", 0.0) + s.value("deletes", 0.0);
    *gets = s.value("gets", 0.0) + s.value("heads", 0.0);
    *lists = s.value("lists", 0.0);
    return true;
  };
  double lists = 0;
  bool any = false;
  if (take("ingest", &in->ingest_puts_per_product, &in->ingest_gets_per_product, &in->ingest_lists_per_product)) {
    in->ingest_puts_base = 0;
    in->ingest_gets_base = 0;
    any = true;
  }
  if (take("etl", &in->etl_puts_per_product, &in->etl_gets_per_product, &lists)) {
    in->etl_puts_base = 0;
    in->etl_gets_base = 0;
    in->etl_lists_base = lists;
    any = true;
  }
  if (!any) return InvalidArgument(fmt::format("--step-json {} has no \"ingest\" or \"etl\" store counts", path));
  return Status::OK();
}

int RunCost(LambdaCommands* /*unused*/, CostInputs in, const std::string& products, const std::string& step_json) {
  char* end = nullptr;
  const long n = std::strtol(products.c_str(), &end, 10);
  if (end != nullptr && *end == '\0' && !products.empty()) {
    in.products = static_cast<int>(n);
  } else {
    in.products = static_cast<int>(SplitCommaList(products).size());
  }
  if (in.products < 1 || in.products > 100'000) return FailCommand(InvalidArgument("--products: give 1..100000 products"));
  if (!step_json.empty()) {
    if (Status s = ApplyStepJson(step_json, &in); !s.ok()) return FailCommand(s);
  }
  std::fputs(RenderCostComparison(in, AwsPrices{}).c_str(), stdout);
  return kExitOk;
}

}  // namespace

std::optional<int> LambdaCommands::RunIfParsed() {
  Flags& f = *f_;
  if (f.cost->parsed()) return RunCost(this, f.in, f.cost_products, f.step_json);
  if (!f.lambda->parsed()) return std::nullopt;
  auto client = RuntimeClient::Create(f.runtime_api);
  if (!client.ok()) return FailCommand(client.status());
  // Anything wrong with the configuration is an init error: Lambda shows it
  // as the function's failure and does not retry the sandbox in a loop.
  auto init_error = [&](const Status& s) {
    spdlog::error("init: {}", s.ToString());
    if (Status posted = (*client)->PostInitError({"Runtime.InitError", s.ToString()}); !posted.ok()) {
      spdlog::error("could not report the init error: {}", posted.ToString());
    }
    return FailCommand(s);
  };
  StepConfig c;
  c.lake = f.lake;
  c.policies_dir = *policies_dir_;
  c.function_name = f.function_name;
  if (c.lake.empty()) return init_error(InvalidArgument("no lake; set TRADELAKE_LAKE=s3://bucket/prefix"));
  c.ingest.products = SplitCommaList(f.products);
  if (c.ingest.products.empty()) return init_error(InvalidArgument("no products; set TRADELAKE_PRODUCTS=BTC-USD,ETH-USD"));
  c.ingest.exchange.base_url = f.exchange_url;
  while (!c.ingest.exchange.base_url.empty() && c.ingest.exchange.base_url.back() == '/') {
    c.ingest.exchange.base_url.pop_back();
  }
  c.ingest.exchange.retry.max_attempts = f.max_attempts;
  c.ingest.exchange.http.timeout_ms = f.timeout_ms;
  c.ingest.rate_per_second = f.rate_limit;
  c.ingest.burst = f.burst;
  c.ingest.object_max_trades = f.object_trades;
  c.etl.threads = f.etl_threads;
  for (auto [text, flag, out] : {std::tuple{&f.ingest_margin, "--ingest-margin", &c.ingest_margin_ms},
                                 std::tuple{&f.etl_min_time, "--etl-min-time", &c.etl_min_ms},
                                 std::tuple{&f.etl_margin, "--etl-margin", &c.etl_margin_ms}}) {
    auto ms = Millis(*text, flag);
    if (!ms.ok()) return init_error(ms.status());
    *out = *ms;
  }
  // Both roles' policies must load for this lake before the first event.
  for (const char* role : {"ingest", "etl"}) {
    auto store = OpenLakeAs(c.lake, role, c.policies_dir);
    if (!store.ok()) return init_error(store.status().WithContext(fmt::format("opening the lake as {}", role)));
  }
  spdlog::info("serving Lambda events for {} on {}", f.products, c.lake);
  Status s = ServeLambdaEvents(client->get(), c,
                               f.max_invocations > 0 ? std::optional<int64_t>(f.max_invocations) : std::nullopt);
  if (!s.ok()) return FailCommand(s);
  return kExitOk;
}

}  // namespace tradelake
