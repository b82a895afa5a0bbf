// S3 benchmark: upload and download throughput of tradelake's S3Store next to
// `aws s3 cp --recursive` on the same data, against the same private moto
// server, measured in the same run.
//
//   Shapes (--shapes, default "8m,64k"): --total-mb MiB (default 1024, i.e.
//   1 GiB) in objects of 8 MiB (128 objects) and of 64 KiB (16,384 objects),
//   deterministic pseudo-random (incompressible) bytes.
//   For each shape:
//     1. tradelake: S3Store::Put (kOverwrite) of every object, then Get of
//        every object, from --threads worker threads (default 8; "8,1" adds a
//        single-threaded pass) sharing one S3Store; every downloaded object is
//        compared byte for byte with what was uploaded.
//     2. aws CLI, defaults untouched (max_concurrent_requests 10, multipart
//        threshold and chunk size 8 MB): the objects as files in a temp
//        folder, `aws s3 cp --recursive <dir> s3://<bucket>/cli/` and back
//        with `aws s3 cp --recursive s3://<bucket>/cli/ <dir2>`; every file is
//        compared byte for byte with the source.
//   moto is reset (and the bucket re-created) before every upload, so each
//   uploader starts from an empty bucket and moto holds at most one copy.
//
// Besides wall time, MiB/s and objects/s, each phase reports who spent the
// CPU: the client (getrusage of this process for tradelake, wait4 of the aws
// process for the CLI) and moto (/proc/<pid>/stat of its process group), the
// requests moto logged (by method) and the TCP connections to moto left at
// the end of the phase (established / TIME_WAIT: connection reuse shows as a
// handful, a connection per request as thousands).
//
// Duration: moto handles roughly 100-300 small requests per second here, so
// the default 1 GiB run takes about 10 minutes on 2 cores, most of it the
// 16,384-object shape (the aws CLI's two phases about 3 minutes each). Every
// phase stops after --phase-timeout-s (default 600) and is then reported as
// failed. --total-mb 128 gives a run of about a minute.
//
// Usage: s3_bench [--total-mb N] [--shapes 8m,64k] [--threads 8[,1]]
//                 [--phase-timeout-s S] [--aws PATH] [--no-aws]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "support/moto_server.h"
#include "store/s3_store.h"

extern char** environ;

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double SelfCpu() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Minor page faults of this process so far.
int64_t SelfMinorFaults() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_minflt);
}

// ---- measuring moto from the outside -------------------------------------------

// User + system CPU seconds of every live process in process group `pgid`
// (moto runs in its own group; the pyenv shims exec into python, same pid).
double GroupCpu(pid_t pgid) {
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::ifstream in(it->path() / "stat");
    std::string text;
    if (!std::getline(in, text)) continue;
    const size_t close = text.rfind(')');
    if (close == std::string::npos || close + 2 > text.size()) continue;
    std::istringstream rest(text.substr(close + 2));
    std::vector<std::string> f;
    for (std::string t; rest >> t;) f.push_back(t);
    // f[0] is field 3 (state); pgrp is field 5, utime 14, stime 15.
    if (f.size() < 13) continue;
    if (std::strtol(f[2].c_str(), nullptr, 10) != pgid) continue;
    total += (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / tick;
  }
  return total;
}

// VmRSS of `pid` in MiB (0 if unknown).
double RssMiB(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

struct TcpCount {
  int established = 0;  // client sockets to moto's port
  int time_wait = 0;    // closed connections to or from moto's port, either side
};

TcpCount TcpWith(int port) {
  TcpCount c;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  auto port_of = [](const std::string& addr) {
    const size_t colon = addr.find(':');
    return colon == std::string::npos ? -1 : static_cast<int>(std::strtol(addr.c_str() + colon + 1, nullptr, 16));
  };
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state)) continue;
    const int lp = port_of(local), rp = port_of(remote);
    if (state == "01" && rp == port) ++c.established;
    if (state == "06" && (lp == port || rp == port)) ++c.time_wait;
  }
  return c;
}

