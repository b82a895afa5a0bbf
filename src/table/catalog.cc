#include "table/catalog.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <spdlog/spdlog.h>

namespace tradelake {
namespace {

constexpr std::string_view kCommitPrefix = "_catalog/commits/";
constexpr int kCatalogFormat = 2;
constexpr int kCommitsKept = 20;

std::string CommitKey(int64_t seq) { return fmt::format("{}{:020d}.json", kCommitPrefix, seq); }

std::optional<int64_t> SeqOfKey(std::string_view key) {
  if (!key.ends_with(".json")) return std::nullopt;
  key.remove_suffix(5);
  key.remove_prefix(key.rfind('/') + 1);
  int64_t seq = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), seq);
  if (ec != std::errc() || end != key.data() + key.size()) return std::nullopt;
  return seq;
}

nlohmann::json CountersJson(const QualityCounters& q) {
  nlohmann::json rejected = nlohmann::json::object();
  for (const auto& [rule, n] : q.rejected) rejected[rule] = n;
  return {{"records", q.records}, {"inserted", q.inserted}, {"duplicates", q.duplicates}, {"rejected", rejected}};
}

std::string Serialize(const Snapshot& s) {
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [table, version] : s.versions) {
    nlohmann::json t = {{"version", version}};
    if (auto it = s.commit_text.find(table); it != s.commit_text.end()) t["commit"] = it->second;
    tables[table] = std::move(t);
  }
  nlohmann::json bookmarks = nlohmann::json::object();
  for (const auto& [product, next] : s.bookmarks) bookmarks[product] = next;
  nlohmann::json totals = nlohmann::json::object();
  for (const auto& [product, q] : s.totals) totals[product] = CountersJson(q);
  nlohmann::json doc = {{"format", kCatalogFormat},
                        {"seq", s.seq},
                        {"committed_at_us", s.committed_at},
                        {"committed_at", FormatRfc3339Micros(s.committed_at)},
                        {"tables", std::move(tables)},
                        {"bookmarks", std::move(bookmarks)},
                        {"totals", std::move(totals)}};
  return doc.dump(1) + "\n";
}

using simdjson::dom::element;
using simdjson::dom::object;

Status ParseCounters(element el, QualityCounters* q) {
  object o;
  if (el.get_object().get(o) != simdjson::SUCCESS || o["records"].get_int64().get(q->records) ||
      o["inserted"].get_int64().get(q->inserted) || o["duplicates"].get_int64().get(q->duplicates)) {
    return InvalidArgument("bad counters");
  }
  object rej;
  if (o["rejected"].get_object().get(rej) != simdjson::SUCCESS) return InvalidArgument("bad rejected counters");
  for (auto [rule, n_el] : rej) {
    int64_t n = 0;
    if (n_el.get_int64().get(n) != simdjson::SUCCESS) return InvalidArgument("bad rejected count");
    q->rejected[std::string(rule)] = n;
  }
  return Status::OK();
}

// A format-1 commit: file lists, the processed Bronze keys, quality by partition.
Status ParseLegacy(element doc, LegacySnapshot* l) {
  object tables;
  if (doc["tables"].get_object().get(tables) != simdjson::SUCCESS) return InvalidArgument("no tables");
  for (auto [table, parts_el] : tables) {
    object parts;
    if (parts_el.get_object().get(parts) != simdjson::SUCCESS) return InvalidArgument("bad table");
    auto& t = l->tables[std::string(table)];
    for (auto [part, files_el] : parts) {
      simdjson::dom::array files;
      if (files_el.get_array().get(files) != simdjson::SUCCESS) return InvalidArgument("bad partition");
      auto& list = t[std::string(part)];
      for (auto f : files) {
        std::string_view v;
        if (f.get_string().get(v) != simdjson::SUCCESS) return InvalidArgument("bad file");
        list.emplace_back(v);
      }
    }
  }
  object quality;
  if (doc["quality"].get_object().get(quality) == simdjson::SUCCESS) {
    for (auto [part, q_el] : quality) RETURN_IF_ERROR(ParseCounters(q_el, &l->quality[std::string(part)]));
  }
  simdjson::dom::array processed;
  if (doc["bronze_processed"].get_array().get(processed) != simdjson::SUCCESS) return InvalidArgument("no bookmark");
  for (auto k : processed) {
    std::string_view v;
    if (k.get_string().get(v) != simdjson::SUCCESS) return InvalidArgument("bad bookmark entry");
    l->bronze_processed.emplace(v);
  }
  return Status::OK();
}

