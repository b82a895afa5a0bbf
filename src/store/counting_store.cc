#include "store/counting_store.h"

#include <chrono>
#include <utility>

namespace tradelake {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MicrosSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

}  // namespace

StoreCounts StoreCounts::operator-(const StoreCounts& earlier) const {
  StoreCounts d;
  d.gets = gets - earlier.gets;
  d.puts = puts - earlier.puts;
  d.lists = lists - earlier.lists;
  d.heads = heads - earlier.heads;
  d.deletes = deletes - earlier.deletes;
  d.local_reads = local_reads - earlier.local_reads;
  d.local_writes = local_writes - earlier.local_writes;
  d.bytes_put = bytes_put - earlier.bytes_put;
  d.bytes_got = bytes_got - earlier.bytes_got;
  d.micros = micros - earlier.micros;
  return d;
}

StoreCounts CountingStore::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::vector<WrittenObject> CountingStore::TakeWrites() {
  std::lock_guard lock(mu_);
  return std::exchange(writes_, {});
}

// Each call is counted after it returns, under the lock only briefly, so
// concurrent callers are not serialized on the base store.
Status CountingStore::Put(std::string_view key, std::string_view data, WriteMode mode) {
  const auto t0 = Clock::now();
  Status s = base_->Put(key, data, mode);
  const int64_t us = MicrosSince(t0);
  std::lock_guard lock(mu_);
  ++counts_.puts;
  counts_.micros += us;
  if (s.ok()) {
    counts_.bytes_put += static_cast<int64_t>(data.size());
    if (options_.log_writes) writes_.push_back({std::string(key), static_cast<int64_t>(data.size()), false});
  }
  return s;
}

Result<std::string> CountingStore::Get(std::string_view key) {
  const auto t0 = Clock::now();
  Result<std::string> r = base_->Get(key);
  const int64_t us = MicrosSince(t0);
  std::lock_guard lock(mu_);
  ++counts_.gets;
  counts_.micros += us;
  if (r.ok()) counts_.bytes_got += static_cast<int64_t>(r->size());
  return r;
}

Result<ObjectInfo> CountingStore::Head(std::string_view key) {
  const auto t0 = Clock::now();
  Result<ObjectInfo> r = base_->Head(key);
  const int64_t us = MicrosSince(t0);
  std::lock_guard lock(mu_);
  ++counts_.heads;
  counts_.micros += us;
  return r;
}

Result<std::vector<ObjectInfo>> CountingStore::List(std::string_view prefix) {
  const auto t0 = Clock::now();
  Result<std::vector<ObjectInfo>> r = base_->List(prefix);
  const int64_t us = MicrosSince(t0);
  std::lock_guard lock(mu_);
  ++counts_.lists;
  counts_.micros += us;
  return r;
}

Status CountingStore::Delete(std::string_view key) {
  const auto t0 = Clock::now();
  Status s = base_->Delete(key);
  const int64_t us = MicrosSince(t0);
  std::lock_guard lock(mu_);
  ++counts_.deletes;
  counts_.micros += us;
  return s;
}

std::string CountingStore::Describe() const { return "counting(" + base_->Describe() + ")"; }

std::optional<std::string> CountingStore::LocalPath(std::string_view key) const {
  std::optional<std::string> path = base_->LocalPath(key);
  if (path) {
    std::lock_guard lock(mu_);
    ++counts_.local_reads;
  }
  return path;
}

std::optional<std::string> CountingStore::WritablePath(std::string_view key) const {
  if (!options_.allow_writable_path) return std::nullopt;
  std::optional<std::string> path = base_->WritablePath(key);
  if (path) {
    std::lock_guard lock(mu_);
    ++counts_.local_writes;
    if (options_.log_writes) writes_.push_back({std::string(key), -1, true});
  }
  return path;
}

}  // namespace tradelake
