// HttpClient: plain HTTP(S) GET over libcurl, one connection kept alive.
//
// Not thread-safe: give each thread its own client. Transport failures
// (refused, reset, DNS, TLS, timeouts) are returned as retryable errors
// (Unavailable / DeadlineExceeded) naming the URL; any HTTP status, 4xx and
// 5xx included, is a successful Result carrying the status for the caller
// to interpret.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/status.h"

namespace tradelake {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct HttpOptions {
  std::string user_agent = "tradelake/" TRADELAKE_VERSION;
  long connect_timeout_ms = 5000;
  long timeout_ms = 30000;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Get(const std::string& url);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
