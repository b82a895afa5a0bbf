// CountingStore: an ObjectStore wrapper that counts the requests reaching its
// base store, by kind, with the bytes moved and the time spent in them, for
// benchmarks and tests that assert a cost ("one GET per new object"). On S3
// each counted call is one billed request, failed ones included (a GET that
// answers 404 is billed too).
//
// Writes and reads that bypass Put/Get: a local-folder base hands out file
// paths (LocalPath to read a Parquet file in place, WritablePath to write one
// in place). Those are counted as local reads / local writes; their bytes are
// not seen by the wrapper. Keep a write log (CountingStoreOptions::log_writes)
// to measure the files afterwards, or turn WritablePath off
// (allow_writable_path = false) so every write goes through Put and is
// counted there (the caller then takes the same path as on S3).
//
// Thread-safe when the base store is: counters are guarded by a mutex.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/object_store.h"

namespace tradelake {

struct StoreCounts {
  int64_t gets = 0;
  int64_t puts = 0;
  int64_t lists = 0;
  int64_t heads = 0;
  int64_t deletes = 0;
  int64_t local_reads = 0;   // LocalPath calls that returned a path
  int64_t local_writes = 0;  // WritablePath calls that returned a path
  int64_t bytes_put = 0;     // data of successful Puts
  int64_t bytes_got = 0;     // data returned by successful Gets
  int64_t micros = 0;        // time inside the base's Get/Put/List/Head/Delete

  // Requests on S3 terms: gets + puts + lists + heads + deletes.
  int64_t requests() const { return gets + puts + lists + heads + deletes; }
  // Field-wise difference, for "what did this step cost".
  StoreCounts operator-(const StoreCounts& earlier) const;
  friend bool operator==(const StoreCounts&, const StoreCounts&) = default;
};

struct CountingStoreOptions {
  // Keep every key written (Put or WritablePath) for TakeWrites().
  bool log_writes = false;
  // false: WritablePath() returns nullopt, so callers fall back to Put().
  bool allow_writable_path = true;
};

// A key written through the wrapper.
struct WrittenObject {
  std::string key;
  int64_t bytes = 0;   // the Put's data size; -1 for a local write (not seen)
  bool local = false;  // handed out by WritablePath
};

class CountingStore final : public ObjectStore {
 public:
  // `base` must outlive the wrapper.
  explicit CountingStore(ObjectStore* base, CountingStoreOptions options = {})
      : base_(base), options_(options) {}

  // The counters since construction.
  StoreCounts counts() const;
  // The writes logged since the last call (empty unless options.log_writes),
  // in call order; clears the log.
  std::vector<WrittenObject> TakeWrites();

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override;
  Result<std::string> Get(std::string_view key) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  // "counting(<base>)"
  std::string Describe() const override;
  std::optional<std::string> LocalPath(std::string_view key) const override;
  std::optional<std::string> WritablePath(std::string_view key) const override;

 private:
  ObjectStore* const base_;
  const CountingStoreOptions options_;
  // mutable: LocalPath and WritablePath are const in the interface but count.
  mutable std::mutex mu_;
  mutable StoreCounts counts_;                 // GUARDED_BY(mu_)
  mutable std::vector<WrittenObject> writes_;  // GUARDED_BY(mu_)
};

}  // namespace tradelake
