// FaultInjectionStore: an ObjectStore wrapper that fails on command, for
// tests (leveldb's FaultInjectionTestEnv). It forwards to a base store until a
// rule matches, then returns the rule's error instead of (or after) the call.
//
// Two kinds of rules, which can be combined:
//   - FailPuts: Puts whose key contains a substring fail after N of them
//     succeeded (disk full, a denied prefix);
//   - FailCall: the call with a given index fails. Every call (Put, Get, Head,
//     List, Delete) is numbered from 0 in the order it reaches the wrapper, so
//     a test can count the calls of a clean run, then fail each one in turn.
//     The modes say what the failure stands for:
//       kFailOnce   call k fails, later calls go through (a transient error);
//       kKill       call k and every later call fail, as if the process died
//                   just before call k (nothing after it reaches the store);
//       kLostReply  call k is carried out, then reports the error (a timeout
//                   after S3 applied the write); later calls go through.
//
// A local-folder base lets writers and readers bypass the store through
// LocalPath/WritablePath (DuckDB reading and writing Parquet in place). With
// set_local_paths(false) both return nullopt, so every read and write goes
// through Get/Put and can be counted and failed.
//
// Threads: all methods may be called from any thread. Call indexes are only
// reproducible when the code under test makes its calls from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/object_store.h"

namespace tradelake {

enum class FaultMode { kFailOnce, kKill, kLostReply };

class FaultInjectionStore final : public ObjectStore {
 public:
  // `base` must outlive this wrapper.
  explicit FaultInjectionStore(ObjectStore* base) : base_(base) {}

  // Puts whose key contains `key_substring` fail with `error` once `after`
  // matching Puts have succeeded. Replaces any earlier substring rule.
  void FailPuts(std::string key_substring, int after, Status error) {
    std::lock_guard lock(mu_);
    substring_ = std::move(key_substring);
    remaining_ = after;
    error_ = std::move(error);
  }
  // The call with index `k` (counted from 0 over the wrapper's life, see
  // ResetCalls) fails with `error` as `mode` says. Replaces any earlier call
  // rule.
  void FailCall(int64_t k, FaultMode mode, Status error) {
    std::lock_guard lock(mu_);
    fail_call_ = k;
    mode_ = mode;
    call_error_ = std::move(error);
  }
  // Removes every rule (a killed store comes back to life).
  void Heal() {
    std::lock_guard lock(mu_);
    substring_.clear();
    fail_call_ = -1;
  }
  // Starts numbering calls from 0 again and clears the call log.
  void ResetCalls() {
    std::lock_guard lock(mu_);
    calls_ = 0;
    log_.clear();
  }
  // Calls that failed because of a rule.
  int injected() const {
    std::lock_guard lock(mu_);
    return injected_;
  }
  // Calls made since the last ResetCalls (failed ones included).
  int64_t calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // "Put <key>", "Get <key>", "List <prefix>", ... for every call since the
  // last ResetCalls, in order: call k is call_log()[k].
  std::vector<std::string> call_log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  // false: LocalPath and WritablePath return nullopt (see above).
  void set_local_paths(bool allowed) {
    std::lock_guard lock(mu_);
    local_paths_ = allowed;
  }

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    const Decision d = Decide("Put", key);
    if (d == Decision::kFail) return Error();
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
    Status s = base_->Put(key, data, mode);
    return d == Decision::kLoseReply ? Error() : s;
  }
  Result<std::string> Get(std::string_view key) override {
    const Decision d = Decide("Get", key);
    if (d == Decision::kFail) return Error();
    auto r = base_->Get(key);
    if (d == Decision::kLoseReply) return Error();
    return r;
  }
  Result<ObjectInfo> Head(std::string_view key) override {
    const Decision d = Decide("Head", key);
    if (d == Decision::kFail) return Error();
    auto r = base_->Head(key);
    if (d == Decision::kLoseReply) return Error();
    return r;
  }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    const Decision d = Decide("List", prefix);
    if (d == Decision::kFail) return Error();
    auto r = base_->List(prefix);
    if (d == Decision::kLoseReply) return Error();
    return r;
  }
  Status Delete(std::string_view key) override {
    const Decision d = Decide("Delete", key);
    if (d == Decision::kFail) return Error();
    Status s = base_->Delete(key);
    return d == Decision::kLoseReply ? Error() : s;
  }
  std::string Describe() const override { return "fault-injection(" + base_->Describe() + ")"; }
  std::optional<std::string> LocalPath(std::string_view key) const override {
    {
      std::lock_guard lock(mu_);
      if (!local_paths_) return std::nullopt;
    }
    return base_->LocalPath(key);
  }
  std::optional<std::string> WritablePath(std::string_view key) const override {
    {
      std::lock_guard lock(mu_);
      if (!local_paths_) return std::nullopt;
    }
    return base_->WritablePath(key);
  }

 private:
  enum class Decision { kForward, kFail, kLoseReply };

  // Numbers the call and says what to do with it.
  Decision Decide(const char* op, std::string_view key) {
    std::lock_guard lock(mu_);
    const int64_t k = calls_++;
    log_.push_back(std::string(op) + " " + std::string(key));
    if (fail_call_ < 0) return Decision::kForward;
    const bool hit = k == fail_call_ || (mode_ == FaultMode::kKill && k > fail_call_);
    if (!hit) return Decision::kForward;
    ++injected_;
    return mode_ == FaultMode::kLostReply ? Decision::kLoseReply : Decision::kFail;
  }
  Status Error() const {
    std::lock_guard lock(mu_);
    return call_error_;
  }

  ObjectStore* base_;
  mutable std::mutex mu_;
  std::string substring_;        // GUARDED_BY(mu_)
  int remaining_ = 0;            // GUARDED_BY(mu_)
  int injected_ = 0;             // GUARDED_BY(mu_)
  Status error_;                 // GUARDED_BY(mu_)
  int64_t fail_call_ = -1;       // GUARDED_BY(mu_); -1: no call rule
  FaultMode mode_ = FaultMode::kFailOnce;  // GUARDED_BY(mu_)
  Status call_error_;            // GUARDED_BY(mu_)
  int64_t calls_ = 0;            // GUARDED_BY(mu_)
  std::vector<std::string> log_; // GUARDED_BY(mu_)
  bool local_paths_ = true;      // GUARDED_BY(mu_)
};

}  // namespace tradelake
