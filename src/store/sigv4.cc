#include "store/sigv4.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "core/text.h"
#include "core/time.h"

namespace tradelake::sigv4 {
namespace {

// OpenSSL fails digest/MAC calls only without memory or without a default
// provider; there is nothing a caller could do, so this is treated like a
// failed allocation (see the header).
[[noreturn]] void OpenSslFailed(const char* what) {
  std::fprintf(stderr, "tradelake: OpenSSL %s failed (out of memory or broken install)\n", what);
  std::abort();
}

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using MacPtr = std::unique_ptr<EVP_MAC, OpenSslDeleter<EVP_MAC, EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, OpenSslDeleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;

constexpr size_t kSha256Size = 32;
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kChunkAlgorithm = "AWS4-HMAC-SHA256-PAYLOAD";

// Signing must not depend on the locale, so no <cctype>.
bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsLowerHex(std::string_view s, size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return IsDigit(c) || (c >= 'a' && c <= 'f');
         });
}

// RFC 7230 token: what an HTTP method or header name may consist of.
bool IsToken(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x80 && IsUnreserved(u)) || kExtra.find(c) != std::string_view::npos;
  });
}

// Control characters other than TAB would break the line structure of the
// canonical request (or smuggle a header), so they are never signed.
bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// Decodes %XX; a '%' not followed by two hex digits stays literal, and '+'
// stays '+' (in a path it is not a space).
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// RFC 3986 remove_dot_segments, plus collapsing empty segments ("//"), as
// AWS services other than S3 do. The result starts with '/', and ends with
// '/' when the input's last segment was empty, "." or "..".
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> kept;
  bool trailing_slash = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    trailing_slash = segment.empty() || segment == "." || segment == "..";
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!segment.empty() && segment != ".") {
      kept.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  for (const std::string_view segment : kept) {
    out += '/';
    out += segment;
  }
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

std::string CanonicalUri(std::string_view path, const SigningParams& params) {
  if (path.empty()) path = "/";
  if (params.double_encode_path) {
    const std::string normalized = params.normalize_path ? NormalizePath(path) : std::string(path);
    return UriEncode(normalized, /*encode_slash=*/false);
  }
  // S3 decodes the wire path into the object key and signs the key encoded
  // once; doing the same makes any valid encoding of a key sign correctly.
  std::string key = PercentDecode(path);
  if (params.normalize_path) key = NormalizePath(key);
  return UriEncode(key, /*encode_slash=*/false);
}


// Trims spaces and tabs at both ends and turns every inner run of them into
// one space.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (const char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

bool IsNeverSigned(std::string_view lower_name) {
  // Authorization carries the signature itself; the others are rewritten by
  // proxies or HTTP libraries on the way (botocore skips the same ones).
  return lower_name == "authorization" || lower_name == "expect" ||
         lower_name == "transfer-encoding" || lower_name == "user-agent" ||
         lower_name == "x-amzn-trace-id";
}

struct CanonicalHeaders {
  std::string text;            // "name:value\n" for each signed header
  std::string signed_headers;  // "name;name"
};

Result<CanonicalHeaders> BuildCanonicalHeaders(const std::vector<Header>& headers) {
  std::map<std::string, std::string> merged;  // lower name -> values joined by ','
  for (const Header& h : headers) {
    if (!IsToken(h.name)) {
      return InvalidArgument("SigV4: header name " + QuoteForMessage(h.name) +
                             " is not a valid HTTP header name (RFC 7230 token)");
    }
    if (HasControl(h.value)) {
      return InvalidArgument("SigV4: header " + h.name + " has a value with a control character (" +
                             QuoteForMessage(h.value) +
                             "); send folded or multi-line values as repeated headers");
    }
    std::string name = Lower(h.name);
    if (IsNeverSigned(name)) continue;
    auto [it, inserted] = merged.try_emplace(std::move(name));
    if (!inserted) it->second += ',';
    it->second += CanonicalHeaderValue(h.value);
  }
  if (merged.find("host") == merged.end()) {
    return InvalidArgument("SigV4: the request has no Host header; SigV4 requires signing it");
  }
  CanonicalHeaders out;
  for (const auto& [name, value] : merged) {
    out.text += name;
    out.text += ':';
    out.text += value;
    out.text += '\n';
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }
  return out;
}

Status ValidateRequest(const SigningRequest& request) {
  if (!IsToken(request.method)) {
    return InvalidArgument("SigV4: HTTP method " + QuoteForMessage(request.method) +
                           " is not a valid method name");
  }
  if (!request.path.empty() && request.path.front() != '/') {
    return InvalidArgument("SigV4: path " + QuoteForMessage(request.path) +
                           " must start with '/' (build it with UriEncodePath)");
  }
  if (HasControl(request.path) || request.path.find_first_of("?#") != std::string::npos) {
    return InvalidArgument("SigV4: path " + QuoteForMessage(request.path) +
                           " contains '?', '#' or a control character; pass the query in "
                           "SigningRequest::query and encode the path with UriEncodePath");
  }
  const std::string_view hash = request.payload_hash;
  const bool named = !hash.empty() && std::all_of(hash.begin(), hash.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-';
  });
  if (!IsLowerHex(hash, 64) && !named) {
    return InvalidArgument("SigV4: payload hash " + QuoteForMessage(hash) +
                           " is neither a lowercase hex SHA-256 nor a name like "
                           "UNSIGNED-PAYLOAD");
  }
  return Status::OK();
}

