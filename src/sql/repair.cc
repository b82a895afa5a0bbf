#include "sql/repair.h"

#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/time.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

// part-<seq>-<tag>.parquet -> seq, or -1.
int64_t FileSeq(std::string_view key) {
  const size_t slash = key.rfind('/');
  std::string_view name = key.substr(slash == std::string_view::npos ? 0 : slash + 1);
  if (!name.starts_with("part-")) return -1;
  name.remove_prefix(5);
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0) return -1;
  int64_t seq = 0;
  for (char ch : name.substr(0, dash)) {
    if (ch < '0' || ch > '9') return -1;
    seq = seq * 10 + (ch - '0');
  }
  return seq;
}

}  // namespace

std::string RepairReport::ToString() const {
  std::string out = fmt::format("catalog commit {}: {} partitions exposed\n", seq_before, exposed.size());
  if (removed.empty()) {
    out += "removed: none (every committed file is in the lake)\n";
  } else {
    out += fmt::format("removed from the catalog ({}): committed files are missing; rebuild them with "
                       "`tradelake etl --rebuild`\n",
                       removed.size());
    for (const auto& r : removed) out += "  - " + r + "\n";
  }
  if (not_exposed.empty()) {
    out += "not exposed: none (no file outside the catalog)\n";
  } else {
    out += fmt::format("not exposed ({} files no ETL commit lists; never added):\n", not_exposed.size());
    for (const auto& n : not_exposed) out += "  - " + n + "\n";
  }
  if (dry_run) {
    out += removed.empty() ? "dry run: nothing to change\n" : "dry run: nothing committed\n";
  } else if (seq_after != seq_before) {
    out += fmt::format("committed catalog commit {}\n", seq_after);
  } else {
    out += "catalog unchanged\n";
  }
  return out;
}

Result<RepairReport> RepairCatalog(ObjectStore* store, bool dry_run) {
  RepairReport report;
  report.dry_run = dry_run;
  ASSIGN_OR_RETURN(Snapshot snap, LoadCurrentSnapshot(store));
  report.seq_before = report.seq_after = snap.seq;
  std::set<std::string> present;
  for (std::string_view prefix : {"silver/", "gold/"}) {
    ASSIGN_OR_RETURN(auto objects, store->List(prefix));
    for (auto& o : objects) present.insert(o.key);
  }
  const std::set<std::string> committed = snap.Files();
  Snapshot next = snap;
  bool changed = false;
  for (auto& [table, partitions] : next.tables) {
    for (auto it = partitions.begin(); it != partitions.end();) {
      std::string missing;
      for (const auto& key : it->second) {
        if (!present.count(key)) missing = key;
      }
      if (missing.empty()) {
        report.exposed.push_back(fmt::format("{} {}", table, it->first));
        ++it;
      } else {
        report.removed.push_back(fmt::format("{} {} (missing {})", table, it->first, missing));
        it = partitions.erase(it);
        changed = true;
      }
    }
  }
  for (const auto& key : present) {
    if (committed.count(key) || !key.ends_with(".parquet")) continue;
    const int64_t seq = FileSeq(key);
    std::string reason;
    if (seq > snap.seq) {
      reason = fmt::format("written by ETL run {} which has not committed (running, or killed: the next "
                           "`tradelake etl` deletes it)",
                           seq);
    } else if (seq >= 0) {
      reason = fmt::format("replaced by a later commit (written by run {}); awaiting deletion", seq);
    } else {
      reason = "not written by tradelake's ETL (unknown file name)";
    }
    report.not_exposed.push_back(fmt::format("{}: {}", key, reason));
  }
  if (changed && !dry_run) {
    next.seq = snap.seq + 1;
    next.committed_at = NowMicros();
    RETURN_IF_ERROR(CommitSnapshot(store, next));
    report.seq_after = next.seq;
  }
  return report;
}

}  // namespace tradelake