Result<Snapshot> Parse(const std::string& key, const std::string& text) {
  simdjson::dom::parser parser;
  element doc;
  auto corrupt = [&](std::string_view why) {
    return DataLoss(fmt::format("catalog commit {} is corrupt ({})", key, why));
  };
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) return corrupt("not JSON");
  Snapshot s;
  if (doc["seq"].get_int64().get(s.seq) != simdjson::SUCCESS) return corrupt("no seq");
  if (doc["committed_at_us"].get_int64().get(s.committed_at) != simdjson::SUCCESS) return corrupt("no time");
  int64_t format = 1;
  if (doc["format"].get_int64().get(format) != simdjson::SUCCESS) format = 1;
  if (format == 1) {
    auto legacy = std::make_shared<LegacySnapshot>();
    if (Status st = ParseLegacy(doc, legacy.get()); !st.ok()) return corrupt(st.message());
    s.legacy = std::move(legacy);
    return s;
  }
  if (format != kCatalogFormat) {
    return FailedPrecondition(fmt::format("catalog commit {} has format {}; this tradelake reads format {} "
                                          "(upgrade tradelake)",
                                          key, format, kCatalogFormat));
  }
  object tables;
  if (doc["tables"].get_object().get(tables) != simdjson::SUCCESS) return corrupt("no tables");
  for (auto [table, t_el] : tables) {
    int64_t version = 0;
    if (t_el["version"].get_int64().get(version) != simdjson::SUCCESS) return corrupt("bad table version");
    s.versions[std::string(table)] = version;
    std::string_view commit;
    if (t_el["commit"].get_string().get(commit) == simdjson::SUCCESS) s.commit_text[std::string(table)] = commit;
  }
  object bookmarks;
  if (doc["bookmarks"].get_object().get(bookmarks) != simdjson::SUCCESS) return corrupt("no bookmarks");
  for (auto [product, n_el] : bookmarks) {
    int64_t n = 0;
    if (n_el.get_int64().get(n) != simdjson::SUCCESS) return corrupt("bad bookmark");
    s.bookmarks[std::string(product)] = n;
  }
  object totals;
  if (doc["totals"].get_object().get(totals) != simdjson::SUCCESS) return corrupt("no totals");
  for (auto [product, q_el] : totals) {
    if (Status st = ParseCounters(q_el, &s.totals[std::string(product)]); !st.ok()) return corrupt(st.message());
  }
  return s;
}

Result<Snapshot> LoadCommit(ObjectStore* store, int64_t seq) {
  const std::string key = CommitKey(seq);
  ASSIGN_OR_RETURN(std::string text, store->Get(key));
  return Parse(key, text);
}

// Each table at the version `snap` pins; nullopt when one is not in the log yet.
Result<std::optional<std::map<std::string, DeltaTableState>>> LoadPinned(ObjectStore* store, const Snapshot& snap) {
  std::map<std::string, DeltaTableState> tables;
  for (const auto& [table, version] : snap.versions) {
    ASSIGN_OR_RETURN(DeltaTableState state, LoadDeltaTable(store, TableFolder(table), version));
    if (state.version != version) return std::optional<std::map<std::string, DeltaTableState>>();
    tables[table] = std::move(state);
  }
  return std::optional(std::move(tables));
}

Status CheckNotLegacy(const Snapshot& snap) {
  if (!snap.legacy) return Status::OK();
  return FailedPrecondition(fmt::format(
      "catalog commit {} was written by a tradelake from before Delta Lake tables; run `tradelake etl` once "
      "to upgrade the lake in place",
      snap.seq));
}

// The value of `name=` in a key's folders ("" if none).
std::string FolderValue(std::string_view key, std::string_view name) {
  const std::string needle = fmt::format("/{}=", name);
  const std::string padded = "/" + std::string(key);
  const size_t at = padded.find(needle);
  if (at == std::string::npos) return "";
  const size_t start = at + needle.size();
  const size_t end = padded.find('/', start);
  if (end == std::string::npos) return "";  // the file name itself
  return padded.substr(start, end - start);
}

}  // namespace

