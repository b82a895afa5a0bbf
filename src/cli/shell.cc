#include "cli/shell.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

// libedit's readline-compatible API (BSD licence).
#include <editline/readline.h>
#include <fmt/format.h>

#include "sql/render.h"
#include "sql/sql_text.h"

namespace tradelake {
namespace {

std::atomic<bool> g_interrupt{false};
extern "C" void OnShellInterrupt(int) { g_interrupt.store(true); }

std::string Trimmed(std::string_view s) { return std::string(TrimSql(s)); }

void PrintHelp() {
  std::printf(
      "Statements end with ';' and may span lines. Tables: silver.trades, silver.trades_rejected,\n"
      "gold.trades_hourly, gold.trades_daily, gold.bars_1m (and bronze.trades_raw for the etl role).\n"
      "  .tables              tables with partitions, files and size\n"
      "  .schema [TABLE]      columns and types\n"
      "  .maxscan [SIZE|off]  show or set the scan limit, e.g. .maxscan 1GB\n"
      "  .mode table|csv|json output format\n"
      "  .refresh             re-read the catalog after an ETL commit\n"
      "  .help  .quit         (Ctrl-C cancels a running statement, Ctrl-D leaves)\n");
}

}  // namespace

std::string TablesText(const LakeSql& sql) {
  std::string out = fmt::format("{:<24} {:>10} {:>8} {:>12}\n", "table", "partitions", "files", "size");
  for (const auto& t : sql.Tables()) {
    if (t.files < 0) {
      // Bronze: listed only for the statements that read it.
      out += fmt::format("{:<24} {:>10} {:>8} {:>12}\n", t.name, "-", "-", "-");
      continue;
    }
    out += fmt::format("{:<24} {:>10} {:>8} {:>12}\n", t.name, t.partitions, t.files, HumanBytes(t.bytes));
  }
  out += fmt::format("catalog commit {}{}\n", sql.commit_seq(),
                     sql.commit_seq() == 0 ? " (nothing committed yet: run `tradelake etl`)" : "");
  return out;
}

Result<std::string> SchemaText(const LakeSql& sql, std::string_view table) {
  std::string out;
  bool found = false;
  for (const auto& t : sql.Tables()) {
    if (!table.empty() && t.name != table) continue;
    found = true;
    out += fmt::format("{} (partitioned by {})\n", t.name, fmt::join(t.partition_columns, ", "));
    for (const auto& [name, type] : t.columns) out += fmt::format("  {:<16} {}\n", name, type);
  }
  if (!found) return NotFound(fmt::format("no table {}; .tables lists them", table));
  return out;
}

int RunSqlShell(LakeSql* sql, const ShellOptions& options) {
  std::string history = options.history_file;
  if (history.empty()) {
    const char* home = std::getenv("HOME");
    history = fmt::format("{}/.tradelake_history", home != nullptr ? home : ".");
  }
  using_history();
  read_history(history.c_str());
  stifle_history(2000);

  // Ctrl-C while a statement runs cancels it; at the prompt it clears the line.
  struct sigaction sa {};
  sa.sa_handler = OnShellInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (g_interrupt.exchange(false)) sql->Interrupt();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  OutputFormat mode = OutputFormat::kTable;
  std::printf("tradelake SQL shell over %s (catalog commit %lld). .help for help, Ctrl-D to leave.\n",
              options.lake.c_str(), static_cast<long long>(sql->commit_seq()));
  std::string buffer;
  for (;;) {
    const std::string prompt = buffer.empty() ? options.prompt_name + "> " : std::string(options.prompt_name.size(), ' ') + "> ";
    char* raw = readline(prompt.c_str());
    if (raw == nullptr) break;  // Ctrl-D
    std::string line(raw);
    std::free(raw);
    if (buffer.empty() && Trimmed(line).starts_with(".")) {
      add_history(line.c_str());
      const std::string cmd = Trimmed(line);
      const size_t space = cmd.find(' ');
      const std::string name = cmd.substr(0, space);
      const std::string arg = space == std::string::npos ? "" : Trimmed(cmd.substr(space + 1));
      if (name == ".quit" || name == ".exit") break;
      if (name == ".help") {
        PrintHelp();
      } else if (name == ".tables") {
        std::fputs(TablesText(*sql).c_str(), stdout);
      } else if (name == ".schema") {
        auto text = SchemaText(*sql, arg);
        std::fputs(text.ok() ? text->c_str() : (text.status().message() + "\n").c_str(), stdout);
      } else if (name == ".maxscan") {
        if (arg == "off" || arg == "0") {
          sql->set_max_scan_bytes(0);
        } else if (!arg.empty()) {
          auto bytes = ParseByteSize(arg);
          if (!bytes.ok()) std::printf("%s\n", bytes.status().message().c_str());
          else sql->set_max_scan_bytes(*bytes);
        }
        std::printf("scan limit: %s\n", sql->max_scan_bytes() == 0 ? "none" : HumanBytes(sql->max_scan_bytes()).c_str());
      } else if (name == ".mode") {
        auto m = ParseOutputFormat(arg);
        if (!m.ok() || *m == OutputFormat::kParquet) std::printf("use .mode table, .mode csv or .mode json\n");
        else mode = *m;
      } else if (name == ".refresh") {
        Status s = sql->Refresh();
        std::printf("%s\n", s.ok() ? fmt::format("catalog commit {}", sql->commit_seq()).c_str() : s.ToString().c_str());
      } else {
        std::printf("unknown command %s; .help lists them\n", name.c_str());
      }
      continue;
    }
    if (!buffer.empty()) buffer += '\n';
    buffer += line;
    if (!EndsStatement(buffer)) continue;
    add_history(buffer.c_str());
    g_interrupt.store(false);
    for (const std::string& statement : SplitSqlStatements(buffer)) {
      auto r = sql->ExecuteOne(statement);
      if (!r.ok()) {
        std::printf("%s\n", r.status().ToString().c_str());
        break;
      }
      switch (mode) {
        case OutputFormat::kCsv: std::fputs(RenderCsv(r->rows).c_str(), stdout); break;
        case OutputFormat::kJson: std::fputs(RenderJson(r->rows).c_str(), stdout); break;
        default: std::fputs(RenderTable(r->rows, 200).c_str(), stdout); break;
      }
      std::printf("%s\n", ScanSummary(r->scan).c_str());
    }
    buffer.clear();
  }
  done.store(true);
  watcher.join();
  write_history(history.c_str());
  std::printf("\n");
  return 0;
}

}  // namespace tradelake
