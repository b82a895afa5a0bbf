// Helpers shared by the benchmarks that drive the real tradelake binary as
// child processes (freshness_bench, serve_load_bench):
//   - a clean stop: SIGINT/SIGTERM/SIGHUP only set g_stop, which every wait
//     checks, so a bench always leaves through the code that stops its
//     children and removes its folder (InstallStopHandlers);
//   - children: SpawnProcess / SpawnTradelake (fork + exec, dying with the
//     bench through PR_SET_PDEATHSIG, stdout/stderr to files), WaitChild,
//     Exited, and Children, which stops (SIGTERM, then SIGKILL) whatever is
//     still running when it goes;
//   - StartWithReadyFile / WaitReadyFile (a child's --ready-file URL), Tail
//     (the end of a log), TradelakeHelp and HelpDefault (a default read
//     from `--help`);
//   - Percentile of a sorted sample, Seconds of a duration;
//   - ParseOptions: `--switch` and `--name VALUE` command-line options;
//   - RunInFreshDir: the common end of main(): stop handlers, a fresh temp
//     folder, the run, the children stopped, the folder removed or kept.
// Files are read with e2e::ReadFile (tests/e2e_util.h). Its e2e::Spawn
// (posix_spawn) cannot set PR_SET_PDEATHSIG, so these benches fork instead.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "../tests/e2e_util.h"

namespace tradelake::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The value at percentile `p` (0..100) of `sorted` (nearest rank); 0 if empty.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// ---------------------------------------------------------------- stopping
// SIGINT/SIGTERM/SIGHUP only set this flag; every wait and loop checks it,
// so the bench always leaves through the code that stops its children and
// removes its folder.
inline std::atomic<bool> g_stop{false};

inline void OnStopSignal(int) { g_stop.store(true); }

