#include "cli/reconcile_commands.h"

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "core/text.h"
#include "core/time.h"
#include "etl/dec18.h"
#include "reconcile/reconcile.h"
#include "store/lake.h"

namespace tradelake {

struct ReconcileCommand::Flags {
  CLI::App* reconcile = nullptr;
  std::string lake = "lake";
  std::string products;
  std::string from = "1d";
  std::string to;
  std::string min_age = "10m";
  std::string exchange_url = std::string(kCoinbaseExchangeUrl);
  double rate_limit = 10;
  int max_attempts = 6;
  bool dry_run = false;
  bool all_minutes = false;
  int show = 20;
};

ReconcileCommand::ReconcileCommand(CLI::App* app, const std::string* policies_dir)
    : f_(std::make_unique<Flags>()), policies_dir_(policies_dir) {
  Flags& f = *f_;
  f.reconcile = app->add_subcommand("reconcile", "Compare gold.bars_1m with the exchange's 1-minute candles, exactly");
  f.reconcile->footer(
      "For every closed minute of [--from, --to): open, high, low, close and volume of the\n"
      "Gold bar against GET /products/{id}/candles?granularity=60 (300 minutes a request,\n"
      "5 requests per product-day), compared as exact decimals. Each minute is a match, or\n"
      "differs (both values named), missing_in_gold (with the trade id range Silver lacks)\n"
      "or missing_on_exchange. Minutes that ended less than --min-age ago are not final yet\n"
      "and are only counted, as are minutes before a product's first complete Gold minute or\n"
      "from its newest on (--all-minutes compares them). Rows go to audit.candle_reconciliation (query them with\n"
      "`tradelake sql`). Runs as the etl role and takes the ETL lease to commit.\n"
      "Exit status: 0 when every compared minute matches, 65 when any differs.\n\n"
      "Examples:\n"
      "  tradelake reconcile --products BTC-USD --from 2024-05-01 --to 2024-05-02\n"
      "  tradelake reconcile --products BTC-USD,ETH-USD --from 6h --dry-run");
  f.reconcile->add_option("--products,-p", f.products, "comma-separated product ids")->required();
  f.reconcile->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  f.reconcile->add_option("--from", f.from, "first minute: RFC 3339, YYYY-MM-DD, or a duration ago (6h, 2d)")
      ->capture_default_str();
  f.reconcile->add_option("--to", f.to, "end, exclusive (default: now)");
  f.reconcile->add_option("--min-age", f.min_age, "compare only minutes that ended at least this long ago")
      ->capture_default_str();
  f.reconcile->add_option("--exchange-url", f.exchange_url, "Coinbase Exchange REST base URL")->capture_default_str();
  f.reconcile->add_option("--rate-limit", f.rate_limit, "requests per second to the exchange (0: off)")
      ->capture_default_str();
  f.reconcile->add_option("--max-attempts", f.max_attempts, "tries per request before giving up")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  f.reconcile->add_option("--show", f.show, "differences printed per product (all are in the table)")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  f.reconcile->add_flag("--dry-run", f.dry_run, "compare and print; write nothing to the lake");
  f.reconcile->add_flag("--all-minutes", f.all_minutes,
                        "also compare a product's first and newest Gold minutes (ingestion may have started or be "
                        "inside them)");
}

ReconcileCommand::~ReconcileCommand() = default;

namespace {

std::string Values(const std::optional<Ohlcv>& v) {
  if (!v) return "-";
  return fmt::format("o {} h {} l {} c {} v {}", Dec18ToString(v->open), Dec18ToString(v->high),
                     Dec18ToString(v->low), Dec18ToString(v->close), Dec18ToString(v->volume));
}

}  // namespace

std::optional<int> ReconcileCommand::RunIfParsed() {
  Flags& f = *f_;
  if (!f.reconcile->parsed()) return std::nullopt;
  const TimestampMicros now = NowMicros();
  ReconcileOptions o;
  o.products = SplitCommaList(f.products);
  if (o.products.empty()) return FailCommand(InvalidArgument("no products; pass --products BTC-USD,ETH-USD"));
  for (const std::string& p : o.products) {
    if (Status s = ValidateProductId(p); !s.ok()) return FailCommand(s.WithContext("--products"));
  }
  auto from = ParseTimeOrAgo(f.from, now);
  if (!from.ok()) return FailCommand(from.status().WithContext("--from"));
  o.from = *from;
  o.to = now;
  if (!f.to.empty()) {
    auto to = ParseTimeOrAgo(f.to, now);
    if (!to.ok()) return FailCommand(to.status().WithContext("--to"));
    o.to = *to;
  }
  auto min_age = ParseDuration(f.min_age);
  if (!min_age.ok()) return FailCommand(min_age.status().WithContext("--min-age"));
  o.min_age = *min_age;
  o.now = now;
  o.commit = !f.dry_run;
  o.only_complete_minutes = !f.all_minutes;

  auto store = OpenLakeAs(f.lake, "etl", *policies_dir_);
  if (!store.ok()) return FailCommand(store.status());
  CoinbaseOptions co;
  co.base_url = f.exchange_url;
  while (!co.base_url.empty() && co.base_url.back() == '/') co.base_url.pop_back();
  co.retry.max_attempts = f.max_attempts;
  std::unique_ptr<RateLimiter> limiter;
  if (f.rate_limit > 0) limiter = std::make_unique<RateLimiter>(f.rate_limit, f.rate_limit);
  CoinbaseClient client(co, limiter.get(), nullptr);
  auto report = Reconcile(store->get(), &client, o);
  if (!report.ok()) return FailCommand(report.status());

  for (const ProductReconciliation& p : report->products) {
    fmt::print("{:<10} {:>6} minutes compared: {:>6} match ({:.2f}%), {} differ, {} missing in Gold, {} missing on "
               "the exchange; {} not final yet, {} outside what Gold holds completely; {} requests\n",
               p.product_id, p.compared, p.matched, 100.0 * p.match_share(), p.differs, p.missing_in_gold,
               p.missing_on_exchange, p.not_final, p.outside_gold, p.requests);
    int shown = 0;
    for (const ReconRow& r : p.differences) {
      if (shown++ >= f.show) {
        fmt::print("  ... {} more (audit.candle_reconciliation)\n", p.differences.size() - static_cast<size_t>(f.show));
        break;
      }
      fmt::print("  {} {:<19} {}\n", FormatRfc3339Trimmed(r.minute), r.status, r.detail);
      fmt::print("      gold     {}\n      exchange {}\n", Values(r.gold), Values(r.exchange));
    }
  }
  if (report->seq > 0) {
    fmt::print("wrote {} rows to audit.candle_reconciliation (catalog commit {}) in {:.1f} s\n", report->rows_written,
               report->seq, report->seconds);
  } else {
    fmt::print("{} in {:.1f} s\n", f.dry_run ? "dry run: nothing written" : "nothing to write", report->seconds);
  }
  return report->differences() == 0 ? kExitOk : kExitDataError;
}

}  // namespace tradelake
