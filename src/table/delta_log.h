// Delta Lake transaction log: reading and writing the `_delta_log` of one
// table, so Athena, Trino, Spark and DuckDB read exactly the committed files.
//
// Protocol: delta-io/delta PROTOCOL.md, reader version 1 / writer version 2,
// no table features. A table lives under a root key ("silver/trades/"):
//   <root>_delta_log/<version, 20 digits>.json          one commit, JSON lines
//   <root>_delta_log/<version>.checkpoint.parquet        every 10 versions
//   <root>_delta_log/<version>.checkpoint.<i>.<n>.parquet (multi-part, read only)
//   <root>_delta_log/_last_checkpoint                     {"version":..,"size":..[,"parts":..]}
// A commit is written create-only (S3 If-None-Match: *), so two writers of
// the same version cannot both succeed.
//
// Reading never lists the whole log: it starts from _last_checkpoint (a
// hint, possibly stale) and lists only the versions that share the
// checkpoint's leading 19 digits (a "decade" of at most 10 commits), then
// the next decades while they hold commits. A log without _last_checkpoint
// is listed from version 0. Versions must be contiguous from the checkpoint
// (or 0): a hole fails with DataLoss, as Spark's reader does. A protocol
// with minReaderVersion > 1 (or any readerFeatures) fails with
// FailedPrecondition naming the version tradelake supports.
//
// Paths: `add.path` / `remove.path` are URIs relative to the table root, with
// partition folders percent-encoded (RFC 2396), exactly as written in the
// log; DeltaPathToKey() turns one into an object key. Files are identified
// by their (encoded) path, as the protocol says.
//
// Errors: a store failure is passed on with the key as context; a commit or
// checkpoint that cannot be parsed -> DataLoss naming the key.
//
// Threads: these functions keep no state; DeltaTableState is a value type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/object_store.h"

namespace tradelake {

inline constexpr int kDeltaReaderVersion = 1;
inline constexpr int kDeltaWriterVersion = 2;
// tradelake's writer checkpoints every this many versions (Spark's default).
inline constexpr int64_t kDeltaCheckpointInterval = 10;

struct DeltaProtocol {
  int min_reader_version = kDeltaReaderVersion;
  int min_writer_version = kDeltaWriterVersion;
  friend bool operator==(const DeltaProtocol&, const DeltaProtocol&) = default;
};

struct DeltaMetadata {
  std::string id;                 // a UUID, fixed at table creation
  std::string name;               // optional
  std::string schema_string;      // Spark's JSON struct type
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  int64_t created_time = 0;       // ms since the epoch
  friend bool operator==(const DeltaMetadata&, const DeltaMetadata&) = default;
};

// Per-file statistics, as in `add.stats` (a JSON document written as a
// string). min/max values are kept as JSON value text exactly as found or to
// be written: numbers unquoted (decimals exact: "65000.01"), strings, dates
// and timestamps quoted ("\"2024-05-01\"", "\"2024-05-01T00:00:00.000Z\"").
struct DeltaStats {
  int64_t num_records = -1;  // -1: unknown
  std::map<std::string, std::string> min_values, max_values;
  std::map<std::string, int64_t> null_count;
  friend bool operator==(const DeltaStats&, const DeltaStats&) = default;
};
// "" -> num_records -1 and nothing else. DataLoss for text that is not a
// stats object. Nested (struct) columns are flattened as "a.b".
Result<DeltaStats> ParseDeltaStats(std::string_view json);
// The JSON text for `add.stats`, keys in map order.
std::string SerializeDeltaStats(const DeltaStats& stats);
// The timestamp statistic of `column` in `values` (DeltaStats::min_values
// or max_values: JSON text such as "\"2024-05-01T12:34:56.789Z\"", any RFC
// 3339 offset), in micros since the epoch; nullopt when absent or not a
// timestamp. Delta writes milliseconds, truncated: a max may lie up to 1 ms
// below the column's true maximum.
std::optional<TimestampMicros> StatTime(const std::map<std::string, std::string>& values, std::string_view column);
// The integer statistic of `column` in `values` (e.g. trade_id,
// last_trade_id); nullopt when absent or not a whole decimal number.
std::optional<int64_t> StatInt(const std::map<std::string, std::string>& values, std::string_view column);

struct DeltaAddFile {
  std::string path;  // relative URI, as in the log
  // Partition column -> value as text; nullopt for a null partition value.
  std::map<std::string, std::optional<std::string>> partition_values;
  int64_t size = 0;
  int64_t modification_time = 0;  // ms since the epoch
  bool data_change = true;
  std::string stats;  // JSON text ("" if none)
  friend bool operator==(const DeltaAddFile&, const DeltaAddFile&) = default;
};

struct DeltaRemoveFile {
  std::string path;
  int64_t deletion_timestamp = 0;  // ms since the epoch
  bool data_change = true;
  // Optional in the protocol; written by tradelake (extendedFileMetadata).
  std::map<std::string, std::optional<std::string>> partition_values;
  int64_t size = -1;  // -1: not recorded
  friend bool operator==(const DeltaRemoveFile&, const DeltaRemoveFile&) = default;
};

// What one version of a table holds.
struct DeltaTableState {
  int64_t version = -1;  // -1: the table does not exist (no commit 0)
  DeltaProtocol protocol;
  DeltaMetadata metadata;
  std::map<std::string, DeltaAddFile> files;          // live files by path
  std::map<std::string, DeltaRemoveFile> tombstones;  // removed files by path
  std::map<std::string, int64_t> app_versions;        // txn: appId -> version
  int64_t last_commit_timestamp = 0;                  // ms, of `version`
};

// One commit to write. In version 0, protocol and metadata are required.
struct DeltaCommit {
  std::optional<DeltaProtocol> protocol;
  std::optional<DeltaMetadata> metadata;
  std::vector<DeltaAddFile> adds;
  std::vector<DeltaRemoveFile> removes;
  // A `txn` action (idempotent writers): appId -> version.
  std::optional<std::pair<std::string, int64_t>> txn;
  // commitInfo: written for humans and engines' history, not read back.
  int64_t timestamp = 0;  // ms since the epoch
  std::string operation = "WRITE";
  std::map<std::string, std::string> operation_parameters;
  std::string engine_info = "tradelake";
};

// "silver/trades/" + "_delta_log/00000000000000000007.json"
std::string DeltaCommitKey(std::string_view table_root, int64_t version);

// The object key of a file path from the log: percent-decoded and prefixed
// with the table root. InvalidArgument for an absolute URI (scheme:...) or a
// path that is not a valid object key.
Result<std::string> DeltaPathToKey(std::string_view table_root, std::string_view path);
// The reverse, for writing: percent-encodes what RFC 2396 does not allow in a
// path segment (as Spark does: ' ', '%', '#', ...), keeping '/', '=', '-',
// '.', '_', ':' as they are.
std::string KeyToDeltaPath(std::string_view table_root, std::string_view key);

// The latest version of the table at `table_root` (e.g. "silver/trades/"),
// or, with `at_most`, the highest version <= *at_most. A table with no
// commit 0 comes back with version -1 (not an error).
Result<DeltaTableState> LoadDeltaTable(ObjectStore* store, std::string_view table_root,
                                       std::optional<int64_t> at_most = std::nullopt);

// What one update of a DeltaTableState changed, and what takes it back.
// The state is changed in place, so an update costs what the new commits
// hold, not the table's size (a reader following a table for months keeps
// thousands of files and tombstones).
struct DeltaTableUpdate {
  // The state was read afresh (a new table, a version before ours, or
  // commits cleaned up after ours): any file may have changed.
  bool reloaded = false;
  // Otherwise: the paths whose add or remove the new commits hold (live
  // now or not: look them up in the state's files).
  std::set<std::string> touched;

