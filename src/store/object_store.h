// ObjectStore: where the lake lives. One interface, several backends.
//
// Modelled on leveldb's Env and Arrow's FileSystem: every stage reads and
// writes the lake only through this interface, so the same code runs on a
// local folder (the default), in memory (tests) and, later, on S3. Wrappers
// add behaviour (fault injection, policy enforcement) without the stages
// knowing.
//
// Keys are '/'-separated relative paths ("bronze/source=coinbase/..."). A key
// with an empty segment, ".", "..", a leading '/', a backslash or a control
// character is rejected with InvalidArgument before anything is touched.
//
// Put() is atomic: a reader sees the whole object or none of it, never a
// partial one, even if the process is killed mid-write. With
// WriteMode::kCreateOnly an existing key is left untouched and the call
// fails with AlreadyExists (S3's If-None-Match: *), which is how Bronze
// objects stay immutable. A successful Put is durable (fsync'd) on backends
// that have durability.
//
// All methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

struct ObjectInfo {
  std::string key;
  int64_t size = 0;
};

enum class WriteMode { kOverwrite, kCreateOnly };

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Status Put(std::string_view key, std::string_view data, WriteMode mode) = 0;
  // NotFound if the key does not exist.
  virtual Result<std::string> Get(std::string_view key) = 0;
  // NotFound if the key does not exist.
  virtual Result<ObjectInfo> Head(std::string_view key) = 0;
  // Every object whose key starts with `prefix`, sorted by key. An empty
  // result is not an error.
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Deleting a missing key succeeds (as on S3).
  virtual Status Delete(std::string_view key) = 0;

  // "file:///abs/path", "mem://", ... for messages.
  virtual std::string Describe() const = 0;

  // The local file holding `key`, for backends that are a local folder (so
  // DuckDB can read a Parquet object in place); nullopt for other backends.
  virtual std::optional<std::string> LocalPath(std::string_view key) const {
    (void)key;
    return std::nullopt;
  }
  // The local file to write `key` in place (the caller writes it atomically
  // and create-only), for backends that are a local folder; nullopt for
  // others, and from wrappers that do not allow writing `key`, so callers
  // fall back to Put() and get its error.
  virtual std::optional<std::string> WritablePath(std::string_view key) const { return LocalPath(key); }
};

// OK if `key` is a valid object key (see above), else InvalidArgument naming it.
Status ValidateKey(std::string_view key);

// A local folder; created if missing. Temporary files are written beside
// their target under a name starting with ".tmp-", which Hive, Athena and
// tradelake's readers ignore, and are removed by List() when stale.
Result<std::unique_ptr<ObjectStore>> OpenLocalStore(std::string root);

// A store kept in memory, for tests.
std::unique_ptr<ObjectStore> NewMemoryStore();

// OpenStore(uri), which picks a backend from a URI, is in store/open_store.h:
// this interface does not depend on any backend beyond the local ones.

}  // namespace tradelake
