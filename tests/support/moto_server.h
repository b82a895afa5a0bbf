// MotoServer: a local moto_server (moto 5.2: S3, IAM, ...) on 127.0.0.1, for
// tests and benchmarks that need an S3 endpoint. Header-only; needs libcurl
// (tl_store links it). Not for product code.
//
// API
//   MotoServer::Start(options) -> Result<std::unique_ptr<MotoServer>>
//       Starts `moto_server -H 127.0.0.1 -p 0` in its own process group, reads
//       the port it bound from its log, and returns once it answers HTTP.
//       The binary is FindMotoServerBinary()'s. Fails with NotFound when there
//       is no moto_server, Unavailable when it does not come up in
//       options.startup_timeout (the message carries the end of its log).
//   ~MotoServer()  SIGTERM, then SIGKILL after 3 s, to the whole process
//       group; waits for it. The child also gets SIGKILL if the thread that
//       started it dies (PR_SET_PDEATHSIG), so a crashed test leaves no
//       server behind: start it from the main thread.
//   endpoint()     "http://127.0.0.1:<port>"
//   ClientConfig() an AwsConfig for S3Store/CreateBucket: the fake key pair
//       below, us-east-1, endpoint(), path-style.
//   SetSignatureChecks(bool)  POST /moto-api/reset-auth. Off (the default),
//       moto accepts any signature. On, every request must be signed with an
//       access key of an IAM user (CreateIamUser) whose policies allow the
//       action; otherwise moto answers 403 SignatureDoesNotMatch,
//       InvalidAccessKeyId or AccessDenied. Process-wide in that server.
//   CreateIamUser(name, policy_json) -> Result<sigv4::Credentials>
//       IAM CreateUser + PutUserPolicy + CreateAccessKey; call it while
//       signature checks are off.
//   Reset()        POST /moto-api/reset: forget every bucket and IAM user.
//   LogTail(n)     the last n bytes of moto's log, for failure messages.
//
//   SharedMotoServer(&status) -> MotoServer*
//       One server per process, started on first use and stopped at exit;
//       nullptr (with *status set) when it cannot start. Tests that share it
//       must use their own bucket names (UniqueBucketName()) and must not
//       turn signature checks on (start a private server for that). With
//       TRADELAKE_MOTO_ENDPOINT=http://127.0.0.1:PORT set, it attaches to
//       that already running server instead (e.g. one moto for a whole
//       `ctest -j` run, where every test is its own process) and never stops
//       it. Start that server with the shared server's environment
//       (kSharedMotoEnv): S3_UPLOAD_PART_MIN_SIZE=65536
//       MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=33554432 moto_server -H 127.0.0.1 -p PORT
//   FindMotoServerBinary(env): $TRADELAKE_MOTO_SERVER, then moto_server on
//       $PATH, then ./.venv/bin and /work/main/.venv/bin.
//   MotoMayBeMissing(): TRADELAKE_ALLOW_NO_MOTO=1. Tests fail loudly when moto
//       is missing (CI must run them) unless this is set; then they skip.
//       TL_REQUIRE_SHARED_MOTO(var) does exactly that in a test body or SetUp.
//
// How moto checks signatures (moto 5.2.1): INITIAL_NO_AUTH_ACTION_COUNT=N in
// its environment lets the first N requests through unchecked and checks
// every later one (default: infinite, i.e. never); /moto-api/reset-auth sets N
// at run time and restarts the count, which is what SetSignatureChecks uses.
// A checked request needs an access key that exists in moto's IAM, so users
// and keys are made while checks are off. See s3_store.h for the requests
// moto verifies differently from S3.
//
// Thread-safety: the accessors are const and thread-safe; Start, Reset,
// SetSignatureChecks and CreateIamUser may run concurrently with S3 traffic.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/time.h"
#include "store/aws_config.h"
#include "store/sigv4.h"

extern char** environ;

namespace tradelake {

// The fake key pair the S3 tests use (AWS's documentation example key).
inline sigv4::Credentials MotoFakeCredentials() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", std::nullopt};
}

inline bool MotoMayBeMissing() {
  const char* v = std::getenv("TRADELAKE_ALLOW_NO_MOTO");
  return v != nullptr && std::string_view(v) == "1";
}

// A bucket name no other test in this or another process uses: "<stem>-<random>".
inline std::string UniqueBucketName(std::string_view stem) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string name(stem.substr(0, 40));
  name += '-';
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < 12; ++i) name += kDigits[rng() % 36];
  return name;
}

