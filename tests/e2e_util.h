// Helpers for end-to-end tests and benchmarks: run the real tradelake binary
// as a user would, read a lake folder back independently of tradelake's own
// reader.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "support/scratch_dirs.h"

extern char** environ;

namespace tradelake::e2e {

namespace fs = std::filesystem;

// An empty folder /tmp/tradelake-e2e-<name>-<pid>. In a test binary it is
// removed when the binary ends if the test that made it passed, and kept
// (named on stderr) if it failed (support/scratch_dirs.h).
inline fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("tradelake-e2e-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  test::RemoveAtExitIfPassed(dir);
  return dir;
}

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int exit_code = -1;  // -signal if killed
  std::string out, err;
};

// Starts the tradelake binary with `args`; stdout/stderr go to files in `dir`,
// stdin comes from `in` (default: /dev/null, i.e. not a terminal).
inline pid_t Spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
                   const fs::path& in = "/dev/null") {
  std::vector<std::string> full = {TRADELAKE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Waits for `pid`; returns its exit code, or -signal if a signal ended it.
// `cpu_seconds` (optional) receives the child's user + system CPU time;
// `max_rss_bytes` (optional) its peak resident set size (wait4's ru_maxrss,
// which Linux reports in KiB, converted to bytes).
inline int Wait(pid_t pid, double* cpu_seconds = nullptr, int64_t* max_rss_bytes = nullptr) {
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid) return -1000;
  if (cpu_seconds) {
    *cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  if (max_rss_bytes) *max_rss_bytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

inline RunResult RunTradelake(const std::vector<std::string>& args, const fs::path& dir) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  RunResult r;
  const pid_t pid = Spawn(args, out, err);
  if (pid < 0) return r;
  r.exit_code = Wait(pid);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// One trade as found in Bronze, read without tradelake's reader.
struct LandedTrade {
  std::string raw;  // the exchange's bytes
  std::string object;
};

// Reads every *.jsonl.zst under lake/bronze/.../product=<p>/: trade id ->
// copies (more than one means a duplicate). Fails the test on corruption.
inline std::map<int64_t, std::vector<LandedTrade>> ReadBronze(const fs::path& lake, const std::string& product,
                                                              std::string* error) {
  std::map<int64_t, std::vector<LandedTrade>> out;
  const fs::path dir = lake / "bronze" / "source=coinbase" / ("product=" + product);
  if (!fs::exists(dir)) return out;
  simdjson::dom::parser parser;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.rfind(".tmp-", 0) == 0) continue;
    const std::string z = ReadFile(e.path());
    const unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) {
      *error = "not a zstd frame: " + e.path().string();
      return out;
    }
    std::string text(n, '\0');
    if (ZSTD_decompress(text.data(), n, z.data(), z.size()) != n) {
      *error = "zstd failed: " + e.path().string();
      return out;
    }
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      const std::string tag = ",\"trade\":";
      const size_t t = line.find(tag);
      if (t == std::string::npos || line.back() != '}') {
        *error = "bad line in " + e.path().string() + ": " + line;
        return out;
      }
      std::string raw = line.substr(t + tag.size(), line.size() - t - tag.size() - 1);
      simdjson::dom::element doc;
      int64_t id = 0;
      if (parser.parse(raw).get(doc) != simdjson::SUCCESS || doc["trade_id"].get_int64().get(id) != simdjson::SUCCESS) {
        *error = "bad trade in " + e.path().string() + ": " + raw;
        return out;
      }
      out[id].push_back({std::move(raw), e.path().string()});
    }
  }
  return out;
}

// Every Bronze file's bytes, by path: to prove objects are never modified.
inline std::map<std::string, std::string> SnapshotBronze(const fs::path& lake) {
  std::map<std::string, std::string> snap;
  const fs::path dir = lake / "bronze";
  if (!fs::exists(dir)) return snap;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename().string().rfind(".tmp-", 0) != 0) {
      snap[e.path().string()] = ReadFile(e.path());
    }
  }
  return snap;
}

inline int CountTempFiles(const fs::path& lake) {
  int n = 0;
  if (!fs::exists(lake)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(lake)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) ++n;
  }
  return n;
}

}  // namespace tradelake::e2e