std::vector<std::string_view> AllTables() {
  return {kSilverTrades, kSilverRejected, kGoldHourly, kGoldDaily, kGoldBars1m, kAuditReconciliation};
}

std::vector<std::string_view> EtlTables() {
  auto t = AllTables();
  t.push_back(kAuditQuality);
  return t;
}

std::string TableFolder(std::string_view table) {
  std::string f(table);
  std::replace(f.begin(), f.end(), '.', '/');
  return f + "/";
}

std::vector<std::string> PartitionColumns(std::string_view table) {
  if (table == kGoldHourly || table == kGoldDaily || table == kAuditQuality) return {"product_id"};
  return {"product_id", "date"};
}

std::string PartitionName(std::string_view product_id, std::string_view date) {
  return fmt::format("product_id={}/date={}", product_id, date);
}

std::string ProductPartitionName(std::string_view product_id) { return fmt::format("product_id={}", product_id); }

int64_t QualityCounters::rejected_total() const {
  int64_t n = 0;
  for (const auto& [rule, c] : rejected) n += c;
  return n;
}

void QualityCounters::Add(const QualityCounters& other) {
  records += other.records;
  inserted += other.inserted;
  duplicates += other.duplicates;
  for (const auto& [rule, n] : other.rejected) rejected[rule] += n;
}

Result<Snapshot> LoadCurrentSnapshot(ObjectStore* store) {
  ASSIGN_OR_RETURN(auto commits, store->List(kCommitPrefix));
  // Keys sort by seq (zero-padded); take the newest that is a commit.
  for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
    if (!SeqOfKey(it->key)) continue;
    ASSIGN_OR_RETURN(std::string text, store->Get(it->key));
    return Parse(it->key, text);
  }
  return Snapshot{};
}

