#include "sql/lake_check.h"

#include <map>

#include <fmt/format.h>

#include "table/catalog.h"

namespace tradelake {

int64_t LakeCheckReport::missing_count() const {
  int64_t n = 0;
  for (const auto& t : tables) n += static_cast<int64_t>(t.missing.size());
  return n;
}

std::string LakeCheckReport::ToString() const {
  std::string out = fmt::format("catalog commit {}\n", seq);
  out += fmt::format("{:<24} {:>8} {:>10} {:>8} {:>13}\n", "table", "version", "live files", "missing", "unreferenced");
  for (const auto& t : tables) {
    if (t.version < 0) {
      out += fmt::format("{:<24} {:>8}\n", t.name, "-");
    } else if (!t.checked) {
      out += fmt::format("{:<24} {:>8} {:>10}  not checked: this role may not list {}\n", t.name, t.version,
                         t.live_files, TableFolder(t.name));
    } else {
      out += fmt::format("{:<24} {:>8} {:>10} {:>8} {:>13}\n", t.name, t.version, t.live_files, t.missing.size(),
                         t.unreferenced.size());
    }
  }
  const int64_t missing = missing_count();
  if (missing == 0) {
    out += "missing: none (every live file of the pinned versions is in the lake)\n";
  } else {
    out += fmt::format("missing ({}): queries reading these files fail; rebuild the tables from Bronze with "
                       "`tradelake etl --rebuild`\n",
                       missing);
    for (const auto& t : tables) {
      for (const auto& m : t.missing) out += fmt::format("  - {} {}\n", t.name, m);
    }
  }
  bool any_unreferenced = false;
  for (const auto& t : tables) {
    if (t.unreferenced.empty()) continue;
    if (!any_unreferenced) {
      out += "unreferenced (not in the pinned versions, never read: replaced and awaiting `tradelake vacuum`, "
             "or written by a run that never committed):\n";
      any_unreferenced = true;
    }
    for (const auto& key : t.unreferenced) out += fmt::format("  - {}\n", key);
  }
  if (!any_unreferenced) out += "unreferenced: none\n";
  return out;
}

Result<LakeCheckReport> CheckLake(ObjectStore* store) {
  ASSIGN_OR_RETURN(LakeState state, LoadLakeState(store));
  LakeCheckReport report;
  report.seq = state.catalog.seq;
  for (std::string_view name : EtlTables()) {
    LakeCheckReport::Table t;
    t.name.assign(name);
    auto it = state.tables.find(t.name);
    if (it == state.tables.end() || it->second.version < 0) {
      report.tables.push_back(std::move(t));
      continue;
    }
    t.version = it->second.version;
    ASSIGN_OR_RETURN(std::vector<TableFile> live, LiveFiles(state, name));
    t.live_files = static_cast<int64_t>(live.size());
    const std::string folder = TableFolder(name);
    auto listed = store->List(folder);
    if (!listed.ok()) {
      if (listed.status().code() != StatusCode::kPermissionDenied) {
        return listed.status().WithContext(fmt::format("listing {}", folder));
      }
      t.checked = false;
      report.tables.push_back(std::move(t));
      continue;
    }
    std::map<std::string, int64_t> present;
    for (const auto& o : *listed) present.emplace(o.key, o.size);
    for (const TableFile& f : live) {
      auto p = present.find(f.key);
      if (p == present.end()) {
        t.missing.push_back(fmt::format("{}: not in the lake", f.key));
      } else {
        if (f.size >= 0 && p->second != f.size) {
          t.missing.push_back(fmt::format("{}: {} bytes, the Delta log recorded {}", f.key, p->second, f.size));
        }
        present.erase(p);
      }
    }
    const std::string log = folder + "_delta_log/";
    for (const auto& [key, size] : present) {
      if (key.starts_with(log) || !key.ends_with(".parquet")) continue;
      t.unreferenced.push_back(key);
    }
    report.tables.push_back(std::move(t));
  }
  return report;
}

}  // namespace tradelake
