// FaultInjectionStore: an ObjectStore wrapper that fails on command, for
// tests (leveldb's FaultInjectionTestEnv). It forwards to a base store until a
// rule matches a Put, then returns the rule's error instead of writing.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "store/object_store.h"

namespace tradelake {

class FaultInjectionStore final : public ObjectStore {
 public:
  // `base` must outlive this wrapper.
  explicit FaultInjectionStore(ObjectStore* base) : base_(base) {}

  // Puts whose key contains `key_substring` fail with `error` once `after`
  // matching Puts have succeeded. Replaces any earlier rule.
  void FailPuts(std::string key_substring, int after, Status error) {
    std::lock_guard lock(mu_);
    substring_ = std::move(key_substring);
    remaining_ = after;
    error_ = std::move(error);
  }
  void Heal() {
    std::lock_guard lock(mu_);
    substring_.clear();
  }
  int injected() const {
    std::lock_guard lock(mu_);
    return injected_;
  }

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    {
      std::lock_guard lock(mu_);
      if (!substring_.empty() && key.find(substring_) != std::string_view::npos) {
        if (remaining_ <= 0) {
          ++injected_;
          return error_;
        }
        --remaining_;
      }
    }
    return base_->Put(key, data, mode);
  }
  Result<std::string> Get(std::string_view key) override { return base_->Get(key); }
  Result<ObjectInfo> Head(std::string_view key) override { return base_->Head(key); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override { return base_->List(prefix); }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  std::string Describe() const override { return "fault-injection(" + base_->Describe() + ")"; }
  std::optional<std::string> LocalPath(std::string_view key) const override { return base_->LocalPath(key); }

 private:
  ObjectStore* base_;
  mutable std::mutex mu_;
  std::string substring_;  // GUARDED_BY(mu_)
  int remaining_ = 0;      // GUARDED_BY(mu_)
  int injected_ = 0;       // GUARDED_BY(mu_)
  Status error_;           // GUARDED_BY(mu_)
};

}  // namespace tradelake
