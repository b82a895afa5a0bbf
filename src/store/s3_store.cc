#include "store/s3_store.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/curl.h"
#include "core/time.h"
#include "store/sigv4.h"

namespace tradelake {
namespace {

using curl::GlobalInitOnce;
using curl::TransportError;
using curl::TrimHttpSpace;
using CurlEasyPtr = curl::EasyPtr;
using CurlSlistPtr = curl::SlistPtr;

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Idle curl handles kept for reuse; each keeps its own connections alive.
class CurlPool {
 public:
  Result<CurlEasyPtr> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        CurlEasyPtr h = std::move(idle_.back());
        idle_.pop_back();
        return h;
      }
    }
    if (CURLcode rc = GlobalInitOnce(); rc != CURLE_OK) {
      return Internal(fmt::format("curl_global_init failed: {}", curl_easy_strerror(rc)));
    }
    CurlEasyPtr h(curl_easy_init());
    if (!h) return Internal("libcurl could not create a handle (out of memory?)");
    return h;
  }
  void Release(CurlEasyPtr h) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(h));
  }

 private:
  static constexpr size_t kMaxIdle = 16;
  std::mutex mu_;
  std::vector<CurlEasyPtr> idle_;  // GUARDED_BY(mu_)
};

// ---- small helpers -------------------------------------------------------------

std::string Md5(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr) != 1) {
    // As in sigv4.cc: a failing digest means OpenSSL itself is broken.
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string StripQuotes(std::string_view etag) {
  etag = TrimHttpSpace(etag);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return LowerAscii(etag);
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A snippet of a body that is not an S3 XML error, for messages.
std::string BodySnippet(std::string_view body) {
  std::string out;
  for (const char c : body.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  if (body.size() > 200) out += "...";
  return out;
}

Status ValidateBucketName(std::string_view bucket) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format(
        "S3 bucket name \"{}\" is invalid: {} (3-63 characters of a-z 0-9 . -, starting and ending "
        "with a letter or digit)",
        bucket, why));
  };
  if (bucket.size() < 3 || bucket.size() > 63) return bad("wrong length");
  for (const char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      return bad(fmt::format("character '{}'", c));
    }
  }
  auto alnum = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  if (!alnum(bucket.front()) || !alnum(bucket.back()))
    return bad("must start and end with a letter or digit");
  if (bucket.find("..") != std::string_view::npos) return bad("two adjacent dots");
  return Status::OK();
}

// scheme://host[:port] split for building URLs.
struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // "127.0.0.1:5000", "s3.us-east-1.amazonaws.com"
};

Result<Endpoint> ParseEndpoint(const std::string& url) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos)
    return InvalidArgument(fmt::format("S3 endpoint \"{}\" has no scheme", url));
  Endpoint e{LowerAscii(url.substr(0, sep)), url.substr(sep + 3)};
  if (e.scheme != "http" && e.scheme != "https") {
    return InvalidArgument(fmt::format("S3 endpoint \"{}\": use http:// or https://", url));
  }
  while (e.host.ends_with('/')) e.host.pop_back();
  if (e.host.empty() || e.host.find_first_of("/?#@ ") != std::string::npos) {
    return InvalidArgument(fmt::format("S3 endpoint \"{}\": give only scheme, host and port", url));
  }
  return e;
}


// ---- one HTTP exchange ---------------------------------------------------------

struct S3Request {
  std::string method = {};  // GET HEAD PUT POST DELETE
  std::string key = {};     // full S3 key; empty for a bucket-level request
  std::vector<sigv4::QueryParam> query = {};
  std::vector<sigv4::Header> headers = {};  // beyond Host and the signing headers
  std::string_view body = {};
  // Sha256Hex(body), computed once for all attempts.
  std::string payload_hash = std::string(sigv4::kEmptyPayloadSha256);
  // CompleteMultipartUpload and CopyObject may answer 200 and put an <Error>
  // in the body when they fail after the status line went out.
  bool error_may_hide_in_200 = false;
};

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  int attempts = 0;                            // how many were made
  std::string error_code;                      // <Code> of an XML error body
  std::string error_message;                   // <Message> of it
  std::string error_region;                    // <Region> of it, or x-amz-bucket-region
};

