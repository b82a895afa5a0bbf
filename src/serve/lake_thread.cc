#include "serve/lake_thread.h"

#include <utility>

namespace tradelake {

LakeThread::LakeThread() : thread_([this] { Loop(); }) {}

LakeThread::~LakeThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LakeThread::Run(const std::function<void()>& task) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    task();
    return;
  }
  std::packaged_task<void()> packaged(task);
  std::future<void> done = packaged.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(packaged));
  }
  cv_.notify_one();
  done.get();
}

void LakeThread::Loop() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace tradelake
