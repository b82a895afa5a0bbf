// The dashboard's static files (web/dashboard, compiled into the binary:
// serve/dashboard_assets.h) as the HTTP server answers them.
//
// Contract: GET /, /index.html and /assets/<file>, no token (they hold no
// data; the page asks for one when the API wants it). The page carries a
// Content-Security-Policy allowing only its own origin's scripts, styles and
// fetches (no inline script, not framed) and Referrer-Policy no-referrer;
// every file "Cache-Control: no-cache", an ETag of its bytes (304 for a
// matching If-None-Match) and "X-Content-Type-Options: nosniff". An unknown
// /assets/<file> answers 404 JSON. Bytes are sent from where they are,
// never copied or compressed. Thread-safe (no state).
#pragma once

#include <httplib.h>

#include <string_view>

namespace tradelake {

// True for "/", "/index.html" and "/assets/...".
bool IsDashboardPath(std::string_view path);

// Answers a GET of a dashboard path (IsDashboardPath).
void ServeDashboardFile(const httplib::Request& req, httplib::Response& res);

}  // namespace tradelake
