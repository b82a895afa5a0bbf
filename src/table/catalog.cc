#include "table/catalog.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/text.h"

namespace tradelake {
namespace {

constexpr std::string_view kCommitPrefix = "_catalog/commits/";

std::string CommitKey(int64_t seq) { return fmt::format("{}{:020d}.json", kCommitPrefix, seq); }


std::string Serialize(const Snapshot& s) {
  std::string j = fmt::format("{{\"seq\":{},\"committed_at_us\":{},\"committed_at\":\"{}\",\"tables\":{{", s.seq,
                              s.committed_at, FormatRfc3339Micros(s.committed_at));
  bool first_table = true;
  for (const auto& [table, parts] : s.tables) {
    if (!first_table) j += ',';
    first_table = false;
    AppendJsonString(&j, table);
    j += ":{";
    bool first_part = true;
    for (const auto& [part, files] : parts) {
      if (!first_part) j += ',';
      first_part = false;
      j += "\n  ";
      AppendJsonString(&j, part);
      j += ":[";
      for (size_t i = 0; i < files.size(); ++i) {
        if (i) j += ',';
        AppendJsonString(&j, files[i]);
      }
      j += ']';
    }
    j += '}';
  }
  j += "},\n\"quality\":{";
  bool first_q = true;
  for (const auto& [part, q] : s.quality) {
    if (!first_q) j += ',';
    first_q = false;
    j += "\n  ";
    AppendJsonString(&j, part);
    j += fmt::format(":{{\"records\":{},\"inserted\":{},\"duplicates\":{},\"silver_rows\":{},\"id_gaps\":{},\"rejected\":{{",
                     q.records, q.inserted, q.duplicates, q.silver_rows, q.id_gaps);
    bool first_r = true;
    for (const auto& [rule, n] : q.rejected) {
      if (!first_r) j += ',';
      first_r = false;
      AppendJsonString(&j, rule);
      j += fmt::format(":{}", n);
    }
    j += "}}";
  }
  j += "},\n\"bronze_processed\":[";
  bool first_b = true;
  for (const auto& key : s.bronze_processed) {
    if (!first_b) j += ',';
    first_b = false;
    j += "\n  ";
    AppendJsonString(&j, key);
  }
  j += "]}\n";
  return j;
}

Result<Snapshot> Parse(const std::string& key, const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto corrupt = [&](std::string_view why) {
    return DataLoss(fmt::format("catalog commit {} is corrupt ({})", key, why));
  };
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) return corrupt("not JSON");
  Snapshot s;
  if (doc["seq"].get_int64().get(s.seq) != simdjson::SUCCESS) return corrupt("no seq");
  if (doc["committed_at_us"].get_int64().get(s.committed_at) != simdjson::SUCCESS) return corrupt("no time");
  simdjson::dom::object tables;
  if (doc["tables"].get_object().get(tables) != simdjson::SUCCESS) return corrupt("no tables");
  for (auto [table, parts_el] : tables) {
    simdjson::dom::object parts;
    if (parts_el.get_object().get(parts) != simdjson::SUCCESS) return corrupt("bad table");
    auto& t = s.tables[std::string(table)];
    for (auto [part, files_el] : parts) {
      simdjson::dom::array files;
      if (files_el.get_array().get(files) != simdjson::SUCCESS) return corrupt("bad partition");
      auto& list = t[std::string(part)];
      for (auto f : files) {
        std::string_view v;
        if (f.get_string().get(v) != simdjson::SUCCESS) return corrupt("bad file");
        list.emplace_back(v);
      }
    }
  }
  simdjson::dom::object quality;
  if (doc["quality"].get_object().get(quality) != simdjson::SUCCESS) return corrupt("no quality");
  for (auto [part, q_el] : quality) {
    PartitionQuality q;
    simdjson::dom::object qo;
    if (q_el.get_object().get(qo) != simdjson::SUCCESS ||
        qo["records"].get_int64().get(q.records) != simdjson::SUCCESS ||
        qo["inserted"].get_int64().get(q.inserted) != simdjson::SUCCESS ||
        qo["duplicates"].get_int64().get(q.duplicates) != simdjson::SUCCESS ||
        qo["silver_rows"].get_int64().get(q.silver_rows) != simdjson::SUCCESS ||
        qo["id_gaps"].get_int64().get(q.id_gaps) != simdjson::SUCCESS) {
      return corrupt("bad quality counters");
    }
    simdjson::dom::object rej;
    if (qo["rejected"].get_object().get(rej) != simdjson::SUCCESS) return corrupt("bad rejected counters");
    for (auto [rule, n_el] : rej) {
      int64_t n = 0;
      if (n_el.get_int64().get(n) != simdjson::SUCCESS) return corrupt("bad rejected count");
      q.rejected[std::string(rule)] = n;
    }
    s.quality[std::string(part)] = std::move(q);
  }
  simdjson::dom::array processed;
  if (doc["bronze_processed"].get_array().get(processed) != simdjson::SUCCESS) return corrupt("no bookmark");
  for (auto k : processed) {
    std::string_view v;
    if (k.get_string().get(v) != simdjson::SUCCESS) return corrupt("bad bookmark entry");
    s.bronze_processed.emplace(v);
  }
  return s;
}

}  // namespace

