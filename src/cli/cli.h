// The tradelake command line: subcommands, flags, exit codes.
//
//   tradelake ingest | verify | etl | dq | bars | simulate    (cli.cc)
//   tradelake sql | catalog                                   (sql_commands.h)
//   tradelake serve                                           (serve_command.h)
//   tradelake run | schedule | config                         (run_command.h)
//
// RunCli returns the process exit code (core/exit_codes.h). Errors are
// printed once, to stderr, as "tradelake: <message>".
#pragma once

#include "core/status.h"

namespace tradelake {

int RunCli(int argc, char** argv);

// Prints "tradelake: <status>" to stderr and returns the status's exit code:
// how every command ends on an error.
int FailCommand(const Status& s);

}  // namespace tradelake
