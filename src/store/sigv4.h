// AWS Signature Version 4: the request signing S3 (and every other AWS
// service) checks. A pure library: it computes strings, it never touches the
// network or the clock.
//
// What the caller gives and what it gets back:
//   - SigningRequest: the request as it will go on the wire.
//       * `path` is the URI path exactly as sent (percent-encoded, starting
//         with '/'; empty means "/"). Build it from an object key with
//         UriEncodePath(). Text after '?' does not belong here.
//       * `query` holds the query parameters DECODED (name and value as
//         plain text); the signer encodes them. Order does not matter, names
//         may repeat, a parameter without '=' has an empty value.
//       * `headers` are the headers to sign, as sent. Names are
//         case-insensitive and may repeat (values then join with ',' in the
//         order given). Values may carry leading, trailing and repeated
//         spaces; signing trims and collapses them, the caller sends them as
//         they are. A Host header is required. Authorization is never signed,
//         nor are the headers proxies and clients rewrite (Expect,
//         Transfer-Encoding, User-Agent, X-Amzn-Trace-Id): they may be in the
//         list and are skipped.
//       * `payload_hash`: lowercase hex SHA-256 of the body (Sha256Hex, or
//         kEmptyPayloadSha256), kUnsignedPayload, or kStreamingPayload for an
//         aws-chunked upload (see ChunkSigner).
//   - SigningParams: credentials, the request time, region, service, and the
//     URI rules of the service (S3 by default, see below).
//
// The canonical URI (the one place where services differ):
//   - S3 (normalize_path = false, double_encode_path = false): the path is
//     percent-decoded once and encoded again with UriEncode (so '/test$x'
//     and '/test%24x' both sign as '/test%24x', as S3 itself computes it);
//     '//', '.' and '..' segments are kept: they are part of the object key.
//   - Every other service (both true): dot segments are removed and repeated
//     '/' collapsed (RFC 3986), then the wire path is URI-encoded once more
//     ('%20' signs as '%2520').
//
// Errors: every function returning Status/Result fails with InvalidArgument,
// naming the field and the fix, for input that cannot be signed correctly
// (no Host header, CR/LF in a header value, a malformed X-Amz-Date, a header
// that contradicts the params, ...). Nothing here is retryable.
//
// Hashing and HMAC use OpenSSL's EVP API. OpenSSL fails them only when out of
// memory or misinstalled; that aborts the process, as a failed `new` would.
//
// Thread-safety: every function is pure and thread-safe. A ChunkSigner is a
// value with state: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace tradelake::sigv4 {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// The longest validity S3 accepts for a presigned URL (7 days).
inline constexpr std::chrono::seconds kMaxPresignExpiry{604800};

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  // Set for temporary (STS) credentials; sent as X-Amz-Security-Token.
  std::optional<std::string> session_token;
};

struct Header {
  std::string name;
  std::string value;
};

struct QueryParam {
  std::string name;   // decoded
  std::string value;  // decoded
};

struct SigningRequest {
  std::string method;  // "GET", "PUT", ... (sent as given: use upper case)
  std::string path;    // percent-encoded wire path, see the top of this file
  std::vector<QueryParam> query;
  std::vector<Header> headers;
  std::string payload_hash = std::string(kEmptyPayloadSha256);
};

struct SigningParams {
  Credentials credentials;
  std::string amz_date;  // request time, UTC, "20130524T000000Z" (FormatAmzDate)
  std::string region;    // "us-east-1"
  std::string service;   // "s3"

  // URI rules; the defaults are S3's. Other services: set both to true.
  bool normalize_path = false;
  bool double_encode_path = false;
  // S3 requires an X-Amz-Content-Sha256 header carrying the payload hash;
  // Sign() adds it (and signs it) when the request lacks it.
  bool add_content_sha256_header = true;
  // With a session token: sign X-Amz-Security-Token (S3 and most services
  // require it) or add it only after signing (a few older services).
  bool sign_security_token = true;
};

// The result of Sign(). The intermediate strings are kept for debugging and
// for comparing against AWS's test vectors.
struct SignedRequest {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
  std::string signature;       // 64 lowercase hex digits
  std::string authorization;   // the Authorization header value
  // Headers the caller must add to the request, in this order: X-Amz-Date,
  // X-Amz-Content-Sha256, X-Amz-Security-Token (each only when the request
  // lacked it and it applies), then Authorization.
  std::vector<Header> headers_to_add;
};

struct PresignedQuery {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  // The complete query string to put after '?': the request's own
  // parameters and X-Amz-Algorithm, -Credential, -Date, -Expires,
  // -SignedHeaders (and -Security-Token), encoded and sorted, then
  // "&X-Amz-Signature=<sig>".
  std::string query_string;
};

// ---- primitives -------------------------------------------------------------

