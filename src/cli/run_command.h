// `tradelake run`, `tradelake schedule` and `tradelake config show`.
//
//   tradelake run --lake L --products BTC-USD,ETH-USD [--exchange-url URL]
//                 [--since 6h] [--poll-interval 1s] [--flush-interval 2s]
//                 [--flush-trades 5000] [--etl-debounce 1s] [--etl-max-delay 10s]
//                 [--port 8080 --bind 127.0.0.1 --token-hash ROLE:HEX ...]
//                 [--ready-file F] [--config tradelake.toml]
//       one process keeping the lake fresh (pipeline/pipeline.h) and serving
//       the HTTP API and dashboard (serve/api_server.h) with the pipeline's
//       status, schedule switch and metrics. SIGINT/SIGTERM: flush,
//       checkpoint, stop (exit 0). An unknown product exits 2 at once.
//   tradelake schedule pause|resume|show --lake L
//       the ingest schedule (pipeline/schedule.h); a running `run` follows
//       it within its schedule poll.
//   tradelake config show [--config F] [run flags...]
//       the effective settings of `run` (defaults, then the file, then the
//       flags) as a TOML file `--config` accepts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tradelake {

class RunCommand {
 public:
  // Registers `run`, `schedule` and `config` on `app`. *policies_dir
  // (--policies, may be empty) is read when a command runs.
  RunCommand(CLI::App* app, const std::string* policies_dir);
  ~RunCommand();
  // Turns `tradelake [global flags] config show ARGS` into `... run ARGS`
  // and remembers to print the settings instead of running; true if it did.
  // Call before parsing.
  bool RewriteConfigShow(std::vector<std::string>* args);
  // The exit code of the parsed command, or nullopt if none of these was parsed.
  std::optional<int> RunIfParsed(CLI::App* app);

 private:
  struct Flags;
  std::unique_ptr<Flags> f_;
  const std::string* policies_dir_;
  bool print_config_ = false;
};

}  // namespace tradelake