  // The undo record (RevertDeltaTableUpdate); not for readers.
  struct PathBefore {
    std::string path;
    std::optional<DeltaAddFile> add;
    std::optional<DeltaRemoveFile> tombstone;
  };
  std::vector<PathBefore> undo;  // in the order of the changes
  std::optional<DeltaTableState> replaced;  // when reloaded
  int64_t version = -1;
  DeltaProtocol protocol;
  DeltaMetadata metadata;
  std::map<std::string, int64_t> app_versions;
  int64_t last_commit_timestamp = 0;
  bool saved = false;
};

// Brings `state` forward to the latest version (or to *at_most), reading only
// the commits after state->version. On error `state` is unchanged. With
// `update`, what changed is recorded there (and RevertDeltaTableUpdate can
// take it back, e.g. when another table of the same snapshot fails).
Status UpdateDeltaTable(ObjectStore* store, std::string_view table_root, DeltaTableState* state,
                        std::optional<int64_t> at_most = std::nullopt, DeltaTableUpdate* update = nullptr);
// Puts `state` back as it was before the update `update` recorded (which
// must be the last change made to it). `update` is left empty.
void RevertDeltaTableUpdate(DeltaTableState* state, DeltaTableUpdate* update);

// The JSON lines of `commit` (commitInfo first, then protocol, metaData,
// txn, removes, adds), as written to the log.
std::string SerializeDeltaCommit(const DeltaCommit& commit);

// Applies `commit` as version state->version + 1 in memory (what a reader of
// the log would get), in place. InvalidArgument if version 0 lacks
// protocol/metadata; on error `state` is unchanged.
Status ApplyDeltaCommit(DeltaTableState* state, const DeltaCommit& commit);

// Writes `commit` as `version` create-only. A version that already exists
// -> AlreadyExists (another writer got there first).
Status WriteDeltaCommit(ObjectStore* store, std::string_view table_root, int64_t version,
                        const DeltaCommit& commit);

// Writes <version>.checkpoint.parquet for `state` (protocol, metaData, txn,
// every live add and the tombstones newer than `tombstone_retention_ms`
// before state.last_commit_timestamp) in the checkpoint schema Spark writes,
// then _last_checkpoint (overwritten). Create-only for the Parquet file; an
// existing checkpoint of that version is left as it is (OK).
Status WriteDeltaCheckpoint(ObjectStore* store, std::string_view table_root, const DeltaTableState& state,
                            int64_t tombstone_retention_ms = int64_t{7} * 24 * 3600 * 1000);

}  // namespace tradelake
