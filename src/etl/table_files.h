// Table files between an object store and DuckDB, which reads and writes
// local paths only (etl/table_io.h).
//
// A store that is a local folder is read and written in place: readers open
// the file where it lies, writers write it there (table_io writes atomically:
// a temporary name, then a rename). Any other store (S3) goes through a
// private staging folder: a read downloads the object to a temporary file, a
// write writes one and uploads it create-only. Temporary files are removed
// when done, and the folder with the StagingDir.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/object_store.h"

namespace tradelake {

// A random 16-hex-digit tag for file names no other writer picks.
std::string RandomFileTag();

// A private folder under the system temp dir ("tradelake-<purpose>-<pid>-<tag>"),
// created on first use and removed with its contents by the destructor.
class StagingDir {
 public:
  explicit StagingDir(std::string_view purpose);
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  // A new path "<dir>/<tag>.parquet" (the folder is created if needed).
  Result<std::string> NewPath();

 private:
  std::filesystem::path dir_;
};

// Local file <-> bytes, with IOError naming the path.
Result<std::string> ReadLocalBytes(const std::string& path);
Status WriteLocalBytes(const std::string& path, std::string_view bytes);

template <typename Row>
using RowReader = Result<std::vector<Row>> (*)(const std::string&);
template <typename Row>
using RowWriter = Status (*)(const std::vector<Row>&, const std::string&);

// Every row of the table file at `key`; errors carry the key.
template <typename Row>
Result<std::vector<Row>> ReadRowsAt(ObjectStore* store, const std::string& key, RowReader<Row> reader,
                                    StagingDir* staging) {
  if (auto local = store->LocalPath(key)) {
    auto rows = reader(*local);
    if (!rows.ok()) return rows.status().WithContext(key);
    return rows;
  }
  ASSIGN_OR_RETURN(std::string bytes, store->Get(key));
  ASSIGN_OR_RETURN(std::string tmp, staging->NewPath());
  RETURN_IF_ERROR(WriteLocalBytes(tmp, bytes));
  auto rows = reader(tmp);
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  if (!rows.ok()) return rows.status().WithContext(key);
  return rows;
}

// Writes `rows` as the table file `key` (a new key: create-only on a remote
// store). Errors carry the key.
template <typename Row>
Status WriteRowsAt(ObjectStore* store, const std::string& key, const std::vector<Row>& rows, RowWriter<Row> writer,
                   StagingDir* staging) {
  const std::string context = "writing " + key;
  if (auto local = store->WritablePath(key)) return writer(rows, *local).WithContext(context);
  ASSIGN_OR_RETURN(std::string tmp, staging->NewPath());
  Status s = writer(rows, tmp);
  Result<std::string> bytes = s.ok() ? ReadLocalBytes(tmp) : Result<std::string>(s);
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  if (!bytes.ok()) return bytes.status().WithContext(context);
  return store->Put(key, *bytes, WriteMode::kCreateOnly).WithContext(context);
}

}  // namespace tradelake
