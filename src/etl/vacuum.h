// Vacuum: deletes table files that no reader can need any more
// (`tradelake vacuum --retain 7d`), as Delta Lake's VACUUM does, but also
// honouring tradelake's own readers, which pin the versions of the kept
// catalog commits (table/catalog.h).
//
// For each table of EtlTables() the table folder is listed (vacuum is an
// explicit, occasional operation: the only step allowed to list a table) and
// a file is KEPT if it is
//   - under _delta_log/, or in a hidden folder or hidden itself (a path
//     segment starting with '_' or '.', as Hive and Delta ignore them);
//   - live in the latest Delta version of the table, or in the version the
//     current catalog snapshot pins (even one not yet rolled forward);
//   - live in a version pinned by any kept catalog commit (_catalog/commits/);
//   - removed by a commit whose deletionTimestamp is within the retention;
//   - referenced by nothing, but younger than the retention (it may belong
//     to a commit in flight).
// Everything else is deleted: files removed longer ago than the retention,
// and files of runs that were killed before committing once older than it.
//
// The age of an unreferenced file is its modification time where the store
// is a local folder (LocalPath). Other stores report no modification time, so
// vacuum records when it first saw each unreferenced file in
//   _state/etl/vacuum/first_seen.json
// and deletes it once that is older than the retention: on S3 an orphan goes
// at the first vacuum at least `retain` after the one that first saw it.
//
// The caller should hold the ETL lease (etl/lease.h) unless dry_run is set,
// so no compaction runs meanwhile; a concurrent ETL run is safe either way
// (its new files are young, the files it replaces are in recent tombstones).
//
// Errors: the store's, with the key as context; FailedPrecondition for a
// lake from before Delta (run `tradelake etl` first) or a kept catalog commit
// pinning a version the Delta log does not hold (run `tradelake etl`, which
// rolls it forward). Nothing is deleted when planning fails; a failed Delete
// stops the vacuum (what was deleted stays deleted, which is safe).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "etl/lease.h"
#include "store/object_store.h"

namespace tradelake {

inline constexpr std::string_view kVacuumFirstSeenKey = "_state/etl/vacuum/first_seen.json";

struct VacuumOptions {
  int64_t retain_micros = 7 * kMicrosPerDay;  // must be >= 0
  bool dry_run = false;                       // report what would go; change nothing
  std::function<TimestampMicros()> clock;     // NowMicros if empty
  // If set, the lease the caller holds: checked before deleting and renewed
  // every 1000 deletions (deleting stops with its error if it is lost). Not owned.
  EtlLease* lease = nullptr;
};

struct VacuumTableReport {
  int64_t files_listed = 0, bytes_listed = 0;
  int64_t files_deleted = 0, bytes_deleted = 0;
  int64_t files_kept_live = 0;          // live in the latest or a pinned version
  int64_t files_kept_tombstoned = 0;    // removed within the retention
  int64_t files_kept_young = 0;         // unreferenced, younger than the retention
  int64_t files_kept_log = 0;           // _delta_log/ and hidden files
};

struct VacuumReport {
  bool dry_run = false;
  std::map<std::string, VacuumTableReport> tables;  // by table name
  std::vector<std::string> deleted;  // keys deleted (or, in a dry run, that would be), sorted
  int64_t files_deleted = 0, bytes_deleted = 0;
  int64_t files_kept = 0, bytes_kept = 0;
};

// Plans and (unless dry_run) performs the vacuum described above.
Result<VacuumReport> VacuumLake(ObjectStore* store, const VacuumOptions& options);

}  // namespace tradelake