Result<int64_t> LatestCommitSeq(ObjectStore* store) {
  ASSIGN_OR_RETURN(auto commits, store->List(kCommitPrefix));
  for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
    if (auto seq = SeqOfKey(it->key)) return *seq;
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

namespace {

// Writes the checkpoint of `version` when one is due.
Status CheckpointIfDue(ObjectStore* store, const std::string& root, int64_t version) {
  if (version == 0 || version % kDeltaCheckpointInterval != 0) return Status::OK();
  ASSIGN_OR_RETURN(DeltaTableState state, LoadDeltaTable(store, root, version));
  if (state.version != version) return Status::OK();
  return WriteDeltaCheckpoint(store, root, state);
}

// True when the checkpoint of `version` and a _last_checkpoint naming it (or
// a newer one) are both in place.
Result<bool> CheckpointComplete(ObjectStore* store, const std::string& root, int64_t version) {
  auto parquet = store->Head(fmt::format("{}_delta_log/{:020d}.checkpoint.parquet", root, version));
  if (!parquet.ok()) {
    if (parquet.status().code() == StatusCode::kNotFound) return false;
    return parquet.status();
  }
  auto last = store->Get(root + "_delta_log/_last_checkpoint");
  if (!last.ok()) {
    if (last.status().code() == StatusCode::kNotFound) return false;
    return last.status();
  }
  simdjson::dom::parser parser;
  int64_t named = -1;
  simdjson::dom::element doc;
  if (parser.parse(*last).get(doc) != simdjson::SUCCESS || doc["version"].get_int64().get(named)) return false;
  return named >= version;
}

}  // namespace

Status CommitLake(ObjectStore* store, Snapshot* next) {
  for (auto& [table, commit] : next->commits) {
    auto it = next->versions.find(table);
    const int64_t version = it == next->versions.end() ? 0 : it->second + 1;
    if (version == 0 && (!commit.protocol || !commit.metadata)) {
      return InvalidArgument(fmt::format("the first commit of {} needs protocol and metadata", table));
    }
    next->versions[table] = version;
    next->commit_text[table] = SerializeDeltaCommit(commit);
  }
  // Only this run's commits travel in the snapshot: older ones are in the logs.
  for (auto it = next->commit_text.begin(); it != next->commit_text.end();) {
    it = next->commits.contains(it->first) ? std::next(it) : next->commit_text.erase(it);
  }
  RETURN_IF_ERROR(CommitSnapshot(store, *next));
  // Committed. What follows is idempotent and redone by RollForward if it fails.
  for (const auto& [table, commit] : next->commits) {
    const std::string root = TableFolder(table);
    const int64_t version = next->versions[table];
    Status s = WriteDeltaCommit(store, root, version, commit);
    if (s.code() == StatusCode::kAlreadyExists) s = Status::OK();
    if (s.ok()) s = CheckpointIfDue(store, root, version);
    if (!s.ok()) {
      spdlog::warn("{} version {}: {} (the next ETL run writes it)", table, version, s.ToString());
    }
  }
  if (Status s = PruneCommits(store, kCommitsKept); !s.ok()) spdlog::warn("pruning old commits: {}", s.ToString());
  return Status::OK();
}

Status RollForward(ObjectStore* store, const Snapshot& snapshot) {
  for (const auto& [table, text] : snapshot.commit_text) {
    const std::string root = TableFolder(table);
    const int64_t version = snapshot.versions.at(table);
    const std::string key = DeltaCommitKey(root, version);
    auto head = store->Head(key);
    if (head.ok()) {
      // The commit is there; a checkpoint due at it may not be (a run that
      // died in between, or a failed checkpoint write).
      if (version == 0 || version % kDeltaCheckpointInterval != 0) continue;
      ASSIGN_OR_RETURN(bool complete, CheckpointComplete(store, root, version));
      if (!complete) RETURN_IF_ERROR(CheckpointIfDue(store, root, version));
      continue;
    }
    if (head.status().code() != StatusCode::kNotFound) return head.status();
    spdlog::info("writing {} version {}, committed by catalog commit {} but not yet in its log", table, version,
                 snapshot.seq);
    Status s = store->Put(key, text, WriteMode::kCreateOnly);
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s.WithContext("rolling the Delta log forward");
    RETURN_IF_ERROR(CheckpointIfDue(store, root, version));
  }
  return Status::OK();
}

Result<LakeState> LoadLakeState(ObjectStore* store) {
  LakeState state;
  ASSIGN_OR_RETURN(state.catalog, LoadCurrentSnapshot(store));
  RETURN_IF_ERROR(CheckNotLegacy(state.catalog));
  if (state.catalog.seq == 0) return state;
  ASSIGN_OR_RETURN(auto tables, LoadPinned(store, state.catalog));
  if (!tables) {
    // Between a catalog commit and its Delta commits: the previous snapshot is complete.
    const int64_t newest = state.catalog.seq;
    if (newest == 1) {
      // The first commit's Delta commits are not written yet: before it, the lake was empty.
      state.catalog = Snapshot{};
      return state;
    }
    auto previous = LoadCommit(store, newest - 1);
    if (!previous.ok()) {
      return Unavailable(fmt::format("catalog commit {} pins Delta versions that are not written yet, and commit {} "
                                     "cannot be read ({}); retry, or run `tradelake etl` to finish the commit",
                                     newest, newest - 1, previous.status().ToString()));
    }
    RETURN_IF_ERROR(CheckNotLegacy(*previous));
    state.catalog = std::move(*previous);
    ASSIGN_OR_RETURN(tables, LoadPinned(store, state.catalog));
    if (!tables) {
      return DataLoss(fmt::format("catalog commits {} and {} pin Delta versions missing from the logs; run "
                                  "`tradelake etl` to roll the logs forward",
                                  newest, newest - 1));
    }
  }
  state.tables = std::move(*tables);
  return state;
}

namespace {

// Takes back the table updates and creations `r` recorded.
void UndoTables(LakeState* state, LakeRefresh* r) {
  for (auto& [table, update] : r->tables) {
    if (auto it = state->tables.find(table); it != state->tables.end()) RevertDeltaTableUpdate(&it->second, &update);
  }
  for (const auto& table : r->created) state->tables.erase(table);
  r->tables.clear();
  r->created.clear();
}

}  // namespace

Result<bool> RefreshLakeState(ObjectStore* store, LakeState* state, LakeRefresh* refresh) {
  LakeRefresh local;
  LakeRefresh* r = refresh ? refresh : &local;
  *r = LakeRefresh{};
  ASSIGN_OR_RETURN(int64_t latest, LatestCommitSeq(store));
  if (latest == state->catalog.seq) return false;
  ASSIGN_OR_RETURN(Snapshot snap, LoadCurrentSnapshot(store));
  RETURN_IF_ERROR(CheckNotLegacy(snap));
  if (snap.seq == state->catalog.seq) return false;
  if (snap.seq < state->catalog.seq) {
    // The lake was replaced (e.g. rebuilt from scratch elsewhere): start over.
    ASSIGN_OR_RETURN(LakeState fresh, LoadLakeState(store));
    r->reloaded = true;
    r->replaced = std::move(*state);
    *state = std::move(fresh);
    return true;
  }
  // Table by table, in place; the first failure (or a version not in the
  // log yet) takes back the tables already moved.
  for (const auto& [table, version] : snap.versions) {
    auto [it, created] = state->tables.try_emplace(table);
    if (created) r->created.insert(table);
    DeltaTableState& t = it->second;
    if (t.version == version) continue;
    // (A version before ours, when the table was rewritten, is read afresh.)
    Status s = UpdateDeltaTable(store, TableFolder(table), &t, version, &r->tables[table]);
    if (!s.ok() || t.version != version) {
      // A failed update took its own changes back; a version not in the log
      // yet (the ETL is between its catalog and Delta commits) is undone
      // with the rest, and the next refresh gets it.
      if (!s.ok()) r->tables.erase(table);
      UndoTables(state, r);
      if (!s.ok()) return s;
      return false;
    }
  }
  for (auto it = state->tables.begin(); it != state->tables.end();) {
    if (snap.versions.count(it->first)) {
      ++it;
      continue;
    }
    r->dropped.insert(state->tables.extract(it++));
  }
  r->previous_catalog = std::move(state->catalog);
  state->catalog = std::move(snap);
  return true;
}

void UndoLakeRefresh(LakeState* state, LakeRefresh* refresh) {
  if (refresh->replaced) {
    *state = std::move(*refresh->replaced);
  } else {
    state->catalog = std::move(refresh->previous_catalog);
    for (auto& [table, t] : refresh->dropped) state->tables.insert_or_assign(table, std::move(t));
    UndoTables(state, refresh);
  }
  *refresh = LakeRefresh{};
}

Result<TableFile> LiveFileOf(std::string_view table, const DeltaAddFile& add, int64_t version) {
  const std::string root = TableFolder(table);
  const bool dated = PartitionColumns(table).size() == 2;
  TableFile f;
  ASSIGN_OR_RETURN(f.key, DeltaPathToKey(root, add.path));
  auto value = [&](const char* column) -> std::string {
    auto v = add.partition_values.find(column);
    return v == add.partition_values.end() || !v->second ? "" : *v->second;
  };
  f.product_id = value("product_id");
  if (dated) f.date = value("date");
  if (f.product_id.empty() || (dated && f.date.empty())) {
    return DataLoss(fmt::format("{} version {} has a file outside its partitions: {}", table, version, add.path));
  }
  f.size = add.size;
  ASSIGN_OR_RETURN(f.stats, ParseDeltaStats(add.stats));
  return f;
}

Result<std::vector<TableFile>> LiveFiles(const LakeState& state, std::string_view table) {
  std::vector<TableFile> out;
  auto it = state.tables.find(std::string(table));
  if (it == state.tables.end()) return out;
  out.reserve(it->second.files.size());
  for (const auto& entry : it->second.files) {
    ASSIGN_OR_RETURN(TableFile f, LiveFileOf(table, entry.second, it->second.version));
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const TableFile& a, const TableFile& b) { return a.key < b.key; });
  return out;
}