struct Transfer {
  S3Response* response;
  bool expect_body;  // false for HEAD: its Content-Length describes no body
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response->body.append(data, size * count);
  return size * count;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->response->headers.clear();  // only the final response's headers count
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name = LowerAscii(TrimHttpSpace(line.substr(0, colon)));
  std::string value(TrimHttpSpace(line.substr(colon + 1)));
  if (name == "content-length" && t->expect_body) {
    // Reserve once so a large GET does not reallocate its way up.
    uint64_t len = 0;
    bool ok = !value.empty() && value.size() < 19;
    for (const char c : value) ok = ok && std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (ok) len = std::stoull(value);
    if (ok && len <= (uint64_t{1} << 32)) t->response->body.reserve(len);
  }
  t->response->headers[std::move(name)] = std::move(value);
  return n;
}

bool IsRetryableResponse(const S3Response& r) {
  if (r.status == 429) return true;
  if (r.status >= 500 && r.status != 501) return true;
  if (r.status == 400 && r.error_code == "RequestTimeout") return true;
  if (r.status == 409 && r.error_code == "ConditionalRequestConflict") return true;
  return false;
}

std::chrono::milliseconds Backoff(const S3RetryOptions& retry, int failed_attempts) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int shift = std::min(failed_attempts - 1, 20);
  int64_t cap = retry.initial_backoff.count() << shift;
  cap = std::min<int64_t>(cap, retry.max_backoff.count());
  if (cap <= 0) return std::chrono::milliseconds(0);
  // Full jitter: spreads out clients that failed together.
  std::uniform_int_distribution<int64_t> dist(0, cap);
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace

// ---- XML: store/s3_xml.cc (expat) ---------------------------------------------------

