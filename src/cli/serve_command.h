// `tradelake serve`: the lake's HTTP API (serve/api_server.h).
//
//   tradelake serve --lake L --port P [--bind 127.0.0.1]
//                   [--token-hash ROLE:SHA256HEX ...] [--max-scan 10GB]
//                   [--ready-file F] [--threads N]
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

#include <CLI/CLI.hpp>

namespace tradelake {

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
