// libcurl plumbing shared by tradelake's two HTTP clients (the exchange
// client, exchange/http_client.h, and the S3 store, store/s3_store.h):
// owning handles, the once-per-process global init, header trimming, and
// the CA bundle TLS trusts.
// Header-only; the parts that include it link libcurl.
#pragma once

#include <curl/curl.h>

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tradelake::curl {

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// curl_global_init is not thread-safe and must run once per process, before
// any other thread uses libcurl: every client funnels through here.
inline CURLcode GlobalInitOnce() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

// The CA bundle for TLS, chosen per transfer. Debian's libcurl (which the
// Lambda package bundles) looks at its build-time default
// /etc/ssl/certs/ca-certificates.crt and ignores SSL_CERT_FILE; Amazon Linux
// 2023 keeps its bundle at /etc/pki/tls/certs/ca-bundle.crt. So:
//   1. $SSL_CERT_FILE if set (as OpenSSL and the curl tool honour it);
//   2. else "" (libcurl's own default) if that file exists: Debian, no change;
//   3. else the first usual bundle path that exists (AL2023/RHEL first).
// Reads the environment and the file system on every call.
inline std::string ChooseCaBundle() {
  auto readable = [](const char* path) { return path != nullptr && path[0] != '\0' && ::access(path, R_OK) == 0; };
  if (const char* env = std::getenv("SSL_CERT_FILE"); env != nullptr && env[0] != '\0') return env;  // NOLINT(concurrency-mt-unsafe)
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  if (v != nullptr && readable(v->cainfo)) return "";
  for (const char* p : {"/etc/pki/tls/certs/ca-bundle.crt",    // Amazon Linux 2023, RHEL, Fedora
                        "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Alpine
                        "/etc/ssl/ca-bundle.pem",              // openSUSE
                        "/etc/ssl/cert.pem"}) {                // macOS, some minimal images
    if (readable(p)) return p;
  }
  return "";
}

// Sets CURLOPT_CAINFO on `handle` when ChooseCaBundle() picks a file. Call
// after any curl_easy_reset and before curl_easy_perform.
inline void ApplyCaBundle(CURL* handle) {
  const std::string ca = ChooseCaBundle();
  if (!ca.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, ca.c_str());  // libcurl copies the string
}

// A header name or value without the blanks and line end around it.
inline std::string_view TrimHttpSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// The Status for a failed transfer: `what` names the request ("GET <url>"),
// `detail` is curl's error buffer. Timeouts are DeadlineExceeded, malformed
// URLs InvalidArgument, curl misuse Internal; everything else (refused,
// reset, empty reply, partial body, DNS, TLS) Unavailable: the network or
// the peer may well behave on the next try.
inline Status TransportError(CURLcode code, std::string_view what, const char* detail) {
  std::string text = curl_easy_strerror(code);
  if (detail != nullptr && detail[0] != '\0') text = fmt::format("{} ({})", text, TrimHttpSpace(detail));
  std::string message = fmt::format("{}: {}", what, text);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return DeadlineExceeded(std::move(message));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgument(std::move(message));
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return Internal(std::move(message));
    default:
      return Unavailable(std::move(message));
  }
}

}  // namespace tradelake::curl