namespace s3_internal {

Result<std::string> UrlDecodeS3(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = i + 1 < text.size() ? hex(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return InvalidArgument(fmt::format("malformed %-escape in \"{}\"", text));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace s3_internal

// ---- the store ---------------------------------------------------------------------

using s3_internal::XmlElement;

struct S3Store::Impl {
  S3StoreOptions options;
  Endpoint endpoint;
  S3AddressingStyle style = S3AddressingStyle::kPath;
  std::string describe;
  CurlPool pool;
  std::atomic<int64_t> requests{0};

  std::string FullKey(std::string_view key) const {
    if (options.prefix.empty()) return std::string(key);
    return options.prefix + "/" + std::string(key);
  }
  std::string S3Url(std::string_view full_key) const {
    if (full_key.empty()) return "s3://" + options.bucket;
    return fmt::format("s3://{}/{}", options.bucket, full_key);
  }
  std::string Host() const {
    return style == S3AddressingStyle::kVirtual ? options.bucket + "." + endpoint.host
                                                : endpoint.host;
  }
  std::string Path(std::string_view full_key) const {
    std::string path = style == S3AddressingStyle::kVirtual ? "" : "/" + options.bucket;
    if (!full_key.empty()) {
      path += sigv4::UriEncodePath(full_key);
    } else if (path.empty()) {
      path = "/";
    }
    return path;
  }

  // Where credentials came from, phrased as the thing to check.
  std::string SecretHint() const {
    const AwsConfig& aws = options.aws;
    if (aws.credentials_source.starts_with("environment") || aws.credentials_source.empty()) {
      return fmt::format("check AWS_SECRET_ACCESS_KEY: it does not belong to access key {}",
                         aws.credentials.access_key_id);
    }
    return fmt::format("check aws_secret_access_key in {}: it does not belong to access key {}",
                       aws.credentials_source, aws.credentials.access_key_id);
  }
  std::string AccessKeyHint() const {
    const AwsConfig& aws = options.aws;
    if (aws.credentials_source.starts_with("environment") || aws.credentials_source.empty()) {
      return fmt::format("check AWS_ACCESS_KEY_ID ({}) and the endpoint {}",
                         aws.credentials.access_key_id, EffectiveS3Endpoint(aws));
    }
    return fmt::format("check aws_access_key_id ({}) in {} and the endpoint {}",
                       aws.credentials.access_key_id, aws.credentials_source,
                       EffectiveS3Endpoint(aws));
  }

  Result<S3Response> PerformOnce(CURL* h, const S3Request& req) {
    const std::string host = Host();
    sigv4::SigningRequest signing;
    signing.method = req.method;
    signing.path = Path(req.key);
    signing.query = req.query;
    signing.headers.push_back({"Host", host});
    for (const auto& hd : req.headers) signing.headers.push_back(hd);
    signing.payload_hash = req.payload_hash;
    sigv4::SigningParams params;
    params.credentials = options.aws.credentials;
    params.amz_date = sigv4::FormatAmzDate(NowMicros());
    params.region = options.aws.region;
    params.service = "s3";
    ASSIGN_OR_RETURN(sigv4::SignedRequest signed_req, sigv4::Sign(signing, params));

    std::string url = fmt::format("{}://{}{}", endpoint.scheme, host, signing.path);
    if (!req.query.empty()) url += "?" + sigv4::CanonicalQuery(req.query);  // what is sent is what is signed

    CurlSlistPtr headers;
    auto add = [&](const std::string& line) -> bool {
      // Appending returns the head of the list: the first node, once there is one.
      curl_slist* head = curl_slist_append(headers.get(), line.c_str());
      if (head == nullptr) return false;
      if (!headers) headers.reset(head);
      return true;
    };
    bool ok = true;
    for (const auto& hd : signing.headers) ok = ok && add(hd.name + ": " + hd.value);
    for (const auto& hd : signed_req.headers_to_add) ok = ok && add(hd.name + ": " + hd.value);
    // No "Expect: 100-continue" round trip before bodies (and no curl default Content-Type).
    ok = ok && add("Expect:");
    if (req.method == "PUT" || req.method == "POST") {
      const bool has_type = std::any_of(
          req.headers.begin(), req.headers.end(),
          [](const sigv4::Header& hd) { return LowerAscii(hd.name) == "content-type"; });
      if (!has_type) ok = ok && add("Content-Type:");
    }
    if (!ok) return Internal("libcurl could not build the header list (out of memory?)");

    S3Response response;
    Transfer transfer{&response, req.method != "HEAD"};
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_reset(h);  // keeps the connection cache
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    const long idle_seconds = static_cast<long>((options.idle_timeout.count() + 999) / 1000);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max(idle_seconds, 1L));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    if (req.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req.method == "PUT" || req.method == "POST") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      // Never NULL: that would make libcurl read the body from stdin.
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.empty() ? "" : req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    curl::ApplyCaBundle(h);
    const CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    if (rc != CURLE_OK) {
      return TransportError(rc, fmt::format("{} {}", req.method, url), error_buffer);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);

    if (response.status >= 300 ||
        (req.error_may_hide_in_200 && response.body.find("<Error") != std::string::npos)) {
      auto xml = s3_internal::ParseXml(response.body);
      if (xml.ok() && xml->name == "Error") {
        response.error_code = xml->ChildText("Code");
        response.error_message = xml->ChildText("Message");
        response.error_region = xml->ChildText("Region");
        // An error after "200 OK": treat it as the server error it is.
        if (response.status < 300) response.status = 500;
      }
    }
    if (auto it = response.headers.find("x-amz-bucket-region"); it != response.headers.end()) {
      if (response.error_region.empty()) response.error_region = it->second;
    }
    return response;
  }

  // Sends `req`, retrying transport failures and retryable statuses. Returns
  // the last response (any status) or the last transport error.
  Result<S3Response> Send(const S3Request& req) {
    const int max_attempts = std::max(1, options.retry.max_attempts);
    for (int attempt = 1;; ++attempt) {
      ASSIGN_OR_RETURN(CurlEasyPtr handle, pool.Acquire());
      Result<S3Response> r = PerformOnce(handle.get(), req);
      if (r.ok()) {
        pool.Release(std::move(handle));
        r->attempts = attempt;
        if (!IsRetryableResponse(*r) || attempt >= max_attempts) return r;
      } else {
        // Drop the handle: its connection may be half-broken.
        if (!r.status().IsRetryable() || attempt >= max_attempts) {
          if (attempt == 1) return r.status();
          return Status(r.status().code(),
                        fmt::format("{} (after {} attempts)", r.status().message(), attempt));
        }
      }
      std::this_thread::sleep_for(Backoff(options.retry, attempt));
    }
  }

  // The error for a response that did not succeed.
  Status ErrorFor(const S3Response& r, std::string_view op, std::string_view full_key) const {
    const std::string target = S3Url(full_key);
    std::string detail;
    if (!r.error_code.empty()) {
      detail = r.error_message.empty() ? r.error_code
                                       : fmt::format("{}: {}", r.error_code, r.error_message);
    } else if (!r.body.empty()) {
      detail = fmt::format("HTTP {}: {}", r.status, BodySnippet(r.body));
    } else {
      detail = fmt::format("HTTP {}", r.status);
    }
    const std::string attempts =
        r.attempts > 1 ? fmt::format(" (after {} attempts)", r.attempts) : "";
    auto msg = [&](std::string_view hint) {
      if (hint.empty()) return fmt::format("{} {}: {}{}", op, target, detail, attempts);
      return fmt::format("{} {}: {} ({}){}", op, target, detail, hint, attempts);
    };
    const std::string& code = r.error_code;
    const bool wrong_region = r.status == 301 || code == "PermanentRedirect" ||
                              code == "AuthorizationHeaderMalformed" ||
                              code == "IllegalLocationConstraintException";
    if (wrong_region && !r.error_region.empty() && r.error_region != options.aws.region) {
      return FailedPrecondition(
          msg(fmt::format("bucket {} is in region {}, not {}; set AWS_REGION={}", options.bucket,
                          r.error_region, options.aws.region, r.error_region)));
    }
    if (r.status == 403 || code == "AccessDenied") {
      if (code == "SignatureDoesNotMatch") return PermissionDenied(msg(SecretHint()));
      if (code == "InvalidAccessKeyId") return PermissionDenied(msg(AccessKeyHint()));
      if (code == "RequestTimeTooSkewed") return PermissionDenied(msg("check the system clock"));
      if (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired") {
        return PermissionDenied(msg("refresh the temporary credentials (AWS_SESSION_TOKEN)"));
      }
      return PermissionDenied(msg(fmt::format("the policy of access key {} does not allow {} on {}",
                                              options.aws.credentials.access_key_id, op, target)));
    }
    if (r.status == 404 || code == "NoSuchBucket" || code == "NoSuchKey") {
      if (code == "NoSuchBucket") {
        return NotFound(
            msg(fmt::format("bucket {} does not exist at {}; create it or fix the lake URI",
                            options.bucket, EffectiveS3Endpoint(options.aws))));
      }
      return NotFound(msg(""));
    }
    if (r.status == 412) return AlreadyExists(msg("the object already exists"));
    if (r.status == 429 || code == "SlowDown" || code == "TooManyRequests") {
      return ResourceExhausted(msg("S3 is throttling; retry later or lower the request rate"));
    }
    if (r.status >= 500 && r.status != 501) return Unavailable(msg(""));
    if (code == "RequestTimeout" || code == "ConditionalRequestConflict")
      return Unavailable(msg(""));
    if (r.status == 501)
      return FailedPrecondition(msg("the S3 endpoint does not implement this request"));
    if (r.status == 400 || r.status == 411 || r.status == 413 || r.status == 414 ||
        r.status == 416) {
      return InvalidArgument(msg(""));
    }
    return FailedPrecondition(msg(""));
  }

  // The NotFound for a missing key, naming it as the caller knows it.
  Status KeyNotFound(std::string_view key) const {
    return NotFound(fmt::format("object {} not found in {}", key, describe));
  }

  Result<S3Response> Call(S3Request req) {
    if (!req.body.empty() && req.payload_hash == sigv4::kEmptyPayloadSha256) {
      req.payload_hash = sigv4::Sha256Hex(req.body);
    }
    return Send(req);
  }

  // ---- operations ----

  Result<std::optional<std::string>> HeadETag(std::string_view key) {
    const std::string full = FullKey(key);
    ASSIGN_OR_RETURN(S3Response r, Call({.method = "HEAD", .key = full}));
    if (r.status == 404) return std::optional<std::string>();
    if (r.status != 200) return ErrorFor(r, "HEAD", full);
    auto it = r.headers.find("etag");
    return std::optional<std::string>(it == r.headers.end() ? "" : StripQuotes(it->second));
  }

  // A create-only request was retried and then met 412 (or a Complete met
  // NoSuchUpload): did our own earlier attempt win?
  bool StoredObjectIs(std::string_view key, const std::string& expected_etag) {
    auto etag = HeadETag(key);
    return etag.ok() && etag->has_value() && **etag == expected_etag;
  }

  Status PutSingle(std::string_view key, std::string_view data, WriteMode mode) {
    const std::string full = FullKey(key);
    S3Request req{.method = "PUT", .key = full, .body = data};
    req.headers.push_back({"Content-Type", "application/octet-stream"});
    if (mode == WriteMode::kCreateOnly) req.headers.push_back({"If-None-Match", "*"});
    ASSIGN_OR_RETURN(S3Response r, Call(std::move(req)));
    if (r.status == 200) return Status::OK();
    if (r.status == 412 && mode == WriteMode::kCreateOnly) {
      if (r.attempts > 1 && StoredObjectIs(key, sigv4::HexEncode(Md5(data)))) return Status::OK();
      return AlreadyExists(fmt::format("object {} already exists in {}", key, describe));
    }
    return ErrorFor(r, "PUT", full);
  }

  Status Abort(const std::string& full, const std::string& upload_id) {
    ASSIGN_OR_RETURN(S3Response r,
                     Call({.method = "DELETE", .key = full, .query = {{"uploadId", upload_id}}}));
    if (r.status == 204 || r.status == 200 || r.status == 404) return Status::OK();
    return ErrorFor(r, "AbortMultipartUpload", full);
  }

  Status PutMultipart(std::string_view key, std::string_view data, WriteMode mode) {
    const std::string full = FullKey(key);
    if (mode == WriteMode::kCreateOnly) {
      // Fail fast instead of uploading every part of an object that cannot land.
      ASSIGN_OR_RETURN(std::optional<std::string> existing, HeadETag(key));
      if (existing)
        return AlreadyExists(fmt::format("object {} already exists in {}", key, describe));
    }
    ASSIGN_OR_RETURN(S3Response init,
                     Call({.method = "POST", .key = full, .query = {{"uploads", ""}}}));
    if (init.status != 200) return ErrorFor(init, "CreateMultipartUpload", full);
    auto xml = s3_internal::ParseXml(init.body);
    if (!xml.ok() || xml->name != "InitiateMultipartUploadResult" ||
        xml->ChildText("UploadId").empty()) {
      return Unavailable(fmt::format("CreateMultipartUpload {}: unexpected answer: {}", S3Url(full),
                                     xml.ok() ? BodySnippet(init.body) : xml.status().message()));
    }
    const std::string upload_id = xml->ChildText("UploadId");
    Status s = UploadPartsAndComplete(key, full, upload_id, data, mode);
    if (s.ok()) return s;
    Status aborted = Abort(full, upload_id);
    if (!aborted.ok()) {
      return Status(s.code(),
                    fmt::format("{}; the incomplete upload {} could not be aborted ({}); a bucket "
                                "lifecycle rule AbortIncompleteMultipartUpload removes it",
                                s.message(), upload_id, aborted.message()));
    }
    return s;
  }

  Status UploadPartsAndComplete(std::string_view key, const std::string& full,
                                const std::string& upload_id, std::string_view data,
                                WriteMode mode) {
    uint64_t part_size = std::max<uint64_t>(options.part_size, 1);
    // S3 allows 10000 parts: grow the parts rather than fail.
    part_size = std::max<uint64_t>(part_size, (data.size() + 9999) / 10000);
    const size_t parts = static_cast<size_t>((data.size() + part_size - 1) / part_size);
    std::vector<std::string> etags(parts);
    std::vector<std::string> md5s(parts);
    std::vector<Status> errors(parts);
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    auto worker = [&] {
      for (;;) {
        const size_t i = next.fetch_add(1);
        if (i >= parts || failed.load()) return;
        const std::string_view chunk = data.substr(i * part_size, part_size);
        md5s[i] = Md5(chunk);
        S3Request req{.method = "PUT",
                      .key = full,
                      .query = {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}},
                      .body = chunk};
        Result<S3Response> r = Call(std::move(req));
        if (!r.ok()) {
          errors[i] = r.status().WithContext(fmt::format("UploadPart {} of {}", i + 1, parts));
        } else if (r->status != 200) {
          errors[i] = ErrorFor(*r, fmt::format("UploadPart {} of {}", i + 1, parts), full);
        } else if (auto it = r->headers.find("etag");
                   it == r->headers.end() || it->second.empty()) {
          errors[i] = Unavailable(fmt::format("UploadPart {} of {} {}: the answer has no ETag",
                                              i + 1, parts, S3Url(full)));
        } else {
          etags[i] = it->second;
          continue;
        }
        failed.store(true);
        return;
      }
    };
    const size_t threads = std::min<size_t>(parts, kUploadThreads);
    std::vector<std::thread> pool_threads;
    for (size_t t = 1; t < threads; ++t) pool_threads.emplace_back(worker);
    worker();
    for (auto& t : pool_threads) t.join();
    for (const Status& e : errors) {
      if (!e.ok()) return e;
    }

    std::string body =
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    for (size_t i = 0; i < parts; ++i) {
      body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1,
                          XmlEscape(etags[i]));
    }
    body += "</CompleteMultipartUpload>";
    S3Request req{.method = "POST", .key = full, .query = {{"uploadId", upload_id}}, .body = body};
    req.headers.push_back({"Content-Type", "application/xml"});
    if (mode == WriteMode::kCreateOnly) req.headers.push_back({"If-None-Match", "*"});
    req.error_may_hide_in_200 = true;
    ASSIGN_OR_RETURN(S3Response r, Call(std::move(req)));
    if (r.status == 200) return Status::OK();
    // A retried Complete whose first attempt went through meets 412 (create-only)
    // or NoSuchUpload: the stored object's multipart ETag tells whether it is ours.
    if (r.attempts > 1 && (r.status == 412 || r.error_code == "NoSuchUpload")) {
      std::string all;
      for (const auto& m : md5s) all += m;
      if (StoredObjectIs(key, fmt::format("{}-{}", sigv4::HexEncode(Md5(all)), parts)))
        return Status::OK();
    }
    if (r.status == 412 && mode == WriteMode::kCreateOnly) {
      return AlreadyExists(fmt::format("object {} already exists in {}", key, describe));
    }
    return ErrorFor(r, "CompleteMultipartUpload", full);
  }

