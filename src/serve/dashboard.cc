#include "serve/dashboard.h"

#include <algorithm>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "serve/dashboard_assets.h"
#include "serve/http_response.h"

namespace tradelake {
namespace {

// The dashboard page may run only its own files: no inline script or style,
// no other origin, not framed.
constexpr std::string_view kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

bool IsDashboardPath(std::string_view path) {
  return path == "/" || path == "/index.html" || path.starts_with("/assets/");
}

void ServeDashboardFile(const httplib::Request& req, httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  const DashboardAsset* asset = FindDashboardAsset(req.path);
  if (asset == nullptr) {
    return SetError(res, 404, fmt::format("no dashboard file {}; the dashboard is at /", req.path));
  }
  // The page names its assets without a version, so a browser revalidates
  // every file (no-cache) and gets 304 while the binary is the same.
  res.set_header("Cache-Control", "no-cache");
  const std::string etag = fmt::format("\"{:016x}\"", std::hash<std::string_view>{}(asset->content));
  res.set_header("ETag", etag);
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  if (!req.path.starts_with("/assets/")) {
    res.set_header("Content-Security-Policy", std::string(kDashboardCsp));
    res.set_header("Referrer-Policy", "no-referrer");
  }
  // Static bytes: sent from where they are, never copied or compressed (SetBody).
  const std::string_view content = asset->content;
  res.status = 200;
  if (content.empty()) return res.set_content("", std::string(asset->content_type));
  res.set_content_provider(content.size(), std::string(asset->content_type),
                           [content](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(content.data() + offset, std::min(length, content.size() - offset));
                           });
}

}  // namespace tradelake
