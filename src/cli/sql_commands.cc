#include "cli/sql_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/shell.h"
#include "core/time.h"
#include "query/statement_limits.h"
#include "sql/athena_ddl.h"
#include "sql/lake_sql.h"
#include "sql/render.h"
#include "sql/lake_check.h"
#include "table/catalog.h"
#include "store/lake.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

// Half of physical memory as "NMiB": the default --memory of `tradelake sql`,
// looser than the API's 1GB (the user runs it for themselves) but bounded:
// DuckDB's own default, 80%, leaves too little for the rest of the machine.
std::string HalfOfRam() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return "";
  return fmt::format("{}MiB", (static_cast<int64_t>(pages) * page / 2) >> 20);
}

}  // namespace

struct SqlCommands::Flags {
  CLI::App* sql = nullptr;
  CLI::App* catalog = nullptr;
  CLI::App* list = nullptr;
  CLI::App* describe = nullptr;
  CLI::App* check = nullptr;
  CLI::App* ddl = nullptr;

  std::string lake = "lake";
  std::string query;
  std::string format = "table";
  std::string out;
  std::string max_scan;
  std::string timeout = "0";
  std::string memory;
  uint64_t max_rows = 0;
  bool quiet = false;
  std::string cache_dir;
  std::string role = "analyst";
  std::string table;
  std::string engine = "athena";
  std::string ddl_format = "delta";
  std::string trino_catalog = "delta";
  std::string location, database = "tradelake", products, first_date;
  bool no_projection = false;
  std::vector<std::string> tables;
};

