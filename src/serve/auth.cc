#include "serve/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "core/text.h"

namespace tradelake {

bool IsLoopback(std::string_view addr) {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

bool RoleMayUse(std::string_view role, std::string_view path) {
  for (const auto& e : kEndpointRoles) {
    if (e.path != path) continue;
    std::string_view roles = e.roles;
    while (!roles.empty()) {
      const size_t comma = roles.find(',');
      if (roles.substr(0, comma) == role) return true;
      if (comma == std::string_view::npos) break;
      roles.remove_prefix(comma + 1);
    }
    return false;
  }
  return false;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

Result<TokenHash> ParseTokenHash(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument(fmt::format("token hash {} is not ROLE:SHA256HEX (e.g. analyst:$(echo -n TOKEN | "
                                       "tradelake serve --hash-token))",
                                       QuoteForMessage(text.substr(0, 12))));
  }
  TokenHash t;
  t.role = std::string(text.substr(0, colon));
  if (std::find(std::begin(kServeRoles), std::end(kServeRoles), t.role) == std::end(kServeRoles)) {
    return InvalidArgument(fmt::format("token role {} is not one of analyst, etl, ingest, deployer, admin",
                                       QuoteForMessage(t.role)));
  }
  std::string_view hex = text.substr(colon + 1);
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "token hash of role {} must be 64 hex digits (SHA-256, from `tradelake serve --hash-token`), got {} characters",
        t.role, hex.size()));
  }
  t.sha256_hex.reserve(64);
  for (char c : hex) t.sha256_hex += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return t;
}

AuthDecision Authorize(const std::vector<TokenHash>& tokens, std::string_view remote_addr,
                       std::string_view authorization, std::string_view path) {
  AuthDecision d;
  if (tokens.empty()) {
    if (IsLoopback(remote_addr)) {
      d.role = "admin";
      return d;
    }
    d.status = 403;
    d.message =
        "no tokens are configured, so this server answers only 127.0.0.1; start it with --token-hash "
        "ROLE:SHA256HEX to serve other clients";
    return d;
  }
  auto unauthorized = [&](std::string message, std::string challenge) {
    d.status = 401;
    d.message = std::move(message);
    d.challenge = std::move(challenge);
    return d;
  };
  if (authorization.empty()) {
    return unauthorized(fmt::format("{} needs a token: send Authorization: Bearer <token>", path),
                        "Bearer realm=\"tradelake\"");
  }
  constexpr std::string_view kScheme = "bearer ";
  std::string lower(authorization.substr(0, std::min(authorization.size(), kScheme.size())));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower != kScheme) {
    return unauthorized("the Authorization header is not \"Bearer <token>\"",
                        "Bearer realm=\"tradelake\", error=\"invalid_request\"");
  }
  std::string_view token = authorization;
  token.remove_prefix(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\r')) token.remove_suffix(1);
  const std::string hash = Sha256Hex(token);
  // Compare with every configured hash, in constant time, without stopping
  // at the first match: the time taken says nothing about the tokens.
  std::string role;
  for (const auto& t : tokens) {
    const bool match =
        hash.size() == t.sha256_hex.size() && CRYPTO_memcmp(hash.data(), t.sha256_hex.data(), hash.size()) == 0;
    if (match && role.empty()) role = t.role;
  }
  if (token.empty() || role.empty()) {
    return unauthorized("unknown token", "Bearer realm=\"tradelake\", error=\"invalid_token\"");
  }
  if (!RoleMayUse(role, path)) {
    std::string allowed;
    for (const auto& e : kEndpointRoles) {
      if (e.path == path) allowed = std::string(e.roles);
    }
    d.status = 403;
    d.message = fmt::format("role {} may not use {} (allowed: {})", role, path, allowed);
    return d;
  }
  d.role = std::move(role);
  return d;
}

}  // namespace tradelake