Result<std::vector<TableFile>> LiveFilesInRange(const LakeState& state, std::string_view table,
                                                const std::vector<std::string>& products, std::string_view from_date,
                                                std::string_view to_date) {
  std::vector<TableFile> out;
  auto t = state.tables.find(std::string(table));
  if (t == state.tables.end()) return out;
  const auto& files = t->second.files;
  const bool dated = PartitionColumns(table).size() == 2;
  // Delta paths sort like the keys: "product_id=X/date=D/part-...".
  auto one_product = [&](std::string_view product) -> Status {
    const std::string prefix = fmt::format("product_id={}/", product);
    std::string from = prefix;
    if (dated && !from_date.empty()) from += fmt::format("date={}", from_date);
    for (auto it = files.lower_bound(from); it != files.end() && it->first.starts_with(prefix); ++it) {
      if (dated && !to_date.empty() && FolderValue(it->first, "date") > to_date) break;
      ASSIGN_OR_RETURN(TableFile f, LiveFileOf(table, it->second, t->second.version));
      out.push_back(std::move(f));
    }
    return Status::OK();
  };
  if (!products.empty()) {
    for (const std::string& product : products) RETURN_IF_ERROR(one_product(product));
  } else {
    // Every product: one search per product, jumping over its other days.
    for (auto it = files.begin(); it != files.end();) {
      const std::string product = FolderValue(it->first, "product_id");
      if (product.empty()) {
        return DataLoss(fmt::format("{} version {} has a file outside its partitions: {}", table, t->second.version,
                                    it->first));
      }
      RETURN_IF_ERROR(one_product(product));
      it = files.lower_bound(fmt::format("product_id={}0", product));  // '0' follows '/'
    }
  }
  std::sort(out.begin(), out.end(), [](const TableFile& a, const TableFile& b) { return a.key < b.key; });
  return out;
}