// Requests moto logged (werkzeug: `... "PUT /bucket/key HTTP/1.1" 200 -`).
struct RequestCounts {
  int64_t total = 0;
  int64_t not_2xx = 0;
  std::map<std::string, int64_t> by_method;

  std::string Describe() const {
    std::string out;
    for (const auto& [m, n] : by_method) out += fmt::format("{}{} {}", out.empty() ? "" : " + ", n, m);
    if (not_2xx > 0) out += fmt::format(" ({} not 2xx)", not_2xx);
    return out.empty() ? "-" : out;
  }
};

class MotoLog {
 public:
  explicit MotoLog(const MotoServer* moto) : moto_(moto) {}
  // Skips everything logged so far.
  void Mark() { (void)Read(); }
  // The requests logged since the last Mark() or Read().
  RequestCounts Read() {
    const std::string all = moto_->LogTail(SIZE_MAX);
    RequestCounts c;
    const size_t end = all.rfind('\n');
    if (end == std::string::npos || end + 1 <= offset_) return c;
    std::string_view text(all.data() + offset_, end + 1 - offset_);
    offset_ = end + 1;
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      const std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl + 1);
      const size_t q = line.find("] \"");
      if (q == std::string_view::npos) continue;
      const std::string_view request = line.substr(q + 3);
      const size_t sp = request.find(' ');
      if (sp == std::string_view::npos || request.substr(sp + 1).starts_with("/moto-api")) continue;
      ++c.total;
      ++c.by_method[std::string(request.substr(0, sp))];
      const size_t close = request.find("\" ");
      if (close != std::string_view::npos) {
        const long status = std::strtol(std::string(request.substr(close + 2, 3)).c_str(), nullptr, 10);
        if (status < 200 || status >= 300) ++c.not_2xx;
      }
    }
    return c;
  }

 private:
  const MotoServer* moto_;
  size_t offset_ = 0;
};

// ---- data ----------------------------------------------------------------------

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string MakeObject(uint64_t seed, uint64_t size) {
  std::string out(size, '\0');
  uint64_t state = seed;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint64_t v = SplitMix64(state);
    std::memcpy(out.data() + i, &v, 8);
  }
  if (i < size) {
    const uint64_t v = SplitMix64(state);
    std::memcpy(out.data() + i, &v, size - i);
  }
  return out;
}

std::string KeyOf(size_t i) { return fmt::format("obj-{:06d}.bin", i); }

