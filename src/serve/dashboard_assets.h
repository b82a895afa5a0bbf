// The dashboard's static files, compiled into the binary.
//
// CMake (cmake/embed_assets.cmake) generates the table from web/dashboard/
// (index.html, app.js, app.css, ...) and TradingView's lightweight-charts
// standalone build from node_modules (installed by npm from the committed
// lockfile), so the page needs no CDN and no files next to the binary:
//   /                              -> web/dashboard/index.html
//   /assets/<name>                 -> web/dashboard/<name>
//   /assets/lightweight-charts.js  -> lightweight-charts.standalone.production.js
#pragma once

#include <string_view>

namespace tradelake {

struct DashboardAsset {
  std::string_view path;          // "/", "/assets/app.js"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view content;
};

// The asset served at `path` ("/index.html" is "/"), or nullptr.
const DashboardAsset* FindDashboardAsset(std::string_view path);

}  // namespace tradelake