  static constexpr size_t kUploadThreads = 4;
};

S3Store::S3Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3Store::~S3Store() = default;

Result<std::unique_ptr<S3Store>> S3Store::Open(S3StoreOptions options) {
  RETURN_IF_ERROR(ValidateBucketName(options.bucket));
  if (!options.prefix.empty()) {
    Status s = ValidateKey(options.prefix);
    if (!s.ok()) return InvalidArgument(fmt::format("S3 lake prefix: {}", s.message()));
  }
  if (options.part_size == 0 || options.multipart_threshold == 0) {
    return InvalidArgument("S3 store: part_size and multipart_threshold must be positive");
  }
  if (options.list_page_size < 1 || options.list_page_size > 1000) {
    return InvalidArgument(
        fmt::format("S3 store: list_page_size {} is not in 1..1000", options.list_page_size));
  }
  if (options.retry.max_attempts < 1)
    return InvalidArgument("S3 store: retry.max_attempts must be >= 1");
  if (options.aws.credentials.access_key_id.empty() ||
      options.aws.credentials.secret_access_key.empty()) {
    return InvalidArgument(
        fmt::format("S3 store s3://{}: no AWS credentials (resolve them with ResolveAwsConfig)",
                    options.bucket));
  }
  if (options.aws.region.empty()) return InvalidArgument("S3 store: empty AWS region");
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(impl->endpoint, ParseEndpoint(EffectiveS3Endpoint(options.aws)));
  impl->style = EffectiveAddressingStyle(options.aws, options.bucket);
  impl->describe = options.prefix.empty()
                       ? "s3://" + options.bucket
                       : fmt::format("s3://{}/{}", options.bucket, options.prefix);
  impl->options = std::move(options);
  return std::unique_ptr<S3Store>(new S3Store(std::move(impl)));
}