std::string SizeName(uint64_t bytes) {
  if (bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  if (bytes % kKiB == 0) return fmt::format("{} KiB", bytes / kKiB);
  return fmt::format("{} B", bytes);
}

// "8m" -> 8 MiB, "64k" -> 64 KiB, "1000" -> 1000 bytes; 0 if malformed.
uint64_t ParseSize(const std::string& text) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return 0;
  const std::string unit(end);
  if (unit.empty()) return n;
  if (unit == "k" || unit == "K") return n * kKiB;
  if (unit == "m" || unit == "M") return n * kMiB;
  return 0;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// ---- one measured phase ----------------------------------------------------------

struct Row {
  std::string who;
  std::string direction;
  std::string concurrency;
  double wall = 0;
  double client_cpu = 0;
  int64_t client_minflt = 0;  // minor page faults of the client during the phase
  double moto_cpu = 0;
  int64_t objects = 0;  // completed and (downloads) verified
  int64_t planned = 0;
  uint64_t bytes = 0;
  RequestCounts requests;
  int64_t client_requests = -1;  // S3Store::requests_sent(), tradelake only
  TcpCount tcp;
  std::string failure;  // empty: every object transferred (and verified)

  bool ok() const { return failure.empty() && objects == planned; }
  double MiBps() const { return wall > 0 ? static_cast<double>(bytes) / kMiB / wall : 0; }
  double ObjPerSec() const { return wall > 0 ? static_cast<double>(objects) / wall : 0; }
};

struct Env {
  MotoServer* moto = nullptr;
  MotoLog* log = nullptr;
  std::string bucket;
  std::chrono::seconds phase_timeout{600};
  int cores = 2;
};

void Progress(const std::string& text) {
  std::printf("  %s\n", text.c_str());
  std::fflush(stdout);
}

// Fills in the measurements moto and the kernel give after a phase.
void FinishRow(Env& env, Row* row, double moto_cpu0) {
  row->moto_cpu = GroupCpu(env.moto->pid()) - moto_cpu0;
  row->tcp = TcpWith(env.moto->port());
  // werkzeug writes its log line just after the response: let it land.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  row->requests = env.log->Read();
}

Row RunStorePhase(Env& env, S3Store* store, const std::vector<std::string>& objects, bool upload, int threads) {
  Row row;
  row.who = "tradelake S3Store";
  row.direction = upload ? "upload" : "download";
  row.concurrency = fmt::format("{} thr", threads);
  row.planned = static_cast<int64_t>(objects.size());
  Progress(fmt::format("tradelake {} of {} objects, {} threads ...", row.direction, objects.size(), threads));

  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<int> finished{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::string first_error;
  std::vector<Clock::time_point> ends(static_cast<size_t>(threads));
  auto fail = [&](const std::string& message) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = message;
    stop.store(true);
  };
  auto work = [&](size_t t) {
    while (!stop.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= objects.size()) break;
      if (upload) {
        Status s = store->Put(KeyOf(i), objects[i], WriteMode::kOverwrite);
        if (!s.ok()) {
          fail(s.ToString());
          break;
        }
      } else {
        Result<std::string> got = store->Get(KeyOf(i));
        if (!got.ok()) {
          fail(got.status().ToString());
          break;
        }
        if (got->size() != objects[i].size() || std::memcmp(got->data(), objects[i].data(), got->size()) != 0) {
          fail(fmt::format("{}: downloaded {} bytes that differ from the {} uploaded", KeyOf(i), got->size(),
                           objects[i].size()));
          break;
        }
      }
      bytes.fetch_add(objects[i].size());
      done.fetch_add(1);
    }
    ends[t] = Clock::now();
    finished.fetch_add(1);
  };

  env.log->Mark();
  const int64_t requests0 = store->requests_sent();
  const double moto0 = GroupCpu(env.moto->pid());
  const double cpu0 = SelfCpu();
  const int64_t minflt0 = SelfMinorFaults();
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, static_cast<size_t>(t));
  Clock::time_point last_report = start;
  while (finished.load() < threads) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const Clock::time_point now = Clock::now();
    if (now - last_report >= std::chrono::seconds(30)) {
      last_report = now;
      Progress(fmt::format("  ... {:.0f} s: {}/{} objects", Seconds(now - start), done.load(), objects.size()));
    }
    if (now - start > env.phase_timeout && !stop.load()) {
      fail(fmt::format("stopped after the phase limit of {} s (--phase-timeout-s)", env.phase_timeout.count()));
    }
  }
  for (auto& th : pool) th.join();
  row.wall = Seconds(*std::max_element(ends.begin(), ends.end()) - start);
  row.client_cpu = SelfCpu() - cpu0;
  row.client_minflt = SelfMinorFaults() - minflt0;
  row.client_requests = store->requests_sent() - requests0;
  row.objects = done.load();
  row.bytes = bytes.load();
  row.failure = first_error;
  FinishRow(env, &row, moto0);
  Progress(fmt::format("  {:.2f} s, {:.1f} MiB/s{}", row.wall, row.MiBps(),
                       row.ok() ? "" : "  FAILED: " + row.failure));
  return row;
}

// ---- the aws CLI -------------------------------------------------------------------

