// `tradelake catalog check`: is every file the catalog pins in the lake?
//
// With Delta tables there is no file list to repair: a table's files are
// what its log says at the version the catalog snapshot pins. What can go
// wrong is the lake losing a live file (deleted by hand, a bad lifecycle
// rule, a vacuum with a too-short retention). The check lists each table's
// folder once and compares it with the live files of the pinned versions:
//   - missing: a live file that is not in the lake, or has another size than
//     the log recorded (queries reading it fail with DataLoss; rebuild the
//     tables from Bronze with `tradelake etl --rebuild`);
//   - unreferenced: Parquet files in the table folder that the pinned
//     version does not hold: replaced by a later version and awaiting
//     `tradelake vacuum`, or written by a run that never committed. Readers
//     never see them. Reported, never touched.
// Tables the role may not list are reported as not checked.
// Nothing is ever written or deleted.
//
// Cost: one LIST per table folder (all its objects, old versions included).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/object_store.h"

namespace tradelake {

struct LakeCheckReport {
  int64_t seq = 0;  // catalog commit checked
  struct Table {
    std::string name;        // "silver.trades"
    int64_t version = -1;    // Delta version pinned; -1: not created yet
    int64_t live_files = 0;
    bool checked = true;     // false: the role may not list its folder
    std::vector<std::string> missing;       // "<key>: <what is wrong>"
    std::vector<std::string> unreferenced;  // keys
  };
  std::vector<Table> tables;

  int64_t missing_count() const;
  // One line per table, then every missing and unreferenced file.
  std::string ToString() const;
};

// Checks the newest catalog snapshot. Errors: those of LoadLakeState and of
// listing a table folder (other than PermissionDenied).
Result<LakeCheckReport> CheckLake(ObjectStore* store);

}  // namespace tradelake