Status S3Store::Put(std::string_view key, std::string_view data, WriteMode mode) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (data.size() > impl_->options.multipart_threshold) return impl_->PutMultipart(key, data, mode);
  return impl_->PutSingle(key, data, mode);
}

Result<std::string> S3Store::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  const std::string full = impl_->FullKey(key);
  ASSIGN_OR_RETURN(S3Response r, impl_->Call({.method = "GET", .key = full}));
  if (r.status == 200) return std::move(r.body);
  if (r.status == 404 && r.error_code != "NoSuchBucket") return impl_->KeyNotFound(key);
  return impl_->ErrorFor(r, "GET", full);
}

Result<std::string> S3Store::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (length == 0) return std::string();
  const std::string full = impl_->FullKey(key);
  const uint64_t last = offset + std::min(length, UINT64_MAX - offset) - 1;
  S3Request req{.method = "GET", .key = full};
  req.headers.push_back({"Range", fmt::format("bytes={}-{}", offset, last)});
  ASSIGN_OR_RETURN(S3Response r, impl_->Call(std::move(req)));
  if (r.status == 206) return std::move(r.body);
  if (r.status == 200) {
    // A server that ignores Range sends the whole object.
    if (offset >= r.body.size()) return std::string();
    return r.body.substr(offset, length);
  }
  if (r.status == 416) return std::string();
  if (r.status == 404 && r.error_code != "NoSuchBucket") return impl_->KeyNotFound(key);
  return impl_->ErrorFor(r, "GET", full);
}

