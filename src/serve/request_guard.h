// Request guard: which requests a browser may make to the API.
//
// Contract: pure functions over header values (no HTTP library), so they are
// tested and fuzzed alone. api_server.cc calls them before any handler.
//
// Two attacks on a server on 127.0.0.1 come from web pages the user visits:
//   - Cross-site requests. A page on https://evil.example can POST to
//     http://127.0.0.1:8080/api/v1/sql with Content-Type text/plain (a
//     "simple" request: no CORS preflight) or submit a <form>; the browser
//     sends it, and in open mode (no tokens) the server would run it. Browsers
//     mark such requests: Sec-Fetch-Site is "cross-site" or "same-site" and
//     Origin names the other page. CheckSameOrigin refuses them.
//   - DNS rebinding. evil.example's DNS answer changes to 127.0.0.1 after the
//     page loaded, so the page's own "same-origin" fetches reach the server,
//     with Host: evil.example. CheckHost refuses a Host that is not one of
//     the server's own names.
// Clients that are not browsers (curl, scripts) send no Origin and no
// Sec-Fetch-Site and a Host of the address they connected to: they pass.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

struct RequestGuardOptions {
  // Host names (no port) the server answers to: always localhost,
  // 127.0.0.1 and ::1; plus the bind address unless it is a wildcard
  // (0.0.0.0, ::), and the host of the public URL.
  std::vector<std::string> hosts;
  // Origins ("https://lake.example.com", no trailing slash) a page may call
  // the API from besides the server's own (the origin the Host names):
  // the public URL's origin, when the server runs behind a proxy.
  std::vector<std::string> origins;
  // False: any Host is accepted (a token-protected server bound to a
  // wildcard address without --public-url cannot know its names; tokens
  // protect it, and CheckSameOrigin still applies).
  bool check_host = true;
};

// The guard for a server bound to `bind`, optionally published at
// `public_url` ("https://lake.example.com[:port][/path]", "" for none).
// `open_mode`: no tokens are configured, so the Host is always checked.
// InvalidArgument for a public URL that is not http(s)://host[:port][/...].
Result<RequestGuardOptions> MakeRequestGuard(std::string_view bind, std::string_view public_url, bool open_mode);

// The host name of a Host header value, lower case, without the port and
// without the brackets of an IPv6 literal ("[::1]:8080" -> "::1").
std::string HostNameOf(std::string_view host_header);

// OK if `host_header` names the server (RequestGuardOptions::hosts, any
// port); PermissionDenied naming the host and the fix otherwise, and for an
// empty Host (HTTP/1.1 requires it). OK for anything when !check_host.
Status CheckHost(const RequestGuardOptions& guard, std::string_view host_header);

// OK unless a browser marks the request as coming from another site:
// Sec-Fetch-Site other than "same-origin" or "none" (typed URL, bookmark),
// or an Origin header (including "null") that is neither
// "http(s)://<host_header>" nor one of guard.origins. PermissionDenied
// naming the origin otherwise.
Status CheckSameOrigin(const RequestGuardOptions& guard, std::string_view host_header, std::string_view origin,
                       std::string_view sec_fetch_site);

}  // namespace tradelake
