// LakeThread: runs tasks one at a time on one thread of its own, for the
// work `serve` does when it follows a commit.
//
// That work reads Parquet files and Delta checkpoints through DuckDB
// sessions that are kept per thread (etl/table_io.h, table/delta_log.h).
// Done on whichever HTTP pool thread asked, every pool thread would come to
// hold sessions of its own: serve_soak_bench measured RSS growing from 51 to
// 285 MiB over 86 commits with 72 pool threads, and flat at 94 MiB with 9.
//
// Thread-safe. Run() may be called from the LakeThread itself (it then runs
// the task at once).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace tradelake {

class LakeThread {
 public:
  LakeThread();
  ~LakeThread();  // waits for the task running, if any
  LakeThread(const LakeThread&) = delete;
  LakeThread& operator=(const LakeThread&) = delete;

  // Runs `task` on the thread and returns once it has run.
  void Run(const std::function<void()>& task);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                         // GUARDED_BY(mu_)
  std::thread thread_;                            // last: starts once the rest exists
};

}  // namespace tradelake