Result<ObjectInfo> S3Store::Head(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  const std::string full = impl_->FullKey(key);
  ASSIGN_OR_RETURN(S3Response r, impl_->Call({.method = "HEAD", .key = full}));
  if (r.status == 404) return impl_->KeyNotFound(key);
  if (r.status != 200) return impl_->ErrorFor(r, "HEAD", full);
  auto it = r.headers.find("content-length");
  int64_t size = -1;
  if (it != r.headers.end() && !it->second.empty() && it->second.size() < 19 &&
      std::all_of(it->second.begin(), it->second.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    size = std::stoll(it->second);
  }
  if (size < 0)
    return Unavailable(
        fmt::format("HEAD {}: the answer has no valid Content-Length", impl_->S3Url(full)));
  return ObjectInfo{std::string(key), size};
}

Result<std::vector<ObjectInfo>> S3Store::List(std::string_view prefix) {
  for (const char c : prefix) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      return InvalidArgument(fmt::format("invalid list prefix \"{}\": control character", prefix));
  }
  const std::string root = impl_->options.prefix.empty() ? "" : impl_->options.prefix + "/";
  const std::string full_prefix = root + std::string(prefix);
  std::vector<ObjectInfo> out;
  std::string token;
  for (int page = 0;; ++page) {
    S3Request req{.method = "GET", .key = ""};
    req.query = {{"list-type", "2"},
                 {"max-keys", std::to_string(impl_->options.list_page_size)},
                 {"encoding-type", "url"}};
    if (!full_prefix.empty()) req.query.push_back({"prefix", full_prefix});
    if (!token.empty()) req.query.push_back({"continuation-token", token});
    ASSIGN_OR_RETURN(S3Response r, impl_->Call(std::move(req)));
    const std::string what = fmt::format("ListObjectsV2 {}", impl_->S3Url(full_prefix));
    if (r.status != 200) return impl_->ErrorFor(r, "ListObjectsV2", full_prefix);
    ASSIGN_OR_RETURN(XmlElement xml, s3_internal::ParseXml(r.body));
    if (xml.name != "ListBucketResult") {
      return Unavailable(fmt::format("{}: unexpected answer <{}>", what, xml.name));
    }
    const bool url_encoded = xml.ChildText("EncodingType") == "url";
    for (const XmlElement& item : xml.children) {
      if (item.name != "Contents") continue;
      std::string key = item.ChildText("Key");
      if (url_encoded) {
        auto decoded = s3_internal::UrlDecodeS3(key);
        if (!decoded.ok())
          return Unavailable(fmt::format("{}: {}", what, decoded.status().message()));
        key = std::move(*decoded);
      }
      if (!key.starts_with(full_prefix)) continue;
      key.erase(0, root.size());
      if (!ValidateKey(key).ok())
        continue;  // "folder/" markers and keys no ObjectStore can address
      const std::string size_text = item.ChildText("Size");
      int64_t size = -1;
      if (!size_text.empty() && size_text.size() < 19 &&
          std::all_of(size_text.begin(), size_text.end(),
                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        size = std::stoll(size_text);
      }
      if (size < 0) return Unavailable(fmt::format("{}: object {} has no valid <Size>", what, key));
      out.push_back({std::move(key), size});
    }
    if (xml.ChildText("IsTruncated") != "true") break;
    std::string next = xml.ChildText("NextContinuationToken");
    if (next.empty() || next == token) {
      return Unavailable(fmt::format(
          "{}: page {} is truncated but has no new NextContinuationToken", what, page + 1));
    }
    token = std::move(next);
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status S3Store::Delete(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  const std::string full = impl_->FullKey(key);
  ASSIGN_OR_RETURN(S3Response r, impl_->Call({.method = "DELETE", .key = full}));
  if (r.status == 204 || r.status == 200) return Status::OK();
  if (r.status == 404 && r.error_code != "NoSuchBucket") return Status::OK();
  return impl_->ErrorFor(r, "DELETE", full);
}

std::string S3Store::Describe() const { return impl_->describe; }

std::string S3Store::ObjectUrl(std::string_view key) const {
  return fmt::format("{}://{}{}", impl_->endpoint.scheme, impl_->Host(),
                     impl_->Path(impl_->FullKey(key)));
}

const S3StoreOptions& S3Store::options() const { return impl_->options; }

int64_t S3Store::requests_sent() const { return impl_->requests.load(std::memory_order_relaxed); }

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const S3StoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<S3Store> store, S3Store::Open(options));
  return std::unique_ptr<ObjectStore>(std::move(store));
}

Result<S3Uri> ParseS3Uri(std::string_view uri) {
  if (!uri.starts_with("s3://"))
    return InvalidArgument(fmt::format("\"{}\" is not an s3://bucket/prefix URI", uri));
  std::string_view rest = uri.substr(5);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  const size_t slash = rest.find('/');
  S3Uri out;
  out.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) out.prefix = std::string(rest.substr(slash + 1));
  Status s = ValidateBucketName(out.bucket);
  if (!s.ok()) return InvalidArgument(fmt::format("lake {}: {}", uri, s.message()));
  if (!out.prefix.empty()) {
    s = ValidateKey(out.prefix);
    if (!s.ok()) return InvalidArgument(fmt::format("lake {}: prefix {}", uri, s.message()));
  }
  return out;
}

Status CreateBucket(const AwsConfig& aws, std::string_view bucket, const S3RetryOptions& retry) {
  S3StoreOptions options;
  options.bucket = std::string(bucket);
  options.aws = aws;
  options.retry = retry;
  ASSIGN_OR_RETURN(std::unique_ptr<S3Store> store, S3Store::Open(std::move(options)));
  S3Store::Impl& impl = *store->impl_;
  std::string body;
  if (aws.region != "us-east-1") {
    body = fmt::format(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
        XmlEscape(aws.region));
  }
  S3Request req{.method = "PUT", .key = "", .body = body};
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/xml"});
  ASSIGN_OR_RETURN(S3Response r, impl.Call(std::move(req)));
  if (r.status == 200) return Status::OK();
  if (r.error_code == "BucketAlreadyOwnedByYou") return Status::OK();
  if (r.error_code == "BucketAlreadyExists") {
    return AlreadyExists(fmt::format(
        "bucket {} already exists and belongs to another account; pick another name", bucket));
  }
  return impl.ErrorFor(r, "CreateBucket", "");
}

}  // namespace tradelake