inline Result<std::string> FindMotoServerBinary(const EnvLookup& env = ProcessEnv()) {
  auto executable = [](const std::string& path) { return ::access(path.c_str(), X_OK) == 0; };
  if (auto explicit_path = env("TRADELAKE_MOTO_SERVER")) {
    if (executable(*explicit_path)) return *explicit_path;
    return NotFound("TRADELAKE_MOTO_SERVER=" + *explicit_path + " is not an executable file");
  }
  std::vector<std::string> tried;
  if (auto path = env("PATH")) {
    std::stringstream dirs(*path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (dir.empty()) continue;
      const std::string candidate = dir + "/moto_server";
      if (executable(candidate)) return candidate;
    }
    tried.push_back("$PATH");
  }
  for (const std::string& candidate :
       {std::string(".venv/bin/moto_server"), std::string("/work/main/.venv/bin/moto_server")}) {
    if (executable(candidate)) return candidate;
    tried.push_back(candidate);
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t;
  return NotFound(
      "moto_server not found (looked at $TRADELAKE_MOTO_SERVER, " + where +
      "); install moto[server]==5.2.* (pip install 'moto[server]') or set TRADELAKE_MOTO_SERVER");
}

struct MotoServerOptions {
  // Extra environment for moto, e.g. {"S3_UPLOAD_PART_MIN_SIZE", "65536"}.
  std::vector<std::pair<std::string, std::string>> env;
  std::chrono::milliseconds startup_timeout{60000};
  // Empty: FindMotoServerBinary().
  std::string binary;
};

namespace moto_detail {

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

inline size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct HttpAnswer {
  long status = 0;
  std::string body;
};

// One plain, unsigned HTTP request to moto (control plane and IAM; S3 goes
// through S3Store). Not retried.
inline Result<HttpAnswer> Http(const std::string& method, const std::string& url,
                               const std::string& body, const std::vector<std::string>& headers) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlEasyDeleter> h(curl_easy_init());
  if (!h) return Internal("curl_easy_init failed");
  std::unique_ptr<curl_slist, CurlSlistDeleter> list;
  for (const auto& line : headers) {
    curl_slist* head = curl_slist_append(list.get(), line.c_str());
    if (head == nullptr) return Internal("curl_slist_append failed");
    if (!list) list.reset(head);
  }
  HttpAnswer answer;
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &answer.body);
  if (method != "GET") {
    curl_easy_setopt(h.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) return Unavailable(method + " " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

inline std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += sigv4::UriEncode(k, true) + "=" + sigv4::UriEncode(v, true);
  }
  return out;
}

// The text of the first <tag>...</tag> in `xml` (IAM answers hold no entities
// in the fields read here).
inline std::string Between(const std::string& xml, const std::string& tag) {
  const size_t start = xml.find("<" + tag + ">");
  if (start == std::string::npos) return "";
  const size_t from = start + tag.size() + 2;
  const size_t end = xml.find("</" + tag + ">", from);
  return end == std::string::npos ? "" : xml.substr(from, end - from);
}

}  // namespace moto_detail