Result<std::map<std::string, ProductDays>> ProductEnds(const LakeState& state, std::string_view table,
                                                       const std::vector<std::string>& products) {
  std::map<std::string, ProductDays> out;
  auto t = state.tables.find(std::string(table));
  if (t == state.tables.end()) return out;
  if (PartitionColumns(table).size() != 2) return InvalidArgument(fmt::format("{} has no date folders", table));
  const auto& files = t->second.files;
  size_t next_product = 0;
  auto next = [&]() {
    if (products.empty()) return files.begin();
    for (; next_product < products.size(); ++next_product) {
      const std::string prefix = fmt::format("product_id={}/", products[next_product]);
      auto it = files.lower_bound(prefix);
      if (it != files.end() && it->first.starts_with(prefix)) {
        ++next_product;
        return it;
      }
    }
    return files.end();
  };
  for (auto it = next(); it != files.end();) {
    const std::string product = FolderValue(it->first, "product_id");
    const std::string first_date = FolderValue(it->first, "date");
    if (product.empty() || first_date.empty()) {
      return DataLoss(fmt::format("{} version {} has a file outside its partitions: {}", table, t->second.version,
                                  it->first));
    }
    const auto end = files.lower_bound(fmt::format("product_id={}0", product));
    const std::string last_date = FolderValue(std::prev(end)->first, "date");
    ProductDays& d = out[product];
    ASSIGN_OR_RETURN(d.first_day, LiveFilesInRange(state, table, {product}, first_date, first_date));
    ASSIGN_OR_RETURN(d.last_day, LiveFilesInRange(state, table, {product}, last_date, last_date));
    it = products.empty() ? end : next();
  }
  return out;
}

Result<DeltaAddFile> AddFileFor(ObjectStore* store, std::string_view table, std::string_view key,
                                const DeltaStats& stats) {
  const std::string root = TableFolder(table);
  if (!key.starts_with(root)) {
    return InvalidArgument(fmt::format("{} is not a file of {} (under {})", key, table, root));
  }
  ASSIGN_OR_RETURN(ObjectInfo info, store->Head(key));
  DeltaAddFile add;
  add.path = KeyToDeltaPath(root, key);
  const std::string_view rel = key.substr(root.size());
  for (const std::string& column : PartitionColumns(table)) {
    const std::string v = FolderValue(rel, column);
    if (v.empty()) return InvalidArgument(fmt::format("{} lies outside a {}= folder of {}", key, column, table));
    add.partition_values[column] = v;
  }
  add.size = info.size;
  add.modification_time = NowMicros() / 1000;
  add.data_change = true;
  add.stats = SerializeDeltaStats(stats);
  return add;
}

}  // namespace tradelake
