// libFuzzer target: Host, Origin and Sec-Fetch-Site come from any web page
// and any client, and the public URL from the command line. The guard must
// answer OK or PermissionDenied for any headers, never crash, and keep its
// invariants: a refusal has a message; a Host is accepted only if its host
// name is one of the guard's names; an Origin, when given, is accepted only
// if it equals http(s)://<Host> or a configured origin.
//
// Input layout: byte 0 picks the bind address and open mode; the rest is
// split at '\n' into public URL, Host, Origin and Sec-Fetch-Site.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "serve/request_guard.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr const char* kBinds[] = {"127.0.0.1", "0.0.0.0", "::1", "10.1.2.3"};
  const char* bind = kBinds[data[0] % 4];
  const bool open_mode = (data[0] & 4) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> parts;
  while (parts.size() < 3) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    parts.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  parts.push_back(rest);
  parts.resize(4);
  const std::string_view public_url = parts[0], host = parts[1], origin = parts[2], site = parts[3];

  auto guard = tradelake::MakeRequestGuard(bind, public_url, open_mode);
  if (!guard.ok()) {
    Check(guard.status().code() == tradelake::StatusCode::kInvalidArgument && !public_url.empty());
    return 0;
  }
  const tradelake::Status h = tradelake::CheckHost(*guard, host);
  if (h.ok()) {
    const std::string name = tradelake::HostNameOf(host);
    Check(!guard->check_host || std::find(guard->hosts.begin(), guard->hosts.end(), name) != guard->hosts.end());
  } else {
    Check(h.code() == tradelake::StatusCode::kPermissionDenied && !h.message().empty());
  }
  const tradelake::Status o = tradelake::CheckSameOrigin(*guard, host, origin, site);
  if (o.ok()) {
    const std::string ori = Lower(Trim(origin));
    const std::string hh = Lower(Trim(host));
    Check(ori.empty() || (!hh.empty() && (ori == "http://" + hh || ori == "https://" + hh)) ||
          std::find(guard->origins.begin(), guard->origins.end(), ori) != guard->origins.end());
  } else {
    Check(o.code() == tradelake::StatusCode::kPermissionDenied && !o.message().empty());
  }
  return 0;
}