std::vector<std::string_view> AllTables() {
  return {kSilverTrades, kSilverRejected, kGoldHourly, kGoldDaily, kGoldBars1m};
}

std::string TableFolder(std::string_view table) {
  std::string f(table);
  std::replace(f.begin(), f.end(), '.', '/');
  return f + "/";
}

std::string PartitionName(std::string_view product_id, std::string_view date) {
  return fmt::format("product_id={}/date={}", product_id, date);
}

int64_t PartitionQuality::rejected_total() const {
  int64_t n = 0;
  for (const auto& [rule, c] : rejected) n += c;
  return n;
}

std::set<std::string> Snapshot::Files() const {
  std::set<std::string> out;
  for (const auto& [table, parts] : tables) {
    for (const auto& [part, files] : parts) out.insert(files.begin(), files.end());
  }
  return out;
}

Result<Snapshot> LoadCurrentSnapshot(ObjectStore* store) {
  ASSIGN_OR_RETURN(auto commits, store->List(kCommitPrefix));
  // Keys sort by seq (zero-padded); take the newest that parses as a commit.
  for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
    if (!it->key.ends_with(".json")) continue;
    ASSIGN_OR_RETURN(std::string text, store->Get(it->key));
    return Parse(it->key, text);
  }
  return Snapshot{};
}

Result<int64_t> LatestCommitSeq(ObjectStore* store) {
  ASSIGN_OR_RETURN(auto commits, store->List(kCommitPrefix));
  for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
    std::string_view name = it->key;
    if (!name.ends_with(".json")) continue;
    name.remove_suffix(5);
    name.remove_prefix(name.rfind('/') + 1);
    int64_t seq = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), seq);
    if (ec == std::errc() && end == name.data() + name.size()) return seq;
  }
  return int64_t{0};
}

Status CommitSnapshot(ObjectStore* store, const Snapshot& snapshot) {
  Status s = store->Put(CommitKey(snapshot.seq), Serialize(snapshot), WriteMode::kCreateOnly);
  if (s.code() == StatusCode::kAlreadyExists) {
    return FailedPrecondition(fmt::format(
        "catalog commit {} was made by another ETL run at the same time; rerun `tradelake etl`", snapshot.seq));
  }
  return s.WithContext("committing the catalog");
}

Status PruneCommits(ObjectStore* store, int keep) {
  ASSIGN_OR_RETURN(auto commits, store->List(kCommitPrefix));
  const int excess = static_cast<int>(commits.size()) - keep;
  for (int i = 0; i < excess; ++i) RETURN_IF_ERROR(store->Delete(commits[static_cast<size_t>(i)].key));
  return Status::OK();
}

}  // namespace tradelake