class MotoServer {
 public:
  static Result<std::unique_ptr<MotoServer>> Start(const MotoServerOptions& options = {}) {
    std::string binary = options.binary;
    if (binary.empty()) {
      ASSIGN_OR_RETURN(binary, FindMotoServerBinary());
    }
    std::unique_ptr<MotoServer> server(new MotoServer());
    char log_template[] = "/tmp/tradelake-moto-XXXXXX";
    const int log_fd = ::mkstemp(log_template);
    if (log_fd < 0)
      return IOError(std::string("cannot create moto's log file: ") + std::strerror(errno));
    server->log_path_ = log_template;
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

    // Everything the child needs is built before fork(): after it only
    // async-signal-safe calls are allowed.
    std::vector<std::string> args = {binary, "-H", "127.0.0.1", "-p", "0"};
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      bool overridden = false;
      for (const auto& [k, v] : options.env) overridden = overridden || entry.starts_with(k + "=");
      if (!overridden) env_strings.emplace_back(entry);
    }
    for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
    env_strings.emplace_back("PYTHONUNBUFFERED=1");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(log_fd);
      if (null_fd >= 0) ::close(null_fd);
      return Internal(std::string("fork failed: ") + std::strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      if (null_fd >= 0) ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also from the parent, so kill(-pid) works at once
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    server->pid_ = pid;
    server->owned_ = true;

    const auto deadline = std::chrono::steady_clock::now() + options.startup_timeout;
    while (server->port_ == 0) {
      int wstatus = 0;
      if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
        server->pid_ = 0;
        return Unavailable("moto_server (" + binary + ") exited during start-up; its log:\n" +
                           server->LogTail());
      }
      const std::string log = server->LogTail(1 << 16);
      const std::string marker = "Running on http://127.0.0.1:";
      if (const size_t at = log.find(marker); at != std::string::npos) {
        server->port_ = std::atoi(log.c_str() + at + marker.size());
      } else if (std::chrono::steady_clock::now() > deadline) {
        return Unavailable("moto_server (" + binary + ") did not start within " +
                           std::to_string(options.startup_timeout.count()) + " ms; its log:\n" +
                           server->LogTail());
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    server->endpoint_ = "http://127.0.0.1:" + std::to_string(server->port_);
    RETURN_IF_ERROR(server->WaitUntilAnswering(deadline));
    return server;
  }

  // Attaches to a moto that is already running at `endpoint`; never stops it.
  static Result<std::unique_ptr<MotoServer>> Attach(std::string endpoint) {
    while (endpoint.ends_with('/')) endpoint.pop_back();
    std::unique_ptr<MotoServer> server(new MotoServer());
    server->endpoint_ = std::move(endpoint);
    const size_t colon = server->endpoint_.rfind(':');
    server->port_ =
        colon == std::string::npos ? 0 : std::atoi(server->endpoint_.c_str() + colon + 1);
    RETURN_IF_ERROR(
        server->WaitUntilAnswering(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    return server;
  }

  ~MotoServer() {
    if (owned_ && pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      bool exited = false;
      for (int i = 0; i < 150 && !exited; ++i) {
        int wstatus = 0;
        exited = ::waitpid(pid_, &wstatus, WNOHANG) == pid_;
        if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ::kill(-pid_, SIGKILL);  // the rest of the group, and moto itself if it lingers
      if (!exited) ::waitpid(pid_, nullptr, 0);
    }
    if (!log_path_.empty()) ::unlink(log_path_.c_str());
  }
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  AwsConfig ClientConfig() const {
    AwsConfig config;
    config.credentials = MotoFakeCredentials();
    config.credentials_source = "moto test credentials";
    config.region = "us-east-1";
    config.endpoint_url = endpoint_;
    config.addressing_style = S3AddressingStyle::kPath;
    return config;
  }

  std::string LogTail(size_t max_bytes = 4000) const {
    if (log_path_.empty()) return "(attached to a running moto: no log)";
    std::ifstream in(log_path_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
  }

  Status SetSignatureChecks(bool on) {
    ASSIGN_OR_RETURN(auto answer,
                     moto_detail::Http("POST", endpoint_ + "/moto-api/reset-auth", on ? "0" : "inf",
                                       {"Content-Type: text/plain"}));
    if (answer.status != 200)
      return Internal("moto reset-auth: HTTP " + std::to_string(answer.status) + " " + answer.body);
    return Status::OK();
  }

  Status Reset() {
    ASSIGN_OR_RETURN(auto answer, moto_detail::Http("POST", endpoint_ + "/moto-api/reset", "", {}));
    if (answer.status != 200)
      return Internal("moto reset: HTTP " + std::to_string(answer.status) + " " + answer.body);
    return Status::OK();
  }

  Result<sigv4::Credentials> CreateIamUser(std::string_view name, std::string_view policy_json) {
    const std::string user(name);
    ASSIGN_OR_RETURN(std::string created, Iam({{"Action", "CreateUser"}, {"UserName", user}}));
    (void)created;
    ASSIGN_OR_RETURN(std::string put, Iam({{"Action", "PutUserPolicy"},
                                           {"UserName", user},
                                           {"PolicyName", user + "-policy"},
                                           {"PolicyDocument", std::string(policy_json)}}));
    (void)put;
    ASSIGN_OR_RETURN(std::string key, Iam({{"Action", "CreateAccessKey"}, {"UserName", user}}));
    sigv4::Credentials creds{moto_detail::Between(key, "AccessKeyId"),
                             moto_detail::Between(key, "SecretAccessKey"), std::nullopt};
    if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
      return Internal("moto IAM CreateAccessKey: no key in the answer: " + key);
    }
    return creds;
  }

 private:
  MotoServer() = default;

  Status WaitUntilAnswering(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto answer = moto_detail::Http("GET", endpoint_ + "/moto-api/", "", {});
      if (answer.ok() && answer->status == 200) return Status::OK();
      if (std::chrono::steady_clock::now() > deadline) {
        return Unavailable(
            "moto at " + endpoint_ + " does not answer: " +
            (answer.ok() ? "HTTP " + std::to_string(answer->status) : answer.status().message()) +
            "; its log:\n" + LogTail());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // A signed IAM Query API call (moto routes by the credential scope's service).
  Result<std::string> Iam(std::vector<std::pair<std::string, std::string>> fields) {
    fields.emplace_back("Version", "2010-05-08");
    const std::string body = moto_detail::FormEncode(fields);
    const std::string host = "127.0.0.1:" + std::to_string(port_);
    sigv4::SigningRequest req;
    req.method = "POST";
    req.path = "/";
    req.headers = {{"Host", host},
                   {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    req.payload_hash = sigv4::Sha256Hex(body);
    sigv4::SigningParams params;
    params.credentials = MotoFakeCredentials();
    params.amz_date = sigv4::FormatAmzDate(NowMicros());
    params.region = "us-east-1";
    params.service = "iam";
    params.normalize_path = true;
    params.double_encode_path = true;
    params.add_content_sha256_header = false;
    ASSIGN_OR_RETURN(sigv4::SignedRequest signed_req, sigv4::Sign(req, params));
    std::vector<std::string> headers;
    for (const auto& h : req.headers) headers.push_back(h.name + ": " + h.value);
    for (const auto& h : signed_req.headers_to_add) headers.push_back(h.name + ": " + h.value);
    ASSIGN_OR_RETURN(auto answer, moto_detail::Http("POST", endpoint_ + "/", body, headers));
    if (answer.status != 200) {
      return Internal("moto IAM " + fields.front().second + ": HTTP " +
                      std::to_string(answer.status) + " " + answer.body);
    }
    return answer.body;
  }

  std::string endpoint_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = 0;
  bool owned_ = false;
};

// The shared server's environment: multipart parts down to 64 KiB keep
// multipart tests fast (S3 itself needs 5 MiB), objects stay in memory up to
// 32 MiB.
inline const std::vector<std::pair<std::string, std::string>> kSharedMotoEnv = {
    {"S3_UPLOAD_PART_MIN_SIZE", "65536"}, {"MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", "33554432"}};

// The per-process shared server (see the top of this file).
inline MotoServer* SharedMotoServer(Status* status = nullptr) {
  static std::mutex mu;
  static std::unique_ptr<MotoServer> server;  // stopped by static destruction at exit
  static Status error;
  static bool tried = false;
  std::lock_guard lock(mu);
  if (!tried) {
    tried = true;
    Result<std::unique_ptr<MotoServer>> started = Internal("not started");
    if (const char* endpoint = std::getenv("TRADELAKE_MOTO_ENDPOINT");
        endpoint != nullptr && *endpoint != '\0') {
      started = MotoServer::Attach(endpoint);
    } else {
      MotoServerOptions options;
      options.env = {kSharedMotoEnv.begin(), kSharedMotoEnv.end()};
      started = MotoServer::Start(options);
    }
    if (started.ok()) {
      server = std::move(started).value();
    } else {
      error = started.status();
    }
  }
  if (status != nullptr) *status = server ? Status::OK() : error;
  return server.get();
}

}  // namespace tradelake

// In a test body or SetUp(): declares `MotoServer* var` pointing at the
// shared server, or fails the test (skips it with TRADELAKE_ALLOW_NO_MOTO=1).
#define TL_REQUIRE_SHARED_MOTO(var)                                                              \
  ::tradelake::Status var##_status;                                                              \
  ::tradelake::MotoServer* var = ::tradelake::SharedMotoServer(&var##_status);                   \
  if (var == nullptr) {                                                                          \
    if (::tradelake::MotoMayBeMissing())                                                         \
      GTEST_SKIP() << "moto unavailable: " << var##_status.ToString();                           \
    FAIL() << "moto is required for the S3 tests (set TRADELAKE_ALLOW_NO_MOTO=1 to skip them): " \
           << var##_status.ToString();                                                           \
  }
