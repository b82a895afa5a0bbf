#include "etl/vacuum.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "table/catalog.h"
#include "table/delta_log.h"

namespace tradelake {
namespace {

constexpr std::string_view kCatalogCommitsPrefix = "_catalog/commits/";

// table -> the versions pinned by the kept catalog commits. Reads each kept
// commit (there are only a few): catalog.h exposes the newest snapshot only.
// A format-1 commit (before Delta) pins no Delta version.
Result<std::map<std::string, std::set<int64_t>>> PinnedByKeptCommits(ObjectStore* store) {
  std::map<std::string, std::set<int64_t>> pinned;
  auto listed = store->List(kCatalogCommitsPrefix);
  if (!listed.ok()) return listed.status().WithContext("listing the catalog commits");
  for (const ObjectInfo& o : *listed) {
    if (!o.key.ends_with(".json")) continue;
    auto text = store->Get(o.key);
    if (text.status().code() == StatusCode::kNotFound) continue;  // pruned meanwhile
    if (!text.ok()) return text.status().WithContext("reading the catalog commit");
    auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return DataLoss(fmt::format("catalog commit {} is not a JSON object", o.key));
    // Format 2: "tables": {"silver.trades": {"version": 7, ...}, ...}; a
    // format-1 commit has no "format" and pins no Delta version.
    if (!j.contains("format") || !j["format"].is_number_integer() || j["format"].get<int64_t>() < 2) continue;
    auto tables = j.find("tables");
    if (tables == j.end() || !tables->is_object()) {
      return DataLoss(fmt::format("catalog commit {} has no \"tables\" object", o.key));
    }
    for (const auto& [table, t] : tables->items()) {
      if (!t.is_object() || !t.contains("version") || !t["version"].is_number_integer()) {
        return DataLoss(fmt::format("catalog commit {}: the version of {} is not an integer", o.key, table));
      }
      pinned[table].insert(t["version"].get<int64_t>());
    }
  }
  return pinned;
}

// A path segment starting with '_' or '.' hides a file from Hive, Athena and
// Delta's VACUUM; vacuum leaves such files (the log, checkpoints) alone.
bool IsHidden(std::string_view relative) {
  size_t start = 0;
  while (start < relative.size()) {
    if (relative[start] == '_' || relative[start] == '.') return true;
    const size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

// Modification time of a file in a local-folder store, if it is one.
std::optional<TimestampMicros> LocalModificationTime(ObjectStore* store, std::string_view key) {
  auto path = store->LocalPath(key);
  if (!path) return std::nullopt;
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0) return std::nullopt;
  return TimestampMicros{st.st_mtim.tv_sec} * kMicrosPerSecond + st.st_mtim.tv_nsec / 1000;
}

Result<std::map<std::string, TimestampMicros>> LoadFirstSeen(ObjectStore* store) {
  std::map<std::string, TimestampMicros> seen;
  auto text = store->Get(kVacuumFirstSeenKey);
  if (text.status().code() == StatusCode::kNotFound) return seen;
  if (!text.ok()) return text.status().WithContext("reading vacuum's record of unreferenced files");
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("first_seen") || !j["first_seen"].is_object()) {
    // Losing the record only delays deletions (ages restart now): never unsafe.
    spdlog::warn("{} is unreadable; unreferenced files are aged from now on", kVacuumFirstSeenKey);
    return seen;
  }
  for (const auto& [key, t] : j["first_seen"].items()) {
    if (t.is_number_integer()) seen[key] = t.get<int64_t>();
  }
  return seen;
}

Status StoreFirstSeen(ObjectStore* store, const std::map<std::string, TimestampMicros>& seen) {
  nlohmann::json j;
  j["first_seen"] = nlohmann::json::object();
  for (const auto& [key, t] : seen) j["first_seen"][key] = t;
  return store->Put(kVacuumFirstSeenKey, j.dump() + "\n", WriteMode::kOverwrite)
      .WithContext("recording unreferenced files for vacuum");
}

// Adds the object keys of `state`'s live files to `keys`.
Status AddLiveKeys(std::string_view root, const DeltaTableState& state, std::set<std::string>* keys) {
  for (const auto& [path, add] : state.files) {
    ASSIGN_OR_RETURN(std::string key, DeltaPathToKey(root, path));
    keys->insert(std::move(key));
  }
  return Status::OK();
}

struct Victim {
  std::string key;
  int64_t size = 0;
  std::string table;
};

}  // namespace

Result<VacuumReport> VacuumLake(ObjectStore* store, const VacuumOptions& options) {
  if (options.retain_micros < 0) return InvalidArgument("vacuum: --retain must not be negative");
  const TimestampMicros now = options.clock ? options.clock() : NowMicros();
  const TimestampMicros horizon = now - options.retain_micros;

  ASSIGN_OR_RETURN(LakeState lake, LoadLakeState(store));
  if (lake.catalog.legacy) {
    return FailedPrecondition("vacuum: the lake is in the format from before Delta; run `tradelake etl` first");
  }
  ASSIGN_OR_RETURN(auto pinned, PinnedByKeptCommits(store));
  ASSIGN_OR_RETURN(auto first_seen, LoadFirstSeen(store));
  std::map<std::string, TimestampMicros> still_unreferenced;

  VacuumReport report;
  report.dry_run = options.dry_run;
  std::vector<Victim> victims;

  for (std::string_view table_view : EtlTables()) {
    const std::string table(table_view);
    const std::string root = TableFolder(table);
    VacuumTableReport& tr = report.tables[table];

    ASSIGN_OR_RETURN(DeltaTableState latest, LoadDeltaTable(store, root));
    std::set<std::string> live;
    RETURN_IF_ERROR(AddLiveKeys(root, latest, &live));
    // tombstoned key -> deletion time (micros); the newest removal counts.
    std::map<std::string, TimestampMicros> removed_at;
    auto add_tombstones = [&](const DeltaTableState& s) -> Status {
      for (const auto& [path, rm] : s.tombstones) {
        ASSIGN_OR_RETURN(std::string key, DeltaPathToKey(root, path));
        TimestampMicros& t = removed_at[key];
        t = std::max(t, rm.deletion_timestamp * 1000);
      }
      return Status::OK();
    };
    RETURN_IF_ERROR(add_tombstones(latest));

    std::optional<int64_t> current_pin;
    if (auto it = lake.tables.find(table); it != lake.tables.end()) {
      RETURN_IF_ERROR(AddLiveKeys(root, it->second, &live));
      RETURN_IF_ERROR(add_tombstones(it->second));
      current_pin = it->second.version;
    }
    if (auto it = pinned.find(table); it != pinned.end()) {
      for (int64_t v : it->second) {
        if (v == latest.version || v == current_pin) continue;
        if (v > latest.version) {
          return FailedPrecondition(fmt::format(
              "vacuum: a kept catalog commit pins version {} of {}, which its Delta log does not hold yet; "
              "run `tradelake etl` (it rolls the log forward) and vacuum again",
              v, table));
        }
        ASSIGN_OR_RETURN(DeltaTableState old, LoadDeltaTable(store, root, v));
        RETURN_IF_ERROR(AddLiveKeys(root, old, &live));
      }
    }

    auto listed = store->List(root);
    if (!listed.ok()) return listed.status().WithContext(fmt::format("listing {}", root));
    for (const ObjectInfo& o : *listed) {
      ++tr.files_listed;
      tr.bytes_listed += o.size;
      const std::string_view relative = std::string_view(o.key).substr(root.size());
      bool keep = true;
      if (IsHidden(relative)) {
        ++tr.files_kept_log;
      } else if (live.contains(o.key)) {
        ++tr.files_kept_live;
      } else if (auto rm = removed_at.find(o.key); rm != removed_at.end()) {
        if (rm->second >= horizon) {
          ++tr.files_kept_tombstoned;
        } else {
          keep = false;
        }
      } else {
        // Referenced by nothing: a commit in flight, or a run that died.
        TimestampMicros since = now;
        if (auto mtime = LocalModificationTime(store, o.key)) {
          since = *mtime;
        } else {
          if (auto seen = first_seen.find(o.key); seen != first_seen.end()) since = seen->second;
          still_unreferenced[o.key] = since;
        }
        if (since >= horizon) {
          ++tr.files_kept_young;
        } else {
          keep = false;
        }
      }
      if (keep) {
        ++report.files_kept;
        report.bytes_kept += o.size;
      } else {
        victims.push_back({o.key, o.size, table});
        still_unreferenced.erase(o.key);
      }
    }
  }

  std::sort(victims.begin(), victims.end(), [](const Victim& a, const Victim& b) { return a.key < b.key; });
  if (!options.dry_run && options.lease && !victims.empty()) {
    RETURN_IF_ERROR(options.lease->CheckHeld().WithContext("vacuum"));
  }
  for (const Victim& v : victims) {
    if (!options.dry_run) {
      if (options.lease && report.files_deleted > 0 && report.files_deleted % 1000 == 0) {
        RETURN_IF_ERROR(options.lease->Renew().WithContext("vacuum"));
      }
      RETURN_IF_ERROR(store->Delete(v.key).WithContext("vacuum"));
    }
    VacuumTableReport& tr = report.tables[v.table];
    ++tr.files_deleted;
    tr.bytes_deleted += v.size;
    ++report.files_deleted;
    report.bytes_deleted += v.size;
    report.deleted.push_back(v.key);
  }
  if (!options.dry_run && still_unreferenced != first_seen) {
    RETURN_IF_ERROR(StoreFirstSeen(store, still_unreferenced));
  }
  return report;
}

}  // namespace tradelake
