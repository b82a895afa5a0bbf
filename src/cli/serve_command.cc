#include "cli/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <vector>

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "core/time.h"
#include "serve/api_server.h"
#include "sql/render.h"
#include "store/lake.h"

namespace tradelake {
namespace {

int HashToken() {
  std::string token(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) return FailCommand(InvalidArgument("--hash-token: no token on stdin (echo -n TOKEN | tradelake serve --hash-token)"));
  std::printf("%s\n", Sha256Hex(token).c_str());
  return kExitOk;
}

}  // namespace

void AddServerFlags(CLI::App* command, ServerFlags* f) {
  command->add_option("--port", f->port, "port (0: any free port)")->capture_default_str();
  command->add_option("--bind", f->bind, "address to bind")->capture_default_str();
  command->add_option("--token-hash", f->token_hashes, "ROLE:SHA256HEX of an accepted token (repeatable)");
  command->add_option("--max-scan", f->max_scan, "refuse a statement that would scan more (0: no limit)")
      ->capture_default_str();
  command->add_option("--ready-file", f->ready_file, "write the URL to this file once serving");
  command->add_option("--cache-dir", f->cache_dir, "local cache for objects of a remote lake");
  command->add_option("--threads", f->threads, "HTTP worker threads")->capture_default_str();
  command->add_option("--public-url", f->public_url,
                      "URL clients use behind a proxy (its host and origin are accepted; others are refused)");
  command->add_option("--sql-timeout", f->sql_timeout, "stop a statement after this long (0: never)")
      ->capture_default_str();
  command->add_option("--sql-memory", f->sql_memory,
                      "stop a statement that grows the server by more (also DuckDB's memory_limit; 0: no limit)")
      ->capture_default_str();
  command->add_option("--sql-max-concurrent", f->sql_max_concurrent,
                      "POST /api/v1/sql requests running or waiting at once; more get 429 (0: no cap)")
      ->capture_default_str();
}

Result<ApiServerOptions> ServerOptionsFrom(const ServerFlags& f) {
  ApiServerOptions o;
  o.bind = f.bind;
  o.port = f.port;
  o.threads = f.threads;
  o.cache_dir = f.cache_dir;
  for (const auto& t : f.token_hashes) {
    auto parsed = ParseTokenHash(t);
    if (!parsed.ok()) return parsed.status().WithContext("--token-hash");
    o.tokens.push_back(*parsed);
  }
  o.public_url = f.public_url;
  o.sql_max_concurrent = f.sql_max_concurrent;
  o.sql_timeout_micros = 0;
  if (f.sql_timeout != "0") {
    auto micros = ParseDuration(f.sql_timeout);
    if (!micros.ok()) return micros.status().WithContext("--sql-timeout");
    o.sql_timeout_micros = *micros;
  }
  o.sql_memory_bytes = 0;
  if (f.sql_memory != "0") {
    auto bytes = ParseByteSize(f.sql_memory);
    if (!bytes.ok()) return bytes.status().WithContext("--sql-memory");
    o.sql_memory_bytes = *bytes;
  }
  if (f.max_scan != "0") {
    auto bytes = ParseByteSize(f.max_scan);
    if (!bytes.ok()) return bytes.status().WithContext("--max-scan");
    o.max_scan_bytes = *bytes;
  }
  return o;
}

sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

void WriteReadyFile(const std::string& path, const std::string& url) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  if (std::FILE* out = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(out, "%s\n", url.c_str());
    std::fclose(out);
    std::rename(tmp.c_str(), path.c_str());
  }
}

struct ServeCommand::Flags {
  CLI::App* serve = nullptr;
  std::string lake = "lake";
  ServerFlags server;
  bool hash_token = false;
};

ServeCommand::ServeCommand(CLI::App* app, const std::string* policies_dir)
    : f_(std::make_unique<Flags>()), policies_dir_(policies_dir) {
  Flags& f = *f_;
  f.serve = app->add_subcommand("serve", "Serve the lake's HTTP API (bars, trades, status, SQL) and the dashboard");
  f.serve->footer(
      "Endpoints: GET /api/v1/products, /api/v1/bars, /api/v1/trades, /api/v1/status,\n"
      "POST /api/v1/sql; GET /healthz and /metrics (Prometheus) need no token; the\n"
      "dashboard is at / (`tradelake run` adds the live pipeline to it).\n"
      "Tokens: clients send Authorization: Bearer <token>; the server keeps only hashes:\n"
      "  echo -n \"$TOKEN\" | tradelake serve --hash-token\n"
      "  tradelake serve --lake lake --token-hash analyst:<hex> --token-hash admin:<hex>\n"
      "Roles: analyst and admin: every /api/v1 endpoint; etl and ingest: /api/v1/status.\n"
      "Without --token-hash only clients on 127.0.0.1 are answered.\n"
      "SIGINT/SIGTERM stop the server cleanly (exit 0).\n\n"
      "Example:\n  tradelake serve --lake lake --port 8080 --max-scan 1GB --ready-file /tmp/serve.url");
  f.serve->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  AddServerFlags(f.serve, &f.server);
  f.serve->add_flag("--hash-token", f.hash_token, "print the SHA-256 of the token read from stdin, then exit");
}

ServeCommand::~ServeCommand() = default;

std::optional<int> ServeCommand::RunIfParsed() {
  Flags& f = *f_;
  if (!f.serve->parsed()) return std::nullopt;
  if (f.hash_token) return HashToken();

  auto o = ServerOptionsFrom(f.server);
  if (!o.ok()) return FailCommand(o.status());
  auto store = OpenLakeAs(f.lake, "analyst", *policies_dir_);
  if (!store.ok()) return FailCommand(store.status());

  // Block the stop signals in every thread (the server's threads inherit
  // the mask) and wait for them here, so no handler or global is needed.
  sigset_t stop_signals = BlockStopSignals();
  auto server = ApiServer::Start(store->get(), *o);
  if (!server.ok()) return FailCommand(server.status());
  if ((*server)->open_mode()) {
    std::fprintf(stderr,
                 "tradelake: WARNING: no --token-hash given: the API answers only clients on 127.0.0.1, as admin, "
                 "without authentication\n");
  }
  std::printf("serving %s at %s (max scan %s, statements: %s, %s, %d at once; %zu tokens)\n", f.lake.c_str(),
              (*server)->url().c_str(), o->max_scan_bytes > 0 ? HumanBytes(o->max_scan_bytes).c_str() : "unlimited",
              o->sql_timeout_micros > 0 ? fmt::format("{} s", o->sql_timeout_micros / kMicrosPerSecond).c_str()
                                        : "no time limit",
              o->sql_memory_bytes > 0 ? HumanBytes(o->sql_memory_bytes).c_str() : "no memory limit",
              o->sql_max_concurrent, o->tokens.size());
  std::fflush(stdout);
  WriteReadyFile(f.server.ready_file, (*server)->url());  // last, so a script can wait for it
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Stop();
  return kExitOk;
}

}  // namespace tradelake