bool IsScopePart(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsUnreserved(static_cast<unsigned char>(c));
  });
}

Status ValidateParams(const SigningParams& params) {
  const std::string_view d = params.amz_date;
  const bool date_ok = d.size() == 16 && d[8] == 'T' && d[15] == 'Z' &&
                       std::all_of(d.begin(), d.begin() + 8, IsDigit) &&
                       std::all_of(d.begin() + 9, d.begin() + 15, IsDigit);
  if (!date_ok) {
    return InvalidArgument("SigV4: amz_date " + QuoteForMessage(d) +
                           " is not of the form YYYYMMDDTHHMMSSZ (use FormatAmzDate)");
  }
  if (!IsScopePart(params.region)) {
    return InvalidArgument("SigV4: region " + QuoteForMessage(params.region) +
                           " must be non-empty and consist of letters, digits, '-', '_', '.', '~'");
  }
  if (!IsScopePart(params.service)) {
    return InvalidArgument("SigV4: service " + QuoteForMessage(params.service) +
                           " must be non-empty and consist of letters, digits, '-', '_', '.', '~'");
  }
  const Credentials& c = params.credentials;
  if (!IsScopePart(c.access_key_id)) {
    return InvalidArgument("SigV4: access key id " + QuoteForMessage(c.access_key_id) +
                           " is empty or has characters access key ids never have; check the "
                           "credentials");
  }
  if (c.secret_access_key.empty()) {
    return InvalidArgument("SigV4: the secret access key is empty; check the credentials");
  }
  if (c.session_token && (c.session_token->empty() || HasControl(*c.session_token))) {
    return InvalidArgument(
        "SigV4: the session token is empty or has a control character; check the credentials");
  }
  return Status::OK();
}

struct Canonical {
  std::string request;
  std::string signed_headers;
};

Result<Canonical> Canonicalize(const SigningRequest& request, const SigningParams& params) {
  RETURN_IF_ERROR(ValidateRequest(request));
  ASSIGN_OR_RETURN(CanonicalHeaders headers, BuildCanonicalHeaders(request.headers));
  Canonical out;
  out.request = request.method;
  out.request += '\n';
  out.request += CanonicalUri(request.path, params);
  out.request += '\n';
  out.request += CanonicalQuery(request.query);
  out.request += '\n';
  out.request += headers.text;
  out.request += '\n';
  out.request += headers.signed_headers;
  out.request += '\n';
  out.request += request.payload_hash;
  out.signed_headers = std::move(headers.signed_headers);
  return out;
}

std::string ScopeDate(const SigningParams& params) { return params.amz_date.substr(0, 8); }

