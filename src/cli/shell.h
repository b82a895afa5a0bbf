// The interactive SQL shell of `tradelake sql`: line editing and history
// (libedit), statements spanning lines until ';', dot commands, Ctrl-C
// cancels the running statement, Ctrl-D leaves.
//
//   .tables            tables with partitions, files and size
//   .schema [TABLE]    columns and types
//   .maxscan [SIZE|off] show or set the scan limit
//   .mode table|csv|json  output format
//   .refresh           re-read the catalog (after an ETL commit)
//   .help, .quit
#pragma once

#include <string>

#include "sql/lake_sql.h"

namespace tradelake {

struct ShellOptions {
  std::string history_file;  // "" -> ~/.tradelake_history
  std::string prompt_name = "tradelake";
  std::string lake;  // shown in the greeting
};

// Runs until end of input or .quit; returns the exit code.
int RunSqlShell(LakeSql* sql, const ShellOptions& options);

// Text of `.tables` / `.schema [table]`, shared by the shell and tests.
std::string TablesText(const LakeSql& sql);
Result<std::string> SchemaText(const LakeSql& sql, std::string_view table);

}  // namespace tradelake