struct ChildRun {
  int exit_code = -1;  // -signal if a signal ended it
  bool timed_out = false;
  double wall = 0;
  double cpu = 0;
  int64_t minflt = 0;
  std::string err;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv (argv[0] a path) with exactly `env`, stdout/stderr to files;
// kills it (SIGKILL, that pid only) after `timeout`.
ChildRun RunChild(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& out,
                  const fs::path& err, std::chrono::seconds timeout, const std::string& what) {
  ChildRun r;
  std::vector<std::string> a = args, e = env;
  std::vector<char*> argv, envp;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : e) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const Clock::time_point start = Clock::now();
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = fmt::format("cannot start {}: {}", args[0], std::strerror(rc));
    return r;
  }
  int status = 0;
  struct rusage ru {};
  Clock::time_point last_report = start;
  for (;;) {
    const pid_t w = ::wait4(pid, &status, WNOHANG, &ru);
    const Clock::time_point now = Clock::now();
    if (w == pid) {
      r.wall = Seconds(now - start);
      break;
    }
    if (w < 0) {
      r.err = fmt::format("wait4: {}", std::strerror(errno));
      return r;
    }
    if (now - start > timeout) {
      ::kill(pid, SIGKILL);
      ::wait4(pid, &status, 0, &ru);
      r.timed_out = true;
      r.wall = Seconds(Clock::now() - start);
      break;
    }
    if (!what.empty() && now - last_report >= std::chrono::seconds(30)) {
      last_report = now;
      Progress(fmt::format("  ... {:.0f} s: {} still running", Seconds(now - start), what));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  r.minflt = static_cast<int64_t>(ru.ru_minflt);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.exit_code = -WTERMSIG(status);
  r.err = ReadFile(err);
  return r;
}

// The first executable `name` on $PATH, or "".
std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct AwsCli {
  std::string binary;
  std::vector<std::string> env;  // this process's, minus AWS_*, plus moto's fake keys
  std::string endpoint;
  fs::path scratch;  // for its stdout/stderr

  ChildRun Run(const std::vector<std::string>& args, std::chrono::seconds timeout, const std::string& what,
               std::string* out = nullptr) const {
    std::vector<std::string> argv = {binary, "--endpoint-url", endpoint};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildRun r = RunChild(argv, env, scratch / "aws.out", scratch / "aws.err", timeout, what);
    if (out != nullptr) *out = ReadFile(scratch / "aws.out");
    return r;
  }
};

AwsCli MakeAwsCli(const std::string& binary, const std::string& endpoint, const fs::path& scratch) {
  AwsCli cli;
  cli.binary = binary;
  cli.endpoint = endpoint;
  cli.scratch = scratch;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("AWS_")) continue;
    cli.env.emplace_back(entry);
  }
  const sigv4::Credentials creds = MotoFakeCredentials();
  cli.env.push_back("AWS_ACCESS_KEY_ID=" + creds.access_key_id);
  cli.env.push_back("AWS_SECRET_ACCESS_KEY=" + creds.secret_access_key);
  cli.env.push_back("AWS_DEFAULT_REGION=us-east-1");
  cli.env.push_back("AWS_CONFIG_FILE=/dev/null");
  cli.env.push_back("AWS_SHARED_CREDENTIALS_FILE=/dev/null");
  return cli;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Row RunAwsPhase(Env& env, const AwsCli& cli, const std::vector<std::string>& objects, bool upload,
                const fs::path& up_dir, const fs::path& down_dir) {
  Row row;
  row.who = "aws s3 cp";
  row.direction = upload ? "upload" : "download";
  row.concurrency = "10 (default)";
  row.planned = static_cast<int64_t>(objects.size());
  const std::string remote = fmt::format("s3://{}/cli/", env.bucket);
  Progress(fmt::format("aws s3 cp --recursive {} of {} files ...", row.direction, objects.size()));
  env.log->Mark();
  const double moto0 = GroupCpu(env.moto->pid());
  const ChildRun r = upload ? cli.Run({"s3", "cp", "--recursive", "--only-show-errors", up_dir.string(), remote},
                                      env.phase_timeout, "aws s3 cp")
                            : cli.Run({"s3", "cp", "--recursive", "--only-show-errors", remote, down_dir.string()},
                                      env.phase_timeout, "aws s3 cp");
  row.wall = r.wall;
  row.client_cpu = r.cpu;
  row.client_minflt = r.minflt;
  FinishRow(env, &row, moto0);
  if (r.timed_out) {
    row.failure = fmt::format("killed after the phase limit of {} s (--phase-timeout-s)", env.phase_timeout.count());
  } else if (r.exit_code != 0) {
    row.failure = fmt::format("exit code {}: {}", r.exit_code, Trim(r.err).substr(0, 2000));
  }
  // What the CLI transferred, checked byte for byte against the source.
  int64_t good = 0;
  uint64_t bytes = 0;
  int64_t bad = 0;
  std::string first_bad;
  if (upload) {
    // Counted from what moto answered 2xx to; verified by the download.
    if (row.failure.empty()) {
      good = row.planned;
      for (const auto& o : objects) bytes += o.size();
    }
  } else {
    for (size_t i = 0; i < objects.size(); ++i) {
      const fs::path p = down_dir / KeyOf(i);
      const std::string got = ReadFile(p);
      if (got == objects[i]) {
        ++good;
        bytes += got.size();
      } else {
        ++bad;
        if (first_bad.empty()) first_bad = fmt::format("{} ({} bytes, expected {})", p.string(), got.size(), objects[i].size());
      }
    }
    std::error_code ec;
    int64_t files = 0;
    for (fs::recursive_directory_iterator it(down_dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file()) ++files;
    }
    if (bad > 0 && row.failure.empty()) {
      row.failure = fmt::format("{} downloaded files missing or different from the source, e.g. {}", bad, first_bad);
    } else if (files != row.planned && row.failure.empty()) {
      row.failure = fmt::format("{} files downloaded, expected {}", files, row.planned);
    }
  }
  row.objects = good;
  row.bytes = bytes;
  Progress(fmt::format("  {:.2f} s, {:.1f} MiB/s{}", row.wall, row.MiBps(),
                       row.ok() ? "" : "  FAILED: " + row.failure));
  return row;
}