std::string Signature(const SigningParams& params, std::string_view string_to_sign) {
  const std::string key = SigningKey(params.credentials.secret_access_key, ScopeDate(params),
                                     params.region, params.service);
  return HexEncode(HmacSha256(key, string_to_sign));
}

// Makes sure `request` carries header `name` with `value`: adds it (and
// records it in `added`) when missing, fails when present with a different
// value, since the server would check the one sent against the one signed.
Status EnsureHeader(SigningRequest* request, std::string_view name, std::string_view value,
                    std::vector<Header>* added) {
  bool found = false;
  for (const Header& h : request->headers) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    found = true;
    if (CanonicalHeaderValue(h.value) != value) {
      return InvalidArgument("SigV4: the request's " + std::string(name) + " header is " +
                             QuoteForMessage(h.value) + " but signing uses " +
                             QuoteForMessage(value) + "; drop the header or make them agree");
    }
  }
  if (!found) {
    request->headers.push_back({std::string(name), std::string(value)});
    added->push_back({std::string(name), std::string(value)});
  }
  return Status::OK();
}

}  // namespace

std::string CanonicalQuery(const std::vector<QueryParam>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const QueryParam& p : query) {
    encoded.emplace_back(UriEncode(p.name, true), UriEncode(p.value, true));
  }
  // By encoded name, then encoded value: the byte order AWS compares in.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

// ---- primitives -------------------------------------------------------------

std::string UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (IsUnreserved(u) || (c == '/' && !encode_slash)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  return out;
}

std::string UriEncodePath(std::string_view key) {
  return "/" + UriEncode(key, /*encode_slash=*/false);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += kHex[u >> 4];
    out += kHex[u & 0x0f];
  }
  return out;
}

std::string Sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != kSha256Size) {
    OpenSslFailed("EVP_Digest(SHA-256)");
  }
  return std::string(reinterpret_cast<const char*>(md.data()), length);
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  const MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) OpenSslFailed("EVP_MAC_fetch(HMAC)");
  const MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) OpenSslFailed("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  // A non-null pointer even for an empty key: OpenSSL reads a null key as
  // "keep the previous key", and there is none.
  static constexpr unsigned char kNoKey = 0;
  const auto* key_bytes =
      key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  size_t length = 0;
  if (EVP_MAC_init(ctx.get(), key_bytes, key.size(), params.data()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), out.data(), &length, out.size()) != 1 || length != kSha256Size) {
    OpenSslFailed("HMAC-SHA256");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), length);
}

void Sha256Hasher::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    OpenSslFailed("EVP_DigestInit_ex(SHA-256)");
  }
}
Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

void Sha256Hasher::Update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    OpenSslFailed("EVP_DigestUpdate");
  }
}

std::string Sha256Hasher::FinishHex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md.data(), &length) != 1 ||
      EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    OpenSslFailed("EVP_DigestFinal_ex");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md.data()), length));
}

// ---- the signing steps ---------------------------------------------------------

std::string FormatAmzDate(int64_t micros_since_epoch) {
  // "2013-05-24T00:00:00.000000Z" -> "20130524T000000Z".
  const std::string rfc3339 = FormatRfc3339Micros(micros_since_epoch);
  std::string out;
  for (const char c : rfc3339.substr(0, 19)) {
    if (c != '-' && c != ':') out += c;
  }
  out += 'Z';
  return out;
}

std::string CredentialScope(const SigningParams& params) {
  std::string scope = ScopeDate(params);
  scope += '/';
  scope += params.region;
  scope += '/';
  scope += params.service;
  scope += '/';
  scope += kTerminator;
  return scope;
}

