// Auth of the HTTP API: roles, tokens and who may use which endpoint.
//
// Contract: pure functions, no HTTP library; api_server.cc asks Authorize()
// before every /api/v1 handler and answers with its decision. The server
// holds only SHA-256 hashes of tokens, each bound to a role; a presented
// token is hashed and compared with every configured hash in constant time
// (CRYPTO_memcmp, no early exit). With no token configured ("open mode")
// every loopback client is admin and every other client is refused.
// Thread-safe: nothing here has state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

// Roles a token can carry: DESIGN.md's roles plus "admin" (everything).
inline constexpr std::string_view kServeRoles[] = {"analyst", "etl", "ingest", "deployer", "admin"};

// Which roles may use which endpoint (exact paths). Endpoints not listed
// here (/healthz, /metrics, the dashboard's files) need no token.
struct EndpointRoles {
  std::string_view method;
  std::string_view path;
  std::string_view roles;  // comma-separated
};
inline constexpr EndpointRoles kEndpointRoles[] = {
    {"GET", "/api/v1/products", "analyst,admin"},
    {"GET", "/api/v1/bars", "analyst,admin"},
    {"GET", "/api/v1/live", "analyst,admin"},
    {"GET", "/api/v1/trades", "analyst,admin"},
    {"GET", "/api/v1/status", "analyst,etl,ingest,admin"},
    {"GET", "/api/v1/reconciliation", "analyst,admin"},
    {"POST", "/api/v1/sql", "analyst,admin"},
    {"GET", "/api/v1/schedule", "analyst,etl,ingest,admin"},
    {"POST", "/api/v1/schedule/pause", "ingest,admin"},
    {"POST", "/api/v1/schedule/resume", "ingest,admin"},
};

// True if `role` may use `path` according to kEndpointRoles (false for a
// path not listed there).
bool RoleMayUse(std::string_view role, std::string_view path);

// Lower-case hex SHA-256 of `text` (64 characters).
std::string Sha256Hex(std::string_view text);

// A configured token: its role and the SHA-256 hex of the token.
struct TokenHash {
  std::string role;
  std::string sha256_hex;  // 64 lower-case hex digits
};

// "analyst:9f86d0...": InvalidArgument naming the problem (no ':', a role
// not in kServeRoles, not 64 hex digits). Upper-case hex is accepted.
Result<TokenHash> ParseTokenHash(std::string_view text);

// What Authorize() decided: the caller's role, or the HTTP answer.
struct AuthDecision {
  std::string role;       // set when allowed
  int status = 0;         // 401 or 403 when refused (0 when allowed)
  std::string message;    // the error's text when refused
  std::string challenge;  // WWW-Authenticate for a 401
  bool allowed() const { return status == 0; }
};

// The decision for a request of `path` from `remote_addr` with the
// Authorization header `authorization` ("" if none), under `tokens`:
//   - no tokens: "admin" for loopback clients, 403 naming --token-hash for others;
//   - no header, not "Bearer <token>", an unknown token: 401 with a challenge;
//   - a role kEndpointRoles does not allow for `path`: 403 naming the roles.
AuthDecision Authorize(const std::vector<TokenHash>& tokens, std::string_view remote_addr,
                       std::string_view authorization, std::string_view path);

// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses.
bool IsLoopback(std::string_view addr);

}  // namespace tradelake
