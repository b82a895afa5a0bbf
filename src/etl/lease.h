// EtlLease: at most one ETL (or maintenance command) writes a lake at a time,
// on any ObjectStore backend (S3, a shared folder, memory), without process
// ids and without compare-and-swap.
//
// The lease is a series of epoch-numbered objects
//   _state/etl/lease/<epoch, 20 digits>.json
//   {"owner": "...", "epoch": N, "acquired_at": micros, "expires_at": micros, ...}
// The newest epoch is the lease; it is held by its owner while
// clock() < expires_at. To take the lease, a contender reads the newest
// epoch N; if it has expired (or was released), it creates epoch N + 1
// create-only (S3 If-None-Match: *), so of two racing takers exactly one
// succeeds. The holder renews by overwriting its own epoch object (only its
// own: a newer epoch, once it exists, always wins) and releases by marking
// it expired (never by deleting it, so epochs only grow and a slow
// contender can never re-create an epoch that was already used). Epochs
// older than the newest are deleted by the next holder.
//
// Safety rests on time: a holder must renew (or at least CheckHeld()) well
// within `ttl`, and clocks of contenders must agree to within a small
// fraction of it. Every write of the lake made under the lease should be
// preceded by CheckHeld() at its commit point.
//
// Threads: an EtlLease may be used from one thread at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

inline constexpr std::string_view kEtlLeasePrefix = "_state/etl/lease/";

// "_state/etl/lease/00000000000000000007.json"
std::string EtlLeaseKey(int64_t epoch);

// "<hostname>:<pid>:<16 random hex digits>": unique per process and call.
std::string DefaultLeaseOwner();

struct LeaseOptions {
  int64_t ttl_micros = 5 * kMicrosPerMinute;
  std::string owner;  // "" -> DefaultLeaseOwner()
  // Returns the current time; NowMicros if empty. Tests pass a fake clock.
  std::function<TimestampMicros()> clock;
};

class EtlLease {
 public:
  // Takes the lease for options.ttl_micros. Returns the held lease, or
  //   FailedPrecondition naming the owner and when its lease expires (RFC 3339)
  //     when another owner holds a live lease, or won the race to take an
  //     expired one;
  //   InvalidArgument for a ttl <= 0;
  //   the store's error (e.g. PermissionDenied for a role that may not write
  //     _state/etl/) with context.
  // `store` must outlive the lease.
  static Result<std::unique_ptr<EtlLease>> Acquire(ObjectStore* store, const LeaseOptions& options);

  // Releases the lease if still held (errors are logged, not raised).
  ~EtlLease();
  EtlLease(const EtlLease&) = delete;
  EtlLease& operator=(const EtlLease&) = delete;

  // Extends the lease to clock() + ttl. FailedPrecondition if it is no
  // longer held (expired, or another owner took a newer epoch).
  Status Renew();

  // OK if this lease is the newest epoch and has not expired (one LIST);
  // FailedPrecondition naming the newer owner or the expiry otherwise.
  Status CheckHeld();

  // Marks the lease expired so the next contender takes it at once. After
  // this, Renew and CheckHeld fail. Idempotent.
  Status Release();

  const std::string& owner() const { return owner_; }
  int64_t epoch() const { return epoch_; }
  TimestampMicros acquired_at() const { return acquired_at_; }
  TimestampMicros expires_at() const { return expires_at_; }

 private:
  EtlLease(ObjectStore* store, LeaseOptions options, int64_t epoch, TimestampMicros acquired_at,
           TimestampMicros expires_at);
  TimestampMicros Now() const;

  ObjectStore* store_;
  LeaseOptions options_;
  std::string owner_;
  int64_t epoch_;
  TimestampMicros acquired_at_;
  TimestampMicros expires_at_;
  bool released_ = false;
};

// Keeps the ETL lease renewed while a run works (a rebuild may take longer
// than the lease's ttl), and says at the commit point whether it is still held.
class LeaseKeeper {
 public:
  explicit LeaseKeeper(std::unique_ptr<EtlLease> lease) : lease_(std::move(lease)) {
    renewer_ = std::thread([this] {
      std::unique_lock lock(mu_);
      const auto every = std::chrono::microseconds(kLeaseTtl / 3);
      while (!done_) {
        if (cv_.wait_for(lock, every, [this] { return done_; })) break;
        if (Status s = lease_->Renew(); !s.ok() && renew_error_.ok()) renew_error_ = s;
      }
    });
  }
  ~LeaseKeeper() { Stop(); }
  // Stops renewing; OK if the lease is still held.
  Status StopAndCheck() {
    Stop();
    if (!renew_error_.ok()) return renew_error_;
    return lease_->CheckHeld();
  }
  static constexpr int64_t kLeaseTtl = 2 * kMicrosPerMinute;
  // The lease, for work done under it after StopAndCheck (compaction).
  EtlLease* lease() { return lease_.get(); }

 private:
  void Stop() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (renewer_.joinable()) renewer_.join();
  }
  std::unique_ptr<EtlLease> lease_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;         // GUARDED_BY(mu_)
  Status renew_error_;        // written by the renewer, read after join
  std::thread renewer_;
};

}  // namespace tradelake