// ---- reporting -----------------------------------------------------------------

void PrintTable(const std::string& title, const std::vector<Row>& rows, int cores) {
  std::printf("\n%s\n", title.c_str());
  std::printf("%-18s %-9s %-13s %9s %9s %10s  %s\n", "uploader", "direction", "concurrency", "seconds", "MiB/s",
              "objects/s", "verified");
  for (const Row& r : rows) {
    std::string verified =
        r.ok() ? (r.direction == "download" ? fmt::format("{}/{} byte-identical", r.objects, r.planned)
                                            : fmt::format("{}/{} (checked by the download)", r.objects, r.planned))
               : "FAILED: " + r.failure;
    std::printf("%-18s %-9s %-13s %9.2f %9.1f %10.1f  %s\n", r.who.c_str(), r.direction.c_str(),
                r.concurrency.c_str(), r.wall, r.MiBps(), r.ObjPerSec(), verified.c_str());
  }
  std::printf("\nwho spent the CPU (%d cores shared by client and moto):\n", cores);
  std::printf("%-18s %-9s %-13s %8s %8s %7s %7s %9s %9s %8s %10s  %s\n", "uploader", "direction", "concurrency",
              "client s", "moto s", "moto%1c", "box %", "moto/req", "client/r", "cl. flt", "tcp est/tw",
              "requests moto logged");
  for (const Row& r : rows) {
    const double per_req = r.requests.total > 0 ? 1000.0 * r.moto_cpu / static_cast<double>(r.requests.total) : 0;
    const double client_per_req =
        r.requests.total > 0 ? 1000.0 * r.client_cpu / static_cast<double>(r.requests.total) : 0;
    std::string requests = r.requests.Describe();
    if (r.client_requests >= 0) requests += fmt::format(" [S3Store sent {}]", r.client_requests);
    std::printf("%-18s %-9s %-13s %8.2f %8.2f %6.0f%% %6.0f%% %7.2fms %7.2fms %8lld %5d/%-4d  %s\n", r.who.c_str(),
                r.direction.c_str(), r.concurrency.c_str(), r.client_cpu, r.moto_cpu,
                r.wall > 0 ? 100.0 * r.moto_cpu / r.wall : 0,
                r.wall > 0 ? 100.0 * (r.moto_cpu + r.client_cpu) / (cores * r.wall) : 0, per_req, client_per_req,
                static_cast<long long>(r.client_minflt), r.tcp.established, r.tcp.time_wait, requests.c_str());
  }
}