std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region, std::string_view service) {
  std::string key = "AWS4";
  key += secret_access_key;
  key = HmacSha256(key, date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  return HmacSha256(key, kTerminator);
}

Result<std::string> CanonicalRequest(const SigningRequest& request, const SigningParams& params) {
  ASSIGN_OR_RETURN(Canonical canonical, Canonicalize(request, params));
  return std::move(canonical.request);
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += Sha256Hex(canonical_request);
  return out;
}

std::string FormatAuthorization(std::string_view access_key_id, std::string_view scope,
                                std::string_view signed_headers, std::string_view signature,
                                std::string_view separator) {
  std::string out(kAlgorithm);
  out += " Credential=";
  out += access_key_id;
  out += '/';
  out += scope;
  out += separator;
  out += "SignedHeaders=";
  out += signed_headers;
  out += separator;
  out += "Signature=";
  out += signature;
  return out;
}

Result<SignedRequest> Sign(const SigningRequest& request, const SigningParams& params) {
  RETURN_IF_ERROR(ValidateParams(params));
  RETURN_IF_ERROR(ValidateRequest(request));
  SigningRequest to_sign = request;
  SignedRequest out;
  RETURN_IF_ERROR(EnsureHeader(&to_sign, "X-Amz-Date", params.amz_date, &out.headers_to_add));
  if (params.add_content_sha256_header) {
    RETURN_IF_ERROR(
        EnsureHeader(&to_sign, "X-Amz-Content-Sha256", request.payload_hash, &out.headers_to_add));
  }
  const std::optional<std::string>& token = params.credentials.session_token;
  if (token && params.sign_security_token) {
    RETURN_IF_ERROR(EnsureHeader(&to_sign, "X-Amz-Security-Token", *token, &out.headers_to_add));
  } else if (token) {
    // Added after signing: make sure a copy already in the request is not signed either.
    std::erase_if(to_sign.headers,
                  [](const Header& h) { return EqualsIgnoreCase(h.name, "X-Amz-Security-Token"); });
    const bool present = std::any_of(
        request.headers.begin(), request.headers.end(),
        [](const Header& h) { return EqualsIgnoreCase(h.name, "X-Amz-Security-Token"); });
    if (!present) out.headers_to_add.push_back({"X-Amz-Security-Token", *token});
  }

  ASSIGN_OR_RETURN(Canonical canonical, Canonicalize(to_sign, params));
  const std::string scope = CredentialScope(params);
  out.canonical_request = std::move(canonical.request);
  out.string_to_sign = StringToSign(params.amz_date, scope, out.canonical_request);
  out.signed_headers = std::move(canonical.signed_headers);
  out.signature = Signature(params, out.string_to_sign);
  out.authorization = FormatAuthorization(params.credentials.access_key_id, scope,
                                          out.signed_headers, out.signature);
  out.headers_to_add.push_back({"Authorization", out.authorization});
  return out;
}

Result<PresignedQuery> Presign(const SigningRequest& request, const SigningParams& params,
                               std::chrono::seconds expires) {
  RETURN_IF_ERROR(ValidateParams(params));
  RETURN_IF_ERROR(ValidateRequest(request));
  if (expires.count() < 1 || expires > kMaxPresignExpiry) {
    return InvalidArgument("SigV4: a presigned URL must expire after 1 to 604800 seconds, not " +
                           std::to_string(expires.count()));
  }
  for (const QueryParam& p : request.query) {
    if (p.name.size() > 6 && EqualsIgnoreCase(std::string_view(p.name).substr(0, 6), "X-Amz-")) {
      const std::string lower = Lower(p.name);
      if (lower == "x-amz-algorithm" || lower == "x-amz-credential" || lower == "x-amz-date" ||
          lower == "x-amz-expires" || lower == "x-amz-signedheaders" ||
          lower == "x-amz-signature" || lower == "x-amz-security-token") {
        return InvalidArgument("SigV4: the query already has " + p.name +
                               "; presign a request without signing parameters");
      }
    }
  }
  ASSIGN_OR_RETURN(CanonicalHeaders headers, BuildCanonicalHeaders(request.headers));

  const std::string scope = CredentialScope(params);
  SigningRequest to_sign = request;
  to_sign.query.push_back({"X-Amz-Algorithm", std::string(kAlgorithm)});
  to_sign.query.push_back({"X-Amz-Credential", params.credentials.access_key_id + "/" + scope});
  to_sign.query.push_back({"X-Amz-Date", params.amz_date});
  to_sign.query.push_back({"X-Amz-Expires", std::to_string(expires.count())});
  to_sign.query.push_back({"X-Amz-SignedHeaders", headers.signed_headers});
  const std::optional<std::string>& token = params.credentials.session_token;
  if (token && params.sign_security_token) {
    to_sign.query.push_back({"X-Amz-Security-Token", *token});
  }

  ASSIGN_OR_RETURN(Canonical canonical, Canonicalize(to_sign, params));
  PresignedQuery out;
  out.canonical_request = std::move(canonical.request);
  out.string_to_sign = StringToSign(params.amz_date, scope, out.canonical_request);
  out.signature = Signature(params, out.string_to_sign);
  out.query_string = CanonicalQuery(to_sign.query);
  out.query_string += "&X-Amz-Signature=";
  out.query_string += out.signature;
  if (token && !params.sign_security_token) {
    out.query_string += "&X-Amz-Security-Token=";
    out.query_string += UriEncode(*token, /*encode_slash=*/true);
  }
  return out;
}

// ---- aws-chunked uploads ---------------------------------------------------------

std::string ChunkStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view previous_signature, std::string_view chunk) {
  std::string out(kChunkAlgorithm);
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += previous_signature;
  out += '\n';
  out += kEmptyPayloadSha256;
  out += '\n';
  out += Sha256Hex(chunk);
  return out;
}

