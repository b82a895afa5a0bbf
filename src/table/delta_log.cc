#include "table/delta_log.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <utility>

#include "query/duckdb.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;
namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;
using OrderedJson = nlohmann::ordered_json;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// ---------------------------------------------------------------------------
// Keys and names

std::string NormalizeRoot(std::string_view table_root) {
  std::string root(table_root);
  if (!root.empty() && root.back() != '/') root.push_back('/');
  return root;
}

std::string LogDir(std::string_view table_root) {
  return NormalizeRoot(table_root) + "_delta_log/";
}

// The listing prefix of the ten versions d*10 .. d*10+9: their shared leading 19 digits.
std::string DecadePrefix(const std::string& log_dir, int64_t decade) {
  return fmt::format("{}{:019d}", log_dir, decade);
}

// ASCII only, whatever the process locale says.
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || (c >= '0' && c <= '9'); }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a run of decimal digits that fits int64; nullopt otherwise.
std::optional<int64_t> ParseDigits(std::string_view s) {
  if (!AllDigits(s) || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// What one object of `_delta_log/` is, from its file name.
struct LogFileName {
  enum class Kind { kCommit, kCheckpoint, kCheckpointPart };
  Kind kind = Kind::kCommit;
  int64_t version = 0;
  int64_t part = 0, parts = 0;  // kCheckpointPart only
};

std::optional<LogFileName> ParseLogFileName(std::string_view name) {
  if (name.size() < 21 || !AllDigits(name.substr(0, 20))) return std::nullopt;
  // 20 digits overflow int64 only past 9.2e18; such a version is not a real table's.
  std::optional<int64_t> version = ParseDigits(name.substr(2, 18));
  if (!version || name.substr(0, 2) != "00") return std::nullopt;
  LogFileName out;
  out.version = *version;
  std::string_view rest = name.substr(20);
  if (rest == ".json") return out;
  if (rest == ".checkpoint.parquet") {
    out.kind = LogFileName::Kind::kCheckpoint;
    return out;
  }
  // .checkpoint.<i:010>.<n:010>.parquet
  constexpr std::string_view kPrefix = ".checkpoint.";
  constexpr std::string_view kSuffix = ".parquet";
  if (rest.size() == kPrefix.size() + 21 + kSuffix.size() &&
      rest.substr(0, kPrefix.size()) == kPrefix &&
      rest.substr(rest.size() - kSuffix.size()) == kSuffix && rest[kPrefix.size() + 10] == '.') {
    std::optional<int64_t> part = ParseDigits(rest.substr(kPrefix.size(), 10));
    std::optional<int64_t> parts = ParseDigits(rest.substr(kPrefix.size() + 11, 10));
    if (part && parts && *part >= 1 && *part <= *parts) {
      out.kind = LogFileName::Kind::kCheckpointPart;
      out.part = *part;
      out.parts = *parts;
      return out;
    }
  }
  return std::nullopt;
}

// What a List of (part of) `_delta_log/` showed.
struct LogListing {
  std::map<int64_t, std::string> commits;  // version -> key
  std::map<int64_t, std::string> single_checkpoints;
  // version -> number of parts -> part index -> key
  std::map<int64_t, std::map<int64_t, std::map<int64_t, std::string>>> part_checkpoints;

  void Add(const std::vector<ObjectInfo>& objects, const std::string& log_dir) {
    for (const ObjectInfo& object : objects) {
      std::string_view key = object.key;
      if (key.substr(0, log_dir.size()) != log_dir) continue;
      std::optional<LogFileName> name = ParseLogFileName(key.substr(log_dir.size()));
      if (!name) continue;
      switch (name->kind) {
        case LogFileName::Kind::kCommit:
          commits[name->version] = object.key;
          break;
        case LogFileName::Kind::kCheckpoint:
          single_checkpoints[name->version] = object.key;
          break;
        case LogFileName::Kind::kCheckpointPart:
          part_checkpoints[name->version][name->parts][name->part] = object.key;
          break;
      }
    }
  }

  // The newest checkpoint of version <= limit whose files are all there:
  // (version, keys in part order).
  std::optional<std::pair<int64_t, std::vector<std::string>>> BestCheckpoint(int64_t limit) const {
    std::set<int64_t> versions;
    for (const auto& [v, key] : single_checkpoints) versions.insert(v);
    for (const auto& [v, by_count] : part_checkpoints) versions.insert(v);
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (*it > limit) continue;
      if (auto single = single_checkpoints.find(*it); single != single_checkpoints.end()) {
        return std::make_pair(*it, std::vector<std::string>{single->second});
      }
      if (auto multi = part_checkpoints.find(*it); multi != part_checkpoints.end()) {
        for (const auto& [count, parts] : multi->second) {
          if (static_cast<int64_t>(parts.size()) != count) continue;  // a part is missing
          std::vector<std::string> keys;
          for (const auto& [index, key] : parts) keys.push_back(key);
          return std::make_pair(*it, std::move(keys));
        }
      }
    }
    return std::nullopt;
  }
};

// Lists decade `first` and the following ones while the previous one was
// full (held its version d*10+9) and below `limit`.
Status ListDecades(ObjectStore* store, const std::string& log_dir, int64_t first, int64_t limit,
                   LogListing* listing) {
  for (int64_t decade = first;; ++decade) {
    const std::string prefix = DecadePrefix(log_dir, decade);
    ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store->List(prefix));
    listing->Add(objects, log_dir);
    const int64_t last = decade * 10 + 9;
    if (!listing->commits.contains(last) || last >= limit) return Status::OK();
  }
}

// ---------------------------------------------------------------------------
// Temporary files for DuckDB

std::string RandomTag() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

