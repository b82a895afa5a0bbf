// Waiting on child processes (`tradelake simulate`, `tradelake run`) in
// end-to-end tests: by what they write when ready and by conditions they
// make true, each bounded by a timeout, never by a fixed sleep.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "e2e_util.h"

namespace tradelake::e2e {

// Polls `done` every `every` until it returns true (true) or `timeout`
// passes (false; `done` is asked once more at the end).
template <typename F>
bool PollUntil(F done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

// The text of a file a child writes atomically once ready (--ready-file),
// without its trailing newline; "" if it did not appear within `timeout`.
inline std::string WaitForReadyFile(const fs::path& path, std::chrono::milliseconds timeout) {
  if (!PollUntil([&] { return fs::exists(path); }, timeout, std::chrono::milliseconds(50))) return "";
  std::string text = ReadFile(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// A child process, killed (SIGKILL) and waited for if it is still running
// when this goes out of scope: a failed assertion leaves no process behind.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait(pid_);
    }
  }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Sends `sig` and returns the exit code (as e2e::Wait).
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1000;
    ::kill(pid_, sig);
    const int code = Wait(pid_);
    pid_ = -1;
    return code;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace tradelake::e2e
