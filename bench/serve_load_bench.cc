// Serve load benchmark: `tradelake serve` (the HTTP API) under 64 concurrent
// keep-alive connections, next to baselines measured in the same run against
// the same server.
//
//   Setup (not measured): `tradelake simulate --products BTC-USD,ETH-USD
//   --seed 11 --history 26h --now <today 01:00 UTC>` (pinned so the history
//   always holds one full UTC day, yesterday; without --now, 26 h back from
//   the wall clock holds a whole UTC day only between 00:00 and 02:00 UTC),
//   `tradelake ingest --since <that - 26h>` (rate limits off on both sides:
//   setup speed only, the lake is the same) and `tradelake etl`: ~940,000
//   trades, 3 days of Gold per product. Then `tradelake serve --lake L
//   --port 0` in open mode (loopback clients, no token).
//
//   Measured:
//     1. cold: the server's very first request, the one-day 1m bars request
//        (catalog and Gold cache empty), then the same request warm from one
//        connection (median of 20), and warm with Accept-Encoding "gzip" and
//        "br" (what browsers, and httplib::Client by default, send; the
//        server then compresses every answer).
//     2. baseline: 64 keep-alive connections (one client thread each,
//        httplib::Client) requesting GET /healthz back to back: the floor of
//        the HTTP layer on this machine.
//     3. the load: 64 keep-alive connections requesting GET /api/v1/bars?
//        product=BTC-USD&interval=1m&from=<yesterday>&to=<today> back to
//        back (Accept-Encoding: identity), after a warm-up; every latency is
//        recorded; every answer must be 200 with the same body size as the
//        first (1440 bars, checked against a count(*) over gold.bars_1m).
//   The serve process's VmRSS (/proc/<pid>/status) is sampled every 250 ms;
//   its CPU time comes from /proc/<pid>/stat.
//
// The client threads and the server share this machine's cores: on 2 cores
// the load generator takes a good part of the CPU, so figures are a floor
// of what the server does with cores of its own.
//
// Exit status: 1 on errors only (setup failures, non-200 answers, transport
// errors, unexpected bodies); a missed timing target is reported, not failed.
//
// Usage: serve_load_bench [--seconds S (20)] [--warmup S (2)]
//                         [--connections N (64)] [--serve-threads N]
//                         [--lake DIR (an existing lake: no setup)] [--keep]
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <simdjson.h>