// A private folder under the system's temp directory, removed with everything in it.
class TempDir {
 public:
  static Result<TempDir> Make() {
    TempDir dir;
    dir.path_ =
        fs::temp_directory_path() / fmt::format("tradelake-delta-{}-{}", ::getpid(), RandomTag());
    std::error_code ec;
    fs::create_directories(dir.path_, ec);
    if (ec) return IOError(fmt::format("creating {}: {}", dir.path_.string(), ec.message()));
    return dir;
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path File(std::string_view name) const { return path_ / name; }

 private:
  TempDir() = default;
  fs::path path_;
};

Status WriteFile(const fs::path& path, std::string_view data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return IOError(fmt::format("cannot create {}", path.string()));
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !ok) return IOError(fmt::format("writing {}", path.string()));
  return Status::OK();
}

Result<std::string> ReadFile(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return IOError(fmt::format("cannot open {}", path.string()));
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IOError(fmt::format("reading {}", path.string()));
  return data;
}

std::string SqlQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// One in-memory DuckDB per thread, opened by the thread's first checkpoint
// read or write (~10-20 ms, which a `run` step would otherwise pay per table)
// and kept until the thread exits.
Result<Connection*> ThreadDuckDb() {
  struct Holder {
    std::unique_ptr<Database> db;
    std::optional<Connection> con;  // destroyed before db
  };
  thread_local Holder held;
  if (!held.con) {
    ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(":memory:", {{"threads", "1"}}));
    ASSIGN_OR_RETURN(Connection con, db->Connect());
    held.db = std::move(db);
    held.con.emplace(std::move(con));
  }
  return &*held.con;
}

// ---------------------------------------------------------------------------
// Reading actions (commit JSON lines and checkpoint rows share this)

// Replays actions into `state`. The last action for a path wins (Action
// Reconciliation): an add makes a file live, a remove makes it a tombstone.
struct Replay {
  explicit Replay(DeltaTableState* s) : state(s) {}
  DeltaTableState* state;
  // In-place updates: each path's value before its change, and the paths.
  DeltaTableUpdate* update = nullptr;
  bool reader_features = false;             // of the latest protocol action
  std::optional<int64_t> commit_timestamp;  // commitInfo.timestamp of this commit
};

// Absent and null are the same: checkpoints hold null for every field an action lacks.
std::optional<dom::element> Field(dom::object object, std::string_view key) {
  dom::element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) return std::nullopt;
  return value;
}

Status BadField(std::string_view action, std::string_view field) {
  return DataLoss(fmt::format("{}.{} is missing or of the wrong type", action, field));
}

Status GetString(dom::object object, std::string_view action, std::string_view key, bool required,
                 std::string* out) {
  std::optional<dom::element> value = Field(object, key);
  if (!value) return required ? BadField(action, key) : Status::OK();
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS) return BadField(action, key);
  *out = std::string(text);
  return Status::OK();
}

Status GetInt(dom::object object, std::string_view action, std::string_view key, bool required,
              int64_t* out) {
  std::optional<dom::element> value = Field(object, key);
  if (!value) return required ? BadField(action, key) : Status::OK();
  if (value->get_int64().get(*out) != simdjson::SUCCESS) return BadField(action, key);
  return Status::OK();
}

Status GetBool(dom::object object, std::string_view action, std::string_view key, bool* out) {
  std::optional<dom::element> value = Field(object, key);
  if (!value) return Status::OK();
  if (value->get_bool().get(*out) != simdjson::SUCCESS) return BadField(action, key);
  return Status::OK();
}

// With `empty_is_null` (partition values), "" reads as null: "An empty string
// for any type translates to a null partition value" (Partition Value Serialization).
Status GetStringMap(dom::object object, std::string_view action, std::string_view key,
                    bool empty_is_null, std::map<std::string, std::optional<std::string>>* out) {
  std::optional<dom::element> value = Field(object, key);
  if (!value) return Status::OK();
  dom::object map;
  if (value->get_object().get(map) != simdjson::SUCCESS) return BadField(action, key);
  for (dom::key_value_pair kv : map) {
    if (kv.value.is_null()) {
      (*out)[std::string(kv.key)] = std::nullopt;
      continue;
    }
    std::string_view text;
    if (kv.value.get_string().get(text) != simdjson::SUCCESS) return BadField(action, key);
    if (text.empty() && empty_is_null) {
      (*out)[std::string(kv.key)] = std::nullopt;
    } else {
      (*out)[std::string(kv.key)] = std::string(text);
    }
  }
  return Status::OK();
}

// Before an add or remove of `path` changes r->state in place: what to put
// back (RevertDeltaTableUpdate), and that the path changed.
void RecordBefore(const std::string& path, Replay* r) {
  if (r->update == nullptr) return;
  DeltaTableUpdate::PathBefore before;
  before.path = path;
  if (auto it = r->state->files.find(path); it != r->state->files.end()) before.add = it->second;
  if (auto it = r->state->tombstones.find(path); it != r->state->tombstones.end()) before.tombstone = it->second;
  r->update->undo.push_back(std::move(before));
  r->update->touched.insert(path);
}

Status ApplyAdd(dom::object o, Replay* r) {
  DeltaAddFile add;
  RETURN_IF_ERROR(GetString(o, "add", "path", true, &add.path));
  RETURN_IF_ERROR(GetStringMap(o, "add", "partitionValues", true, &add.partition_values));
  RETURN_IF_ERROR(GetInt(o, "add", "size", false, &add.size));
  RETURN_IF_ERROR(GetInt(o, "add", "modificationTime", false, &add.modification_time));
  RETURN_IF_ERROR(GetBool(o, "add", "dataChange", &add.data_change));
  RETURN_IF_ERROR(GetString(o, "add", "stats", false, &add.stats));
  if (Field(o, "deletionVector")) {
    // Only reachable through a table that also declares the deletionVectors reader feature.
    return FailedPrecondition(
        fmt::format("add {} has a deletion vector, which tradelake does not read", add.path));
  }
  RecordBefore(add.path, r);
  r->state->tombstones.erase(add.path);
  std::string path = add.path;
  r->state->files.insert_or_assign(std::move(path), std::move(add));
  return Status::OK();
}