inline void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// ---------------------------------------------------------------- children
// A program (`full[0]`, a path) as a child that dies with this process even
// if the bench itself is killed (PR_SET_PDEATHSIG), stdin from /dev/null,
// stdout/stderr to files, default signal handling. Its pid, or -1.
inline pid_t SpawnProcess(std::vector<std::string> full, const fs::path& out, const fs::path& err) {
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

// The tradelake binary as such a child.
inline pid_t SpawnTradelake(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  std::vector<std::string> full = {TRADELAKE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  return SpawnProcess(std::move(full), out, err);
}

// Exit code of a child (-signal if a signal ended it), or nullopt if it is
// still running after `timeout` or a stop signal came first (unless
// `stop_on_signal` is false). `usage`, if given, receives the child's
// resource usage once it is reaped.
inline std::optional<int> WaitChild(pid_t pid, Clock::duration timeout, bool stop_on_signal = true,
                                    struct rusage* usage = nullptr) {
  const auto until = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::wait4(pid, &status, WNOHANG, usage);
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

// Whether a child has exited, without reaping it (WNOWAIT), so the pid stays
// ours until Children reaps it.
inline bool Exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Every child a bench started; the destructor ends those still running
// (SIGTERM, then SIGKILL after `grace`), by pid, one at a time.
class Children {
 public:
  explicit Children(Clock::duration grace) : grace_(grace) {}
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t pid : std::vector<pid_t>(pids_)) Stop(pid);  // a copy: Stop erases from pids_
  }
  void Add(pid_t pid) {
    if (pid > 0) pids_.push_back(pid);
  }
  // Stops `pid` (SIGTERM, then SIGKILL after the grace) and reaps it: its
  // exit code.
  int Stop(pid_t pid) {
    auto it = std::find(pids_.begin(), pids_.end(), pid);
    if (it == pids_.end()) return -1000;
    pids_.erase(it);
    ::kill(pid, SIGTERM);
    if (auto code = WaitChild(pid, grace_, false)) return *code;
    ::kill(pid, SIGKILL);
    return WaitChild(pid, std::chrono::seconds(10), false).value_or(-1000);
  }
  // Reaps `pid` once it exits by itself; nullopt on timeout or stop signal
  // (it stays registered, so the destructor ends it).
  std::optional<int> Wait(pid_t pid, Clock::duration timeout, struct rusage* usage = nullptr) {
    auto code = WaitChild(pid, timeout, true, usage);
    if (code) pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
    return code;
  }

 private:
  Clock::duration grace_;
  std::vector<pid_t> pids_;
};

// Waits for a --ready-file and returns its first line (the URL); "" if the
// child exited, the timeout passed or a stop signal came.
inline std::string WaitReadyFile(const fs::path& file, pid_t pid, Clock::duration timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until && !g_stop.load()) {
    if (fs::exists(file)) {
      std::string url = e2e::ReadFile(file);
      while (!url.empty() && (url.back() == '\n' || url.back() == '\r' || url.back() == ' ')) url.pop_back();
      if (!url.empty()) return url;
    }
    if (Exited(pid)) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

// Starts `tradelake args... --ready-file dir/<ready_file>` as one of
// `children` (stdout/stderr to dir/<log>.out and dir/<log>.err) and waits up
// to `timeout` for the URL it writes there. `*pid` receives the child's pid
// (-1 if it could not be started). The URL, or "" if the child did not
// start, exited, the timeout passed or a stop signal came.
inline std::string StartWithReadyFile(Children& children, std::vector<std::string> args, const fs::path& dir,
                                      const std::string& log, const std::string& ready_file,
                                      Clock::duration timeout, pid_t* pid) {
  const fs::path ready = dir / ready_file;
  args.push_back("--ready-file");
  args.push_back(ready.string());
  *pid = SpawnTradelake(args, dir / (log + ".out"), dir / (log + ".err"));
  if (*pid < 0) return "";
  children.Add(*pid);
  return WaitReadyFile(ready, *pid, timeout);
}

// The last `max` bytes of a file ("..." before them if cut).
inline std::string Tail(const fs::path& file, size_t max = 2000) {
  std::string s = e2e::ReadFile(file);
  if (s.size() > max) s = "..." + s.substr(s.size() - max);
  return s;
}

// ---------------------------------------------------------------- --help
// `tradelake <command> --help`'s output (written to dir/<command>-help.txt
// and .err); nullopt if it did not exit 0 within 10 s (it is then killed)
// or a stop signal came first.
inline std::optional<std::string> TradelakeHelp(const fs::path& dir, const std::string& command) {
  const fs::path out = dir / (command + "-help.txt");
  const pid_t pid = SpawnTradelake({command, "--help"}, out, dir / (command + "-help.err"));
  if (pid < 0) return std::nullopt;
  const std::optional<int> code = WaitChild(pid, std::chrono::seconds(10));
  if (!code) {
    ::kill(pid, SIGKILL);
    WaitChild(pid, std::chrono::seconds(10), false);
    return std::nullopt;
  }
  if (*code != 0) return std::nullopt;
  return e2e::ReadFile(out);
}

// The default `--help` states for `flag` ("--poll-interval TEXT=1s" -> "1s",
// "--threads INT=8" -> "8"); "" if none.
inline std::string HelpDefault(const std::string& help, const std::string& flag) {
  const size_t at = help.find(flag + " ");
  if (at == std::string::npos) return "";
  const size_t eq = help.find('=', at);
  const size_t nl = help.find('\n', at);
  if (eq == std::string::npos || eq > nl) return "";
  size_t end = eq + 1;
  while (end < help.size() && !std::isspace(static_cast<unsigned char>(help[end]))) ++end;
  return help.substr(eq + 1, end - eq - 1);
}

// ---------------------------------------------------------------- main
// A command-line option: `--name` alone sets a bool to true; otherwise
// `--name VALUE` stores VALUE (std::atof for a double, std::atoi for an int).
struct Option {
  std::string name;
  std::variant<bool*, double*, int*, std::string*> target;
};

// Reads argv[1..] into `options`: "" if every argument was read, else the
// first one that is unknown or misses its value.
inline std::string ParseOptions(int argc, char** argv, const std::vector<Option>& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    const auto it = std::find_if(options.begin(), options.end(), [&](const Option& o) { return o.name == arg; });
    if (it == options.end()) return arg;
    if (bool* const* flag = std::get_if<bool*>(&it->target)) {
      **flag = true;
      continue;
    }
    if (!has_value) return arg;
    const char* value = argv[++i];
    if (double* const* d = std::get_if<double*>(&it->target)) **d = std::atof(value);
    if (int* const* n = std::get_if<int*>(&it->target)) **n = std::atoi(value);
    if (std::string* const* str = std::get_if<std::string*>(&it->target)) **str = value;
  }
  return "";
}

// The end of a bench's main() once its options are read: installs the stop
// handlers, makes a fresh folder <temp>/tradelake-<name, '_' as '-'>-<pid>,
// returns run(dir, children) with every child stopped (SIGTERM, then SIGKILL
// after `stop_grace`) before the folder is removed, or kept and its path
// printed if `keep`. 1 if the folder cannot be made, 130 after a stop signal.
template <typename RunFn>
int RunInFreshDir(const std::string& name, bool keep, Clock::duration stop_grace, RunFn&& run) {
  InstallStopHandlers();
  std::string folder = name;
  std::replace(folder.begin(), folder.end(), '_', '-');
  const fs::path dir = fs::temp_directory_path() / fmt::format("tradelake-{}-{}", folder, ::getpid());
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot create %s: %s\n", name.c_str(), dir.c_str(), ec.message().c_str());
    return 1;
  }
  int code = 1;
  {
    Children children(stop_grace);  // declared inside: every child is stopped before the folder goes
    code = run(dir, children);
  }
  if (g_stop.load()) {
    std::fprintf(stderr, "%s: interrupted\n", name.c_str());
    code = 130;
  }
  if (keep) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir, ec);
  }
  return code;
}

}  // namespace tradelake::bench
