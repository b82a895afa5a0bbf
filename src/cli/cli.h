// The tradelake command line: subcommands, flags, exit codes.
//
//   tradelake ingest    land every trade of some products in Bronze
//   tradelake verify    prove what Bronze holds (counts, gaps, duplicates)
//   tradelake simulate  serve an offline Coinbase exchange
//
// RunCli returns the process exit code (core/exit_codes.h). Errors are
// printed once, to stderr, as "tradelake: <message>".
#pragma once

namespace tradelake {

int RunCli(int argc, char** argv);

}  // namespace tradelake