namespace {

uint64_t HexDigits(uint64_t n) {
  uint64_t digits = 1;
  while (n >= 16) {
    n /= 16;
    ++digits;
  }
  return digits;
}

// ";chunk-signature=" + 64 hex digits + "\r\n" before the data, "\r\n" after.
constexpr uint64_t kChunkOverhead = 17 + 64 + 2 + 2;

uint64_t FramedSize(uint64_t data_size) {
  return HexDigits(data_size) + kChunkOverhead + data_size;
}

}  // namespace

uint64_t AwsChunkedContentLength(uint64_t decoded_length, uint64_t chunk_size) {
  assert(chunk_size > 0);
  const uint64_t full_chunks = decoded_length / chunk_size;
  const uint64_t rest = decoded_length % chunk_size;
  uint64_t total = full_chunks * FramedSize(chunk_size);
  if (rest > 0) total += FramedSize(rest);
  return total + FramedSize(0);
}

ChunkSigner::ChunkSigner(std::string signing_key, std::string amz_date, std::string scope,
                         std::string seed_signature)
    : signing_key_(std::move(signing_key)),
      amz_date_(std::move(amz_date)),
      scope_(std::move(scope)),
      previous_signature_(std::move(seed_signature)) {}

Result<ChunkSigner> ChunkSigner::Create(const SigningParams& params, std::string seed_signature) {
  RETURN_IF_ERROR(ValidateParams(params));
  if (!IsLowerHex(seed_signature, 64)) {
    return InvalidArgument("SigV4: seed signature " + QuoteForMessage(seed_signature) +
                           " is not 64 lowercase hex digits; pass SignedRequest::signature");
  }
  return ChunkSigner(SigningKey(params.credentials.secret_access_key, ScopeDate(params),
                                params.region, params.service),
                     params.amz_date, CredentialScope(params), std::move(seed_signature));
}

std::string ChunkSigner::SignNextChunk(std::string_view chunk) {
  const std::string sts = ChunkStringToSign(amz_date_, scope_, previous_signature_, chunk);
  previous_signature_ = HexEncode(HmacSha256(signing_key_, sts));
  return previous_signature_;
}

std::string ChunkSigner::FrameNextChunk(std::string_view chunk) {
  const std::string signature = SignNextChunk(chunk);
  std::array<char, 16> size_hex{};
  const auto [end, ec] = std::to_chars(size_hex.data(), size_hex.data() + size_hex.size(),
                                       static_cast<uint64_t>(chunk.size()), 16);
  std::string out(size_hex.data(), end);
  out.reserve(out.size() + kChunkOverhead + chunk.size());
  out += ";chunk-signature=";
  out += signature;
  out += "\r\n";
  out += chunk;
  out += "\r\n";
  return out;
}

}  // namespace tradelake::sigv4
