#include "exchange/http_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <string_view>

#include "core/curl.h"

namespace tradelake {
namespace {

using curl::GlobalInitOnce;
using curl::TransportError;
using curl::TrimHttpSpace;
using CurlEasyPtr = curl::EasyPtr;
using CurlSlistPtr = curl::SlistPtr;

// What the write/header callbacks fill in for one request.
struct Transfer {
  HttpResponse* response;
  size_t max_body_bytes;
  bool body_too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (transfer->response->body.size() + n > transfer->max_body_bytes) {
    transfer->body_too_large = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  transfer->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line (after "100 Continue" or a proxy's CONNECT answer):
    // only the headers of the final response count.
    transfer->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;  // the blank line ending the block
  std::string name(TrimHttpSpace(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  transfer->response->headers[std::move(name)] = std::string(TrimHttpSpace(line.substr(colon + 1)));
  return n;
}

}  // namespace

struct HttpClient::Impl {
  HttpOptions options;
  CurlEasyPtr handle;
  CurlSlistPtr headers;
  Status init_error;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(HttpOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (CURLcode rc = GlobalInitOnce(); rc != CURLE_OK) {
    impl_->init_error =
        Internal(fmt::format("curl_global_init failed: {}", curl_easy_strerror(rc)));
    return;
  }
  impl_->handle.reset(curl_easy_init());
  curl_slist* list = curl_slist_append(nullptr, "Accept: application/json");
  impl_->headers.reset(list);
  if (!impl_->handle || !impl_->headers) {
    impl_->init_error = Internal("libcurl could not create a handle (out of memory?)");
    return;
  }
  CURL* h = impl_->handle.get();
  // Options that stay the same for every request; the handle keeps its
  // connection cache, so consecutive requests to one host reuse the connection.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // timeouts must not raise SIGALRM in threads
  curl_easy_setopt(h, CURLOPT_USERAGENT, impl_->options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, impl_->headers.get());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, impl_->options.connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, impl_->options.timeout_ms);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // gzip only: brotli costs the server far more CPU per page for little gain on JSON.
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, impl_->error_buffer);
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Get(const std::string& url) {
  if (!impl_->init_error.ok()) return impl_->init_error;
  CURL* h = impl_->handle.get();
  HttpResponse response;
  Transfer transfer{&response, impl_->options.max_body_bytes};
  impl_->error_buffer[0] = '\0';
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);

  curl::ApplyCaBundle(h);

  const CURLcode rc = curl_easy_perform(h);
  // The callbacks must not see `transfer` once it is gone.
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, nullptr);
  if (transfer.body_too_large) {
    return Unavailable(fmt::format("GET {}: response body larger than {} bytes", url,
                                   impl_->options.max_body_bytes));
  }
  if (rc != CURLE_OK) return TransportError(rc, fmt::format("GET {}", url), impl_->error_buffer);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace tradelake
