// `tradelake serve`: the lake's HTTP API (serve/api_server.h).
//
//   tradelake serve --lake L --port P [--bind 127.0.0.1]
//                   [--token-hash ROLE:SHA256HEX ...] [--max-scan 10GB]
//                   [--ready-file F] [--threads N] [--public-url URL]
//                   [--sql-timeout 30s] [--sql-memory 1GiB] [--sql-max-concurrent 4]
//   tradelake serve --hash-token < token.txt     prints the token's SHA-256
//
// The lake is opened as the analyst role. Without --token-hash the server
// warns on stderr and answers only clients on 127.0.0.1. SIGINT and SIGTERM
// stop it cleanly: running statements are cancelled, the listener closes and
// the command exits 0 (stopping a server on request is its normal end).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <signal.h>

#include "core/status.h"
#include "serve/api_server.h"

namespace tradelake {

// The server's flags, shared by `serve` and `run`.
struct ServerFlags {
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::vector<std::string> token_hashes;
  std::string max_scan = "10GB";
  std::string ready_file;
  std::string cache_dir;
  int threads = ApiServerOptions{}.threads;
  std::string public_url;
  std::string sql_timeout = "30s";   // "0": no limit
  std::string sql_memory = "1GiB";   // "0": no limit
  int sql_max_concurrent = ApiServerOptions{}.sql_max_concurrent;
};
void AddServerFlags(CLI::App* command, ServerFlags* flags);
Result<ApiServerOptions> ServerOptionsFrom(const ServerFlags& flags);

// Blocks SIGINT and SIGTERM in this thread and every thread started after
// (they inherit the mask), so the command can sigwait() for them; ignores
// SIGPIPE. Returns the blocked set.
sigset_t BlockStopSignals();

// Writes `url` and a newline to `path` atomically (write, then rename), so
// a script waiting for the file never reads half of it. Empty path: nothing.
void WriteReadyFile(const std::string& path, const std::string& url);

class ServeCommand {
 public:
  // Registers `serve` on `app`. *policies_dir (--policies, may be empty) is
  // read when the command runs.
  ServeCommand(CLI::App* app, const std::string* policies_dir);
  ~ServeCommand();
  // The exit code of `serve` if it was parsed, else nullopt.
  std::optional<int> RunIfParsed();

 private:
  struct Flags;
  std::unique_ptr<Flags> f_;
  const std::string* policies_dir_;
};

}  // namespace tradelake
