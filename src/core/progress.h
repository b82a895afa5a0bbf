// ProgressBar: one line on stderr for long work, when stderr is a terminal.
//
// "BTC-USD,ETH-USD  [=====>      ] 412,000/1,000,000 trades  18,230/s  ETA 0:32"
// Without a known total it shows the count and rate only. When stderr is not
// a terminal (CI, pipes, --log-format json) it prints nothing. Redraws at most
// 10 times a second. Add() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace tradelake {

class ProgressBar {
 public:
  // enabled=false forces it off; otherwise on only if stderr is a TTY.
  ProgressBar(std::string label, std::string unit, int64_t total, bool enabled);
  ~ProgressBar();  // calls Finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Add(int64_t n);
  void SetTotal(int64_t total);
  // Draws the final state and a newline (once).
  void Finish();

  // The line as it would be drawn now (exposed for tests).
  std::string Render() const;
  // The line as it would be drawn `elapsed` after construction; deterministic.
  std::string Render(std::chrono::steady_clock::duration elapsed) const;

 private:
  void MaybeDraw(bool force);

  const std::string label_;
  const std::string unit_;
  std::atomic<int64_t> total_;
  std::atomic<int64_t> done_{0};
  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_draw_;  // GUARDED_BY(mu_)
  bool finished_ = false;                            // GUARDED_BY(mu_)
};

}  // namespace tradelake
