// S3-specific behaviour of S3Store. The ObjectStore contract itself is in
// object_store_conformance_test.cc. Three kinds of peer:
//   - FakeS3: a scripted HTTP server on 127.0.0.1 (plain sockets) that answers
//     what a test needs (503s, dropped connections, errors in a 200) and
//     records every request as it arrived on the wire;
//   - the shared moto_server (tests/support/moto_server.h), signatures unchecked;
//   - a private moto_server with signature checks on and IAM users, for the
//     credential errors.
// Independent references: botocore (the AWS CLI's library, which real S3
// accepts) recomputes our signatures, and the aws CLI reads and writes
// objects alongside the store.
#include "store/s3_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/text.h"
#include "support/moto_server.h"
#include "store/open_store.h"
#include "store/sigv4.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using s3_internal::ParseXml;
using s3_internal::UrlDecodeS3;

// ---- FakeS3 ------------------------------------------------------------------------

class FakeS3 {
 public:
  struct Request {
    std::string method;
    std::string target;                          // path and query as sent
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string Path() const { return target.substr(0, target.find('?')); }
    std::string Query() const {
      const size_t q = target.find('?');
      return q == std::string::npos ? "" : target.substr(q + 1);
    }
    std::string Header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? "" : it->second;
    }
  };
  struct Response {
    int status = 200;
    std::string body = {};
    std::vector<std::pair<std::string, std::string>> headers = {};
    bool hang_up = false;  // close the connection without answering
  };
  // Called for the n-th request (0-based), from server threads.
  using Handler = std::function<Response(const Request&, int n)>;

  explicit FakeS3(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      ADD_FAILURE() << "FakeS3 cannot listen: " << std::strerror(errno);
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeS3() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard lock(mu_);
      conns.swap(conns_);
    }
    for (auto& t : conns) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  bool ReadMore(int fd, std::string* buf) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n <= 0) return false;
      buf->append(chunk, static_cast<size_t>(n));
      return true;
    }
    return false;
  }
  static std::string Reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 204:
        return "No Content";
      case 206:
        return "Partial Content";
      case 301:
        return "Moved Permanently";
      case 400:
        return "Bad Request";
      case 403:
        return "Forbidden";
      case 404:
        return "Not Found";
      case 412:
        return "Precondition Failed";
      case 500:
        return "Internal Server Error";
      case 503:
        return "Service Unavailable";
      default:
        return "Whatever";
    }
  }
  void Serve(int fd) {
    std::string buf;
    for (;;) {
      size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(fd, &buf)) {
          ::close(fd);
          return;
        }
      }
      Request req;
      std::istringstream head(buf.substr(0, header_end));
      std::string line;
      std::getline(head, line);
      std::istringstream request_line(line);
      request_line >> req.method >> req.target;
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers[name] = value;
      }
      const size_t length =
          req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      while (buf.size() < header_end + 4 + length) {
        if (!ReadMore(fd, &buf)) {
          ::close(fd);
          return;
        }
      }
      req.body = buf.substr(header_end + 4, length);
      buf.erase(0, header_end + 4 + length);
      int n = 0;
      {
        std::lock_guard lock(mu_);
        n = static_cast<int>(requests_.size());
        requests_.push_back(req);
      }
      const Response resp = handler_(req, n);
      if (resp.hang_up) {
        ::close(fd);
        return;
      }
      std::string out =
          "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
      bool has_length = false;
      for (const auto& [k, v] : resp.headers) {
        out += k + ": " + v + "\r\n";
        has_length = has_length || k == "Content-Length";
      }
      if (!has_length) out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
      out += "\r\n";
      if (req.method != "HEAD") out += resp.body;
      size_t off = 0;
      while (off < out.size()) {
        const ssize_t w = ::write(fd, out.data() + off, out.size() - off);
        if (w <= 0) {
          ::close(fd);
          return;
        }
        off += static_cast<size_t>(w);
      }
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;  // GUARDED_BY(mu_)
  std::vector<Request> requests_;   // GUARDED_BY(mu_)
};

std::string ErrorXml(std::string_view code, std::string_view message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
         "</Code><Message>" + std::string(message) + "</Message><RequestId>R1</RequestId></Error>";
}

S3StoreOptions FakeOptions(const FakeS3& fake) {
  S3StoreOptions options;
  options.bucket = "bucket";
  options.prefix = "lake";
  options.aws.credentials = MotoFakeCredentials();
  options.aws.credentials_source = "environment (AWS_ACCESS_KEY_ID)";
  options.aws.endpoint_url = fake.endpoint();
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = std::chrono::milliseconds(1);
  options.retry.max_backoff = std::chrono::milliseconds(5);
  return options;
}