#include "../tests/e2e_util.h"
#include "core/time.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// ---------------------------------------------------------------- stopping
// SIGINT/SIGTERM/SIGHUP only set this flag; every wait and loop checks it,
// so the bench always leaves through the code that stops its children and
// removes its folder.
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// ---------------------------------------------------------------- children
// The tradelake binary as a child that dies with this process even if the
// bench itself is killed (PR_SET_PDEATHSIG), stdout/stderr to files.
pid_t SpawnTradelake(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  std::vector<std::string> full = {TRADELAKE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_s = out.string(), err_s = err.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;  // parent (or -1)
  // Child: async-signal-safe calls only until exec.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  const int in = ::open("/dev/null", O_RDONLY);
  const int o = ::open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int e = ::open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || o < 0 || e < 0) ::_exit(127);
  ::dup2(in, 0);
  ::dup2(o, 1);
  ::dup2(e, 2);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Exit code of a child (-signal if a signal ended it), or nullopt if it is
// still running after `timeout` or a stop signal came first.
std::optional<int> WaitChild(pid_t pid, Clock::duration timeout, bool stop_on_signal = true) {
  const auto until = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return -1000;
    }
    if (r < 0) return -1000;
    if (Clock::now() >= until || (stop_on_signal && g_stop.load())) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Every child this bench started; the destructor ends those still running
// (SIGTERM, then SIGKILL after 10 s), by pid, one at a time.
class Children {
 public:
  ~Children() {
    for (pid_t pid : pids_) Stop(pid);
  }
  void Add(pid_t pid) {
    if (pid > 0) pids_.push_back(pid);
  }
  // Stops `pid` and reaps it: its exit code.
  int Stop(pid_t pid) {
    auto it = std::find(pids_.begin(), pids_.end(), pid);
    if (it == pids_.end()) return -1000;
    pids_.erase(it);
    ::kill(pid, SIGTERM);
    if (auto code = WaitChild(pid, std::chrono::seconds(10), false)) return *code;
    ::kill(pid, SIGKILL);
    return WaitChild(pid, std::chrono::seconds(10), false).value_or(-1000);
  }
  // Reaps `pid` once it exits by itself; nullopt on timeout or stop signal
  // (it stays registered, so the destructor ends it).
  std::optional<int> Wait(pid_t pid, Clock::duration timeout) {
    auto code = WaitChild(pid, timeout);
    if (code) pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
    return code;
  }

 private:
  std::vector<pid_t> pids_;
};

// Waits for a --ready-file and returns its first line (the URL); "" if the
// child exited, the timeout passed or a stop signal came.
std::string WaitReadyFile(const fs::path& file, pid_t pid, Clock::duration timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until && !g_stop.load()) {
    if (fs::exists(file)) {
      std::string url = e2e::ReadFile(file);
      while (!url.empty() && (url.back() == '\n' || url.back() == '\r' || url.back() == ' ')) url.pop_back();
      if (!url.empty()) return url;
    }
    // Exited? (WNOWAIT: not reaped here, so the pid stays ours until Children reaps it.)
    siginfo_t info {};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

std::string Tail(const fs::path& file, size_t max = 2000) {
  std::string s = e2e::ReadFile(file);
  if (s.size() > max) s = "..." + s.substr(s.size() - max);
  return s;
}

// ---------------------------------------------------------------- /proc
int64_t RssKiB(pid_t pid) {
  const std::string s = e2e::ReadFile(fmt::format("/proc/{}/status", pid));
  const size_t at = s.find("VmRSS:");
  if (at == std::string::npos) return -1;
  return std::strtoll(s.c_str() + at + 6, nullptr, 10);
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  const std::string s = e2e::ReadFile(fmt::format("/proc/{}/stat", pid));
  const size_t paren = s.rfind(')');
  if (paren == std::string::npos) return 0;
  // Fields after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
  std::vector<std::string> f;
  size_t i = paren + 2;
  while (i < s.size() && f.size() < 13) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    f.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  if (f.size() < 13) return 0;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / tick;
}

double SelfCpuSeconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Samples a process's VmRSS every 250 ms on its own thread.
class RssSampler {
 public:
  struct Sample {
    Clock::time_point at;
    int64_t kib;
  };
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sample> Between(Clock::time_point a, Clock::time_point b) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Sample> out;
    for (const auto& s : samples_) {
      if (s.at >= a && s.at <= b) out.push_back(s);
    }
    return out;
  }

 private:
  void Loop() {
    while (!done_.load()) {
      const int64_t kib = RssKiB(pid_);
      if (kib >= 0) {
        std::lock_guard<std::mutex> lock(mu_);
        samples_.push_back({Clock::now(), kib});
      }
      for (int i = 0; i < 25 && !done_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  pid_t pid_;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::thread thread_;
};

// ---------------------------------------------------------------- load
struct LoadResult {
  std::vector<double> latency_ms;  // measured window only, sorted
  int64_t measured = 0;            // answers in the measured window (any status)
  int64_t non200 = 0, transport_errors = 0, bad_bodies = 0;  // whole run, warm-up included
  std::map<int, int64_t> statuses;                            // non-200 statuses
  std::map<std::string, int64_t> errors;                      // transport errors by name
  std::string first_bad;                                      // first unexpected answer, for the report
  int64_t body_bytes = 0, wire_bytes = 0;                     // measured window, summed
  double seconds = 0;                                         // measured window
  double server_cpu = 0;                                      // serve's CPU seconds in the window
  double client_cpu = 0;                                      // this process's CPU seconds in the window
  Clock::time_point measure_from, end;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// `connections` threads, each with its own keep-alive httplib::Client,
// request `path` back to back for warmup + seconds; latencies of requests
// started after the warm-up are recorded. An answer is good if it is 200 and
// its body is `expect_size` bytes.
LoadResult RunLoad(const std::string& url, const std::string& path, int connections, double warmup_s,
                   double seconds_s, size_t expect_size, pid_t server) {
  struct PerThread {
    std::vector<double> latency_ms;
    int64_t measured = 0, non200 = 0, transport = 0, bad = 0, body = 0, wire = 0;
    std::map<int, int64_t> statuses;
    std::map<std::string, int64_t> errors;
    std::string first_bad;
  };
  std::vector<PerThread> per(static_cast<size_t>(connections));
  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  const auto until = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds_s));
  std::atomic<double> cpu_at_start{-1}, self_at_start{-1};
  std::thread cpu_marker([&] {
    std::this_thread::sleep_until(measure_from);
    cpu_at_start.store(CpuSeconds(server));
    self_at_start.store(SelfCpuSeconds());
  });
  std::vector<std::thread> threads;
  threads.reserve(per.size());
  for (PerThread& slot : per) {
    threads.emplace_back([&, p = &slot] {
      PerThread& t = *p;
      httplib::Client cli(url);
      cli.set_keep_alive(true);
      cli.set_connection_timeout(5, 0);
      cli.set_read_timeout(30, 0);
      cli.set_write_timeout(5, 0);
      const httplib::Headers headers = {{"Accept-Encoding", "identity"}};
      t.latency_ms.reserve(65536);
      while (!g_stop.load()) {
        const auto t0 = Clock::now();
        if (t0 >= until) break;
        auto res = cli.Get(path, headers);
        const auto t1 = Clock::now();
        const bool measured = t0 >= measure_from;
        if (!res) {
          ++t.transport;
          ++t.errors[httplib::to_string(res.error())];
          if (t.first_bad.empty()) t.first_bad = "transport error: " + httplib::to_string(res.error());
          continue;
        }
        if (res->status != 200) {
          ++t.non200;
          ++t.statuses[res->status];
          if (t.first_bad.empty()) t.first_bad = fmt::format("HTTP {}: {}", res->status, res->body.substr(0, 300));
        } else if (res->body.size() != expect_size) {
          ++t.bad;
          if (t.first_bad.empty())
            t.first_bad = fmt::format("body of {} bytes, expected {}", res->body.size(), expect_size);
        }
        if (measured) {
          ++t.measured;
          t.latency_ms.push_back(Ms(t1 - t0));
          t.body += static_cast<int64_t>(res->body.size());
          const std::string len = res->get_header_value("Content-Length");
          t.wire += len.empty() ? static_cast<int64_t>(res->body.size()) : std::atoll(len.c_str());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  cpu_marker.join();
  LoadResult r;
  r.end = Clock::now();
  r.measure_from = measure_from;
  r.seconds = Seconds(r.end - measure_from);
  const double cpu_end = CpuSeconds(server);
  if (cpu_at_start.load() >= 0) r.server_cpu = cpu_end - cpu_at_start.load();
  if (self_at_start.load() >= 0) r.client_cpu = SelfCpuSeconds() - self_at_start.load();
  for (auto& t : per) {
    r.latency_ms.insert(r.latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
    r.measured += t.measured;
    r.non200 += t.non200;
    r.transport_errors += t.transport;
    r.bad_bodies += t.bad;
    r.body_bytes += t.body;
    r.wire_bytes += t.wire;
    for (auto& [k, v] : t.statuses) r.statuses[k] += v;
    for (auto& [k, v] : t.errors) r.errors[k] += v;
    if (r.first_bad.empty()) r.first_bad = t.first_bad;
  }
  std::sort(r.latency_ms.begin(), r.latency_ms.end());
  return r;
}

std::string Thousands(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

void PrintLoadRow(const char* name, const LoadResult& r) {
  const double n = static_cast<double>(std::max<int64_t>(1, r.measured));
  std::printf("%-34s %9s %8.0f %7.2f %7.2f %7.2f %8.2f %7lld %9lld %10.0f %10.0f %6.0f%% %6.0f%%\n", name,
              Thousands(r.measured).c_str(), static_cast<double>(r.measured) / std::max(r.seconds, 1e-9),
              Percentile(r.latency_ms, 50), Percentile(r.latency_ms, 90), Percentile(r.latency_ms, 99),
              r.latency_ms.empty() ? 0.0 : r.latency_ms.back(), static_cast<long long>(r.non200),
              static_cast<long long>(r.transport_errors), static_cast<double>(r.body_bytes) / n,
              static_cast<double>(r.wire_bytes) / n, 100.0 * r.server_cpu / std::max(r.seconds, 1e-9),
              100.0 * r.client_cpu / std::max(r.seconds, 1e-9));
}

// ---------------------------------------------------------------- main
struct Options {
  double seconds = 20;
  double warmup = 2;
  int connections = 64;
  int serve_threads = 0;  // 0: do not pass --threads (serve's default)
  std::string lake;       // an existing lake: skip the setup
  bool keep = false;
};

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "serve_load_bench: %s\nusage: serve_load_bench [--seconds S] [--warmup S] [--connections N] "
               "[--serve-threads N] [--lake DIR] [--keep]\n",
               why.c_str());
  return 2;
}

// serve's default --threads, as its --help states it ("--threads INT=8").
std::string ServeDefaultThreads(const fs::path& dir) {
  const pid_t pid = SpawnTradelake({"serve", "--help"}, dir / "serve-help.txt", dir / "serve-help.err");
  if (pid < 0 || WaitChild(pid, std::chrono::seconds(10)).value_or(-1) != 0) {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      WaitChild(pid, std::chrono::seconds(5), false);
    }
    return "?";
  }
  const std::string help = e2e::ReadFile(dir / "serve-help.txt");
  const size_t at = help.find("--threads INT=");
  if (at == std::string::npos) return "?";
  size_t end = at + 14;
  while (end < help.size() && std::isdigit(static_cast<unsigned char>(help[end]))) ++end;
  return help.substr(at + 14, end - at - 14);
}

// Runs a tradelake command to completion (bounded), recording its wall time.
bool RunStep(Children& children, const std::vector<std::string>& args, const fs::path& dir, const std::string& name,
             Clock::duration timeout, double* wall) {
  const auto t0 = Clock::now();
  const pid_t pid = SpawnTradelake(args, dir / (name + ".out"), dir / (name + ".err"));
  if (pid < 0) {
    std::fprintf(stderr, "serve_load_bench: cannot start %s\n", TRADELAKE_BINARY);
    return false;
  }
  children.Add(pid);
  auto code = children.Wait(pid, timeout);
  *wall = Seconds(Clock::now() - t0);
  if (!code) {
    std::fprintf(stderr, "serve_load_bench: `tradelake %s` %s\n", name.c_str(),
                 g_stop.load() ? "interrupted" : "did not finish in time");
    return false;
  }
  if (*code != 0) {
    std::fprintf(stderr, "serve_load_bench: `tradelake %s` exited %d:\n%s%s\n", name.c_str(), *code,
                 Tail(dir / (name + ".out")).c_str(), Tail(dir / (name + ".err")).c_str());
    return false;
  }
  return true;
}

int Run(const Options& opt, const fs::path& dir, Children& children) {
  const std::vector<std::string> products = {"BTC-USD", "ETH-USD"};
  std::string lake = opt.lake;
  std::string day;  // the full UTC day requested
  std::string setup_line;
  if (lake.empty()) {
    lake = (dir / "lake").string();
    const TimestampMicros today = DayNumber(NowMicros()) * kMicrosPerDay;
    const TimestampMicros sim_now = today + kMicrosPerHour;
    day = FormatDate(today - kMicrosPerDay);
    const fs::path sim_ready = dir / "sim.url";
    const pid_t sim = SpawnTradelake({"simulate", "--port", "0", "--products", "BTC-USD,ETH-USD", "--seed", "11",
                                      "--history", "26h", "--now", FormatRfc3339Trimmed(sim_now), "--no-rate-limit",
                                      "--ready-file", sim_ready.string()},
                                     dir / "simulate.out", dir / "simulate.err");
    if (sim < 0) return Usage("cannot start " + std::string(TRADELAKE_BINARY));
    children.Add(sim);
    const std::string sim_url = WaitReadyFile(sim_ready, sim, std::chrono::seconds(60));
    if (sim_url.empty()) {
      std::fprintf(stderr, "serve_load_bench: the simulator did not start:\n%s\n", Tail(dir / "simulate.err").c_str());
      return 1;
    }
    double ingest_s = 0, etl_s = 0;
    if (!RunStep(children,
                 {"ingest", "--lake", lake, "--products", "BTC-USD,ETH-USD", "--since",
                  FormatRfc3339Trimmed(sim_now - 26 * kMicrosPerHour), "--exchange-url", sim_url, "--no-progress",
                  "--rate-limit", "0", "--log-level", "warn"},
                 dir, "ingest", std::chrono::minutes(10), &ingest_s)) {
      return 1;
    }
    children.Stop(sim);
    if (!RunStep(children, {"etl", "--lake", lake, "--log-level", "warn"}, dir, "etl", std::chrono::minutes(10),
                 &etl_s)) {
      return 1;
    }
    std::string summary = e2e::ReadFile(dir / "ingest.out");
    const size_t total = summary.find("total");
    summary = total == std::string::npos ? "" : summary.substr(total, summary.find(" trades", total) - total);
    while (summary.find("  ") != std::string::npos) summary.erase(summary.find("  "), 1);
    setup_line = fmt::format(
        "lake: simulator seed 11, BTC-USD + ETH-USD, 26 h of history ending {} ({} trades); setup ingest {:.1f} s, "
        "etl {:.1f} s (not measured)",
        FormatRfc3339Trimmed(sim_now), summary.empty() ? "?" : summary.substr(6), ingest_s, etl_s);
  } else {
    // The newest date with a date after it: a full day in Gold.
    std::vector<std::string> dates;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(lake) / "gold/bars_1m/product_id=BTC-USD", ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("date=", 0) == 0) dates.push_back(n.substr(5));
    }
    std::sort(dates.begin(), dates.end());
    if (dates.size() < 3) return Usage("--lake: need at least 3 days of BTC-USD in gold.bars_1m (" + lake + ")");
    day = dates[dates.size() - 2];
    setup_line = fmt::format("lake: {} (given with --lake; no setup)", lake);
  }

  // ---- serve
  const std::string threads_default = ServeDefaultThreads(dir);
  std::vector<std::string> serve_args = {"serve", "--lake", lake, "--port", "0", "--ready-file",
                                         (dir / "serve.url").string()};
  std::string threads_line;
  if (opt.serve_threads > 0) {
    serve_args.push_back("--threads");
    serve_args.push_back(std::to_string(opt.serve_threads));
    threads_line = fmt::format("--threads {} (given; serve's default is {})", opt.serve_threads, threads_default);
  } else {
    threads_line = fmt::format("--threads {} (serve's default, not passed)", threads_default);
  }
  const pid_t server = SpawnTradelake(serve_args, dir / "serve.out", dir / "serve.err");
  if (server < 0) return 1;
  children.Add(server);
  const std::string url = WaitReadyFile(dir / "serve.url", server, std::chrono::seconds(60));
  if (url.empty()) {
    std::fprintf(stderr, "serve_load_bench: `tradelake serve` did not start:\n%s\n", Tail(dir / "serve.err").c_str());
    return 1;
  }
  RssSampler rss(server);
  const TimestampMicros from = *ParseRfc3339(day + "T00:00:00Z");
  const std::string bars_path = fmt::format("/api/v1/bars?product=BTC-USD&interval=1m&from={}&to={}",
                                            FormatRfc3339Trimmed(from), FormatRfc3339Trimmed(from + kMicrosPerDay));
  const httplib::Headers identity = {{"Accept-Encoding", "identity"}};

  // ---- 1. cold, then warm single requests
  httplib::Client single(url);
  single.set_keep_alive(true);
  single.set_read_timeout(120, 0);
  const int64_t rss_before = RssKiB(server);
  auto c0 = Clock::now();
  auto cold = single.Get(bars_path, identity);
  const double cold_ms = Ms(Clock::now() - c0);
  if (!cold || cold->status != 200) {
    std::fprintf(stderr, "serve_load_bench: GET %s: %s\n", bars_path.c_str(),
                 cold ? fmt::format("HTTP {}: {}", cold->status, cold->body.substr(0, 500)).c_str()
                      : httplib::to_string(cold.error()).c_str());
    return 1;
  }
  const std::string reference = cold->body;
  size_t bar_count = 0;
  std::string first_time, last_time;
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::array bars;
    if (parser.parse(reference).get(doc) != simdjson::SUCCESS || doc["bars"].get_array().get(bars) != simdjson::SUCCESS) {
      std::fprintf(stderr, "serve_load_bench: the bars answer is not the documented JSON: %s\n",
                   reference.substr(0, 300).c_str());
      return 1;
    }
    bar_count = bars.size();
    for (auto b : bars) {
      std::string_view t;
      if (b["time"].get_string().get(t) != simdjson::SUCCESS) continue;
      if (first_time.empty()) first_time = t;
      last_time = t;
    }
  }
  std::vector<double> warm;
  for (int i = 0; i < 20 && !g_stop.load(); ++i) {
    c0 = Clock::now();
    auto r = single.Get(bars_path, identity);
    warm.push_back(Ms(Clock::now() - c0));
    if (!r || r->status != 200 || r->body.size() != reference.size()) {
      std::fprintf(stderr, "serve_load_bench: a warm bars request failed: %s\n",
                   r ? fmt::format("HTTP {}, {} bytes", r->status, r->body.size()).c_str()
                     : httplib::to_string(r.error()).c_str());
      return 1;
    }
  }
  std::sort(warm.begin(), warm.end());
  // With compression, as browsers (and httplib::Client by default) ask for it.
  struct Encoded {
    std::string accept, got;
    double ms = 0;
    int64_t wire = 0;
    bool ok = false;
  };
  std::vector<Encoded> encoded = {{"gzip", "", 0, 0, false}, {"br", "", 0, 0, false}};
  for (auto& e : encoded) {
    std::vector<double> ms;
    for (int i = 0; i < 3 && !g_stop.load(); ++i) {
      c0 = Clock::now();
      auto r = single.Get(bars_path, {{"Accept-Encoding", e.accept}});
      ms.push_back(Ms(Clock::now() - c0));
      e.ok = r && r->status == 200 && r->body == reference;
      if (!e.ok) break;
      e.got = r->get_header_value("Content-Encoding");
      const std::string len = r->get_header_value("Content-Length");
      e.wire = len.empty() ? static_cast<int64_t>(r->body.size()) : std::atoll(len.c_str());
    }
    std::sort(ms.begin(), ms.end());
    e.ms = ms.empty() ? 0 : ms[ms.size() / 2];
  }
  // /healthz one at a time: on one kept-alive connection, and on a new
  // connection per request (the difference is the cost of reusing one).
  std::vector<double> health_kept, health_fresh;
  for (int i = 0; i < 20 && !g_stop.load(); ++i) {
    c0 = Clock::now();
    auto r = single.Get("/healthz");
    health_kept.push_back(Ms(Clock::now() - c0));
    httplib::Client fresh(url);
    c0 = Clock::now();
    auto f = fresh.Get("/healthz");
    health_fresh.push_back(Ms(Clock::now() - c0));
    if (!r || r->status != 200 || !f || f->status != 200) {
      std::fprintf(stderr, "serve_load_bench: GET /healthz failed\n");
      return 1;
    }
  }
  std::sort(health_kept.begin(), health_kept.end());
  std::sort(health_fresh.begin(), health_fresh.end());
  if (g_stop.load()) return 1;

  // ---- 2. baseline: /healthz under the same load
  LoadResult health = RunLoad(url, "/healthz", opt.connections, opt.warmup, opt.seconds, 3, server);
  if (g_stop.load()) return 1;
  // ---- 3. the bars load
  const int64_t rss_load_start = RssKiB(server);
  LoadResult bars = RunLoad(url, bars_path, opt.connections, opt.warmup, opt.seconds, reference.size(), server);
  if (g_stop.load()) return 1;
  const int64_t rss_end = RssKiB(server);

  // What Gold holds for that day, to check the answer's size.
  int64_t gold_count = -1;
  {
    auto r = single.Post("/api/v1/sql",
                         fmt::format("SELECT count(*) AS n FROM gold.bars_1m WHERE product_id = 'BTC-USD' AND "
                                     "period_start >= TIMESTAMP '{} 00:00:00' AND period_start < TIMESTAMP '{} "
                                     "00:00:00' + INTERVAL 1 DAY",
                                     day, day),
                         "text/plain");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (r && r->status == 200 && parser.parse(r->body).get(doc) == simdjson::SUCCESS) {
      simdjson::dom::array rows;
      if (doc["rows"].get_array().get(rows) == simdjson::SUCCESS && rows.size() == 1) {
        int64_t n = 0;
        if (rows.at(0).at(0).get_int64().get(n) == simdjson::SUCCESS) gold_count = n;
      }
    }
  }
  std::vector<std::string> cache_lines;  // the bars answer cache's counters, if the server has them
  if (auto m = single.Get("/metrics"); m && m->status == 200) {
    size_t at = 0;
    while (at < m->body.size()) {
      size_t end = m->body.find('\n', at);
      if (end == std::string::npos) end = m->body.size();
      const std::string line = m->body.substr(at, end - at);
      if (line.rfind("tradelake_bars_cache", 0) == 0) cache_lines.push_back(line);
      at = end + 1;
    }
  }
  rss.Stop();
  const int serve_code = children.Stop(server);

  // ---- report
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("serve load benchmark: `tradelake serve` under %d keep-alive connections on 127.0.0.1, "
              "baselines from the same server in the same run\n",
              opt.connections);
  std::printf("%s\n", setup_line.c_str());
  std::printf("serve: %s, open mode (loopback, no token); client: %d threads, one httplib::Client (keep-alive) "
              "each; %u cores shared by client and server\n",
              threads_line.c_str(), opt.connections, cores);
  std::printf("request: GET %s\n", bars_path.c_str());
  std::printf("  answer: %zu bars (%s .. %s), gold.bars_1m holds %lld for that day; %s bytes (Accept-Encoding: "
              "identity)\n",
              bar_count, first_time.c_str(), last_time.c_str(), static_cast<long long>(gold_count),
              Thousands(static_cast<int64_t>(reference.size())).c_str());
  std::printf("\nsingle requests, one connection:\n");
  std::printf("  cold (the server's first request: catalog and Gold cache empty) %9.1f ms\n", cold_ms);
  std::printf("  warm, median of %zu (min %.1f, max %.1f)                         %9.1f ms\n", warm.size(),
              warm.empty() ? 0 : warm.front(), warm.empty() ? 0 : warm.back(), warm.empty() ? 0 : warm[warm.size() / 2]);
  for (const auto& e : encoded) {
    if (!e.ok) {
      std::printf("  warm, Accept-Encoding: %-4s  FAILED (no 200 with the same bars)\n", e.accept.c_str());
      continue;
    }
    std::printf("  warm, Accept-Encoding: %-4s -> Content-Encoding: %-8s median of 3 %9.1f ms, %s bytes on the wire\n",
                e.accept.c_str(), e.got.empty() ? "(none)" : e.got.c_str(), e.ms, Thousands(e.wire).c_str());
  }
  std::printf("  GET /healthz, median of %zu: on the same kept-alive connection %.1f ms (max %.1f), on a new connection "
              "each %.1f ms (max %.1f)\n",
              health_kept.size(), health_kept[health_kept.size() / 2], health_kept.back(),
              health_fresh[health_fresh.size() / 2], health_fresh.back());
  if (health_kept[health_kept.size() / 2] >= 30 && health_fresh[health_fresh.size() / 2] < 10) {
    std::printf("  note: a ~40 ms wait for a small answer on a reused connection, none on a new one, is what Nagle's\n"
                "        algorithm meeting the client's delayed ACK looks like (the server's sockets without TCP_NODELAY)\n");
  }
  std::printf("\nload: %d connections, %.0f s warm-up then %.0f s measured (latency per request, ms; "
              "CPU in %% of one core: the serve process, and this load generator)\n",
              opt.connections, opt.warmup, opt.seconds);
  std::printf("%-34s %9s %8s %7s %7s %7s %8s %7s %9s %10s %10s %7s %7s\n", "", "requests", "req/s", "p50", "p90",
              "p99", "max", "non-200", "transport", "bytes/resp", "wire/resp", "serve", "client");
  PrintLoadRow("baseline: GET /healthz", health);
  PrintLoadRow("GET /api/v1/bars (1 day of 1m)", bars);
  for (const LoadResult* r : {&health, &bars}) {
    for (const auto& [code, n] : r->statuses) std::printf("  HTTP %d: %lld answers\n", code, static_cast<long long>(n));
    for (const auto& [e, n] : r->errors) std::printf("  transport error %s: %lld\n", e.c_str(), static_cast<long long>(n));
    if (r->bad_bodies > 0) std::printf("  unexpected bodies: %lld\n", static_cast<long long>(r->bad_bodies));
    if (!r->first_bad.empty()) std::printf("  first bad answer: %s\n", r->first_bad.c_str());
  }

  // Memory over the bars load (warm-up included).
  const auto samples = rss.Between(bars.measure_from - std::chrono::duration_cast<Clock::duration>(
                                                           std::chrono::duration<double>(opt.warmup)),
                                   bars.end);
  int64_t peak = 0, mid_kib = -1;
  const auto mid = bars.measure_from + (bars.end - bars.measure_from) / 2;
  for (const auto& s : samples) {
    peak = std::max(peak, s.kib);
    if (mid_kib < 0 && s.at >= mid) mid_kib = s.kib;
  }
  int64_t second_half_max = 0, second_half_min = INT64_MAX;
  for (const auto& s : samples) {
    if (s.at < mid) continue;
    second_half_max = std::max(second_half_max, s.kib);
    second_half_min = std::min(second_half_min, s.kib);
  }
  const auto mib = [](int64_t kib) { return static_cast<double>(kib) / 1024.0; };
  std::printf("\nserve memory (VmRSS every 250 ms, %zu samples during the bars load): before the first request %.1f MiB, "
              "load start %.1f MiB, peak %.1f MiB, end %.1f MiB\n",
              samples.size(), mib(rss_before), mib(rss_load_start), mib(peak), mib(rss_end));
  if (mid_kib >= 0) {
    std::printf("  second half of the measured run: %.1f -> %.1f MiB (%+.1f MiB; range %.1f..%.1f MiB): %s\n",
                mib(mid_kib), mib(rss_end), mib(rss_end - mid_kib), mib(second_half_min), mib(second_half_max),
                std::abs(rss_end - mid_kib) <= std::max<int64_t>(4096, mid_kib / 20) ? "flat" : "NOT flat");
  }
  for (const auto& line : cache_lines) std::printf("serve /metrics after the run: %s\n", line.c_str());
  std::printf("serve exited %d after SIGTERM\n", serve_code);

  const double p99 = Percentile(bars.latency_ms, 99);
  std::printf("\ntarget p99 <= 20 ms for a one-day 1m bars request: %s (p99 %.2f ms under %d connections)\n",
              p99 <= 20.0 && !bars.latency_ms.empty() ? "met" : "NOT met", p99, opt.connections);

  bool failed = false;
  for (const LoadResult* r : {&health, &bars}) {
    if (r->non200 + r->transport_errors + r->bad_bodies > 0 || r->measured == 0) failed = true;
  }
  if (gold_count >= 0 && static_cast<size_t>(gold_count) != bar_count) {
    std::printf("ERROR: the answer has %zu bars, gold.bars_1m %lld\n", bar_count, static_cast<long long>(gold_count));
    failed = true;
  }
  if (gold_count < 0) {
    std::printf("ERROR: could not count gold.bars_1m through POST /api/v1/sql\n");
    failed = true;
  }
  if (serve_code != 0) failed = true;
  if (failed) std::printf("serve_load_bench: ERRORS (see above)\n");
  return failed ? 1 : 0;
}

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--keep") {
      opt.keep = true;
    } else if (arg == "--seconds" && has_value) {
      opt.seconds = std::atof(argv[++i]);
    } else if (arg == "--warmup" && has_value) {
      opt.warmup = std::atof(argv[++i]);
    } else if (arg == "--connections" && has_value) {
      opt.connections = std::atoi(argv[++i]);
    } else if (arg == "--serve-threads" && has_value) {
      opt.serve_threads = std::atoi(argv[++i]);
    } else if (arg == "--lake" && has_value) {
      opt.lake = argv[++i];
    } else {
      return Usage("unknown or incomplete argument " + arg);
    }
  }
  if (!(opt.seconds > 0) || opt.seconds > 3600) return Usage("--seconds must be in (0, 3600]");
  if (opt.warmup < 0 || opt.warmup > 600) return Usage("--warmup must be in [0, 600]");
  if (opt.connections < 1 || opt.connections > 1024) return Usage("--connections must be in 1..1024");
  if (opt.serve_threads < 0) return Usage("--serve-threads must be positive");
  InstallStopHandlers();

  const fs::path dir = fs::temp_directory_path() / fmt::format("tradelake-serve-load-bench-{}", ::getpid());
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "serve_load_bench: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  int code = 1;
  {
    Children children;  // declared inside: every child is stopped before the folder goes
    code = Run(opt, dir, children);
  }
  if (g_stop.load()) {
    std::fprintf(stderr, "serve_load_bench: interrupted\n");
    code = 130;
  }
  if (opt.keep) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir, ec);
  }
  return code;
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) { return tradelake::Main(argc, argv); }