// Percent-encodes `text` by AWS's rules: A-Z a-z 0-9 - _ . ~ stay, every
// other byte (UTF-8 bytes one by one) becomes %XX with uppercase hex; '/'
// stays as it is unless `encode_slash`.
std::string UriEncode(std::string_view text, bool encode_slash);

// The wire path for an object key: "/" + UriEncode(key, /*encode_slash=*/false).
// `key` is the plain key ("bronze/x=1/a b.jsonl.zst"), without a leading '/'.
std::string UriEncodePath(std::string_view key);

// The canonical query string: names and values UriEncode'd (with '/'),
// sorted by name then value, joined as a=1&b=2. Sending exactly this string
// makes what is sent what is signed.
std::string CanonicalQuery(const std::vector<QueryParam>& query);

// Lowercase hex of `bytes`.
std::string HexEncode(std::string_view bytes);

// SHA-256 of `data`, as 32 raw bytes / as 64 lowercase hex digits.
std::string Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256(key, data) as 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);

// Incremental SHA-256, for bodies too large to hold in memory at once.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;

  void Update(std::string_view data);
  // The hex digest of everything Update()d; the hasher restarts empty.
  std::string FinishHex();

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// ---- the signing steps ---------------------------------------------------------

// "20130524T000000Z" for a time in microseconds since the epoch (UTC),
// truncated to the second.
std::string FormatAmzDate(int64_t micros_since_epoch);

// "<date>/<region>/<service>/aws4_request", date being amz_date's first 8 chars.
std::string CredentialScope(const SigningParams& params);

// The derived signing key (32 raw bytes):
// HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
// `date` is "YYYYMMDD".
std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region, std::string_view service);

// The canonical request of `request` exactly as given (Sign() first adds its
// headers): method, canonical URI, canonical query, canonical headers,
// signed headers, payload hash, joined by '\n'. Only the URI flags of
// `params` are read. Fails with InvalidArgument on unsignable input.
Result<std::string> CanonicalRequest(const SigningRequest& request, const SigningParams& params);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>".
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// "AWS4-HMAC-SHA256 Credential=<access key>/<scope><sep>SignedHeaders=<...><sep>Signature=<...>".
// Sign() uses ", " (AWS's general reference); S3's documentation prints ","; AWS
// accepts both.
std::string FormatAuthorization(std::string_view access_key_id, std::string_view scope,
                                std::string_view signed_headers, std::string_view signature,
                                std::string_view separator = ", ");

// Signs `request` for the Authorization header. On success the caller sends
// the request with result.headers_to_add appended.
Result<SignedRequest> Sign(const SigningRequest& request, const SigningParams& params);

// A presigned URL's query string, valid for `expires` (1 s to 7 days) from
// params.amz_date. Headers in `request` (at least Host) are signed and must be
// sent as they are by whoever uses the URL. For S3 set payload_hash to
// kUnsignedPayload. Fails with InvalidArgument if `request.query` already
// holds X-Amz-Signature-style parameters or `expires` is out of range.
Result<PresignedQuery> Presign(const SigningRequest& request, const SigningParams& params,
                               std::chrono::seconds expires);

// ---- aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) ------------------
//
// The request is signed with payload_hash = kStreamingPayload and the headers
// Content-Encoding: aws-chunked, X-Amz-Decoded-Content-Length: <data bytes>
// and Content-Length: AwsChunkedContentLength(...). Its signature is the
// seed; each chunk's signature chains on the previous one, and the body ends
// with a zero-length chunk.

// "AWS4-HMAC-SHA256-PAYLOAD\n<amz_date>\n<scope>\n<previous signature>\n
//  <sha256 of "">\n<hex sha256 of chunk>".
std::string ChunkStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view previous_signature, std::string_view chunk);

// The body length of an aws-chunked upload of `decoded_length` bytes cut
// into chunks of `chunk_size` bytes (the last one shorter), plus the final
// empty chunk. REQUIRES: chunk_size > 0.
uint64_t AwsChunkedContentLength(uint64_t decoded_length, uint64_t chunk_size);

class ChunkSigner {
 public:
  // `seed_signature` is SignedRequest::signature of the request signed with
  // kStreamingPayload and the same params. Fails with InvalidArgument if
  // the params or the seed are malformed.
  static Result<ChunkSigner> Create(const SigningParams& params, std::string seed_signature);

  // Signs the next chunk (the empty one last) and makes its signature the
  // previous one for the chunk after.
  std::string SignNextChunk(std::string_view chunk);

  // Signs the next chunk and returns it framed for the wire:
  // "<hex size>;chunk-signature=<signature>\r\n<chunk>\r\n".
  std::string FrameNextChunk(std::string_view chunk);

  const std::string& previous_signature() const { return previous_signature_; }

 private:
  ChunkSigner(std::string signing_key, std::string amz_date, std::string scope,
              std::string seed_signature);

  std::string signing_key_;
  std::string amz_date_;
  std::string scope_;
  std::string previous_signature_;
};

}  // namespace tradelake::sigv4