std::unique_ptr<S3Store> OpenOrDie(S3StoreOptions options) {
  auto store = S3Store::Open(std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string Md5Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  return sigv4::HexEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

// Finds an executable on $PATH (or the override in env `override_var`).
std::string FindTool(const char* name, const char* override_var) {
  if (const char* o = std::getenv(override_var); o != nullptr && *o != '\0') return o;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs a shell command; its exit code and combined output.
std::pair<int, std::string> RunShell(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int rc = ::pclose(pipe);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

std::string PseudoRandomBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 56);
  }
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh folder under the temp dir, removed when the test ends (even on failure).
class TempDir {
 public:
  explicit TempDir(const std::string& stem) {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("tradelake-" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---- XML and small parsers ---------------------------------------------------------

TEST(S3Xml, DecodesEntitiesCdataAndNamespaces) {
  auto xml = ParseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->"
      "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\" a='1'>"
      "<s3:Contents><s3:Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; "
      "&#233;&#x1F600;\r\n</s3:Key>"
      "<Size>12</Size></s3:Contents><Empty/><Raw><![CDATA[<&>]]></Raw></s3:ListBucketResult>\n");
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ(xml->name, "ListBucketResult");
  const auto* contents = xml->Child("Contents");
  ASSERT_NE(contents, nullptr);
  EXPECT_EQ(contents->ChildText("Key"), "a & b <c> \"d\" 'e' \xC3\xA9\xF0\x9F\x98\x80\n");
  EXPECT_EQ(contents->ChildText("Size"), "12");
  EXPECT_NE(xml->Child("Empty"), nullptr);
  EXPECT_EQ(xml->ChildText("Raw"), "<&>");
  EXPECT_EQ(xml->ChildText("Missing"), "");
}

TEST(S3Xml, RejectsMalformedDocuments) {
  for (const char* bad :
       {"", "text", "<a>", "<a></b>", "<a>&unknown;</a>", "<a>&#0;</a>", "<a>&#xD800;</a>",
        "<a>&#x110000;</a>", "<a>& </a>", "<a></a><b></b>", "<a x=1></a>",
        "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", "<a><![CDATA[x</a>",
        // Nothing is fetched or expanded: an external DTD leaves &e; unknown.
        "<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a>&e;</a>",
        "<!DOCTYPE a [<!ENTITY a \"xxxxxxxx\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><a>&b;</a>",
        "<a>\xff\xfe</a>"}) {
    EXPECT_FALSE(ParseXml(bad).ok()) << bad;
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  for (int i = 0; i < 100; ++i) deep += "</a>";
  EXPECT_FALSE(ParseXml(deep).ok());
}

TEST(S3Xml, ReadsTheEncodingTheDocumentDeclares) {
  auto xml = ParseXml("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Key>caf\xe9</Key>");
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ(xml->text, "caf\xC3\xA9");
}

TEST(S3Xml, UrlDecodingOfListedKeys) {
  EXPECT_EQ(*UrlDecodeS3("prix/%C3%A9+%C3%BC%2B%25%3Dx.bin"), "prix/é ü+%=x.bin");
  EXPECT_FALSE(UrlDecodeS3("bad%2").ok());
  EXPECT_FALSE(UrlDecodeS3("bad%zz").ok());
}

TEST(S3Uri, SplitsBucketAndPrefix) {
  auto u = ParseS3Uri("s3://my-lake/data/lake/");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->bucket, "my-lake");
  EXPECT_EQ(u->prefix, "data/lake");
  EXPECT_EQ(ParseS3Uri("s3://my-lake")->prefix, "");
  EXPECT_EQ(ParseS3Uri("s3://My_Lake/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseS3Uri("s3://ok-bucket/a//b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("s3://Bad_Bucket/x").status().code(), StatusCode::kInvalidArgument);
}

TEST(S3Store, OpenChecksOptionsAndDescribesTheLake) {
  S3StoreOptions options;
  options.bucket = "lake-bucket";
  options.prefix = "data/lake";
  options.aws.credentials = MotoFakeCredentials();
  auto store = S3Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Describe(), "s3://lake-bucket/data/lake");
  EXPECT_EQ((*store)->LocalPath("a"), std::nullopt);
  // Virtual-hosted on AWS; each key byte encoded as S3 decodes it.
  EXPECT_EQ((*store)->ObjectUrl("prix/é ü+%=x.bin"),
            "https://lake-bucket.s3.us-east-1.amazonaws.com/data/lake/prix/"
            "%C3%A9%20%C3%BC%2B%25%3Dx.bin");
  options.aws.endpoint_url = "http://127.0.0.1:9000";
  EXPECT_EQ((*S3Store::Open(options))->ObjectUrl("a b"),
            "http://127.0.0.1:9000/lake-bucket/data/lake/a%20b");
  options.prefix = "";
  EXPECT_EQ((*S3Store::Open(options))->Describe(), "s3://lake-bucket");

  S3StoreOptions no_creds = options;
  no_creds.aws.credentials = {};
  EXPECT_EQ(S3Store::Open(no_creds).status().code(), StatusCode::kInvalidArgument);
  S3StoreOptions bad_prefix = options;
  bad_prefix.prefix = "/abs";
  EXPECT_EQ(S3Store::Open(bad_prefix).status().code(), StatusCode::kInvalidArgument);
  S3StoreOptions bad_page = options;
  bad_page.list_page_size = 5000;
  EXPECT_EQ(S3Store::Open(bad_page).status().code(), StatusCode::kInvalidArgument);
}

// ---- retries and errors, against FakeS3 ----------------------------------------

TEST(S3StoreFake, RetriesThrottlingAndServerErrorsThenSucceeds) {
  FakeS3 fake([](const FakeS3::Request&, int n) -> FakeS3::Response {
    if (n == 0) return {503, ErrorXml("SlowDown", "Please reduce your request rate."), {}};
    if (n == 1) return {500, ErrorXml("InternalError", "We encountered an internal error."), {}};
    return {200, "payload", {}};
  });
  auto store = OpenOrDie(FakeOptions(fake));
  auto got = store->Get("k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "payload");
  EXPECT_EQ(fake.requests().size(), 3u);
  EXPECT_EQ(store->requests_sent(), 3);
}

TEST(S3StoreFake, GivesUpAfterMaxAttemptsWithARetryableError) {
  FakeS3 fake([](const FakeS3::Request&, int) -> FakeS3::Response {
    return {503, ErrorXml("SlowDown", "Please reduce your request rate."), {}};
  });
  auto store = OpenOrDie(FakeOptions(fake));
  Status s = store->Put("k", "v", WriteMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_NE(s.message().find("SlowDown"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("after 3 attempts"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("s3://bucket/lake/k"), std::string::npos) << s.ToString();
  EXPECT_EQ(fake.requests().size(), 3u);
}

TEST(S3StoreFake, DroppedConnectionsAreRetried) {
  FakeS3 fake([](const FakeS3::Request&, int n) -> FakeS3::Response {
    if (n == 0) return {.hang_up = true};
    return {200, "", {{"Content-Length", "42"}}};
  });
  auto store = OpenOrDie(FakeOptions(fake));
  auto head = store->Head("k");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 42);
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(S3StoreFake, ClientErrorsAreNotRetried) {
  FakeS3 fake([](const FakeS3::Request& req, int) -> FakeS3::Response {
    if (req.method == "PUT") return {400, ErrorXml("InvalidRequest", "Bad part"), {}};
    return {403, ErrorXml("AccessDenied", "Access Denied"), {}};
  });
  auto store = OpenOrDie(FakeOptions(fake));
  Status put = store->Put("k", "v", WriteMode::kOverwrite);
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument) << put.ToString();
  auto get = store->Get("dir/k");
  EXPECT_EQ(get.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(get.status().message().find("AccessDenied: Access Denied"), std::string::npos)
      << get.status().ToString();
  EXPECT_NE(get.status().message().find("s3://bucket/lake/dir/k"), std::string::npos)
      << get.status().ToString();
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(S3StoreFake, WrongRegionNamesTheBucketsRegion) {
  FakeS3 fake([](const FakeS3::Request&, int) -> FakeS3::Response {
    return {301,
            ErrorXml("PermanentRedirect",
                     "The bucket you are attempting to access must be addressed using the "
                     "specified endpoint."),
            {{"x-amz-bucket-region", "eu-west-1"}}};
  });
  auto store = OpenOrDie(FakeOptions(fake));
  auto got = store->Get("k");
  EXPECT_EQ(got.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(got.status().message().find("AWS_REGION=eu-west-1"), std::string::npos)
      << got.status().ToString();
}

TEST(S3StoreFake, RetriedCreateOnlyPutWhoseFirstAttemptLandedSucceeds) {
  const std::string data = "the bronze object";
  for (const bool ours : {true, false}) {
    FakeS3 fake([&](const FakeS3::Request& req, int n) -> FakeS3::Response {
      if (n == 0) return {.hang_up = true};  // stored, but the answer is lost
      if (req.method == "PUT")
        return {412, ErrorXml("PreconditionFailed", "At least one precondition failed"), {}};
      const std::string etag = ours ? Md5Hex(data) : Md5Hex("someone else's");
      return {200, "", {{"ETag", "\"" + etag + "\""}, {"Content-Length", "17"}}};
    });
    auto store = OpenOrDie(FakeOptions(fake));
    Status s = store->Put("bronze/b.jsonl.zst", data, WriteMode::kCreateOnly);
    if (ours) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
    }
    const auto reqs = fake.requests();
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[1].Header("if-none-match"), "*");
    EXPECT_EQ(reqs[2].method, "HEAD");
  }
}

// A multipart upload as S3 runs it: Create, parts, Complete.
FakeS3::Response MultipartHandler(const FakeS3::Request& req, int complete_failures,
                                  std::atomic<int>* completes) {
  const std::string q = req.Query();
  if (req.method == "HEAD") return {404, "", {}};
  if (req.method == "POST" && q == "uploads=") {
    return {200,
            "<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key><UploadId>UP&amp;1</"
            "UploadId>"
            "</InitiateMultipartUploadResult>",
            {}};
  }
  if (req.method == "PUT") return {200, "", {{"ETag", "\"" + Md5Hex(req.body) + "\""}}};
  if (req.method == "POST") {
    const int n = completes->fetch_add(1);
    if (n < complete_failures) {
      return {200,
              // The keep-alive whitespace S3 sends while it works, then the error.
              "  \n  \n" + ErrorXml("InternalError", "We encountered an internal error."),
              {}};
    }
    return {200,
            "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag></CompleteMultipartUploadResult>",
            {}};
  }
  return {204, "", {}};
}

TEST(S3StoreFake, MultipartCreateOnlyIsConditionalAndAnErrorInsideA200IsRetried) {
  std::atomic<int> completes{0};
  FakeS3 fake(
      [&](const FakeS3::Request& req, int) { return MultipartHandler(req, 1, &completes); });
  S3StoreOptions options = FakeOptions(fake);
  options.multipart_threshold = 1000;
  options.part_size = 1000;
  auto store = OpenOrDie(options);
  const std::string data = PseudoRandomBytes(2500, 3);
  Status s = store->Put("big", data, WriteMode::kCreateOnly);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const auto reqs = fake.requests();
  // HEAD (fail fast if present), Create, 3 parts, Complete twice.
  ASSERT_EQ(reqs.size(), 7u);
  EXPECT_EQ(reqs[0].method, "HEAD");
  std::string joined;
  std::set<std::string> part_queries;
  for (const auto& r : reqs) {
    if (r.method == "PUT") {
      part_queries.insert(r.Query());
      EXPECT_EQ(r.Header("x-amz-content-sha256"), sigv4::Sha256Hex(r.body));
    }
  }
  EXPECT_EQ(part_queries,
            (std::set<std::string>{"partNumber=1&uploadId=UP%261", "partNumber=2&uploadId=UP%261",
                                   "partNumber=3&uploadId=UP%261"}));
  const auto& complete = reqs.back();
  EXPECT_EQ(complete.method, "POST");
  EXPECT_EQ(complete.Query(), "uploadId=UP%261");
  EXPECT_EQ(complete.Header("if-none-match"), "*");
  EXPECT_NE(complete.body.find("<Part><PartNumber>3</PartNumber><ETag>&quot;" +
                               Md5Hex(data.substr(2000)) + "&quot;</ETag></Part>"),
            std::string::npos)
      << complete.body;
  EXPECT_EQ(completes.load(), 2);
}

TEST(S3StoreFake, FailedMultipartUploadIsAborted) {
  FakeS3 fake([](const FakeS3::Request& req, int) -> FakeS3::Response {
    if (req.method == "POST") {
      return {
          200,
          "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>",
          {}};
    }
    if (req.method == "PUT")
      return {400, ErrorXml("EntityTooSmall", "Your proposed upload is too small"), {}};
    return {204, "", {}};
  });
  S3StoreOptions options = FakeOptions(fake);
  options.multipart_threshold = 10;
  options.part_size = 10;
  auto store = OpenOrDie(options);
  Status s = store->Put("k", std::string(25, 'x'), WriteMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("EntityTooSmall"), std::string::npos) << s.ToString();
  const auto reqs = fake.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs.back().method, "DELETE");
  EXPECT_EQ(reqs.back().Query(), "uploadId=U1");
}

// What goes on the wire is what botocore (and so real S3) computes for the
// same key and parameters: the path encoding, the query encoding and the
// SigV4 signature are recomputed by botocore from the plain key.
constexpr char kBotocoreSigner[] = R"PY(
import json, sys
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode
for a in json.load(sys.stdin):
    path = '/' + a['bucket']
    if a['key']:
        path += '/' + percent_encode(a['key'], safe='/~')
    query = '&'.join(sorted(percent_encode(k) + '=' + percent_encode(v) for k, v in a['params']))
    url = 'http://' + a['headers']['host'] + path + ('?' + query if query else '')
    req = AWSRequest(method=a['method'], url=url, headers=a['headers'])
    req.context['timestamp'] = a['headers']['x-amz-date']
    auth = S3SigV4Auth(Credentials(a['access_key'], a['secret_key']), 's3', a['region'])
    cr = auth.canonical_request(req)
    print(path)
    print(query)
    print(auth.signature(auth.string_to_sign(req, cr), req))
)PY";

TEST(S3StoreFake, WireEncodingAndSignaturesMatchBotocore) {
  const std::string python = FindTool("python3", "TRADELAKE_PYTHON");
  FakeS3 fake([](const FakeS3::Request& req, int) -> FakeS3::Response {
    if (req.method == "GET")
      return {200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>", {}};
    return {200, "", {{"ETag", "\"e\""}}};
  });
  auto store = OpenOrDie(FakeOptions(fake));
  const std::string key = "prix/é ü+%=x.bin";
  const std::string odd_key = "punct/!$&'()*,;:@[]~ #?.txt";
  ASSERT_TRUE(store->Put(key, "v", WriteMode::kCreateOnly).ok());
  ASSERT_TRUE(store->Put(odd_key, "w", WriteMode::kOverwrite).ok());
  ASSERT_TRUE(store->List("a/b=c d+é:~").ok());
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].Path(), "/bucket/lake/prix/%C3%A9%20%C3%BC%2B%25%3Dx.bin");
  EXPECT_EQ(reqs[0].Header("x-amz-content-sha256"), sigv4::Sha256Hex("v"));
  EXPECT_EQ(reqs[0].Header("if-none-match"), "*");
  EXPECT_EQ(reqs[1].Header("if-none-match"), "");

  struct Case {
    std::string key;
    std::vector<std::pair<std::string, std::string>> params;
  };
  const std::vector<Case> cases = {{"lake/" + key, {}},
                                   {"lake/" + odd_key, {}},
                                   {"",
                                    {{"list-type", "2"},
                                     {"max-keys", "1000"},
                                     {"encoding-type", "url"},
                                     {"prefix", "lake/a/b=c d+é:~"}}}};
  // Botocore gets the plain key and parameters, and exactly the headers we
  // signed (as S3 and moto see them).
  std::string json = "[";
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& r = reqs[i];
    const std::string auth = r.Header("authorization");
    const size_t sh = auth.find("SignedHeaders=");
    ASSERT_NE(sh, std::string::npos) << auth;
    const std::string signed_list = auth.substr(sh + 14, auth.find(',', sh) - sh - 14);
    json += i == 0 ? "{\"method\":" : ",{\"method\":";
    AppendJsonString(&json, r.method);
    json += ",\"bucket\":\"bucket\",\"key\":";
    AppendJsonString(&json, cases[i].key);
    json += ",\"params\":[";
    for (size_t p = 0; p < cases[i].params.size(); ++p) {
      json += p == 0 ? "[" : ",[";
      AppendJsonString(&json, cases[i].params[p].first);
      json += ",";
      AppendJsonString(&json, cases[i].params[p].second);
      json += "]";
    }
    json += "],\"headers\":{";
    std::stringstream names(signed_list);
    bool first = true;
    for (std::string name; std::getline(names, name, ';'); first = false) {
      json += first ? "" : ",";
      AppendJsonString(&json, name);
      json += ":";
      AppendJsonString(&json, r.Header(name));
    }
    json += "},\"access_key\":\"" + MotoFakeCredentials().access_key_id + "\",\"secret_key\":\"" +
            MotoFakeCredentials().secret_access_key + "\",\"region\":\"us-east-1\"}";
  }
  json += "]";
  const TempDir tmp("botocore");
  const fs::path& dir = tmp.path();
  std::ofstream(dir / "sign.py") << kBotocoreSigner;
  std::ofstream(dir / "in.json") << json;
  auto [rc, out] = python.empty() ? std::pair<int, std::string>{-1, "python3 not found"}
                                  : RunShell("'" + python + "' " + (dir / "sign.py").string() +
                                             " < " + (dir / "in.json").string());
  if (rc != 0 && (python.empty() || out.find("ModuleNotFoundError") != std::string::npos)) {
    if (MotoMayBeMissing()) GTEST_SKIP() << "python3 with botocore is not available: " << out;
    FAIL() << "python3 with botocore (the aws CLI's library) is required; set "
              "TRADELAKE_ALLOW_NO_MOTO=1 to skip: "
           << out;
  }
  ASSERT_EQ(rc, 0) << out;
  std::istringstream lines(out);
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& r = reqs[i];
    std::string path, query, signature;
    std::getline(lines, path);
    std::getline(lines, query);
    std::getline(lines, signature);
    EXPECT_EQ(r.Path(), path) << "request " << i;
    EXPECT_EQ(r.Query(), query) << "request " << i;
    EXPECT_NE(r.Header("authorization").find("Signature=" + signature), std::string::npos)
        << "request " << i << " " << r.method << " " << r.target
        << "\nours: " << r.Header("authorization") << "\nbotocore: " << signature;
  }
}

// ---- against the shared moto --------------------------------------------------------

class S3StoreOnMoto : public ::testing::Test {
 protected:
  void SetUp() override {
    TL_REQUIRE_SHARED_MOTO(moto);
    moto_ = moto;
    bucket_ = UniqueBucketName("s3store");
    Status s = CreateBucket(moto->ClientConfig(), bucket_);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << moto->LogTail();
  }
  S3StoreOptions Options(std::string prefix = "lake") const {
    S3StoreOptions options;
    options.bucket = bucket_;
    options.prefix = std::move(prefix);
    options.aws = moto_->ClientConfig();
    return options;
  }

  MotoServer* moto_ = nullptr;
  std::string bucket_;
};

TEST_F(S3StoreOnMoto, NonexistentBucketIsNotFoundNamingTheBucket) {
  S3StoreOptions options = Options();
  options.bucket = "no-such-bucket-" + UniqueBucketName("x");
  auto store = OpenOrDie(options);
  const auto check = [&](const Status& s, std::string_view what) {
    EXPECT_EQ(s.code(), StatusCode::kNotFound) << what << ": " << s.ToString();
    EXPECT_NE(s.message().find("bucket " + options.bucket + " does not exist"), std::string::npos)
        << what << ": " << s.ToString();
  };
  check(store->Put("k", "v", WriteMode::kOverwrite), "Put");
  check(store->Get("k").status(), "Get");
  check(store->List("").status(), "List");
  check(store->Delete("k"), "Delete");
  EXPECT_EQ(store->Head("k").status().code(), StatusCode::kNotFound);  // HEAD answers carry no body
}

TEST_F(S3StoreOnMoto, ListFollowsContinuationTokensAndStaysInsideThePrefix) {
  S3StoreOptions options = Options();
  options.list_page_size = 7;
  auto store = OpenOrDie(options);
  auto neighbour = OpenOrDie(Options("lake-other"));  // shares the "lake" string prefix
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(store->Put("p/" + std::to_string(1000 + i), "x", WriteMode::kOverwrite).ok());
  ASSERT_TRUE(neighbour->Put("p/1000", "y", WriteMode::kOverwrite).ok());
  const int64_t before = store->requests_sent();
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(store->requests_sent() - before, 6);  // ceil(40 / 7) pages
  ASSERT_EQ(listed->size(), 40u);
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ((*listed)[static_cast<size_t>(i)].key, "p/" + std::to_string(1000 + i));
  auto other = neighbour->List("");
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].key, "p/1000");
}

TEST_F(S3StoreOnMoto, FolderMarkersAreNotListedAsObjects) {
  auto root = OpenOrDie(Options(""));
  auto store = OpenOrDie(Options("lake"));
  ASSERT_TRUE(store->Put("dir/real", "x", WriteMode::kOverwrite).ok());
  // An S3 console "folder": a zero-byte object whose key ends with '/'. The
  // store refuses to write one, so put it straight into moto.
  auto marker = moto_detail::Http("PUT", moto_->endpoint() + "/" + bucket_ + "/lake/dir/", "", {});
  ASSERT_TRUE(marker.ok()) << marker.status().ToString();
  ASSERT_EQ(marker->status, 200) << marker->body;
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "dir/real");
  EXPECT_EQ(root->List("")->size(), 1u);
}

TEST_F(S3StoreOnMoto, GetRangeReturnsTheBytesAskedFor) {
  auto store = OpenOrDie(Options());
  std::string data;
  for (int i = 0; i < 100; ++i) data += static_cast<char>('0' + i % 10);
  ASSERT_TRUE(store->Put("r/obj", data, WriteMode::kOverwrite).ok());
  EXPECT_EQ(*store->GetRange("r/obj", 0, 10), data.substr(0, 10));
  EXPECT_EQ(*store->GetRange("r/obj", 42, 7), data.substr(42, 7));
  EXPECT_EQ(*store->GetRange("r/obj", 95, 10), data.substr(95));  // short at the end
  EXPECT_EQ(*store->GetRange("r/obj", 100, 5), "");
  EXPECT_EQ(*store->GetRange("r/obj", 1000, 5), "");
  EXPECT_EQ(*store->GetRange("r/obj", 3, 0), "");
  EXPECT_EQ(*store->GetRange("r/obj", 0, UINT64_MAX), data);
  EXPECT_EQ(store->GetRange("r/missing", 0, 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->GetRange("r/../x", 0, 10).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3StoreOnMoto, DefaultPartSizesMatchTheAwsCliAndCreateOnlyFailsFast) {
  auto store = OpenOrDie(Options());
  const std::string data = PseudoRandomBytes((size_t{8} << 20) + 1, 11);  // one byte over 8 MiB
  int64_t before = store->requests_sent();
  ASSERT_TRUE(store->Put("mp/obj", data, WriteMode::kCreateOnly).ok());
  // HEAD, Create, 2 parts (8 MiB + 1 byte), Complete.
  EXPECT_EQ(store->requests_sent() - before, 5);
  auto got = store->Get("mp/obj");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
  before = store->requests_sent();
  Status again = store->Put("mp/obj", data, WriteMode::kCreateOnly);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_EQ(store->requests_sent() - before, 1);  // the HEAD only: no part was sent
  // At exactly the threshold it is a single PUT.
  before = store->requests_sent();
  ASSERT_TRUE(store
                  ->Put("mp/single", std::string_view(data).substr(0, size_t{8} << 20),
                        WriteMode::kOverwrite)
                  .ok());
  EXPECT_EQ(store->requests_sent() - before, 1);
}

TEST_F(S3StoreOnMoto, OpenStoreResolvesTheAwsEnvironment) {
  // OpenStore reads the process environment; set it as a user would, then restore it.
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"AWS_ACCESS_KEY_ID", MotoFakeCredentials().access_key_id},
      {"AWS_SECRET_ACCESS_KEY", MotoFakeCredentials().secret_access_key},
      {"AWS_ENDPOINT_URL_S3", moto_->endpoint()},
      {"AWS_REGION", "us-east-1"},
      {"AWS_PROFILE", ""},
      {"AWS_SESSION_TOKEN", ""},
      {"AWS_CONFIG_FILE", "/dev/null"},
      {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"}};
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  for (const auto& [k, v] : vars) {
    const char* old = std::getenv(k.c_str());
    saved.emplace_back(k, old == nullptr ? std::nullopt : std::optional<std::string>(old));
    if (v.empty()) {
      ::unsetenv(k.c_str());
    } else {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }
  auto store = OpenStore("s3://" + bucket_ + "/from/uri/");
  for (const auto& [k, v] : saved) {
    if (v) {
      ::setenv(k.c_str(), v->c_str(), 1);
    } else {
      ::unsetenv(k.c_str());
    }
  }
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Describe(), "s3://" + bucket_ + "/from/uri");
  ASSERT_TRUE((*store)->Put("k", "via uri", WriteMode::kOverwrite).ok());
  auto direct = OpenOrDie(Options("from/uri"));
  EXPECT_EQ(*direct->Get("k"), "via uri");
}

// ---- the aws CLI, reading and writing the same bucket ----------------------------

class AwsCliInterop : public S3StoreOnMoto {
 protected:
  void SetUp() override {
    S3StoreOnMoto::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    aws_ = FindTool("aws", "TRADELAKE_AWS_CLI");
    if (aws_.empty()) {
      if (MotoMayBeMissing()) GTEST_SKIP() << "the aws CLI is not on PATH";
      FAIL() << "the aws CLI is required (set TRADELAKE_AWS_CLI, or TRADELAKE_ALLOW_NO_MOTO=1 to "
                "skip)";
    }
  }
  // `aws --endpoint-url <moto> <args>` with the fake credentials and no
  // configuration files.
  std::pair<int, std::string> Aws(const std::string& args) const {
    const auto creds = MotoFakeCredentials();
    return RunShell(
        "env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 -u "
        "AWS_REGION "
        "AWS_ACCESS_KEY_ID=" +
        creds.access_key_id + " AWS_SECRET_ACCESS_KEY=" + creds.secret_access_key +
        " AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null "
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null '" +
        aws_ + "' --endpoint-url " + moto_->endpoint() + " " + args);
  }

  std::string aws_;
};

const std::vector<std::string> kInteropKeys = {"prix/é ü+%=x.bin", "plain/data.jsonl.zst",
                                               "eq=1/a b&c.parquet", "uni/日本語.bin"};

TEST_F(AwsCliInterop, TheCliReadsWhatTheStoreWroteByteForByte) {
  auto store = OpenOrDie(Options("out"));
  std::map<std::string, std::string> written;
  for (size_t i = 0; i < kInteropKeys.size(); ++i) {
    written[kInteropKeys[i]] = PseudoRandomBytes(1000 + i * 777, i);
    ASSERT_TRUE(store->Put(kInteropKeys[i], written[kInteropKeys[i]], WriteMode::kCreateOnly).ok());
  }
  // A multipart object (small parts, as the shared moto allows).
  S3StoreOptions mp = Options("out");
  mp.multipart_threshold = 100 << 10;
  mp.part_size = 100 << 10;
  written["big/multi part.bin"] = PseudoRandomBytes(350 << 10, 99);
  ASSERT_TRUE(OpenOrDie(mp)
                  ->Put("big/multi part.bin", written["big/multi part.bin"], WriteMode::kOverwrite)
                  .ok());

  const TempDir tmp("cli-down");
  const fs::path& dir = tmp.path();
  auto [rc, out] =
      Aws("s3 cp --recursive --only-show-errors s3://" + bucket_ + "/out/ '" + dir.string() + "/'");
  ASSERT_EQ(rc, 0) << out;
  for (const auto& [key, data] : written) {
    const std::string got = ReadFile(dir / key);
    EXPECT_EQ(got.size(), data.size()) << key;
    EXPECT_TRUE(got == data) << key;
  }
  // And `aws s3 cp s3://b/k -` for one key with every awkward character.
  auto [rc2, out2] = Aws("s3 cp 's3://" + bucket_ + "/out/prix/é ü+%=x.bin' -");
  ASSERT_EQ(rc2, 0) << out2;
  EXPECT_TRUE(out2 == written["prix/é ü+%=x.bin"]);
}

TEST_F(AwsCliInterop, TheStoreReadsWhatTheCliWroteIncludingACliMultipartUpload) {
  const TempDir tmp("cli-up");
  const fs::path& dir = tmp.path();
  std::map<std::string, std::string> written;
  for (size_t i = 0; i < kInteropKeys.size(); ++i)
    written[kInteropKeys[i]] = PseudoRandomBytes(500 + i * 333, 50 + i);
  // Above the CLI's 8 MB multipart_threshold: the CLI uploads it in parts.
  written["big/cli multipart.bin"] = PseudoRandomBytes((size_t{9} << 20) + 17, 7);
  for (const auto& [key, data] : written) {
    fs::create_directories((dir / key).parent_path());
    std::ofstream(dir / key, std::ios::binary) << data;
  }
  auto [rc, out] =
      Aws("s3 cp --recursive --only-show-errors '" + dir.string() + "/' s3://" + bucket_ + "/in/");
  ASSERT_EQ(rc, 0) << out;
  auto store = OpenOrDie(Options("in"));
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> keys;
  for (const auto& info : *listed) keys.push_back(info.key);
  std::vector<std::string> expected;
  for (const auto& [key, data] : written) expected.push_back(key);
  EXPECT_EQ(keys, expected);
  for (const auto& [key, data] : written) {
    auto got = store->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    EXPECT_EQ(got->size(), data.size()) << key;
    EXPECT_TRUE(*got == data) << key;
  }
  auto head = store->Head("big/cli multipart.bin");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, static_cast<int64_t>((size_t{9} << 20) + 17));
}

// ---- signature checks on: a private moto with IAM users -------------------------

// moto 5.2.1 verifies signatures only after INITIAL_NO_AUTH_ACTION_COUNT
// requests, against access keys of its own IAM users. The suite starts its own
// moto (the switch is server-wide), creates the users and the bucket while
// checks are off, then turns them on. Keys and List prefixes here avoid the
// characters moto canonicalizes differently from S3 (see s3_store.h).
class S3StoreSignedOnMoto : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = MotoServer::Start();
    if (!started.ok()) {
      setup_error_ = started.status();
      return;
    }
    server_ = std::move(started).value().release();
    Status s = CreateBucket(server_->ClientConfig(), kBucket);
    auto writer = server_->CreateIamUser("lake-writer",
                                         R"({"Version":"2012-10-17","Statement":[)"
                                         R"({"Effect":"Allow","Action":"s3:*","Resource":"*"}]})");
    auto reader = server_->CreateIamUser(
        "lake-reader", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                       R"("Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]})");
    if (s.ok() && !writer.ok()) s = writer.status();
    if (s.ok() && !reader.ok()) s = reader.status();
    if (s.ok()) s = server_->SetSignatureChecks(true);
    if (!s.ok()) {
      setup_error_ = s;
      return;
    }
    writer_ = *writer;
    reader_ = *reader;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr || !setup_error_.ok()) {
      const std::string why = setup_error_.ToString() + (server_ ? "\n" + server_->LogTail() : "");
      if (setup_error_.code() == StatusCode::kNotFound && MotoMayBeMissing()) GTEST_SKIP() << why;
      FAIL() << "moto with signature checks could not be set up: " << why;
    }
  }
  static std::unique_ptr<S3Store> StoreAs(const sigv4::Credentials& creds,
                                          std::string source = "") {
    S3StoreOptions options;
    options.bucket = kBucket;
    options.aws = server_->ClientConfig();
    options.aws.credentials = creds;
    options.aws.credentials_source = std::move(source);
    options.retry.max_attempts = 2;
    return OpenOrDie(options);
  }

  static constexpr char kBucket[] = "signed-lake";
  static inline MotoServer* server_ = nullptr;  // owned; deleted in TearDownTestSuite
  static inline Status setup_error_;
  static inline sigv4::Credentials writer_;
  static inline sigv4::Credentials reader_;
};

