// `tradelake catalog repair`: the MSCK REPAIR TABLE of a tradelake lake.
//
// Athena's MSCK REPAIR adds every partition folder it finds; in tradelake
// only an ETL commit may expose a partition, so repair reconciles the other
// way round. It lists the table folders and compares them with the current
// commit:
//   - exposed: partitions of the commit whose files are all present;
//   - removed: partitions of the commit with a file missing from the lake
//     (deleted by hand, lost): taken out of the catalog in a new commit, so
//     queries stop failing on them (re-run `tradelake etl --rebuild` to
//     rebuild them from Bronze);
//   - not exposed: files no commit lists, each with the reason: written by an
//     ETL run that never committed (part-<seq> above the current commit), or
//     replaced by a later commit and not yet deleted. Never added.
// --dry-run reports without committing. Nothing is ever deleted by repair.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "store/object_store.h"

namespace tradelake {

struct RepairReport {
  int64_t seq_before = 0;
  int64_t seq_after = 0;  // == seq_before when nothing changed (or dry run)
  bool dry_run = false;
  std::vector<std::string> exposed;   // "gold.trades_daily product_id=BTC-USD/date=2024-05-01"
  std::vector<std::string> removed;   // same form, with the missing file
  std::vector<std::string> not_exposed;  // "<key>: <reason>"

  std::string ToString() const;
};

Result<RepairReport> RepairCatalog(ObjectStore* store, bool dry_run);

}  // namespace tradelake