Status ApplyRemove(dom::object o, Replay* r) {
  DeltaRemoveFile remove;
  RETURN_IF_ERROR(GetString(o, "remove", "path", true, &remove.path));
  RETURN_IF_ERROR(GetInt(o, "remove", "deletionTimestamp", false, &remove.deletion_timestamp));
  RETURN_IF_ERROR(GetBool(o, "remove", "dataChange", &remove.data_change));
  RETURN_IF_ERROR(GetStringMap(o, "remove", "partitionValues", true, &remove.partition_values));
  RETURN_IF_ERROR(GetInt(o, "remove", "size", false, &remove.size));
  RecordBefore(remove.path, r);
  r->state->files.erase(remove.path);
  std::string path = remove.path;
  r->state->tombstones.insert_or_assign(std::move(path), std::move(remove));
  return Status::OK();
}

Status ApplyMetadata(dom::object o, Replay* r) {
  DeltaMetadata m;
  RETURN_IF_ERROR(GetString(o, "metaData", "id", true, &m.id));
  RETURN_IF_ERROR(GetString(o, "metaData", "name", false, &m.name));
  // Required by the protocol, yet missing in some old logs Spark still reads.
  RETURN_IF_ERROR(GetString(o, "metaData", "schemaString", false, &m.schema_string));
  RETURN_IF_ERROR(GetInt(o, "metaData", "createdTime", false, &m.created_time));
  if (std::optional<dom::element> columns = Field(o, "partitionColumns")) {
    dom::array array;
    if (columns->get_array().get(array) != simdjson::SUCCESS)
      return BadField("metaData", "partitionColumns");
    for (dom::element column : array) {
      std::string_view name;
      if (column.get_string().get(name) != simdjson::SUCCESS)
        return BadField("metaData", "partitionColumns");
      m.partition_columns.emplace_back(name);
    }
  }
  std::map<std::string, std::optional<std::string>> configuration;
  RETURN_IF_ERROR(GetStringMap(o, "metaData", "configuration", false, &configuration));
  for (auto& [key, value] : configuration) {
    if (value) m.configuration[key] = std::move(*value);
  }
  r->state->metadata = std::move(m);
  return Status::OK();
}

Status ApplyProtocol(dom::object o, Replay* r) {
  int64_t reader = 0, writer = 0;
  RETURN_IF_ERROR(GetInt(o, "protocol", "minReaderVersion", true, &reader));
  RETURN_IF_ERROR(GetInt(o, "protocol", "minWriterVersion", true, &writer));
  if (reader < 0 || reader > 1000 || writer < 0 || writer > 1000) {
    return DataLoss(fmt::format("protocol versions {}/{} are out of range", reader, writer));
  }
  r->state->protocol.min_reader_version = static_cast<int>(reader);
  r->state->protocol.min_writer_version = static_cast<int>(writer);
  r->reader_features = false;
  if (std::optional<dom::element> features = Field(o, "readerFeatures")) {
    dom::array array;
    if (features->get_array().get(array) != simdjson::SUCCESS)
      return BadField("protocol", "readerFeatures");
    r->reader_features = array.size() > 0;
  }
  return Status::OK();
}

Status ApplyTxn(dom::object o, Replay* r) {
  std::string app_id;
  int64_t version = 0;
  RETURN_IF_ERROR(GetString(o, "txn", "appId", true, &app_id));
  RETURN_IF_ERROR(GetInt(o, "txn", "version", true, &version));
  r->state->app_versions[app_id] = version;
  return Status::OK();
}

// One action; unknown kinds (cdc, domainMetadata, ...) are skipped, as the
// protocol tells readers to do.
Status ApplyAction(std::string_view kind, dom::element body, Replay* r) {
  dom::object o;
  if (body.get_object().get(o) != simdjson::SUCCESS) {
    return DataLoss(fmt::format("action {} is not a JSON object", kind));
  }
  if (kind == "add") return ApplyAdd(o, r);
  if (kind == "remove") return ApplyRemove(o, r);
  if (kind == "metaData") return ApplyMetadata(o, r);
  if (kind == "protocol") return ApplyProtocol(o, r);
  if (kind == "txn") return ApplyTxn(o, r);
  if (kind == "commitInfo") {
    // Written for humans; a commit without a usable timestamp is still a commit.
    int64_t timestamp = 0;
    if (std::optional<dom::element> value = Field(o, "timestamp");
        value && value->get_int64().get(timestamp) == simdjson::SUCCESS) {
      r->commit_timestamp = timestamp;
    }
  }
  return Status::OK();
}

// The JSON lines of one commit. With `only_commit_info`, reads just its timestamp.
Status ApplyCommitText(std::string_view text, Replay* r, bool only_commit_info = false) {
  dom::parser parser;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    dom::object object;
    if (auto error = parser.parse(line.data(), line.size()).get(object)) {
      return DataLoss(fmt::format("line {} is not a JSON object ({})", line_no,
                                  simdjson::error_message(error)));
    }
    for (dom::key_value_pair kv : object) {
      if (only_commit_info && kv.key != "commitInfo") continue;
      RETURN_IF_ERROR(
          ApplyAction(kv.key, kv.value, r).WithContext(fmt::format("line {}", line_no)));
    }
  }
  return Status::OK();
}