TEST_F(S3StoreSignedOnMoto, CorrectlySignedRequestsSucceed) {
  auto store = StoreAs(writer_);
  const std::string data = PseudoRandomBytes(300, 1);
  ASSERT_TRUE(store->Put("plain/key-1.txt", data, WriteMode::kCreateOnly).ok());
  ASSERT_TRUE(store->Put("dir/with space.txt", "s", WriteMode::kOverwrite).ok());
  EXPECT_EQ(*store->Get("plain/key-1.txt"), data);
  EXPECT_EQ(store->Head("dir/with space.txt")->size, 1);
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_GE(listed->size(), 2u);
  EXPECT_EQ(store->Put("plain/key-1.txt", "x", WriteMode::kCreateOnly).code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(store->Delete("dir/with space.txt").ok());
  // The reader may read what the writer wrote.
  EXPECT_EQ(*StoreAs(reader_)->Get("plain/key-1.txt"), data);
}

TEST_F(S3StoreSignedOnMoto, WrongSecretKeyIsPermissionDeniedNamingTheSecret) {
  sigv4::Credentials bad = writer_;
  bad.secret_access_key = "not-the-secret-key-of-this-user-00000000";
  auto store = StoreAs(bad, "environment (AWS_ACCESS_KEY_ID)");
  Status s = store->Put("plain/x", "v", WriteMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("SignatureDoesNotMatch"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("check AWS_SECRET_ACCESS_KEY"), std::string::npos) << s.ToString();
  EXPECT_EQ(store->requests_sent(), 1);  // not retried
  auto from_file = StoreAs(bad, "/home/u/.aws/credentials [prod]");
  auto g = from_file->Get("plain/x");
  EXPECT_NE(g.status().message().find("aws_secret_access_key in /home/u/.aws/credentials [prod]"),
            std::string::npos)
      << g.status().ToString();
}

TEST_F(S3StoreSignedOnMoto, UnknownAccessKeyIsPermissionDeniedNamingTheKeyId) {
  sigv4::Credentials unknown{"AKIAUNKNOWNKEY000000", "whatever", std::nullopt};
  auto store = StoreAs(unknown, "environment (AWS_ACCESS_KEY_ID)");
  auto got = store->Get("plain/key-1.txt");
  EXPECT_EQ(got.status().code(), StatusCode::kPermissionDenied) << got.status().ToString();
  EXPECT_NE(got.status().message().find("InvalidAccessKeyId"), std::string::npos)
      << got.status().ToString();
  EXPECT_NE(got.status().message().find("check AWS_ACCESS_KEY_ID (AKIAUNKNOWNKEY000000)"),
            std::string::npos)
      << got.status().ToString();
}

TEST_F(S3StoreSignedOnMoto, DeniedActionIsPermissionDeniedNamingTheObject) {
  auto store = StoreAs(reader_);
  Status s = store->Put("plain/forbidden.txt", "v", WriteMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("AccessDenied"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("s3://signed-lake/plain/forbidden.txt"), std::string::npos)
      << s.ToString();
  EXPECT_EQ(StoreAs(writer_)->Get("plain/forbidden.txt").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tradelake