const Row* Find(const std::vector<Row>& rows, const std::string& who_prefix, const std::string& direction,
                const std::string& concurrency = "") {
  for (const Row& r : rows) {
    if (r.who.starts_with(who_prefix) && r.direction == direction &&
        (concurrency.empty() || r.concurrency == concurrency))
      return &r;
  }
  return nullptr;
}

void PrintRatios(const std::vector<Row>& rows, const std::vector<int>& threads) {
  for (int t : threads) {
    std::string line = fmt::format("ratio tradelake ({} thr) / aws s3 cp, throughput (>1: tradelake faster):", t);
    for (const char* dir : {"upload", "download"}) {
      const Row* tl = Find(rows, "tradelake", dir, fmt::format("{} thr", t));
      const Row* aws = Find(rows, "aws", dir);
      if (tl != nullptr && aws != nullptr && tl->ok() && aws->ok() && tl->wall > 0) {
        line += fmt::format("  {} {:.2f}x", dir, aws->wall / tl->wall);
      } else {
        line += fmt::format("  {} n/a", dir);
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

Status ResetBucket(Env& env) {
  RETURN_IF_ERROR(env.moto->Reset());
  return CreateBucket(env.moto->ClientConfig(), env.bucket);
}

Status WriteFiles(const fs::path& dir, const std::vector<std::string>& objects) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return IOError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  for (size_t i = 0; i < objects.size(); ++i) {
    std::ofstream out(dir / KeyOf(i), std::ios::binary | std::ios::trunc);
    out.write(objects[i].data(), static_cast<std::streamsize>(objects[i].size()));
    if (!out) return IOError(fmt::format("cannot write {}", (dir / KeyOf(i)).string()));
  }
  return Status::OK();
}

struct Options {
  uint64_t total_mb = 1024;
  std::vector<std::string> shapes = {"8m", "64k"};
  std::vector<int> threads = {8};
  int phase_timeout_s = 600;
  std::string aws;
  bool no_aws = false;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "s3_bench: %s\nusage: s3_bench [--total-mb N] [--shapes 8m,64k] [--threads 8[,1]] "
               "[--phase-timeout-s S] [--aws PATH] [--no-aws]\n",
               why);
  return 2;
}

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--no-aws") {
      opt.no_aws = true;
    } else if (arg == "--total-mb" && has_value) {
      opt.total_mb = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--shapes" && has_value) {
      opt.shapes = SplitComma(argv[++i]);
    } else if (arg == "--threads" && has_value) {
      opt.threads.clear();
      for (const auto& t : SplitComma(argv[++i])) opt.threads.push_back(std::atoi(t.c_str()));
    } else if (arg == "--phase-timeout-s" && has_value) {
      opt.phase_timeout_s = std::atoi(argv[++i]);
    } else if (arg == "--aws" && has_value) {
      opt.aws = argv[++i];
    } else {
      return Usage(("unknown or incomplete argument " + arg).c_str());
    }
  }
  if (opt.total_mb == 0) return Usage("--total-mb must be positive");
  if (opt.threads.empty() || std::any_of(opt.threads.begin(), opt.threads.end(), [](int t) { return t < 1; }))
    return Usage("--threads takes positive counts, e.g. 8 or 8,1");
  if (opt.phase_timeout_s < 1) return Usage("--phase-timeout-s must be positive");
  std::vector<std::pair<std::string, uint64_t>> shapes;
  for (const auto& s : opt.shapes) {
    const uint64_t size = ParseSize(s);
    if (size == 0) return Usage(("bad shape " + s + " (e.g. 8m, 64k)").c_str());
    shapes.emplace_back(s, size);
  }

  // The aws CLI, unless told to do without the baseline.
  std::string aws_binary;
  if (!opt.no_aws) {
    aws_binary = opt.aws.empty() ? OnPath("aws") : opt.aws;
    if (aws_binary.empty() || ::access(aws_binary.c_str(), X_OK) != 0) {
      std::fprintf(stderr,
                   "s3_bench: the aws CLI (the baseline) is not on $PATH; install it (pip install awscli), "
                   "pass --aws PATH, or run with --no-aws\n");
      return 1;
    }
  }

  // A private moto: the shared test server's settings (objects up to 32 MiB in memory).
  MotoServerOptions mo;
  mo.env = {kSharedMotoEnv.begin(), kSharedMotoEnv.end()};
  auto started = MotoServer::Start(mo);
  if (!started.ok()) {
    if (MotoMayBeMissing()) {
      std::printf("s3_bench: skipped, moto unavailable: %s\n", started.status().ToString().c_str());
      return 0;
    }
    std::fprintf(stderr, "s3_bench: %s\n", started.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<MotoServer> moto = std::move(started).value();
  MotoLog log(moto.get());
  Env env;
  env.moto = moto.get();
  env.log = &log;
  env.bucket = "tradelake-s3-bench";
  env.phase_timeout = std::chrono::seconds(opt.phase_timeout_s);
  env.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  const fs::path dir = fs::temp_directory_path() / fmt::format("tradelake-s3-bench-{}", ::getpid());
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{dir};

  if (Status s = ResetBucket(env); !s.ok()) {
    std::fprintf(stderr, "s3_bench: creating the bucket: %s\n", s.ToString().c_str());
    return 1;
  }
  S3StoreOptions so;
  so.bucket = env.bucket;
  so.prefix = "tl";
  so.aws = moto->ClientConfig();
  auto opened = S3Store::Open(so);
  if (!opened.ok()) {
    std::fprintf(stderr, "s3_bench: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<S3Store> store = std::move(opened).value();

  std::printf("S3 benchmark: tradelake S3Store vs `aws s3 cp --recursive`, same moto, same data, same run\n");
  std::printf("moto: %s (private, pid %d; env S3_UPLOAD_PART_MIN_SIZE=65536 MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=32 MiB), "
              "%d cores shared by everything\n",
              moto->endpoint().c_str(), static_cast<int>(moto->pid()), env.cores);
  std::string thread_list;
  for (int t : opt.threads) thread_list += fmt::format("{}{}", thread_list.empty() ? "" : ", ", t);
  std::printf("tradelake: one S3Store (multipart above %s in %s parts, 4 part threads), Put kOverwrite then Get, "
              "%s worker thread(s)\n",
              SizeName(so.multipart_threshold).c_str(), SizeName(so.part_size).c_str(), thread_list.c_str());

  AwsCli cli;
  if (!opt.no_aws) {
    cli = MakeAwsCli(aws_binary, moto->endpoint(), dir);
    std::string version;
    const ChildRun v = cli.Run({"--version"}, std::chrono::seconds(60), "", &version);
    if (version.empty()) version = v.err;
    // Start-up cost of one CLI invocation (part of every aws row).
    const ChildRun ls = cli.Run({"s3", "ls", fmt::format("s3://{}/", env.bucket)}, std::chrono::seconds(60), "");
    std::printf("aws CLI: %s (%s): defaults (max_concurrent_requests 10, multipart_threshold 8 MB, "
                "multipart_chunksize 8 MB), --only-show-errors; files in %s\n",
                Trim(version).c_str(), aws_binary.c_str(), dir.string().c_str());
    std::printf("aws CLI start-up + 1 request (`aws s3 ls` on the empty bucket): %.2f s wall, %.2f s CPU%s; "
                "it is inside every aws row\n",
                ls.wall, ls.cpu, ls.exit_code == 0 ? "" : " (FAILED)");
  } else {
    std::printf("aws CLI: skipped (--no-aws): no baseline\n");
  }
  std::fflush(stdout);

  bool all_ok = true;
  const Clock::time_point run_start = Clock::now();
  for (const auto& [shape_name, size] : shapes) {
    const uint64_t total = opt.total_mb * kMiB;
    const size_t count = static_cast<size_t>(std::max<uint64_t>(1, total / size));
    std::printf("\n== shape %s: %zu objects x %s = %s\n", shape_name.c_str(), count, SizeName(size).c_str(),
                SizeName(count * size).c_str());
    std::fflush(stdout);
    std::vector<std::string> objects;
    objects.reserve(count);
    for (size_t i = 0; i < count; ++i) objects.push_back(MakeObject(size * 1000003 + i, size));

    std::vector<Row> rows;
    for (int t : opt.threads) {
      if (Status s = ResetBucket(env); !s.ok()) {
        std::fprintf(stderr, "s3_bench: resetting moto: %s\n", s.ToString().c_str());
        return 1;
      }
      rows.push_back(RunStorePhase(env, store.get(), objects, /*upload=*/true, t));
      Progress(fmt::format("  moto RSS after upload: {:.0f} MiB", RssMiB(moto->pid())));
      if (rows.back().ok()) rows.push_back(RunStorePhase(env, store.get(), objects, /*upload=*/false, t));
    }
    if (!opt.no_aws) {
      if (Status s = ResetBucket(env); !s.ok()) {
        std::fprintf(stderr, "s3_bench: resetting moto: %s\n", s.ToString().c_str());
        return 1;
      }
      const fs::path up = dir / "up", down = dir / "down";
      Progress(fmt::format("writing {} files to {} (not timed) ...", count, up.string()));
      if (Status s = WriteFiles(up, objects); !s.ok()) {
        std::fprintf(stderr, "s3_bench: %s\n", s.ToString().c_str());
        return 1;
      }
      fs::remove_all(down, ec);
      rows.push_back(RunAwsPhase(env, cli, objects, /*upload=*/true, up, down));
      Progress(fmt::format("  moto RSS after upload: {:.0f} MiB", RssMiB(moto->pid())));
      fs::remove_all(up, ec);
      if (rows.back().ok()) rows.push_back(RunAwsPhase(env, cli, objects, /*upload=*/false, up, down));
      fs::remove_all(down, ec);
    }
    (void)moto->Reset();  // frees moto's copy before the next shape

    PrintTable(fmt::format("shape {}: {} objects x {} = {}, moto at {}", shape_name, count, SizeName(size),
                           SizeName(count * size), moto->endpoint()),
               rows, env.cores);
    if (!opt.no_aws) PrintRatios(rows, opt.threads);
    for (const Row& r : rows) all_ok = all_ok && r.ok();
    std::fflush(stdout);
  }

  std::printf(
      "\nnotes:\n"
      "  - moto is a Python (werkzeug, threaded) server on the same %d cores as the client: it is most likely\n"
      "    the bottleneck. \"moto%%1c\" is moto's CPU time over the phase's wall time (100%% = one core busy,\n"
      "    the most the GIL lets Python code use); \"box %%\" is client + moto CPU over all cores; \"moto/req\"\n"
      "    and \"client/r\" are CPU milliseconds per request moto logged. When moto%%1c is near 100%% the\n"
      "    figures measure moto's per-request cost more than either client.\n"
      "  - client CPU: getrusage of this process for tradelake (SHA-256 payload signing, memcmp checks),\n"
      "    wait4 of the aws process for the CLI (start-up included).\n"
      "  - tradelake reads from and writes to memory; the CLI reads and writes files (page cache, not timed\n"
      "    separately). Both start every upload into an empty bucket (moto reset in between).\n"
      "  - tcp est/tw: client connections to moto still established / in TIME_WAIT right after the phase\n"
      "    (TIME_WAIT lasts 60 s, so it includes earlier phases). moto's server (werkzeug's development\n"
      "    server) answers \"Connection: close\" to every request, so both clients open one TCP connection\n"
      "    per request here (TIME_WAIT grows by about one per request); connection reuse cannot show on moto.\n"
      "  - cl. flt: the client's minor page faults; the first multi-threaded phase pays for glibc's\n"
      "    per-thread arenas once.\n"
      "whole run: %.0f s\n",
      env.cores, Seconds(Clock::now() - run_start));
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) { return tradelake::Main(argc, argv); }