// Reads the checkpoint files (one, or the parts of a multi-part one) into r->state.
Status ApplyCheckpoint(ObjectStore* store, const std::vector<std::string>& keys, Replay* r) {
  std::optional<TempDir> temp;
  std::vector<std::string> paths;
  for (const std::string& key : keys) {
    std::optional<std::string> local = store->LocalPath(key);
    std::error_code ec;
    if (local && fs::is_regular_file(*local, ec)) {
      paths.push_back(*local);
      continue;
    }
    // Not a local folder: stage the object in a private file DuckDB can read.
    if (!temp) {
      ASSIGN_OR_RETURN(TempDir made, TempDir::Make());
      temp.emplace(std::move(made));
    }
    ASSIGN_OR_RETURN(std::string bytes, store->Get(key));
    const fs::path path = temp->File(fmt::format("part-{}.parquet", paths.size()));
    RETURN_IF_ERROR(WriteFile(path, bytes));
    paths.push_back(path.string());
  }
  std::string files = "[";
  for (size_t i = 0; i < paths.size(); ++i) files += (i ? ", " : "") + SqlQuote(paths[i]);
  files += "]";

  ASSIGN_OR_RETURN(Connection * con, ThreadDuckDb());
  ASSIGN_OR_RETURN(QueryResult schema,
                   con->Query(fmt::format("DESCRIBE SELECT * FROM read_parquet({})", files)));
  std::set<std::string> present;
  for (uint64_t row = 0; row < schema.row_count(); ++row)
    present.insert(schema.GetStringOr(row, 0, ""));
  // Protocol and metaData first so that a refusal comes before the files are read.
  std::vector<std::string> kinds;
  for (const char* kind : {"protocol", "metaData", "txn", "remove", "add"}) {
    if (present.contains(kind)) kinds.emplace_back(kind);
  }
  if (kinds.empty())
    return DataLoss("checkpoint has none of the columns protocol, metaData, txn, add, remove");
  std::string select;
  for (const std::string& kind : kinds) {
    select += fmt::format("{}to_json(\"{}\")::VARCHAR", select.empty() ? "" : ", ", kind);
  }
  ASSIGN_OR_RETURN(QueryResult rows,
                   con->Query(fmt::format("SELECT {} FROM read_parquet({})", select, files)));
  dom::parser parser;
  for (uint64_t row = 0; row < rows.row_count(); ++row) {
    for (uint64_t col = 0; col < kinds.size(); ++col) {
      std::optional<std::string> json = rows.GetString(row, col);
      if (!json || *json == "null") continue;
      dom::element element;
      if (auto error = parser.parse(*json).get(element)) {
        return DataLoss(
            fmt::format("row {} column {}: {}", row, kinds[col], simdjson::error_message(error)));
      }
      RETURN_IF_ERROR(ApplyAction(kinds[col], element, r).WithContext(fmt::format("row {}", row)));
    }
  }
  return Status::OK();
}

Status CheckReadable(const Replay& replay, std::string_view table_root) {
  const DeltaProtocol& p = replay.state->protocol;
  if (p.min_reader_version > kDeltaReaderVersion || replay.reader_features) {
    return FailedPrecondition(
        fmt::format("Delta table {} needs reader version {}{}; tradelake reads tables of reader "
                    "version {} without "
                    "table features",
                    table_root, p.min_reader_version,
                    replay.reader_features ? " with reader features" : "", kDeltaReaderVersion));
  }
  return Status::OK();
}

// The version _last_checkpoint names, or nullopt when there is none or it is
// unreadable (it is only a hint: the listing finds the checkpoints anyway).
Result<std::optional<int64_t>> ReadLastCheckpointHint(ObjectStore* store,
                                                      const std::string& log_dir) {
  auto bytes = store->Get(log_dir + "_last_checkpoint");
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) return std::optional<int64_t>();
    return bytes.status().WithContext(log_dir + "_last_checkpoint");
  }
  dom::parser parser;
  dom::element doc;
  int64_t version = 0;
  if (parser.parse(*bytes).get(doc) != simdjson::SUCCESS ||
      doc["version"].get_int64().get(version) || version < 0) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(version);
}

// Applies the commits of `listing` in (from, limit] to r->state, which holds
// version `from`. They must be contiguous.
Status ApplyCommits(ObjectStore* store, const LogListing& listing, int64_t from, int64_t limit,
                    Replay* r) {
  // A hole is found before anything is read.
  int64_t expected = from + 1;
  for (auto it = listing.commits.upper_bound(from);
       it != listing.commits.end() && it->first <= limit; ++it) {
    if (it->first != expected) {
      return DataLoss(fmt::format(
          "Delta log is missing version {} ({} follows {}): versions must be contiguous", expected,
          it->first, expected - 1));
    }
    ++expected;
  }
  for (auto it = listing.commits.upper_bound(from);
       it != listing.commits.end() && it->first <= limit; ++it) {
    ASSIGN_OR_RETURN(std::string text, store->Get(it->second));
    r->commit_timestamp.reset();
    RETURN_IF_ERROR(ApplyCommitText(text, r).WithContext(it->second));
    r->state->version = it->first;
    r->state->last_commit_timestamp = r->commit_timestamp.value_or(0);
  }
  return Status::OK();
}

Status ValidateCommit(const DeltaCommit& commit, int64_t version) {
  if (version < 0) return InvalidArgument(fmt::format("Delta version {} is negative", version));
  if (version == 0 && (!commit.protocol || !commit.metadata)) {
    return InvalidArgument("Delta version 0 must hold the protocol and the table's metadata");
  }
  return Status::OK();
}

OrderedJson PartitionValuesJson(const std::map<std::string, std::optional<std::string>>& values) {
  OrderedJson out = OrderedJson::object();
  for (const auto& [key, value] : values)
    out[key] = value ? OrderedJson(*value) : OrderedJson(nullptr);
  return out;
}