SqlCommands::SqlCommands(CLI::App* app, const std::string* policies_dir)
    : f_(std::make_unique<Flags>()), policies_dir_(policies_dir) {
  Flags& f = *f_;
  f.sql = app->add_subcommand("sql", "Query the lake with SQL (DuckDB dialect); no query: interactive shell");
  f.sql->footer(
      "Tables: silver.trades, silver.trades_rejected, gold.trades_hourly, gold.trades_daily,\n"
      "gold.bars_1m (committed files only). Read-only: SELECT and EXPLAIN.\n"
      "Filters on product_id, date, trade_time or period_start read only the matching\n"
      "partitions; after each statement a summary on stderr says what was read and what\n"
      "Athena would have charged for it.\n\n"
      "Examples:\n"
      "  tradelake sql \"SELECT * FROM gold.trades_daily WHERE product_id = 'BTC-USD'\"\n"
      "  tradelake sql --format csv --out btc.csv \"SELECT * FROM silver.trades WHERE date = '2024-05-01'\"\n"
      "  tradelake sql --max-scan 1GB < report.sql\n"
      "  tradelake sql                    # the shell (.help inside)");
  f.sql->add_option("query", f.query, "SQL statement(s); omit for the shell, or pipe a script on stdin");
  f.sql->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  f.sql->add_option("--format", f.format, "table, csv, json or parquet (parquet needs --out)")->capture_default_str();
  f.sql->add_option("--out,-o", f.out, "write the result of the last statement to this file");
  f.sql->add_option("--max-scan", f.max_scan, "refuse a statement that would scan more, e.g. 10GB (like Athena's "
                                              "BytesScannedCutoffPerQuery)");
  f.sql->add_option("--timeout", f.timeout, "stop the statements after this long, e.g. 5m (0: never; Ctrl-C in the shell)")
      ->capture_default_str();
  f.sql->add_option("--memory", f.memory,
                    "stop a statement that needs more memory, e.g. 4GB (default: half of RAM)");
  f.sql->add_option("--max-rows", f.max_rows, "table format: show at most N rows (0: all)")->capture_default_str();
  f.sql->add_flag("--quiet,-q", f.quiet, "no scan summary on stderr");
  f.sql->add_option("--cache-dir", f.cache_dir, "local cache for objects of a remote lake");
  f.sql->add_option("--role", f.role, "analyst (Silver, Gold) or etl (also bronze.trades_raw, for debugging)")
      ->check(CLI::IsMember({"analyst", "etl"}))
      ->capture_default_str();

  f.catalog = app->add_subcommand("catalog", "What the lake's catalog exposes: tables, partitions, checks, DDL");
  f.catalog->require_subcommand(1);
  f.list = f.catalog->add_subcommand("list", "Tables with partitions, files and size");
  f.describe = f.catalog->add_subcommand("describe", "Columns, partitions and files of one table");
  f.describe->add_option("table", f.table, "e.g. gold.trades_hourly")->required();
  f.check = f.catalog->add_subcommand(
      "check", "Check that every live file of the catalog's table versions is in the lake");
  f.check->footer(
      "Every table is a Delta table: its files are those its log holds at the version\n"
      "the catalog pins, so there is nothing to repair. A missing live file (exit code 65)\n"
      "is rebuilt from Bronze with `tradelake etl --rebuild`. Files the pinned versions do\n"
      "not hold (replaced, awaiting `tradelake vacuum`) are listed, never read or touched.");
  f.ddl = f.catalog->add_subcommand(
      "ddl", "Statements that make the lake's Delta tables queryable from Athena, Trino or Spark");
  f.ddl->footer(
      "Default: Delta Lake tables (Athena: CREATE EXTERNAL TABLE ... TBLPROPERTIES\n"
      "('table_type'='DELTA'); Trino: CALL <catalog>.system.register_table; Spark: CREATE\n"
      "TABLE ... USING DELTA LOCATION). Each engine reads the schema, the partitions and\n"
      "the committed files from the tables' _delta_log/.\n"
      "--format hive (Athena only) prints the old column-list DDL with partition\n"
      "projection; it reads every file in the folders, also replaced ones awaiting\n"
      "`tradelake vacuum`. Its products and first date default to what the lake holds.\n"
      "See docs/athena.md (engine setup, timestamp precision).\n\n"
      "Examples:\n"
      "  tradelake catalog ddl --location s3://my-bucket/lake > athena.sql\n"
      "  tradelake catalog ddl --engine trino --trino-catalog delta --location s3://my-bucket/lake\n"
      "  tradelake catalog ddl --engine spark --location s3://my-bucket/lake");
  f.ddl->add_option("--engine", f.engine, "athena, trino (delta_lake connector) or spark (Delta Lake)")
      ->check(CLI::IsMember({"athena", "trino", "spark"}))
      ->capture_default_str();
  f.ddl->add_option("--format", f.ddl_format, "delta (the Delta log) or hive (Athena partitions over the folders)")
      ->check(CLI::IsMember({"delta", "hive"}))
      ->capture_default_str();
  f.ddl->add_option("--location", f.location, "s3://bucket/prefix of the lake")->required();
  f.ddl->add_option("--database", f.database, "Glue database / Trino schema / Spark database")->capture_default_str();
  f.ddl->add_option("--trino-catalog", f.trino_catalog, "trino: the catalog with connector.name=delta_lake")
      ->capture_default_str();
  f.ddl->add_flag("--no-projection", f.no_projection,
                  "hive: plain partitions (then run MSCK REPAIR TABLE after each ETL)");
  f.ddl->add_option("--products", f.products, "hive: enum projection values, comma-separated ('' : injected)");
  f.ddl->add_option("--first-date", f.first_date, "hive: first date of the projection range (YYYY-MM-DD)");
  f.ddl->add_option("--table", f.tables, "only these tables (repeatable), e.g. gold.trades_daily");
  for (CLI::App* sub : {f.list, f.describe, f.check, f.ddl}) {
    sub->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  }
}

SqlCommands::~SqlCommands() = default;

