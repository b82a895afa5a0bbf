// HttpClient: plain HTTP(S) GET over libcurl, one connection kept alive.
//
// Not thread-safe: give each thread its own client. Every request sends the
// User-Agent and "Accept: application/json", and reuses the previous
// request's connection when the host is the same. Transport failures
// (refused, reset, empty reply, partial body, DNS, TLS) are returned as
// Unavailable and timeouts as DeadlineExceeded, both naming the URL and
// libcurl's explanation; a malformed URL is InvalidArgument. Any HTTP status,
// 4xx and 5xx included, is a successful Result carrying the status for the
// caller to interpret.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"

namespace tradelake {

struct HttpResponse {
  long status = 0;
  std::string body;
  // Headers of the final response, names lower-cased, values trimmed; when a
  // name repeats, the last value wins.
  std::map<std::string, std::string> headers;
};

struct HttpOptions {
  std::string user_agent = "tradelake/" TRADELAKE_VERSION;
  long connect_timeout_ms = 5000;
  long timeout_ms = 30000;                   // whole request, connect included
  size_t max_body_bytes = size_t{64} << 20;  // larger answers fail as Unavailable
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET `url` ("http://..." or "https://..."). See above for the errors.
  Result<HttpResponse> Get(const std::string& url);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