OrderedJson ProtocolJson(const DeltaProtocol& p) {
  return {{"minReaderVersion", p.min_reader_version}, {"minWriterVersion", p.min_writer_version}};
}

OrderedJson MetadataJson(const DeltaMetadata& m) {
  OrderedJson out;
  out["id"] = m.id;
  if (!m.name.empty()) out["name"] = m.name;
  out["format"] = {{"provider", "parquet"}, {"options", OrderedJson::object()}};
  out["schemaString"] = m.schema_string;
  out["partitionColumns"] = m.partition_columns;
  OrderedJson configuration = OrderedJson::object();
  for (const auto& [key, value] : m.configuration) configuration[key] = value;
  out["configuration"] = std::move(configuration);
  out["createdTime"] = m.created_time;
  return out;
}

OrderedJson AddJson(const DeltaAddFile& a) {
  OrderedJson out;
  out["path"] = a.path;
  out["partitionValues"] = PartitionValuesJson(a.partition_values);
  out["size"] = a.size;
  out["modificationTime"] = a.modification_time;
  out["dataChange"] = a.data_change;
  if (!a.stats.empty()) out["stats"] = a.stats;
  return out;
}

OrderedJson RemoveJson(const DeltaRemoveFile& r) {
  OrderedJson out;
  out["path"] = r.path;
  out["deletionTimestamp"] = r.deletion_timestamp;
  out["dataChange"] = r.data_change;
  if (r.size >= 0) {
    out["extendedFileMetadata"] = true;
    out["partitionValues"] = PartitionValuesJson(r.partition_values);
    out["size"] = r.size;
  }
  return out;
}

std::string Line(std::string_view kind, OrderedJson body) {
  OrderedJson line;
  line[std::string(kind)] = std::move(body);
  return line.dump() + "\n";
}

// ---------------------------------------------------------------------------
// Stats

// Flattens one minValues/maxValues object: leaves keep their raw JSON text.
simdjson::error_code FlattenValues(od::object object, const std::string& prefix,
                                   std::map<std::string, std::string>* out) {
  for (auto field : object) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    std::string name = prefix + std::string(key);
    od::value value;
    if (auto error = field.value().get(value)) return error;
    od::json_type type;
    if (auto error = value.type().get(type)) return error;
    if (type == od::json_type::object) {
      od::object nested;
      if (auto error = value.get_object().get(nested)) return error;
      if (auto error = FlattenValues(nested, name + ".", out)) return error;
      continue;
    }
    std::string_view raw;
    if (type == od::json_type::array) {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      if (auto error = array.raw_json().get(raw)) return error;
    } else {
      // The token as written: a decimal never passes through a double.
      raw = value.raw_json_token();
    }
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
      raw.remove_suffix(1);
    }
    (*out)[std::move(name)] = std::string(raw);
  }
  return simdjson::SUCCESS;
}

simdjson::error_code FlattenCounts(od::object object, const std::string& prefix,
                                   std::map<std::string, int64_t>* out) {
  for (auto field : object) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    std::string name = prefix + std::string(key);
    od::value value;
    if (auto error = field.value().get(value)) return error;
    od::json_type type;
    if (auto error = value.type().get(type)) return error;
    if (type == od::json_type::object) {
      od::object nested;
      if (auto error = value.get_object().get(nested)) return error;
      if (auto error = FlattenCounts(nested, name + ".", out)) return error;
      continue;
    }
    if (type == od::json_type::null) continue;
    int64_t count = 0;
    if (auto error = value.get_int64().get(count)) return error;
    (*out)[std::move(name)] = count;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ParseStatsInto(std::string_view json, DeltaStats* stats) {
  od::parser parser;
  simdjson::padded_string padded(json);
  od::document doc;
  if (auto error = parser.iterate(padded).get(doc)) return error;
  od::object object;
  if (auto error = doc.get_object().get(object)) return error;
  for (auto field : object) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    od::value value;
    if (auto error = field.value().get(value)) return error;
    bool is_null = false;
    if (auto error = value.is_null().get(is_null)) return error;
    if (is_null) continue;
    if (key == "numRecords") {
      if (auto error = value.get_int64().get(stats->num_records)) return error;
    } else if (key == "minValues" || key == "maxValues" || key == "nullCount") {
      od::object nested;
      if (auto error = value.get_object().get(nested)) return error;
      simdjson::error_code error =
          key == "nullCount"
              ? FlattenCounts(nested, "", &stats->null_count)
              : FlattenValues(nested, "",
                              key == "minValues" ? &stats->min_values : &stats->max_values);
      if (error) return error;
    }
    // Other keys (tightBounds, ...) are skipped; ondemand skips their values.
  }
  return simdjson::SUCCESS;
}

// Writes a flattened "a.b" map back as nested objects, values emitted by `emit`.
template <typename Map, typename Emit>
void WriteNested(const Map& values, std::string_view prefix, std::string* out, Emit emit) {
  out->push_back('{');
  bool first = true;
  for (auto it = values.lower_bound(std::string(prefix)); it != values.end();) {
    std::string_view key = it->first;
    if (key.substr(0, prefix.size()) != prefix) break;
    std::string_view rest = key.substr(prefix.size());
    if (!first) out->push_back(',');
    first = false;
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0) {
      *out += nlohmann::json(std::string(rest)).dump();
      out->push_back(':');
      emit(it->second, out);
      ++it;
      continue;
    }
    // A struct column: every key sharing "<prefix><head>." goes inside it.
    const std::string head(rest.substr(0, dot));
    const std::string nested_prefix = std::string(prefix) + head + ".";
    *out += nlohmann::json(head).dump();
    out->push_back(':');
    WriteNested(values, nested_prefix, out, emit);
    while (it != values.end() &&
           std::string_view(it->first).substr(0, nested_prefix.size()) == nested_prefix)
      ++it;
  }
  out->push_back('}');
}