namespace {

int RunSql(const std::string& policies_dir, const std::string& role, const std::string& lake, const std::string& query, const std::string& format_name,
           const std::string& out, const std::string& max_scan, uint64_t max_rows, bool quiet,
           const std::string& cache_dir, const std::string& timeout, const std::string& memory) {
  auto format = ParseOutputFormat(format_name);
  if (!format.ok()) return FailCommand(format.status());
  if (*format == OutputFormat::kParquet && out.empty()) {
    return FailCommand(InvalidArgument("--format parquet writes a file: add --out FILE"));
  }
  SqlOptions options;
  options.cache_dir = cache_dir;
  // The memory limit is DuckDB's memory_limit (it accounts string_agg and
  // the other aggregates since 1.4) plus the watchdog below on the growth of
  // this process; the time limit is the watchdog's.
  StatementLimits limits;
  options.memory_limit = memory.empty() ? HalfOfRam() : "";
  if (!memory.empty() && memory != "0") {
    auto bytes = ParseByteSize(memory);
    if (!bytes.ok()) return FailCommand(bytes.status().WithContext("--memory"));
    options.memory_limit = fmt::format("{}MiB", std::max<int64_t>(*bytes >> 20, 1));
    limits.max_growth_bytes = *bytes;
  }
  if (timeout != "0") {
    auto micros = ParseDuration(timeout);
    if (!micros.ok()) return FailCommand(micros.status().WithContext("--timeout"));
    limits.max_micros = *micros;
  }
  if (!max_scan.empty()) {
    auto bytes = ParseByteSize(max_scan);
    if (!bytes.ok()) return FailCommand(bytes.status().WithContext("--max-scan"));
    options.max_scan_bytes = *bytes;
  }
  auto store = OpenLakeAs(lake, role, policies_dir);
  if (!store.ok()) return FailCommand(store.status());
  auto sql = LakeSql::Open(store->get(), options);
  if (!sql.ok()) return FailCommand(sql.status());

  std::string script = query;
  if (script.empty()) {
    if (::isatty(STDIN_FILENO)) {
      ShellOptions shell;
      shell.lake = lake;
      return RunSqlShell(sql->get(), shell);
    }
    script.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  LakeSql* lake_sql = sql->get();
  StatementWatchdog watchdog(limits, [lake_sql] { lake_sql->Interrupt(); });
  watchdog.Begin();
  auto results = lake_sql->Execute(script);
  Status finished = watchdog.Finish(results.ok() ? Status::OK() : results.status(), "--timeout", "--memory");
  if (!finished.ok()) return FailCommand(finished);
  if (results->empty()) return FailCommand(InvalidArgument("no SQL statement given"));
  for (size_t i = 0; i < results->size(); ++i) {
    const StatementResult& r = (*results)[i];
    const bool last = i + 1 == results->size();
    if (last && !out.empty()) {
      Status s;
      if (*format == OutputFormat::kParquet) {
        s = WriteResultParquet(r.rows, out);
      } else {
        std::ofstream file(out, std::ios::binary | std::ios::trunc);
        const std::string text = *format == OutputFormat::kCsv    ? RenderCsv(r.rows)
                                 : *format == OutputFormat::kJson ? RenderJson(r.rows)
                                                                  : RenderTable(r.rows, max_rows);
        file << text;
        if (!file) s = IOError(fmt::format("cannot write {}", out));
      }
      if (!s.ok()) return FailCommand(s);
    } else {
      const std::string text = *format == OutputFormat::kCsv    ? RenderCsv(r.rows)
                               : *format == OutputFormat::kJson ? RenderJson(r.rows)
                                                                : RenderTable(r.rows, max_rows);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);  // the summary follows the rows it describes
    if (!quiet) std::fprintf(stderr, "%s\n", ScanSummary(r.scan).c_str());
  }
  return 0;
}

}  // namespace

std::optional<int> SqlCommands::RunIfParsed() {
  Flags& f = *f_;
  if (f.sql->parsed()) {
    return RunSql(*policies_dir_, f.role, f.lake, f.query, f.format, f.out, f.max_scan, f.max_rows, f.quiet, f.cache_dir,
                  f.timeout, f.memory);
  }
  if (!f.catalog->parsed()) return std::nullopt;
  auto store = OpenLakeAs(f.lake, "analyst", *policies_dir_);
  if (!store.ok()) return FailCommand(store.status());
  if (f.ddl->parsed()) {
    AthenaDdlOptions o;
    auto engine = ParseDdlEngine(f.engine);
    if (!engine.ok()) return FailCommand(engine.status());
    auto format = ParseDdlFormat(f.ddl_format);
    if (!format.ok()) return FailCommand(format.status());
    o.engine = *engine;
    o.format = *format;
    o.trino_catalog = f.trino_catalog;
    if (o.format == DdlFormat::kDelta) {
      for (const CLI::Option* hive_only : {f.ddl->get_option("--no-projection"), f.ddl->get_option("--products"),
                                           f.ddl->get_option("--first-date")}) {
        if (hive_only->count() > 0) {
          return FailCommand(InvalidArgument(fmt::format(
              "{} is for --format hive; Delta tables take their partitions from the Delta log",
              hive_only->get_name())));
        }
      }
    }
    o.location = f.location;
    o.database = f.database;
    o.projection = !f.no_projection;
    o.tables = f.tables;
    o.first_date = f.first_date;
    // `--products ''` asks for the injected projection: given, but empty.
    const bool products_given = f.ddl->get_option("--products")->count() > 0;
    for (size_t start = 0; start < f.products.size();) {
      size_t end = f.products.find(',', start);
      if (end == std::string::npos) end = f.products.size();
      if (end > start) o.products.push_back(f.products.substr(start, end - start));
      start = end + 1;
    }
    if (o.format == DdlFormat::kHive && o.projection && (!products_given || o.first_date.empty())) {
      // Defaults from what the lake holds: products of every table, the
      // first date of the dated ones (Silver and bars_1m have every day
      // Gold has).
      auto lake = LoadLakeState(store->get());
      if (!lake.ok()) return FailCommand(lake.status());
      std::set<std::string> products, dates;
      for (std::string_view table : AllTables()) {
        auto files = LiveFiles(*lake, table);
        if (!files.ok()) return FailCommand(files.status());
        for (const TableFile& file : *files) {
          products.insert(file.product_id);
          if (!file.date.empty()) dates.insert(file.date);
        }
      }
      if (!products_given) o.products.assign(products.begin(), products.end());
      // With no dated file, first_date stays empty: AthenaDdl asks for
      // --first-date if a table with date folders is printed.
      if (o.first_date.empty() && !dates.empty()) o.first_date = *dates.begin();
    }
    auto text = AthenaDdl(o);
    if (!text.ok()) return FailCommand(text.status());
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  if (f.check->parsed()) {
    auto report = CheckLake(store->get());
    if (!report.ok()) return FailCommand(report.status());
    std::fputs(report->ToString().c_str(), stdout);
    if (const int64_t missing = report->missing_count(); missing > 0) {
      std::fflush(stdout);
      return FailCommand(DataLoss(fmt::format(
          "{} live file{} of catalog commit {} {} missing or changed (listed above); rebuild the tables from Bronze "
          "with `tradelake etl --rebuild`",
          missing, missing == 1 ? "" : "s", report->seq, missing == 1 ? "is" : "are")));
    }
    return 0;
  }
  auto sql = LakeSql::Open(store->get(), SqlOptions{});
  if (!sql.ok()) return FailCommand(sql.status());
  if (f.list->parsed()) {
    std::fputs(TablesText(**sql).c_str(), stdout);
    return 0;
  }
  auto text = SchemaText(**sql, f.table);
  if (!text.ok()) return FailCommand(text.status());
  std::fputs(text->c_str(), stdout);
  for (const auto& t : (*sql)->Tables()) {
    if (t.name != f.table) continue;
    if (t.files < 0) {
      std::printf("not counted: Bronze has no catalog, and is listed only for the statements that read it\n");
      continue;
    }
    std::printf("%lld partitions, %lld files, %s\n", static_cast<long long>(t.partitions),
                static_cast<long long>(t.files), HumanBytes(t.bytes).c_str());
  }
  std::map<std::string, int64_t> files_by_partition;
  for (const auto& [key, file] : (*sql)->Files(f.table)) ++files_by_partition[file.partition];
  for (const auto& [partition, n] : files_by_partition) {
    std::printf("  %s  (%lld file%s)\n", partition.c_str(), static_cast<long long>(n), n == 1 ? "" : "s");
  }
  return 0;
}

}  // namespace tradelake
