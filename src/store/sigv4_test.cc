#include "store/sigv4.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace tradelake::sigv4 {
namespace {

namespace fs = std::filesystem;

// ---- test data ----------------------------------------------------------------

// The test data is in the repository: tests/testdata/sigv4/ (the AWS suite
// with its LICENSE and NOTICE; see its README.md). TRADELAKE_SIGV4_TESTDATA
// overrides it. A missing folder is a failure, never a skip: a signer that
// silently stops being checked against AWS's vectors is worse than none.
fs::path TestDataDir() {
  if (const char* env = std::getenv("TRADELAKE_SIGV4_TESTDATA"); env != nullptr && *env != 0) {
    return fs::path(env);
  }
  const fs::path repo = fs::path(__FILE__).parent_path().parent_path().parent_path();
  return (repo / "tests" / "testdata" / "sigv4").lexically_normal();
}

::testing::AssertionResult TestDataPresent() {
  const fs::path dir = TestDataDir();
  if (fs::is_directory(dir / "aws-sig-v4-test-suite") &&
      fs::is_regular_file(dir / "s3-examples.json")) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "SigV4 test data not found in " << dir
         << " (expected aws-sig-v4-test-suite/ and s3-examples.json there). It lives in "
            "tests/testdata/sigv4/ of the repository; set TRADELAKE_SIGV4_TESTDATA to another copy.";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string PercentDecodeForTest(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// A raw HTTP request as the test suite writes it.
struct RawRequest {
  SigningRequest request;
  std::string header_block;  // request line and header lines as written, without the blank line
  std::string body;
};

// Parses "<method> <target> HTTP/1.1\n<headers>\n\n<body>". The target may
// hold spaces (get-space): the method ends at the first space, the version
// starts after the last. A header line starting with a space or tab
// continues the previous header; AWS joins such lines with ',' like repeated
// headers (get-header-value-multiline), so each becomes one more value.
RawRequest ParseRawRequest(std::string_view text) {
  RawRequest raw;
  const size_t blank = text.find("\n\n");
  const std::string_view head = blank == std::string_view::npos ? text : text.substr(0, blank);
  raw.header_block = std::string(head);
  while (!raw.header_block.empty() && raw.header_block.back() == '\n') raw.header_block.pop_back();
  if (blank != std::string_view::npos) raw.body = std::string(text.substr(blank + 2));

  std::vector<std::string_view> lines;
  for (size_t start = 0; start < head.size();) {
    size_t end = head.find('\n', start);
    if (end == std::string_view::npos) end = head.size();
    lines.push_back(head.substr(start, end - start));
    start = end + 1;
  }
  const std::string_view request_line = lines.at(0);
  const size_t first_space = request_line.find(' ');
  const size_t last_space = request_line.rfind(' ');
  raw.request.method = std::string(request_line.substr(0, first_space));
  std::string_view target = request_line.substr(first_space + 1, last_space - first_space - 1);
  const size_t question = target.find('?');
  raw.request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      raw.request.query.push_back(
          {PercentDecodeForTest(pair.substr(0, eq)),
           eq == std::string_view::npos ? "" : PercentDecodeForTest(pair.substr(eq + 1))});
    }
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      raw.request.headers.push_back({raw.request.headers.back().name, std::string(line)});
      continue;
    }
    const size_t colon = line.find(':');
    raw.request.headers.push_back(
        {std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  raw.request.payload_hash = Sha256Hex(raw.body);
  return raw;
}

// ---- the official AWS SigV4 test suite (2015-08-30) ---------------------------

constexpr std::string_view kSuiteToken =
    "AQoDYXdzEPT//////////"
    "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx"
    "7mSEI/qkPpKPi/"
    "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNV"
    "XAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
    "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

SigningParams SuiteParams(std::string_view case_name) {
  SigningParams params;
  params.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::nullopt};
  params.amz_date = "20150830T123600Z";
  params.region = "us-east-1";
  params.service = "service";
  // The suite signs for a generic service: paths are normalized and the wire
  // path encoded once more, and there is no X-Amz-Content-Sha256.
  params.normalize_path = true;
  params.double_encode_path = true;
  params.add_content_sha256_header = false;
  if (case_name.starts_with("post-sts-")) {
    params.credentials.session_token = std::string(kSuiteToken);
    params.sign_security_token = case_name != "post-sts-header-after";
  }
  return params;
}

std::vector<fs::path> SuiteCases(const fs::path& suite) {
  std::vector<fs::path> cases;
  for (const auto& entry : fs::recursive_directory_iterator(suite)) {
    if (!entry.is_directory()) continue;
    const fs::path name = entry.path().filename();
    if (fs::is_regular_file(entry.path() / (name.string() + ".req"))) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

TEST(SigV4, SignsEveryCaseOfTheOfficialAwsTestSuiteExactly) {
  ASSERT_TRUE(TestDataPresent());
  const std::vector<fs::path> cases = SuiteCases(TestDataDir() / "aws-sig-v4-test-suite");
  // The pinned copy has 31 cases (README.md); fewer means cases went missing
  // and would pass unnoticed.
  EXPECT_EQ(cases.size(), 31u);
  int passed = 0;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    SCOPED_TRACE("case " + name);
    const auto file = [&](std::string_view ext) {
      return ReadFile(dir / (name + std::string(ext)));
    };
    const RawRequest raw = ParseRawRequest(file(".req"));
    const SigningParams params = SuiteParams(name);

    // Counts the case as passing only if every comparison below holds.
    bool ok = true;
    const auto expect_eq = [&ok](const std::string& got, const std::string& want) {
      EXPECT_EQ(got, want);
      ok = ok && got == want;
    };

    Result<std::string> creq = CanonicalRequest(raw.request, params);
    ASSERT_TRUE(creq.ok()) << creq.status().ToString();
    expect_eq(*creq, file(".creq"));

    Result<SignedRequest> signed_request = Sign(raw.request, params);
    ASSERT_TRUE(signed_request.ok()) << signed_request.status().ToString();
    expect_eq(signed_request->canonical_request, file(".creq"));
    expect_eq(signed_request->string_to_sign, file(".sts"));
    expect_eq(signed_request->authorization, file(".authz"));

    // The signed request is the original plus the added headers (the suite
    // writes "Name:value", and "Authorization: value" with a space).
    std::string sreq = raw.header_block + "\n";
    for (const Header& h : signed_request->headers_to_add) {
      sreq += h.name + (h.name == "Authorization" ? ": " : ":") + h.value;
      if (&h != &signed_request->headers_to_add.back()) sreq += "\n";
    }
    if (!raw.body.empty()) sreq += "\n\n" + raw.body;
    expect_eq(sreq, file(".sreq"));
    if (ok) ++passed;
  }
  std::printf("[ sigv4    ] %d of %zu AWS test suite cases pass\n", passed, cases.size());
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
}

// ---- the S3 worked examples ----------------------------------------------------

struct S3Examples {
  simdjson::dom::parser parser;
  simdjson::padded_string json;
  simdjson::dom::element root;
};

std::string Field(simdjson::dom::element object, std::string_view key) {
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS) {
    ADD_FAILURE() << "s3-examples.json: missing string field " << key;
    return "";
  }
  return std::string(value);
}

bool HasField(simdjson::dom::element object, std::string_view key) {
  return object[key].error() == simdjson::SUCCESS;
}

// Loads s3-examples.json into *examples; false (with a failure) if it cannot.
bool LoadS3Examples(S3Examples* examples) {
  const fs::path path = TestDataDir() / "s3-examples.json";
  if (simdjson::padded_string::load(path.string()).get(examples->json) != simdjson::SUCCESS ||
      examples->parser.parse(examples->json).get(examples->root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "cannot read or parse " << path;
    return false;
  }
  return true;
}

SigningParams S3Params(simdjson::dom::element root) {
  SigningParams params;  // S3 rules are the defaults
  params.credentials = {Field(root["credentials"], "access_key_id"),
                        Field(root["credentials"], "secret_access_key"), std::nullopt};
  params.amz_date = Field(root, "timestamp");
  params.region = Field(root, "region");
  params.service = Field(root, "service");
  return params;
}

// "'a' x 65536" -> 65536 'a's; "(empty, final chunk)" -> "".
std::string ChunkData(std::string_view description) {
  if (description.starts_with("(empty")) return "";
  EXPECT_TRUE(description.starts_with("'a' x ")) << description;
  return std::string(std::stoul(std::string(description.substr(6))), 'a');
}

std::string WithCrLf(std::string text) {  // the JSON spells CR LF as the 4 characters \r\n
  for (size_t at; (at = text.find("\\r\\n")) != std::string::npos;) text.replace(at, 4, "\r\n");
  return text;
}

void CheckChunks(simdjson::dom::element example, const SigningParams& params,
                 const std::string& seed_signature) {
  Result<ChunkSigner> signer = ChunkSigner::Create(params, seed_signature);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  simdjson::dom::array chunks;
  ASSERT_EQ(example["chunks"].get(chunks), simdjson::SUCCESS);
  ASSERT_EQ(chunks.size(), 3u);
  uint64_t decoded_length = 0;
  uint64_t content_length = 0;
  for (simdjson::dom::element chunk : chunks) {
    const std::string data = ChunkData(Field(chunk, "chunk_data"));
    SCOPED_TRACE("chunk of " + std::to_string(data.size()) + " bytes");
    EXPECT_EQ(signer->previous_signature(), Field(chunk, "previous_signature"));
    EXPECT_EQ(ChunkStringToSign(params.amz_date, CredentialScope(params),
                                signer->previous_signature(), data),
              Field(chunk, "string_to_sign"));
    const std::string framed = signer->FrameNextChunk(data);
    EXPECT_EQ(signer->previous_signature(), Field(chunk, "expected_chunk_signature"));
    const std::string prefix = WithCrLf(Field(chunk, "wire_prefix"));
    EXPECT_EQ(framed, prefix + data + "\r\n");
    EXPECT_TRUE(prefix.starts_with(Field(chunk, "chunk_size_hex") + ";"));
    decoded_length += data.size();
    content_length += framed.size();
  }
  EXPECT_EQ(decoded_length, 66560u);  // x-amz-decoded-content-length of the example
  EXPECT_EQ(content_length, 66824u);  // its Content-Length
  EXPECT_EQ(AwsChunkedContentLength(66560, 65536), 66824u);
}

void CheckPresigned(simdjson::dom::element example, const SigningParams& params) {
  // "https://<host><path>?<query>": the example gives its inputs as the URL.
  const std::string url = Field(example, "expected_url");
  const size_t host_start = url.find("://") + 3;
  const size_t path_start = url.find('/', host_start);
  const size_t query_start = url.find('?');
  SigningRequest request;
  request.method = "GET";
  request.path = url.substr(path_start, query_start - path_start);
  request.headers = {{"Host", url.substr(host_start, path_start - host_start)}};
  request.payload_hash = std::string(kUnsignedPayload);
  Result<PresignedQuery> presigned = Presign(request, params, std::chrono::seconds(86400));
  ASSERT_TRUE(presigned.ok()) << presigned.status().ToString();
  EXPECT_EQ(presigned->canonical_request, Field(example, "canonical_request"));
  EXPECT_EQ(presigned->string_to_sign, Field(example, "string_to_sign"));
  EXPECT_EQ(presigned->signature, Field(example, "expected_signature"));
  EXPECT_EQ(url.substr(0, query_start + 1) + presigned->query_string, url);
}

TEST(SigV4, ReproducesEveryS3WorkedExampleExactly) {
  ASSERT_TRUE(TestDataPresent());
  S3Examples examples;
  ASSERT_TRUE(LoadS3Examples(&examples));
  const simdjson::dom::element root = examples.root;
  const SigningParams params = S3Params(root);
  EXPECT_EQ(CredentialScope(params), Field(root, "scope"));
  EXPECT_EQ(HexEncode(SigningKey(params.credentials.secret_access_key, Field(root, "date"),
                                 params.region, params.service)),
            Field(root, "signing_key_hex_derived"));
  EXPECT_EQ(Sha256Hex(""), Field(root, "empty_payload_sha256"));

  simdjson::dom::array cases;
  ASSERT_EQ(root["cases"].get(cases), simdjson::SUCCESS);
  EXPECT_EQ(cases.size(), 6u);
  int checked = 0;
  for (simdjson::dom::element example : cases) {
    const std::string name = Field(example, "name");
    SCOPED_TRACE("S3 example " + name);
    ++checked;
    if (name.starts_with("presigned-")) {
      CheckPresigned(example, params);
      continue;
    }
    std::string http = Field(example, "http_request");
    // The streaming example writes its body as the placeholder "<Payload>".
    if (http.ends_with("\n<Payload>")) http.resize(http.size() - 10);
    RawRequest raw = ParseRawRequest(http);
    // AWS's text writes "PUT test$file.text" and "GET ?lifecycle": the
    // origin-form target's leading '/' is left out.
    if (!raw.request.path.starts_with("/")) raw.request.path.insert(0, "/");
    // S3 signs the payload hash the request declares in X-Amz-Content-Sha256.
    for (const Header& h : raw.request.headers) {
      if (h.name == "x-amz-content-sha256" || h.name == "X-Amz-Content-Sha256") {
        raw.request.payload_hash = std::string(h.value.substr(h.value.find_first_not_of(' ')));
      }
    }
    if (HasField(example, "body_sha256")) {
      EXPECT_EQ(Field(example, "body"), raw.body);
      EXPECT_EQ(Sha256Hex(raw.body), Field(example, "body_sha256"));
      EXPECT_EQ(raw.request.payload_hash, Field(example, "body_sha256"));
    }

    Result<SignedRequest> signed_request = Sign(raw.request, params);
    ASSERT_TRUE(signed_request.ok()) << signed_request.status().ToString();
    EXPECT_EQ(signed_request->canonical_request, Field(example, "canonical_request"));
    EXPECT_EQ(Sha256Hex(signed_request->canonical_request),
              Field(example, "canonical_request_sha256"));
    EXPECT_EQ(signed_request->string_to_sign, Field(example, "string_to_sign"));
    EXPECT_EQ(signed_request->signed_headers, Field(example, "signed_headers"));
    EXPECT_EQ(signed_request->signature, Field(example, "expected_signature"));
    // Every example already carries X-Amz-Date and X-Amz-Content-Sha256.
    ASSERT_EQ(signed_request->headers_to_add.size(), 1u);
    EXPECT_EQ(signed_request->headers_to_add[0].name, "Authorization");
    if (HasField(example, "expected_authorization")) {
      // S3's pages print the header without spaces after the commas.
      EXPECT_EQ(FormatAuthorization(params.credentials.access_key_id, CredentialScope(params),
                                    signed_request->signed_headers, signed_request->signature, ","),
                Field(example, "expected_authorization"));
    }
    if (HasField(example, "chunks")) CheckChunks(example, params, signed_request->signature);
  }
  EXPECT_EQ(checked, 6);
}

// ---- behaviour beyond the vectors ------------------------------------------------

SigningParams S3TestParams() {
  SigningParams params;
  params.credentials = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        std::nullopt};
  params.amz_date = "20130524T000000Z";
  params.region = "us-east-1";
  params.service = "s3";
  return params;
}

SigningRequest S3Get(std::string path) {
  SigningRequest request;
  request.method = "GET";
  request.path = std::move(path);
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  return request;
}

std::string CanonicalUriOf(const SigningRequest& request, const SigningParams& params) {
  Result<std::string> creq = CanonicalRequest(request, params);
  EXPECT_TRUE(creq.ok()) << creq.status().ToString();
  if (!creq.ok()) return "";
  const size_t first = creq->find('\n');
  return creq->substr(first + 1, creq->find('\n', first + 1) - first - 1);
}

TEST(SigV4, UriEncodeKeepsOnlyUnreservedCharactersAndUsesUppercaseHex) {
  EXPECT_EQ(UriEncode("AZaz09-_.~", true), "AZaz09-_.~");
  EXPECT_EQ(UriEncode("a b+c*d%e$f", true), "a%20b%2Bc%2Ad%25e%24f");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("a/b", false), "a/b");
  EXPECT_EQ(UriEncode("\xE1\x88\xB4", true), "%E1%88%B4");
  EXPECT_EQ(UriEncode(std::string_view("\0\xff", 2), true), "%00%FF");
  EXPECT_EQ(UriEncodePath("bronze/product=BTC-USD/a b.jsonl.zst"),
            "/bronze/product%3DBTC-USD/a%20b.jsonl.zst");
}

TEST(SigV4, HashesAndHmacsMatchPublishedVectors) {
  EXPECT_EQ(Sha256Hex(""), kEmptyPayloadSha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // An empty key is valid HMAC input (padded with zeros).
  EXPECT_EQ(HexEncode(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  // AWS General Reference, "Derive a signing key" example.
  EXPECT_EQ(HexEncode(SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830",
                                 "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4, IncrementalHashEqualsOneShotHash) {
  const std::string data(100000, 'x');
  Sha256Hasher hasher;
  for (size_t at = 0; at < data.size(); at += 7777)
    hasher.Update(std::string_view(data).substr(at, 7777));
  EXPECT_EQ(hasher.FinishHex(), Sha256Hex(data));
  EXPECT_EQ(hasher.FinishHex(), kEmptyPayloadSha256);  // restarted empty
  Sha256Hasher moved = std::move(hasher);
  moved.Update("abc");
  EXPECT_EQ(moved.FinishHex(), Sha256Hex("abc"));
}

TEST(SigV4, FormatsAmzDateFromMicroseconds) {
  EXPECT_EQ(FormatAmzDate(int64_t{1369353600} * 1'000'000 + 999'999), "20130524T000000Z");
  EXPECT_EQ(FormatAmzDate(0), "19700101T000000Z");
}

TEST(SigV4, S3PathsAreNeitherNormalizedNorEncodedTwice) {
  const SigningParams s3 = S3TestParams();
  EXPECT_EQ(CanonicalUriOf(S3Get("//a/./b/../c//"), s3), "//a/./b/../c//");
  EXPECT_EQ(CanonicalUriOf(S3Get("/test$file.text"), s3), "/test%24file.text");
  EXPECT_EQ(CanonicalUriOf(S3Get("/test%24file.text"), s3), "/test%24file.text");
  EXPECT_EQ(CanonicalUriOf(S3Get("/a%20b%2b"), s3), "/a%20b%2B");
  EXPECT_EQ(CanonicalUriOf(S3Get(UriEncodePath("100%+ key")), s3), "/100%25%2B%20key");
  EXPECT_EQ(CanonicalUriOf(S3Get(""), s3), "/");
}

TEST(SigV4, OtherServicesNormalizeThePathAndEncodeItAgain) {
  SigningParams generic = S3TestParams();
  generic.normalize_path = true;
  generic.double_encode_path = true;
  EXPECT_EQ(CanonicalUriOf(S3Get("//a/./b/../c//"), generic), "/a/c/");
  EXPECT_EQ(CanonicalUriOf(S3Get("/a%20b"), generic), "/a%2520b");
  EXPECT_EQ(CanonicalUriOf(S3Get("/a/b/.."), generic), "/a/");
  EXPECT_EQ(CanonicalUriOf(S3Get("/.."), generic), "/");
}

TEST(SigV4, SignAddsDateContentHashAndTokenHeadersForS3) {
  SigningParams params = S3TestParams();
  params.credentials.session_token = "token/with+chars";
  Result<SignedRequest> signed_request = Sign(S3Get("/test.txt"), params);
  ASSERT_TRUE(signed_request.ok()) << signed_request.status().ToString();
  EXPECT_EQ(signed_request->signed_headers,
            "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  const std::vector<Header>& added = signed_request->headers_to_add;
  ASSERT_EQ(added.size(), 4u);
  EXPECT_EQ(added[0].name, "X-Amz-Date");
  EXPECT_EQ(added[0].value, "20130524T000000Z");
  EXPECT_EQ(added[1].name, "X-Amz-Content-Sha256");
  EXPECT_EQ(added[1].value, kEmptyPayloadSha256);
  EXPECT_EQ(added[2].name, "X-Amz-Security-Token");
  EXPECT_EQ(added[2].value, "token/with+chars");
  EXPECT_EQ(added[3].name, "Authorization");
  EXPECT_EQ(added[3].value, signed_request->authorization);

  // The same request with the token added after signing: it is sent, not signed.
  params.sign_security_token = false;
  signed_request = Sign(S3Get("/test.txt"), params);
  ASSERT_TRUE(signed_request.ok());
  EXPECT_EQ(signed_request->signed_headers, "host;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(signed_request->headers_to_add.size(), 4u);
}

TEST(SigV4, HeadersThatProxiesRewriteAreNotSigned) {
  SigningRequest request = S3Get("/k");
  request.headers.push_back({"User-Agent", "tradelake/0.1"});
  request.headers.push_back({"Expect", "100-continue"});
  request.headers.push_back({"Authorization", "stale"});
  request.headers.push_back({"Content-Type", "  application/x-ndjson  "});
  Result<SignedRequest> signed_request = Sign(request, S3TestParams());
  ASSERT_TRUE(signed_request.ok()) << signed_request.status().ToString();
  EXPECT_EQ(signed_request->signed_headers, "content-type;host;x-amz-content-sha256;x-amz-date");
  EXPECT_NE(signed_request->canonical_request.find("\ncontent-type:application/x-ndjson\n"),
            std::string::npos);
}

TEST(SigV4, PresignedUrlCarriesTheRequestsOwnParametersAndTheToken) {
  SigningParams params = S3TestParams();
  params.credentials.session_token = "tok/en";
  SigningRequest request = S3Get("/test.txt");
  request.query = {{"response-content-type", "text/plain"}};
  request.payload_hash = std::string(kUnsignedPayload);
  Result<PresignedQuery> presigned = Presign(request, params, std::chrono::seconds(60));
  ASSERT_TRUE(presigned.ok()) << presigned.status().ToString();
  EXPECT_TRUE(presigned->query_string.starts_with(
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
      "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&"
      "X-Amz-Security-Token=tok%2Fen&X-Amz-SignedHeaders=host&"
      "response-content-type=text%2Fplain&X-Amz-Signature="))
      << presigned->query_string;
}

TEST(SigV4, RejectsRequestsThatCannotBeSignedCorrectly) {
  const SigningParams params = S3TestParams();
  const auto rejected = [](const SigningRequest& request, const SigningParams& p) {
    Result<SignedRequest> r = Sign(request, p);
    return !r.ok() && r.status().code() == StatusCode::kInvalidArgument;
  };
  SigningRequest no_host = S3Get("/k");
  no_host.headers.clear();
  EXPECT_TRUE(rejected(no_host, params));

  SigningRequest injected = S3Get("/k");
  injected.headers.push_back({"X-Amz-Meta-A", "x\r\nX-Evil: 1"});
  EXPECT_TRUE(rejected(injected, params));

  SigningRequest bad_name = S3Get("/k");
  bad_name.headers.push_back({"Bad Name", "x"});
  EXPECT_TRUE(rejected(bad_name, params));

  SigningRequest other_date = S3Get("/k");
  other_date.headers.push_back({"X-Amz-Date", "20990101T000000Z"});
  EXPECT_TRUE(rejected(other_date, params));

  SigningRequest other_hash = S3Get("/k");
  other_hash.headers.push_back({"x-amz-content-sha256", std::string(kUnsignedPayload)});
  EXPECT_TRUE(rejected(other_hash, params));

  SigningRequest bad_hash = S3Get("/k");
  bad_hash.payload_hash = "abc\n";
  EXPECT_TRUE(rejected(bad_hash, params));

  EXPECT_TRUE(rejected(S3Get("k"), params));
  EXPECT_TRUE(rejected(S3Get("/k?x=1"), params));

  SigningRequest bad_method = S3Get("/k");
  bad_method.method = "GET /";
  EXPECT_TRUE(rejected(bad_method, params));

  SigningParams bad_date = params;
  bad_date.amz_date = "2013-05-24T00:00:00Z";
  EXPECT_TRUE(rejected(S3Get("/k"), bad_date));
  SigningParams bad_region = params;
  bad_region.region = "us-east-1/x";
  EXPECT_TRUE(rejected(S3Get("/k"), bad_region));
  SigningParams no_secret = params;
  no_secret.credentials.secret_access_key.clear();
  EXPECT_TRUE(rejected(S3Get("/k"), no_secret));

  // Presign: expiry range and a query that is already signed.
  EXPECT_FALSE(Presign(S3Get("/k"), params, std::chrono::seconds(0)).ok());
  EXPECT_FALSE(Presign(S3Get("/k"), params, kMaxPresignExpiry + std::chrono::seconds(1)).ok());
  EXPECT_TRUE(Presign(S3Get("/k"), params, kMaxPresignExpiry).ok());
  SigningRequest signed_query = S3Get("/k");
  signed_query.query = {{"X-Amz-Signature", "00"}};
  EXPECT_FALSE(Presign(signed_query, params, std::chrono::seconds(60)).ok());

  // Chunk signing needs a real seed signature.
  EXPECT_FALSE(ChunkSigner::Create(params, "not-a-signature").ok());
}

TEST(SigV4, ChunkedContentLengthCountsEveryFrameAndTheFinalEmptyChunk) {
  EXPECT_EQ(AwsChunkedContentLength(0, 65536), 86u);  // only "0;chunk-signature=...\r\n\r\n"
  EXPECT_EQ(AwsChunkedContentLength(65536, 65536), 65626u + 86u);
  EXPECT_EQ(AwsChunkedContentLength(66560, 65536), 66824u);
  EXPECT_EQ(AwsChunkedContentLength(16, 16), 2u + 85u + 16u + 86u);
  EXPECT_EQ(AwsChunkedContentLength(17, 16), 2u + 85u + 16u + 1u + 85u + 1u + 86u);
}

}  // namespace
}  // namespace tradelake::sigv4