// ---------------------------------------------------------------------------
// Checkpoint schema (as Spark writes it, without the fields tradelake never sets)

constexpr std::string_view kPartitionMap = "MAP(VARCHAR, VARCHAR)";

std::string CheckpointColumns() {
  return fmt::format(
      "{{'txn': 'STRUCT(\"appId\" VARCHAR, \"version\" BIGINT, \"lastUpdated\" BIGINT)', "
      "'add': 'STRUCT(\"path\" VARCHAR, \"partitionValues\" {0}, \"size\" BIGINT, "
      "\"modificationTime\" BIGINT, "
      "\"dataChange\" BOOLEAN, \"tags\" {0}, \"stats\" VARCHAR)', "
      "'remove': 'STRUCT(\"path\" VARCHAR, \"deletionTimestamp\" BIGINT, \"dataChange\" BOOLEAN, "
      "\"extendedFileMetadata\" BOOLEAN, \"partitionValues\" {0}, \"size\" BIGINT)', "
      "'metaData': 'STRUCT(\"id\" VARCHAR, \"name\" VARCHAR, \"description\" VARCHAR, "
      "\"format\" STRUCT(\"provider\" VARCHAR, \"options\" {0}), \"schemaString\" VARCHAR, "
      "\"partitionColumns\" VARCHAR[], \"configuration\" {0}, \"createdTime\" BIGINT)', "
      "'protocol': 'STRUCT(\"minReaderVersion\" INTEGER, \"minWriterVersion\" INTEGER)'}}",
      kPartitionMap);
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API

Result<DeltaStats> ParseDeltaStats(std::string_view json) {
  DeltaStats stats;
  if (json.empty()) return stats;
  if (auto error = ParseStatsInto(json, &stats)) {
    return DataLoss(fmt::format("add.stats is not a Delta stats object ({}): {}",
                                simdjson::error_message(error), json.substr(0, 200)));
  }
  return stats;
}

std::optional<TimestampMicros> StatTime(const std::map<std::string, std::string>& values, std::string_view column) {
  auto it = values.find(std::string(column));
  if (it == values.end()) return std::nullopt;
  std::string_view text = it->second;
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  auto t = ParseRfc3339(text.substr(1, text.size() - 2));
  if (!t.ok()) return std::nullopt;
  return *t;
}

std::optional<int64_t> StatInt(const std::map<std::string, std::string>& values, std::string_view column) {
  auto it = values.find(std::string(column));
  if (it == values.end()) return std::nullopt;
  int64_t v = 0;
  const char* end = it->second.data() + it->second.size();
  auto [ptr, ec] = std::from_chars(it->second.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::string SerializeDeltaStats(const DeltaStats& stats) {
  std::string out = "{";
  auto section = [&out](std::string_view name) {
    if (out.size() > 1) out.push_back(',');
    out += fmt::format("\"{}\":", name);
  };
  if (stats.num_records >= 0) {
    section("numRecords");
    out += std::to_string(stats.num_records);
  }
  auto raw = [](const std::string& text, std::string* o) { *o += text; };
  if (!stats.min_values.empty()) {
    section("minValues");
    WriteNested(stats.min_values, "", &out, raw);
  }
  if (!stats.max_values.empty()) {
    section("maxValues");
    WriteNested(stats.max_values, "", &out, raw);
  }
  if (!stats.null_count.empty()) {
    section("nullCount");
    WriteNested(stats.null_count, "", &out,
                [](int64_t n, std::string* o) { *o += std::to_string(n); });
  }
  out.push_back('}');
  return out;
}

std::string DeltaCommitKey(std::string_view table_root, int64_t version) {
  return fmt::format("{}{:020d}.json", LogDir(table_root), version);
}

Result<std::string> DeltaPathToKey(std::string_view table_root, std::string_view path) {
  // scheme ":" before any '/' makes an absolute URI (RFC 2396 section 3).
  const size_t colon = path.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      path.substr(0, colon).find('/') == std::string_view::npos) {
    std::string_view scheme = path.substr(0, colon);
    const bool is_scheme =
        IsAsciiAlpha(scheme[0]) && std::all_of(scheme.begin(), scheme.end(), [](char c) {
          return IsAsciiAlnum(c) || c == '+' || c == '-' || c == '.';
        });
    if (is_scheme) {
      return InvalidArgument(
          fmt::format("Delta file path {} is an absolute URI; tradelake reads tables whose files "
                      "lie under the table root",
                      path));
    }
  }
  std::string decoded;
  decoded.reserve(path.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      decoded.push_back(path[i]);
      continue;
    }
    if (i + 2 >= path.size() || hex(path[i + 1]) < 0 || hex(path[i + 2]) < 0) {
      return InvalidArgument(
          fmt::format("Delta file path {} has a malformed %-escape at offset {}", path, i));
    }
    decoded.push_back(static_cast<char>(hex(path[i + 1]) * 16 + hex(path[i + 2])));
    i += 2;
  }
  std::string key = NormalizeRoot(table_root) + decoded;
  RETURN_IF_ERROR(ValidateKey(key).WithContext(fmt::format("Delta file path {}", path)));
  return key;
}

std::string KeyToDeltaPath(std::string_view table_root, std::string_view key) {
  const std::string root = NormalizeRoot(table_root);
  if (key.substr(0, root.size()) == root) key.remove_prefix(root.size());
  // RFC 2396 pchar plus '/': unreserved, and ":@&=+$,". A ':' in the first
  // segment would read as a scheme, so it is escaped there.
  const size_t first_slash = key.find('/');
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    const bool keep =
        IsAsciiAlnum(static_cast<char>(c)) ||
        std::string_view("-_.!~*'()@&=+$,/").find(static_cast<char>(c)) != std::string_view::npos ||
        (c == ':' && first_slash != std::string_view::npos && i > first_slash);
    if (keep && c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<DeltaTableState> LoadDeltaTable(ObjectStore* store, std::string_view table_root,
                                       std::optional<int64_t> at_most) {
  if (at_most && *at_most < 0)
    return InvalidArgument(fmt::format("Delta version {} is negative", *at_most));
  const int64_t limit = at_most.value_or(kNoLimit);
  const std::string log_dir = LogDir(table_root);

  LogListing listing;
  std::optional<std::pair<int64_t, std::vector<std::string>>> checkpoint;
  ASSIGN_OR_RETURN(std::optional<int64_t> hint, ReadLastCheckpointHint(store, log_dir));
  if (hint) {
    // A hint newer than the version asked for: look for a checkpoint in that version's decade.
    const int64_t start = std::min(*hint, limit);
    RETURN_IF_ERROR(ListDecades(store, log_dir, start / 10, limit, &listing).WithContext(log_dir));
    checkpoint = listing.BestCheckpoint(limit);
  }
  if (!checkpoint) {
    // No usable checkpoint near the hint (or no hint): the whole log, from version 0.
    listing = LogListing();
    ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store->List(log_dir));
    listing.Add(objects, log_dir);
    checkpoint = listing.BestCheckpoint(limit);
  }

  DeltaTableState state;
  Replay replay(&state);
  int64_t from = -1;
  if (checkpoint) {
    RETURN_IF_ERROR(
        ApplyCheckpoint(store, checkpoint->second, &replay)
            .WithContext(fmt::format("Delta checkpoint {}", checkpoint->second.front())));
    from = checkpoint->first;
    state.version = from;
  } else {
    auto first = listing.commits.begin();
    if (first == listing.commits.end() || first->first > limit) return state;  // no table (yet)
    if (first->first != 0) {
      return DataLoss(fmt::format(
          "Delta log {} starts at version {} without a checkpoint: versions before it are "
          "gone",
          log_dir, first->first));
    }
  }
  RETURN_IF_ERROR(ApplyCommits(store, listing, from, limit, &replay));
  if (checkpoint && state.version == checkpoint->first) {
    // Only the checkpoint: its own commit (when still there) says when it was made.
    if (auto it = listing.commits.find(state.version); it != listing.commits.end()) {
      ASSIGN_OR_RETURN(std::string text, store->Get(it->second));
      RETURN_IF_ERROR(
          ApplyCommitText(text, &replay, /*only_commit_info=*/true).WithContext(it->second));
      state.last_commit_timestamp = replay.commit_timestamp.value_or(0);
    }
  }
  RETURN_IF_ERROR(CheckReadable(replay, table_root));
  return state;
}

namespace {

// The small parts of `state` an in-place update may change, saved for its undo.
void SaveScalars(const DeltaTableState& state, DeltaTableUpdate* u) {
  u->version = state.version;
  u->protocol = state.protocol;
  u->metadata = state.metadata;
  u->app_versions = state.app_versions;
  u->last_commit_timestamp = state.last_commit_timestamp;
  u->saved = true;
}

// Replaces `state` with the table read afresh, keeping the old one for the undo.
Status Reload(ObjectStore* store, std::string_view table_root, DeltaTableState* state,
              std::optional<int64_t> at_most, DeltaTableUpdate* update) {
  ASSIGN_OR_RETURN(DeltaTableState fresh, LoadDeltaTable(store, table_root, at_most));
  if (update) {
    update->reloaded = true;
    update->replaced = std::move(*state);
  }
  *state = std::move(fresh);
  return Status::OK();
}

}  // namespace

Status UpdateDeltaTable(ObjectStore* store, std::string_view table_root, DeltaTableState* state,
                        std::optional<int64_t> at_most, DeltaTableUpdate* update) {
  if (update) *update = DeltaTableUpdate{};
  if (state->version < 0 || (at_most && *at_most < state->version)) {
    return Reload(store, table_root, state, at_most, update);
  }
  const int64_t limit = at_most.value_or(kNoLimit);
  if (state->version >= limit) return Status::OK();
  const std::string log_dir = LogDir(table_root);
  LogListing listing;
  RETURN_IF_ERROR(
      ListDecades(store, log_dir, state->version / 10, limit, &listing).WithContext(log_dir));
  auto next = listing.commits.upper_bound(state->version);
  if (next == listing.commits.end() || next->first > limit) return Status::OK();
  if (next->first != state->version + 1) {
    // The commits after our version were cleaned up: start again from a checkpoint.
    return Reload(store, table_root, state, at_most, update);
  }
  // In place, with an undo record: copying the state would cost the table's
  // size on every update.
  DeltaTableUpdate local;
  DeltaTableUpdate* u = update ? update : &local;
  SaveScalars(*state, u);
  // The protocol in hand was readable; a reader-features flag is only set by a new protocol action.
  Replay replay(state);
  replay.update = u;
  Status s = ApplyCommits(store, listing, state->version, limit, &replay);
  if (s.ok()) s = CheckReadable(replay, table_root);
  if (!s.ok()) {
    RevertDeltaTableUpdate(state, u);
    return s;
  }
  return Status::OK();
}

void RevertDeltaTableUpdate(DeltaTableState* state, DeltaTableUpdate* update) {
  if (update->replaced) {
    *state = std::move(*update->replaced);
  } else {
    for (auto it = update->undo.rbegin(); it != update->undo.rend(); ++it) {
      if (it->add) {
        state->files.insert_or_assign(it->path, std::move(*it->add));
      } else {
        state->files.erase(it->path);
      }
      if (it->tombstone) {
        state->tombstones.insert_or_assign(it->path, std::move(*it->tombstone));
      } else {
        state->tombstones.erase(it->path);
      }
    }
    if (update->saved) {
      state->version = update->version;
      state->protocol = std::move(update->protocol);
      state->metadata = std::move(update->metadata);
      state->app_versions = std::move(update->app_versions);
      state->last_commit_timestamp = update->last_commit_timestamp;
    }
  }
  *update = DeltaTableUpdate{};
}

std::string SerializeDeltaCommit(const DeltaCommit& commit) {
  std::string out;
  OrderedJson info;
  info["timestamp"] = commit.timestamp;
  info["operation"] = commit.operation;
  OrderedJson parameters = OrderedJson::object();
  for (const auto& [key, value] : commit.operation_parameters) parameters[key] = value;
  info["operationParameters"] = std::move(parameters);
  info["isBlindAppend"] = commit.removes.empty();
  info["engineInfo"] = commit.engine_info;
  out += Line("commitInfo", std::move(info));
  if (commit.protocol) out += Line("protocol", ProtocolJson(*commit.protocol));
  if (commit.metadata) out += Line("metaData", MetadataJson(*commit.metadata));
  if (commit.txn) {
    out += Line("txn", {{"appId", commit.txn->first},
                        {"version", commit.txn->second},
                        {"lastUpdated", commit.timestamp}});
  }
  for (const DeltaRemoveFile& remove : commit.removes) out += Line("remove", RemoveJson(remove));
  for (const DeltaAddFile& add : commit.adds) out += Line("add", AddJson(add));
  return out;
}

Status ApplyDeltaCommit(DeltaTableState* state, const DeltaCommit& commit) {
  RETURN_IF_ERROR(ValidateCommit(commit, state->version + 1));
  // Through the same parser as the log, so memory and log cannot disagree;
  // in place, with an undo record (a copy would cost the table's size).
  DeltaTableUpdate undo;
  SaveScalars(*state, &undo);
  Replay replay(state);
  replay.update = &undo;
  if (Status s = ApplyCommitText(SerializeDeltaCommit(commit), &replay); !s.ok()) {
    RevertDeltaTableUpdate(state, &undo);
    return s.WithContext("applying a Delta commit");
  }
  state->version += 1;
  state->last_commit_timestamp = commit.timestamp;
  return Status::OK();
}

Status WriteDeltaCommit(ObjectStore* store, std::string_view table_root, int64_t version,
                        const DeltaCommit& commit) {
  RETURN_IF_ERROR(ValidateCommit(commit, version));
  const std::string key = DeltaCommitKey(table_root, version);
  Status put = store->Put(key, SerializeDeltaCommit(commit), WriteMode::kCreateOnly);
  if (put.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists(
        fmt::format("Delta version {} of {} was committed by another writer ({}); reload the "
                    "table and retry",
                    version, table_root, key));
  }
  return put.WithContext(key);
}

Status WriteDeltaCheckpoint(ObjectStore* store, std::string_view table_root,
                            const DeltaTableState& state, int64_t tombstone_retention_ms) {
  if (state.version < 0)
    return InvalidArgument(fmt::format("Delta table {} has no version to checkpoint", table_root));
  const std::string log_dir = LogDir(table_root);
  const std::string key = fmt::format("{}{:020d}.checkpoint.parquet", log_dir, state.version);

  std::string lines;
  int64_t actions = 0;
  auto add_line = [&](std::string_view kind, OrderedJson body) {
    lines += Line(kind, std::move(body));
    ++actions;
  };
  add_line("protocol", ProtocolJson(state.protocol));
  add_line("metaData", MetadataJson(state.metadata));
  for (const auto& [app_id, version] : state.app_versions) {
    add_line("txn", {{"appId", app_id}, {"version", version}});
  }
  const int64_t oldest_tombstone = state.last_commit_timestamp - tombstone_retention_ms;
  for (const auto& [path, remove] : state.tombstones) {
    if (remove.deletion_timestamp > oldest_tombstone) add_line("remove", RemoveJson(remove));
  }
  for (const auto& [path, add] : state.files) add_line("add", AddJson(add));

  ASSIGN_OR_RETURN(TempDir temp, TempDir::Make());
  const fs::path json_path = temp.File("actions.json");
  const fs::path parquet_path = temp.File("checkpoint.parquet");
  RETURN_IF_ERROR(WriteFile(json_path, lines));
  ASSIGN_OR_RETURN(Connection * con, ThreadDuckDb());
  const std::string sql = fmt::format(
      "COPY (SELECT \"txn\", \"add\", \"remove\", \"metaData\", \"protocol\" FROM read_json({}, "
      "format = 'newline_delimited', columns = {})) TO {} (FORMAT parquet, COMPRESSION snappy)",
      SqlQuote(json_path.string()), CheckpointColumns(), SqlQuote(parquet_path.string()));
  RETURN_IF_ERROR(con->Query(sql).status().WithContext(fmt::format("building {}", key)));
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(parquet_path));

  Status put = store->Put(key, bytes, WriteMode::kCreateOnly);
  if (!put.ok() && put.code() != StatusCode::kAlreadyExists) return put.WithContext(key);

  // Never move the hint back past a newer checkpoint another writer made.
  ASSIGN_OR_RETURN(std::optional<int64_t> hint, ReadLastCheckpointHint(store, log_dir));
  if (hint && *hint > state.version) return Status::OK();
  OrderedJson last;
  last["version"] = state.version;
  last["size"] = actions;
  last["sizeInBytes"] = bytes.size();
  last["numOfAddFiles"] = state.files.size();
  const std::string last_key = log_dir + "_last_checkpoint";
  return store->Put(last_key, last.dump(), WriteMode::kOverwrite).WithContext(last_key);
}

}  // namespace tradelake
