#include "serve/request_guard.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/text.h"

namespace tradelake {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string JoinHosts(const std::vector<std::string>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    if (!out.empty()) out += ", ";
    out += h;
  }
  return out;
}

}  // namespace

std::string HostNameOf(std::string_view host_header) {
  std::string_view h = Trim(host_header);
  if (h.starts_with('[')) {
    const size_t close = h.find(']');
    return Lower(close == std::string_view::npos ? h.substr(1) : h.substr(1, close - 1));
  }
  const size_t colon = h.find(':');
  // More than one ':' without brackets is not a valid Host; keep it whole so
  // it matches nothing but a bare IPv6 name given the same way.
  if (colon != std::string_view::npos && h.find(':', colon + 1) == std::string_view::npos) h = h.substr(0, colon);
  std::string out = Lower(h);
  while (!out.empty() && out.back() == '.') out.pop_back();  // "localhost." is localhost
  return out;
}

Result<RequestGuardOptions> MakeRequestGuard(std::string_view bind, std::string_view public_url, bool open_mode) {
  RequestGuardOptions g;
  g.hosts = {"localhost", "127.0.0.1", "::1"};
  const std::string b = HostNameOf(bind.find(':') != std::string_view::npos && !bind.starts_with('[')
                                       ? fmt::format("[{}]", bind)
                                       : std::string(bind));
  const bool wildcard = b.empty() || b == "0.0.0.0" || b == "::";
  if (!wildcard && std::find(g.hosts.begin(), g.hosts.end(), b) == g.hosts.end()) g.hosts.push_back(b);
  if (!public_url.empty()) {
    std::string_view u = public_url;
    std::string scheme;
    if (u.starts_with("http://")) {
      scheme = "http";
    } else if (u.starts_with("https://")) {
      scheme = "https";
    } else {
      return InvalidArgument(fmt::format("--public-url {} is not http(s)://HOST[:PORT][/PATH]",
                                         QuoteForMessage(public_url)));
    }
    u.remove_prefix(scheme.size() + 3);
    const std::string_view authority = u.substr(0, u.find('/'));
    const std::string host = HostNameOf(authority);
    if (host.empty() || authority.find_first_of("@ ?#") != std::string_view::npos) {
      return InvalidArgument(fmt::format("--public-url {} has no host name (http(s)://HOST[:PORT][/PATH])",
                                         QuoteForMessage(public_url)));
    }
    g.hosts.push_back(host);
    g.origins.push_back(Lower(fmt::format("{}://{}", scheme, authority)));
  }
  g.check_host = open_mode || !wildcard || !public_url.empty();
  return g;
}

Status CheckHost(const RequestGuardOptions& guard, std::string_view host_header) {
  if (!guard.check_host) return Status::OK();
  const std::string host = HostNameOf(host_header);
  if (!host.empty() && std::find(guard.hosts.begin(), guard.hosts.end(), host) != guard.hosts.end()) {
    return Status::OK();
  }
  return PermissionDenied(fmt::format(
      "Host {} is not a name of this server (it answers to {}); a page whose DNS name was rebound to this "
      "address is refused. Use one of those names, or start the server with --public-url naming the host "
      "clients use",
      QuoteForMessage(Trim(host_header)), JoinHosts(guard.hosts)));
}

Status CheckSameOrigin(const RequestGuardOptions& guard, std::string_view host_header, std::string_view origin,
                       std::string_view sec_fetch_site) {
  const std::string site = Lower(Trim(sec_fetch_site));
  if (!site.empty() && site != "same-origin" && site != "none") {
    return PermissionDenied(fmt::format(
        "cross-site request refused (Sec-Fetch-Site: {}): the API answers only pages of its own origin and "
        "clients that are not browsers",
        site));
  }
  const std::string o = Lower(Trim(origin));
  if (o.empty()) return Status::OK();
  const std::string host = Lower(Trim(host_header));
  if (!host.empty() && (o == "http://" + host || o == "https://" + host)) return Status::OK();
  if (std::find(guard.origins.begin(), guard.origins.end(), o) != guard.origins.end()) return Status::OK();
  return PermissionDenied(fmt::format(
      "cross-origin request refused (Origin: {}, this server: {}): the API answers only pages of its own "
      "origin{}",
      QuoteForMessage(o), QuoteForMessage(host),
      guard.origins.empty() ? "; behind a proxy, start the server with --public-url" : ""));
}

}  // namespace tradelake
