#include "sql/lake_sql.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <simdjson.h>

#include "core/text.h"
#include "core/time.h"
#include "etl/table_io.h"
#include "sql/prune.h"
#include "sql/render.h"
#include "sql/sql_text.h"
#include "table/delta_log.h"

namespace tradelake {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kBronzeRaw = "bronze.trades_raw";
constexpr std::string_view kBronzePrefix = "bronze/source=coinbase/";

std::string SqlQuote(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  out += '\'';
  return out;
}

// "product_id=BTC-USD" segment value of `key`, or "".
std::string HiveValue(std::string_view key, std::string_view name) {
  const std::string needle = fmt::format("/{}=", name);
  const size_t at = key.find(needle);
  if (at == std::string_view::npos) return "";
  const size_t start = at + needle.size();
  const size_t end = key.find('/', start);
  return std::string(key.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

std::string DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return fmt::format("{}/tradelake", xdg);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return fmt::format("{}/.cache/tradelake", home);
  }
  return (fs::temp_directory_path() / "tradelake-cache").string();
}

// A folder name for a lake in the cache: "s3://b/p" -> "s3_b_p".
std::string CacheName(std::string_view describe) {
  std::string out;
  for (char ch : describe) {
    out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.') ? ch : '_';
  }
  return out;
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return IOError(fmt::format("cannot write {}", tmp));
  }
  fs::rename(tmp, path, ec);
  if (ec) return IOError(fmt::format("cannot rename {} to {}: {}", tmp, path, ec.message()));
  return Status::OK();
}

// Time columns are UTC-adjusted Parquet timestamps (TIMESTAMP WITH TIME
// ZONE in DuckDB); the views show them as plain TIMESTAMP, UTC (the
// databases' TimeZone is 'UTC', see BuildDatabases). A cast of a plain
// TIMESTAMP (a file from before) to TIMESTAMP changes nothing.
bool IsTimestamp(std::string_view type) { return type.starts_with("TIMESTAMP"); }

// The view's columns: the schema's, times as TIMESTAMP, and `date` last when
// the file does not hold it (from the folder, or from period_start).
std::string ColumnsSelect(const std::vector<ColumnDef>& schema, bool add_date, bool date_folder) {
  std::string cols;
  for (const auto& c : schema) {
    if (!cols.empty()) cols += ", ";
    cols += IsTimestamp(c.type) ? fmt::format("CAST({0} AS TIMESTAMP) AS {0}", c.name) : c.name;
  }
  if (add_date) cols += date_folder ? ", date" : ", CAST(CAST(period_start AS TIMESTAMP) AS DATE) AS date";
  return cols;
}

std::string EmptySelect(const std::vector<std::pair<std::string, std::string>>& columns) {
  std::string cols;
  for (const auto& [name, type] : columns) {
    if (!cols.empty()) cols += ", ";
    cols += fmt::format("CAST(NULL AS {}) AS {}", type, name);
  }
  return fmt::format("SELECT {} WHERE false", cols);
}

bool HasColumn(const std::vector<ColumnDef>& schema, std::string_view name) {
  for (const auto& c : schema) {
    if (c.name == name) return true;
  }
  return false;
}

// The UTC day of a timestamp statistic of `column` (table/delta_log.h
// StatTime: offsets are applied, so the day is exact); nullopt when it is
// absent or not a timestamp.
std::optional<int64_t> StatDay(const std::map<std::string, std::string>& values, std::string_view column) {
  const std::optional<TimestampMicros> t = StatTime(values, column);
  if (!t) return std::nullopt;
  return DayNumber(*t);
}

constexpr int64_t kAnyDayMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kAnyDayMax = std::numeric_limits<int64_t>::max();

// Statement types an analyst may run.
// "EXPLAIN [ANALYZE] rest" -> rest; "" if `statement` is not an EXPLAIN.
std::string_view AfterExplain(std::string_view statement) {
  std::string_view s = SkipLeadingComments(statement);
  auto eat = [&s](std::string_view word) {
    if (s.size() >= word.size()) {
      bool match = true;
      for (size_t i = 0; i < word.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(s[i])) != word[i]) match = false;
      }
      if (match && (s.size() == word.size() || std::isspace(static_cast<unsigned char>(s[word.size()])))) {
        s = TrimSql(s.substr(word.size()));
        return true;
      }
    }
    return false;
  };
  if (!eat("EXPLAIN")) return "";
  eat("ANALYZE");
  return s;
}

// The first word of a statement, upper-cased ("COPY"), for messages.
std::string FirstKeyword(std::string_view statement) {
  std::string keyword;
  for (char ch : SkipLeadingComments(statement)) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) break;
    keyword += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return keyword.empty() ? std::string("this") : keyword;
}

void CollectTableRefs(simdjson::dom::element node, std::set<std::string>* refs, bool* complete) {
  simdjson::dom::object obj;
  if (node.get_object().get(obj) == simdjson::SUCCESS) {
    std::string_view type;
    if (obj["type"].get_string().get(type) == simdjson::SUCCESS && type == "BASE_TABLE") {
      std::string_view schema, table;
      if (obj["schema_name"].get_string().get(schema) != simdjson::SUCCESS) schema = {};
      if (obj["table_name"].get_string().get(table) == simdjson::SUCCESS) {
        refs->insert(schema.empty() ? std::string(table) : fmt::format("{}.{}", schema, table));
      } else {
        *complete = false;
      }
    }
    for (auto field : obj) CollectTableRefs(field.value, refs, complete);
    return;
  }
  simdjson::dom::array arr;
  if (node.get_array().get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : arr) CollectTableRefs(child, refs, complete);
  }
}

// SQL literals of the lowest and highest value of a column type, for the
// planning tables' statistics.
Result<std::pair<std::string, std::string>> TypeExtremes(std::string_view type) {
  if (type == "VARCHAR" || type == "JSON") {
    return std::pair<std::string, std::string>{"''", "chr(1114111) || chr(1114111) || chr(1114111)"};
  }
  if (type == "BIGINT") return std::pair<std::string, std::string>{"-9223372036854775808", "9223372036854775807"};
  if (type == "INTEGER") return std::pair<std::string, std::string>{"-2147483648", "2147483647"};
  if (type == "TIMESTAMP") return std::pair<std::string, std::string>{"'-infinity'", "'infinity'"};
  if (type == "DATE") return std::pair<std::string, std::string>{"'-infinity'", "'infinity'"};
  if (type == "DOUBLE") return std::pair<std::string, std::string>{"'-inf'", "'inf'"};
  if (type == "DECIMAL(38,18)") {
    const std::string nines = "99999999999999999999.999999999999999999";
    return std::pair<std::string, std::string>{"-" + nines, nines};
  }
  return Internal(fmt::format("no planning extremes for column type {}", type));
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

double AthenaCostUsd(int64_t bytes) {
  constexpr int64_t kMb = int64_t{1} << 20;
  const int64_t billed_mb = std::max<int64_t>(10, (std::max<int64_t>(bytes, 0) + kMb - 1) / kMb);
  return static_cast<double>(billed_mb) * static_cast<double>(kMb) / static_cast<double>(int64_t{1} << 40) * 5.0;
}

Result<std::unique_ptr<LakeSql>> LakeSql::Open(ObjectStore* store, const SqlOptions& options) {
  std::unique_ptr<LakeSql> sql(new LakeSql(store, options));
  RETURN_IF_ERROR(sql->Init());
  return sql;
}

LakeSql::~LakeSql() {
  plan_con_.reset();
  exec_con_.reset();
  plan_db_.reset();
  exec_db_.reset();
  if (!work_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }
}

Status LakeSql::Init() {
  char tmpl[] = "/tmp/tradelake-sql-XXXXXX";
  if (const char* dir = ::mkdtemp(tmpl); dir != nullptr) {
    work_dir_ = dir;  // mode 0700: private to this user
  } else {
    return IOError("cannot create a private folder under /tmp for the SQL sandbox");
  }
  // A key every reading role may get (the catalog's commits): a role's
  // policy may refuse the bare folder name, which would make a folder lake
  // look remote and be copied into the cache.
  // (It need not exist: only its path is asked.)
  constexpr std::string_view kProbe = "_catalog/commits/00000000000000000000.json";
  if (auto root = store_->LocalPath(kProbe); root && root->ends_with(kProbe)) {
    local_ = true;
    lake_root_ = fs::path(root->substr(0, root->size() - kProbe.size())).lexically_normal().string();
  } else {
    cache_dir_ = fmt::format("{}/{}", options_.cache_dir.empty() ? DefaultCacheDir() : options_.cache_dir,
                             CacheName(store_->Describe()));
  }
  ASSIGN_OR_RETURN(lake_, LoadLakeState(store_));
  RETURN_IF_ERROR(LoadFiles());
  return BuildDatabases();
}

const std::map<std::string, LakeFile>& LakeSql::Files(std::string_view table) const {
  static const std::map<std::string, LakeFile> kNone;
  for (const auto& t : tables_data_) {
    if (t.name == table) return t.bronze ? kNone : t.files;
  }
  return kNone;
}

namespace {

// The end of the keys starting with `prefix` (which ends in '/').
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

}  // namespace

bool LakeSql::HasProduct(std::string_view table, std::string_view product) const {
  const auto& files = Files(table);
  const std::string prefix = fmt::format("{}product_id={}/", TableFolder(table), product);
  auto it = files.lower_bound(prefix);
  return it != files.end() && it->first.starts_with(prefix);
}

std::map<std::string, std::pair<int64_t, int64_t>> LakeSql::ProductDays(std::string_view table) const {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  const auto& files = Files(table);
  const std::string root = TableFolder(table);
  for (auto it = files.begin(); it != files.end();) {
    const std::string product = it->second.product;
    const auto end = files.lower_bound(PrefixEnd(fmt::format("{}product_id={}/", root, product)));
    auto& [first, last] = out.try_emplace(product, it->second.first_day, it->second.last_day).first->second;
    if (PartitionColumns(table).size() == 2) {
      // Date folders: the product's keys sort by day.
      last = std::prev(end)->second.last_day;
    } else {
      for (; it != end; ++it) {
        first = std::min(first, it->second.first_day);
        last = std::max(last, it->second.last_day);
      }
    }
    it = end;
  }
  return out;
}

std::vector<const LakeFile*> LakeSql::ProductFiles(std::string_view table, std::string_view product,
                                                   int64_t from_day) const {
  std::vector<const LakeFile*> out;
  const auto& files = Files(table);
  const std::string prefix = fmt::format("{}product_id={}/", TableFolder(table), product);
  std::string from = prefix;
  if (PartitionColumns(table).size() == 2 && from_day >= 0) from += "date=" + FormatDate(from_day * kMicrosPerDay);
  for (auto it = files.lower_bound(from); it != files.end() && it->first.starts_with(prefix); ++it) {
    if (it->second.last_day >= from_day) out.push_back(&it->second);
  }
  return out;
}

Result<LakeFile> LakeSql::EntryOf(const Table& table, TableFile file, int64_t version) {
  FileEntry f;
  f.key = std::move(file.key);
  f.product = std::move(file.product_id);
  f.size = file.size;
  if (!file.date.empty()) {
    auto day = ParseDay(file.date);
    if (!day) {
      return DataLoss(fmt::format("{} version {}: file {} has date partition value '{}', not YYYY-MM-DD", table.name,
                                  version, f.key, file.date));
    }
    f.first_day = f.last_day = *day;
    f.partition = PartitionName(f.product, file.date);
  } else {
    // A month or a year per file: its days from the period_start
    // statistics; without them, any day (read whenever the product is).
    f.first_day = kAnyDayMin;
    f.last_day = kAnyDayMax;
    const auto first = StatDay(file.stats.min_values, "period_start");
    const auto last = StatDay(file.stats.max_values, "period_start");
    if (first && last) {
      f.first_day = *first;
      f.last_day = *last;
    }
    f.partition = ProductPartitionName(f.product);
  }
  return f;
}

void LakeSql::AddFile(Table* table, FileEntry file) {
  RemoveFile(table, file.key);  // a file written again under its name
  ++table->partition_files[file.partition];
  table->bytes += file.size;
  std::string key = file.key;
  table->files.emplace(std::move(key), std::move(file));
}

bool LakeSql::RemoveFile(Table* table, const std::string& key) {
  auto it = table->files.find(key);
  if (it == table->files.end()) return false;
  auto p = table->partition_files.find(it->second.partition);
  if (p != table->partition_files.end() && --p->second <= 0) table->partition_files.erase(p);
  table->bytes -= it->second.size;
  table->files.erase(it);
  return true;
}

void LakeSql::SyncInfo() {
  for (size_t i = 0; i < tables_data_.size() && i < tables_.size(); ++i) {
    const Table& t = tables_data_[i];
    TableInfo& info = tables_[i];
    if (t.bronze) {
      // Not listed as a whole (Files()): unknown here.
      info.partitions = info.files = info.bytes = -1;
      continue;
    }
    info.partitions = static_cast<int64_t>(t.partition_files.size());
    info.files = static_cast<int64_t>(t.files.size());
    info.bytes = t.bytes;
  }
}

Status LakeSql::LoadFiles() {
  std::vector<Table> tables_data;
  std::vector<TableInfo> tables;
  for (std::string_view name : AllTables()) {
    Table t;
    t.name.assign(name);
    const std::vector<ColumnDef> schema = SchemaOf(name);
    const std::vector<std::string> partition_columns = PartitionColumns(name);
    t.date_folder = std::find(partition_columns.begin(), partition_columns.end(), "date") != partition_columns.end();
    const bool add_date = !HasColumn(schema, "date");
    if (add_date && !t.date_folder && !HasColumn(schema, "period_start")) {
      return Internal(fmt::format("{} has neither a date folder nor a period_start column to show `date`", name));
    }
    t.select_list = ColumnsSelect(schema, add_date, t.date_folder);
    t.hive_types = t.date_folder ? "{product_id: VARCHAR, date: DATE}" : "{product_id: VARCHAR}";
    TableInfo info;
    info.name = t.name;
    for (const auto& c : schema) info.columns.emplace_back(c.name, IsTimestamp(c.type) ? "TIMESTAMP" : c.type);
    if (add_date) info.columns.emplace_back("date", "DATE");
    t.columns = info.columns;
    t.empty_select = EmptySelect(t.columns);
    t.cached = t.name.starts_with("gold.");
    info.partition_columns = partition_columns;
    ASSIGN_OR_RETURN(std::vector<TableFile> live, LiveFiles(lake_, name));
    const int64_t version = lake_.tables.count(t.name) ? lake_.tables.at(t.name).version : -1;
    for (TableFile& tf : live) {
      ASSIGN_OR_RETURN(FileEntry f, EntryOf(t, std::move(tf), version));
      AddFile(&t, std::move(f));
    }
    tables_data.push_back(std::move(t));
    tables.push_back(std::move(info));
  }
  // Bronze, for roles that may read it: no catalog, and far too many objects
  // to list on every refresh (one per product every few seconds, for ever):
  // listed for the statements that read it (Candidates). One listing of a
  // folder no object has says whether this role may list Bronze at all.
  auto bronze = store_->List(fmt::format("{}product=/", kBronzePrefix));
  if (bronze.ok()) {
    Table t;
    t.name.assign(kBronzeRaw);
    t.bronze = true;
    // Each line is read as text first, so a broken record is a row too
    // (record holds it; the parsed columns are NULL) instead of an error
    // that hides the whole object. Lines that are not UTF-8 cannot be text
    // here: they are skipped (silver.trades_rejected shows them).
    t.select_list =
        "product, date, CASE WHEN json_valid(record) THEN record->>'ingested_at' END AS ingested_at, "
        "CASE WHEN json_valid(record) THEN record->>'request' END AS request, "
        "CASE WHEN json_valid(record) THEN CAST(record->'trade' AS JSON) END AS trade, "
        "filename AS bronze_object, record";  // see ViewSql
    t.empty_select =
        "SELECT CAST(NULL AS VARCHAR) AS product, CAST(NULL AS DATE) AS date, CAST(NULL AS VARCHAR) AS "
        "ingested_at, CAST(NULL AS VARCHAR) AS request, CAST(NULL AS JSON) AS trade, CAST(NULL AS VARCHAR) AS "
        "bronze_object, CAST(NULL AS VARCHAR) AS record WHERE false";
    TableInfo info;
    info.name = t.name;
    info.columns = {{"product", "VARCHAR"}, {"date", "DATE"},  {"ingested_at", "VARCHAR"},
                    {"request", "VARCHAR"}, {"trade", "JSON"}, {"bronze_object", "VARCHAR"},
                    {"record", "VARCHAR"}};
    info.partition_columns = {"product", "date"};
    t.columns = info.columns;
    tables_data.push_back(std::move(t));
    tables.push_back(std::move(info));
  } else if (bronze.status().code() != StatusCode::kPermissionDenied) {
    return bronze.status();
  }
  tables_data_ = std::move(tables_data);
  tables_ = std::move(tables);
  SyncInfo();
  changed_partitions_.clear();
  for (const auto& t : tables_data_) all_partitions_changed_.insert(t.name);
  return Status::OK();
}

std::optional<std::set<std::string>> LakeSql::TakeChangedPartitions(std::string_view table) {
  const std::string name(table);
  if (all_partitions_changed_.erase(name)) {
    changed_partitions_.erase(name);
    return std::nullopt;
  }
  std::set<std::string> out;
  if (auto it = changed_partitions_.find(name); it != changed_partitions_.end()) {
    out = std::move(it->second);
    changed_partitions_.erase(it);
  }
  return out;
}

Status LakeSql::ApplyRefresh(const LakeRefresh& refresh, std::vector<std::string>* retired) {
  // Everything that can fail first (a file outside its partitions, a bad
  // date): the session's files change only when all of it was read.
  struct Change {
    Table* table;
    std::string key;
    std::optional<FileEntry> entry;  // nullopt: the file left
  };
  std::vector<Change> changes;
  std::vector<std::pair<Table*, std::map<std::string, FileEntry>>> rebuilt;
  for (Table& t : tables_data_) {
    if (t.bronze) continue;
    auto update = refresh.tables.find(t.name);
    const auto state = lake_.tables.find(t.name);
    if (state == lake_.tables.end()) {
      // Dropped from the snapshot: every file left.
      if (!t.files.empty()) rebuilt.emplace_back(&t, std::map<std::string, FileEntry>{});
      continue;
    }
    if (update == refresh.tables.end()) continue;
    const DeltaTableState& delta = state->second;
    if (update->second.reloaded) {
      std::map<std::string, FileEntry> files;
      for (const auto& [path, add] : delta.files) {
        ASSIGN_OR_RETURN(TableFile tf, LiveFileOf(t.name, add, delta.version));
        ASSIGN_OR_RETURN(FileEntry f, EntryOf(t, std::move(tf), delta.version));
        std::string key = f.key;
        files.emplace(std::move(key), std::move(f));
      }
      rebuilt.emplace_back(&t, std::move(files));
      continue;
    }
    const std::string root = TableFolder(t.name);
    for (const std::string& path : update->second.touched) {
      Change c{&t, "", std::nullopt};
      ASSIGN_OR_RETURN(c.key, DeltaPathToKey(root, path));
      if (auto add = delta.files.find(path); add != delta.files.end()) {
        ASSIGN_OR_RETURN(TableFile tf, LiveFileOf(t.name, add->second, delta.version));
        ASSIGN_OR_RETURN(FileEntry f, EntryOf(t, std::move(tf), delta.version));
        c.entry = std::move(f);
      }
      changes.push_back(std::move(c));
    }
  }
  for (auto& [t, files] : rebuilt) {
    all_partitions_changed_.insert(t->name);
    for (const auto& [key, f] : t->files) {
      if (!files.count(key)) retired->push_back(key);
    }
    t->files.clear();
    t->partition_files.clear();
    t->bytes = 0;
    for (auto& [key, f] : files) AddFile(t, std::move(f));
  }
  for (Change& c : changes) {
    std::set<std::string>& partitions = changed_partitions_[c.table->name];
    if (auto old = c.table->files.find(c.key); old != c.table->files.end()) partitions.insert(old->second.partition);
    if (c.entry) {
      partitions.insert(c.entry->partition);
      AddFile(c.table, std::move(*c.entry));
    } else if (RemoveFile(c.table, c.key)) {
      retired->push_back(c.key);
    }
  }
  SyncInfo();
  return Status::OK();
}

Result<std::string> LakeSql::LocalFile(const FileEntry& file) {
  if (local_) {
    auto path = store_->LocalPath(file.key);
    if (!path) {
      // Denied by the role's policy (or not a folder lake): Get() says why.
      auto data = store_->Get(file.key);
      if (!data.ok()) return data.status();
      return PermissionDenied(fmt::format("{} cannot be read in place", file.key));
    }
    return *path;
  }
  const std::string cached = fmt::format("{}/{}", cache_dir_, file.key);
  struct stat st {};
  if (::stat(cached.c_str(), &st) == 0 && st.st_size == file.size) return cached;
  ASSIGN_OR_RETURN(std::string data, store_->Get(file.key));
  RETURN_IF_ERROR(WriteFileAtomically(cached, data));
  return cached;
}

std::string LakeSql::ViewSql(const Table& table, const std::vector<const FileEntry*>& files,
                             const std::string& root) const {
  if (files.empty()) return fmt::format("CREATE OR REPLACE VIEW {} AS {}", table.name, table.empty_select);
  std::string list;
  list.reserve(files.size() * (root.size() + 80));
  for (const FileEntry* f : files) {
    if (!list.empty()) list += ", ";
    list += SqlQuote(root.empty() ? f->key : fmt::format("{}/{}", root, f->key));
  }
  if (table.bronze) {
    // bronze_object: the lake key, not the sandbox path it is read through.
    std::string select = table.select_list;
    if (!root.empty()) {
      select.replace(select.find("filename AS"), 8,
                     fmt::format("substr(filename, {})", root.size() + 2));
    }
    return fmt::format(
        "CREATE OR REPLACE VIEW {} AS SELECT {} FROM read_csv([{}], columns = {{record: 'VARCHAR'}}, "
        "delim = chr(30), quote = '', escape = '', header = false, auto_detect = false, compression = 'zstd', "
        "strict_mode = false, null_padding = true, ignore_errors = true, "
        "hive_partitioning = true, hive_types = {{product: VARCHAR, date: DATE}}, filename = true)",
        table.name, select, list);
  }
  if (table.cached) {
    // The cache may hold more files than this statement may read: the view
    // keeps exactly the chosen ones. With a date folder by (product_id,
    // date), which DuckDB filters fast with its zone maps; a table without
    // one has a file per product and month or year: by file name.
    std::string where;
    if (!table.date_folder) {
      std::string names;
      for (const FileEntry* f : files) {
        names += fmt::format("{}{}", names.empty() ? "" : ", ", SqlQuote(fmt::format("{}/{}", root, f->key)));
      }
      where = fmt::format("tl_file IN ({})", names);
    }
    std::map<std::string, std::vector<int64_t>> days;
    if (table.date_folder) {
      for (const FileEntry* f : files) days[f->product].push_back(f->first_day);
    }
    for (auto& [product, list_of_days] : days) {
      std::sort(list_of_days.begin(), list_of_days.end());
      list_of_days.erase(std::unique(list_of_days.begin(), list_of_days.end()), list_of_days.end());
      // Runs of consecutive days become BETWEEN ranges.
      for (size_t i = 0; i < list_of_days.size();) {
        size_t j = i;
        while (j + 1 < list_of_days.size() && list_of_days[j + 1] == list_of_days[j] + 1) ++j;
        where += fmt::format("{}(product_id = {} AND date BETWEEN DATE '{}' AND DATE '{}')", where.empty() ? "" : " OR ",
                             SqlQuote(product), FormatDate(list_of_days[i] * 86'400'000'000LL),
                             FormatDate(list_of_days[j] * 86'400'000'000LL));
        i = j + 1;
      }
    }
    return fmt::format("CREATE OR REPLACE VIEW {} AS SELECT {} FROM {} WHERE {}", table.name, table.select_list,
                       CacheTable(table), where);
  }
  return fmt::format(
      "CREATE OR REPLACE VIEW {} AS SELECT {} FROM read_parquet([{}], hive_partitioning = true, hive_types = {})",
      table.name, table.select_list, list, table.hive_types);
}

std::string LakeSql::CacheTable(const Table& table) {
  return fmt::format("tl_cache.{}", table.name.substr(table.name.find('.') + 1));
}

Status LakeSql::LoadIntoCache(const Table& table, const std::vector<const FileEntry*>& files, const std::string& root) {
  std::string list;
  int64_t bytes = 0;
  std::vector<std::pair<std::string, int64_t>> loading;
  for (const FileEntry* f : files) {
    const std::string path = fmt::format("{}/{}", root, f->key);
    if (cached_files_.count(path)) continue;
    if (!list.empty()) list += ", ";
    list += SqlQuote(path);
    bytes += f->size;
    loading.emplace_back(path, f->size);
  }
  if (loading.empty()) return Status::OK();
  if (cached_bytes_ + bytes > kCacheBudgetBytes) {
    // Simple and predictable: start over when the budget is exceeded.
    for (const auto& t : tables_data_) {
      if (t.cached) RETURN_IF_ERROR(exec_con_->Query(fmt::format("DELETE FROM {}", CacheTable(t))).status());
    }
    cached_files_.clear();
    cached_bytes_ = 0;
    view_sql_.clear();
  }
  RETURN_IF_ERROR(exec_con_
                      ->Query(fmt::format("INSERT INTO {} SELECT {}, filename AS tl_file FROM read_parquet([{}], "
                                          "hive_partitioning = true, hive_types = {}, filename = true)",
                                          CacheTable(table), table.select_list, list, table.hive_types))
                      .status());
  cached_files_.insert(loading.begin(), loading.end());
  cached_bytes_ += bytes;
  return Status::OK();
}

Status LakeSql::BuildDatabases() {
  plan_con_.reset();
  exec_con_.reset();
  plan_db_.reset();
  exec_db_.reset();
  std::error_code ec;
  fs::remove_all(fs::path(work_dir_) / "farm", ec);
  fs::create_directories(fs::path(work_dir_) / "farm", ec);
  farm_.clear();
  farm_dirs_.clear();

  Database::Config config = {{"autoinstall_known_extensions", "false"},
                             {"autoload_known_extensions", "false"},
                             {"allow_community_extensions", "false"}};
  if (options_.threads > 0) config.emplace_back("threads", std::to_string(options_.threads));
  if (!options_.memory_limit.empty()) config.emplace_back("memory_limit", options_.memory_limit);
  // DuckDB's allocator keeps freed memory for reuse until a task's peak
  // passes this (128 MiB by default): a long-lived session (`serve`) would
  // hold that much more than it uses. Measured with bench/serve_soak_bench.
  config.emplace_back("allocator_flush_threshold", "16MB");
  config.emplace_back("allocator_background_threads", "true");
  // DuckDB keeps a copy of the file blocks it read, meant for remote files;
  // the lake's files are local (an S3 lake is read through the local cache),
  // and with new files every commit the copy only grew `serve`'s memory.
  config.emplace_back("enable_external_file_cache", "false");

  // Planning: tables of the same shape holding three rows (NULL, the lowest
  // and the highest value of each type), so DuckDB's optimizer can never
  // prove a filter false from their statistics and drop a scan; it reads no
  // files at all.
  auto sandbox = [](Connection* con, const std::vector<std::string>& dirs, bool cache_metadata) -> Status {
    std::string list;
    for (const auto& d : dirs) {
      if (!list.empty()) list += ", ";
      list += SqlQuote(d);
    }
    RETURN_IF_ERROR(con->Query(fmt::format("SET allowed_directories = [{}]", list)).status());
    if (cache_metadata) RETURN_IF_ERROR(con->Query("SET parquet_metadata_cache = true").status());
    RETURN_IF_ERROR(con->Query("SET enable_external_access = false").status());
    // The views cast UTC-adjusted times to TIMESTAMP, and users compare
    // TIMESTAMP WITH TIME ZONE values of their own: both in UTC, whatever the
    // machine's time zone (and no SET can change it after the lock).
    RETURN_IF_ERROR(con->Query("SET TimeZone = 'UTC'").status());
    RETURN_IF_ERROR(con->Query("CREATE SCHEMA IF NOT EXISTS silver; CREATE SCHEMA IF NOT EXISTS gold; "
                               "CREATE SCHEMA IF NOT EXISTS bronze; CREATE SCHEMA IF NOT EXISTS audit")
                        .status());
    return con->Query("SET lock_configuration = true").status();
  };

  ASSIGN_OR_RETURN(plan_db_, Database::Open(":memory:", config));
  ASSIGN_OR_RETURN(Connection plan, plan_db_->Connect());
  plan_con_ = std::make_unique<Connection>(std::move(plan));
  RETURN_IF_ERROR(sandbox(plan_con_.get(), {}, false));
  for (const auto& t : tables_data_) {
    std::string columns, low, high, nulls;
    for (const auto& [name, type] : t.columns) {
      ASSIGN_OR_RETURN(auto extremes, TypeExtremes(type));
      const std::string sep = columns.empty() ? "" : ", ";
      // JSON plans like VARCHAR, and '' is not a JSON value.
      columns += fmt::format("{}{} {}", sep, name, type == "JSON" ? "VARCHAR" : type);
      low += sep + extremes.first;
      high += sep + extremes.second;
      nulls += sep + "NULL";
    }
    RETURN_IF_ERROR(plan_con_->Query(fmt::format("CREATE TABLE {} ({}); INSERT INTO {} VALUES ({}), ({}), ({})",
                                                 t.name, columns, t.name, nulls, low, high))
                        .status()
                        .WithContext(fmt::format("defining {} for planning", t.name)));
  }

  ASSIGN_OR_RETURN(exec_db_, Database::Open(":memory:", config));
  ASSIGN_OR_RETURN(Connection exec, exec_db_->Connect());
  exec_con_ = std::make_unique<Connection>(std::move(exec));
  RETURN_IF_ERROR(sandbox(exec_con_.get(), {fmt::format("{}/farm/", work_dir_)}, true));
  view_sql_.clear();
  cached_files_.clear();
  cached_bytes_ = 0;
  retired_files_ = 0;
  deleted_cache_bytes_ = 0;
  RETURN_IF_ERROR(exec_con_->Query("CREATE SCHEMA tl_cache").status());
  for (const auto& t : tables_data_) {
    if (!t.cached) continue;
    std::string columns;
    for (const auto& [name, type] : t.columns) columns += fmt::format("{} {}, ", name, type);
    RETURN_IF_ERROR(exec_con_->Query(fmt::format("CREATE TABLE {} ({}tl_file VARCHAR)", CacheTable(t), columns)).status());
  }
  for (const auto& t : tables_data_) {
    std::string view = ViewSql(t, {}, "");
    RETURN_IF_ERROR(exec_con_->Query(view).status());
    view_sql_[t.name] = std::move(view);
  }
  return Status::OK();
}

Status LakeSql::Refresh() {
  LakeRefresh refresh;
  ASSIGN_OR_RETURN(bool changed, RefreshLakeState(store_, &lake_, &refresh));
  if (!changed) return Status::OK();
  if (refresh.reloaded) {
    // The lake was replaced: everything afresh.
    if (Status s = LoadFiles(); !s.ok()) {
      UndoLakeRefresh(&lake_, &refresh);
      return s;
    }
    return BuildDatabases();
  }
  std::vector<std::string> retired;
  if (Status s = ApplyRefresh(refresh, &retired); !s.ok()) {
    UndoLakeRefresh(&lake_, &refresh);
    return s;
  }
  retired_files_ += static_cast<int64_t>(retired.size());
  if (retired_files_ >= kRebuildAfterRetiredFiles) return BuildDatabases();
  if (Status s = DropRetiredFromCache(retired); !s.ok()) {
    spdlog::warn("sql: dropping the cached rows of replaced files failed ({}); rebuilding the databases", s.ToString());
    return BuildDatabases();
  }
  return Status::OK();
}

Status LakeSql::DropRetiredFromCache(const std::vector<std::string>& retired) {
  const std::string root = (fs::path(work_dir_) / "farm").string();
  std::vector<std::string> gone;
  for (const std::string& key : retired) {
    std::string path = fmt::format("{}/{}", root, key);
    if (cached_files_.count(path)) gone.push_back(std::move(path));
  }
  if (gone.empty()) return Status::OK();
  std::string list;
  for (const auto& path : gone) list += fmt::format("{}{}", list.empty() ? "" : ", ", SqlQuote(path));
  for (const auto& t : tables_data_) {
    if (!t.cached) continue;
    RETURN_IF_ERROR(
        exec_con_->Query(fmt::format("DELETE FROM {} WHERE tl_file IN ({})", CacheTable(t), list)).status());
  }
  for (const auto& path : gone) {
    cached_bytes_ -= cached_files_[path];
    deleted_cache_bytes_ += cached_files_[path];
    cached_files_.erase(path);
  }
  if (deleted_cache_bytes_ <= options_.cache_rewrite_bytes || deleted_cache_bytes_ <= cached_bytes_ / 2) {
    return Status::OK();
  }
  for (const auto& t : tables_data_) {
    if (!t.cached) continue;
    const std::string table = CacheTable(t);
    const std::string bare = table.substr(table.find('.') + 1);
    RETURN_IF_ERROR(exec_con_
                        ->Query(fmt::format("CREATE TABLE {0}_next AS SELECT * FROM {0}; DROP TABLE {0}; "
                                            "ALTER TABLE {0}_next RENAME TO {1}",
                                            table, bare))
                        .status());
  }
  view_sql_.clear();  // views are bound again to the new tables
  deleted_cache_bytes_ = 0;
  ++cache_rewrites_;
  return Status::OK();
}

void LakeSql::Interrupt() {
  if (exec_con_) exec_con_->Interrupt();
}

Status LakeSql::SyncFarm(const std::set<std::string>& keys) {
  // Links of earlier statements stay (unlinking is slow on some file
  // systems) until there are many: the folder then holds only files this
  // session has already accounted for.
  if (farm_.size() < 4096) return Status::OK();
  const fs::path farm = fs::path(work_dir_) / "farm";
  std::error_code ec;
  for (auto it = farm_.begin(); it != farm_.end();) {
    if (keys.count(*it) == 0) {
      fs::remove(farm / *it, ec);
      it = farm_.erase(it);
    } else {
      ++it;
    }
  }
  return Status::OK();
}

Result<std::vector<const LakeFile*>> LakeSql::Candidates(Table* t,
                                                          const std::vector<const ScanConstraints*>& constraints) {
  // Where a scan's files can be, as key ranges: the lake's keys sort by
  // table, product, then date ("<root>product_id=X/date=D/..."), so a scan
  // filtered on products (and days) looks only there, however old the lake.
  const std::string root = t->bronze ? std::string(kBronzePrefix) : TableFolder(t->name);
  const std::string product_folder = t->bronze ? "product=" : "product_id=";
  const bool dated = t->bronze || t->date_folder;
  struct Range {
    std::string prefix;  // every key of the range starts with it
    std::string from;    // and is >= it
    int64_t max_day;     // dated: keys of later days end the range
  };
  std::vector<Range> ranges;
  for (const ScanConstraints* c : constraints) {
    if (!c->products) {
      ranges = {Range{root, root, std::numeric_limits<int64_t>::max()}};
      break;
    }
    for (const std::string& product : *c->products) {
      // A value that is no product id names no folder (and must never become
      // part of a path to list: '..').
      if (!ValidateProductId(product).ok()) continue;
      Range r;
      r.prefix = fmt::format("{}{}{}/", root, product_folder, product);
      r.from = r.prefix;
      r.max_day = dated ? c->max_day : std::numeric_limits<int64_t>::max();
      if (dated && c->min_day > std::numeric_limits<int64_t>::min() && c->min_day >= 0) {
        r.from += "date=" + FormatDate(c->min_day * kMicrosPerDay);
      }
      ranges.push_back(std::move(r));
    }
  }
  if (t->bronze) {
    // Bronze has no catalog: list what the ranges need, now (objects land all
    // the time). One folder per day when a product's days are few.
    std::set<std::string> prefixes;
    for (const ScanConstraints* c : constraints) {
      if (!c->products) {
        prefixes.insert(root);
        continue;
      }
      const bool few_days = c->min_day >= 0 && c->max_day >= c->min_day && c->max_day - c->min_day <= 92;
      for (const std::string& product : *c->products) {
        if (!ValidateProductId(product).ok()) continue;
        const std::string folder = fmt::format("{}product={}/", root, product);
        if (!few_days) {
          prefixes.insert(folder);
          continue;
        }
        for (int64_t day = c->min_day; day <= c->max_day; ++day) {
          prefixes.insert(fmt::format("{}date={}/", folder, FormatDate(day * kMicrosPerDay)));
        }
      }
    }
    // A folder listed whole covers the folders inside it (which sort right
    // after it).
    std::string kept;
    for (auto it = prefixes.begin(); it != prefixes.end();) {
      if (!kept.empty() && it->starts_with(kept)) {
        it = prefixes.erase(it);
      } else {
        kept = *it++;
      }
    }
    t->files.clear();
    t->partition_files.clear();
    t->bytes = 0;
    for (const std::string& prefix : prefixes) {
      ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store_->List(prefix));
      for (const ObjectInfo& o : objects) {
        if (!o.key.ends_with(".jsonl.zst")) continue;
        FileEntry f;
        f.key = o.key;
        f.product = HiveValue("/" + o.key, "product");
        const std::string date = HiveValue("/" + o.key, "date");
        auto day = ParseDay(date);
        if (f.product.empty() || !day) continue;
        f.first_day = f.last_day = *day;
        f.partition = fmt::format("product={}/date={}", f.product, date);
        f.size = o.size;
        AddFile(t, std::move(f));
      }
    }
  }
  std::vector<const FileEntry*> out;
  for (const Range& r : ranges) {
    for (auto it = t->files.lower_bound(r.from); it != t->files.end() && it->first.starts_with(r.prefix); ++it) {
      const FileEntry& f = it->second;
      if (dated && f.first_day > r.max_day) break;  // later days only from here
      for (const ScanConstraints* c : constraints) {
        if (c->Matches(f.product, f.first_day, f.last_day)) {
          out.push_back(&f);
          break;
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const FileEntry* a, const FileEntry* b) { return a->key < b->key; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::optional<std::set<std::string>>> LakeSql::ReferencedTables(std::string_view statement) {
  // DuckDB's own parser, without binding: it serializes SELECT statements
  // only, and names every table reference (views included). nullopt when it
  // cannot serialize the statement (not a SELECT, or a SELECT it does not
  // support, like PIVOT): the caller then asks the binder.
  ASSIGN_OR_RETURN(PreparedStatement ps, plan_con_->Prepare("SELECT json_serialize_sql($1::VARCHAR)"));
  RETURN_IF_ERROR(ps.BindString(1, statement));
  ASSIGN_OR_RETURN(QueryResult r, ps.Execute());
  const auto json = r.GetString(0, 0);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!json || parser.parse(*json).get(root) != simdjson::SUCCESS) {
    return Internal("DuckDB's parser returned no readable parse tree");
  }
  bool error = false;
  if (root["error"].get_bool().get(error) != simdjson::SUCCESS) error = true;
  if (error) {
    std::string_view type, message;
    if (root["error_type"].get_string().get(type) != simdjson::SUCCESS) type = {};
    if (root["error_message"].get_string().get(message) != simdjson::SUCCESS) message = {};
    if (type == "not implemented") return std::optional<std::set<std::string>>();
    return InvalidArgument(fmt::format("Parser Error: {}", message));
  }
  std::set<std::string> refs;
  bool complete = true;
  CollectTableRefs(root, &refs, &complete);
  if (!complete) return std::optional<std::set<std::string>>();
  return std::optional<std::set<std::string>>(std::move(refs));
}

Result<std::vector<StatementResult>> LakeSql::Execute(std::string_view sql) {
  std::vector<StatementResult> results;
  for (const std::string& statement : SplitSqlStatements(sql)) {
    ASSIGN_OR_RETURN(StatementResult r, ExecuteOne(statement));
    results.push_back(std::move(r));
  }
  return results;
}

namespace {

// A lake file that was there when the snapshot was read is not any more:
// the store's NotFound, or DuckDB failing to open a linked file.
bool IsMissingFile(const Status& s) {
  if (s.code() == StatusCode::kNotFound) return true;
  const std::string& m = s.message();
  return m.find("No such file") != std::string::npos || m.find("No files found") != std::string::npos;
}

}  // namespace

Result<StatementResult> LakeSql::ExecuteOne(std::string_view statement) {
  auto result = ExecuteOnSnapshot(statement);
  if (result.ok() || !IsMissingFile(result.status())) return result;
  // Files a commit replaces stay until `tradelake vacuum`; a file of the
  // snapshot this session read may be gone if vacuum ran since.
  const int64_t read_seq = lake_.catalog.seq;
  auto newest = LatestCommitSeq(store_);
  if (newest.ok() && *newest > read_seq) {
    spdlog::debug("sql: a file of commit {} is gone ({}); reading commit {} and running again", read_seq,
                  result.status().message(), *newest);
    RETURN_IF_ERROR(Refresh());
    result = ExecuteOnSnapshot(statement);
    if (result.ok() || !IsMissingFile(result.status())) return result;
  }
  // Still missing on the newest snapshot: the lake lost a live file.
  std::string missing;
  for (const auto& key : last_keys_) {
    if (auto path = store_->LocalPath(key); path && !fs::exists(*path)) {
      missing += fmt::format("{}{}", missing.empty() ? "" : ", ", key);
    }
  }
  return DataLoss(fmt::format(
      "{}: a live file of catalog commit {} is missing from the lake{}; `tradelake catalog check` lists every "
      "missing file (rebuild the tables from Bronze with `tradelake etl --rebuild`)",
      result.status().message(), lake_.catalog.seq, missing.empty() ? "" : fmt::format(" ({})", missing)));
}

Result<StatementResult> LakeSql::ExecuteOnSnapshot(std::string_view statement) {
  const auto start = std::chrono::steady_clock::now();
  StatementResult out;

  // 1. Parse: only reads pass. Then bind on the planning side.
  std::string_view select = AfterExplain(statement);
  const bool explain = !select.empty();
  if (!explain) select = statement;
  if (explain && select.starts_with("(")) {
    return InvalidArgument("EXPLAIN options are not supported here; use EXPLAIN or EXPLAIN ANALYZE");
  }
  const auto refused = [&]() {
    return PermissionDenied(fmt::format(
        "read-only: {} statements are not allowed; the lake is queried with SELECT (and EXPLAIN SELECT)",
        FirstKeyword(select)));
  };
  // Reads start with one of these words; anything else is refused before
  // DuckDB sees it (PRAGMA, SET, COPY, ATTACH, INSTALL, CALL, CHECKPOINT, ...).
  static const std::set<std::string> kReadKeywords = {"SELECT",   "WITH",    "FROM", "VALUES",   "TABLE",
                                                      "PIVOT",    "UNPIVOT", "DESCRIBE", "SHOW", "SUMMARIZE"};
  // Parse first: a typo is a syntax error, not a refusal.
  ASSIGN_OR_RETURN(auto refs, ReferencedTables(select));
  if (!SkipLeadingComments(select).starts_with("(") && kReadKeywords.count(FirstKeyword(select)) == 0) {
    return refused();
  }
  auto planned = plan_con_->Prepare(statement);
  if (!planned.ok()) {
    if (planned.status().message().find("Cannot prepare multiple statements") != std::string::npos &&
        FirstKeyword(select).find("PIVOT") != std::string::npos) {
      return InvalidArgument(
          "a PIVOT without an IN list runs a second query to find its columns, which the read-only gate cannot "
          "check; name the values: PIVOT ... ON product_id IN ('BTC-USD', 'ETH-USD') USING ...");
    }
    // A statement the parser could not serialize is refused by its first
    // word, whatever the binder says about it (e.g. COPY's file access).
    if (!refs) return refused();
    return planned.status();
  }
  const duckdb_statement_type type = planned->statement_type();
  if (type != (explain ? DUCKDB_STATEMENT_TYPE_EXPLAIN : DUCKDB_STATEMENT_TYPE_SELECT)) return refused();
  out.statement_type = std::string(StatementTypeName(type));

  // 2. Which partitions can it need?
  ASSIGN_OR_RETURN(QueryResult plan, plan_con_->Query(fmt::format("EXPLAIN (FORMAT JSON) {}", select)));
  std::string plan_json;
  for (uint64_t row = 0; row < plan.row_count(); ++row) plan_json += plan.GetStringOr(row, plan.column_count() - 1, "");
  ASSIGN_OR_RETURN(std::vector<PlannedScan> scans, ScansOfPlan(plan_json));

  // 3. Account for it before reading anything.
  std::map<const Table*, std::vector<const FileEntry*>> chosen;
  for (auto& t : tables_data_) {
    // A table is read where the plan scans it (also through query_table()
    // and the like); the planning tables carry the lake's bare names.
    const std::string bare = t.name.substr(t.name.find('.') + 1);
    std::vector<const ScanConstraints*> constraints;
    for (const auto& s : scans) {
      if (s.table == bare) constraints.push_back(&s.constraints);
    }
    const bool named = !refs || refs->count(t.name) > 0;
    if (constraints.empty() && !named) continue;
    ASSIGN_OR_RETURN(std::vector<const FileEntry*> files, Candidates(&t, constraints));
    out.scan.files_total += static_cast<int64_t>(t.files.size());
    out.scan.bytes_total += t.bytes;
    chosen[&t] = std::move(files);
    const auto& files_of_t = chosen[&t];
    out.scan.files_read += static_cast<int64_t>(files_of_t.size());
    for (const auto* f : files_of_t) out.scan.bytes_read += f->size;
    if (!files_of_t.empty()) out.scan.files_by_table[t.name] = static_cast<int64_t>(files_of_t.size());
  }
  if (options_.max_scan_bytes > 0 && out.scan.bytes_read > options_.max_scan_bytes) {
    return FailedPrecondition(fmt::format(
        "query cancelled before reading anything: it would scan {} ({} bytes) in {} files, over the scan "
        "limit of {} (--max-scan); filter on product_id, date or trade_time to read fewer partitions",
        HumanBytes(out.scan.bytes_read), out.scan.bytes_read, out.scan.files_read,
        HumanBytes(options_.max_scan_bytes)));
  }

  // 4. Link exactly those files and run.
  std::set<std::string> keys;
  for (const auto& [t, files] : chosen) {
    for (const auto* f : files) keys.insert(f->key);
  }
  RETURN_IF_ERROR(SyncFarm(keys));
  last_keys_ = keys;
  const fs::path farm = fs::path(work_dir_) / "farm";
  for (const auto& [t, files] : chosen) {
    for (const auto* f : files) {
      if (farm_.count(f->key)) continue;
      ASSIGN_OR_RETURN(std::string target, LocalFile(*f));
      const fs::path link = farm / f->key;
      const std::string parent = link.parent_path().string();
      if (farm_dirs_.insert(parent).second) {
        std::error_code ec;
        fs::create_directories(parent, ec);
      }
      if (::symlink(target.c_str(), link.c_str()) != 0 && errno != EEXIST) {
        return IOError(fmt::format("cannot link {} into the SQL sandbox: {}", target, std::strerror(errno)));
      }
      farm_.insert(f->key);
    }
  }
  for (const auto& t : tables_data_) {
    // Views are redefined only when their file list changes (binding a view
    // over many files costs milliseconds).
    auto it = chosen.find(&t);
    static const std::vector<const FileEntry*> kNone;
    if (t.cached && it != chosen.end()) RETURN_IF_ERROR(LoadIntoCache(t, it->second, farm.string()));
    std::string view = ViewSql(t, it == chosen.end() ? kNone : it->second, farm.string());
    std::string& current = view_sql_[t.name];
    if (current == view) continue;
    current.clear();  // unknown if the statement below fails
    RETURN_IF_ERROR(exec_con_->Query(view).status());
    current = std::move(view);
  }
  out.scan.planning_seconds = Seconds(start);
  ASSIGN_OR_RETURN(PreparedStatement run, exec_con_->Prepare(statement));
  // Nested values (LIST, STRUCT, MAP, ...) have no text through the C API's
  // value accessors: such columns are cast to VARCHAR ([1, 2], {'a': 1}) by
  // wrapping the statement; every other column keeps its type.
  if (type == DUCKDB_STATEMENT_TYPE_SELECT) {
    bool nested = false;
    std::string wrapped;
    for (uint64_t c = 0; c < run.column_count(); ++c) {
      const duckdb_type t = run.column_type(c);
      const bool is_nested = t == DUCKDB_TYPE_LIST || t == DUCKDB_TYPE_STRUCT || t == DUCKDB_TYPE_MAP ||
                             t == DUCKDB_TYPE_ARRAY || t == DUCKDB_TYPE_UNION;
      nested |= is_nested;
      std::string name = "\"";
      for (char ch : run.column_name(c)) name += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      name += "\"";
      wrapped += fmt::format("{}{} AS {}", c ? ", " : "", is_nested ? fmt::format("CAST(#{} AS VARCHAR)", c + 1)
                                                                     : fmt::format("#{}", c + 1), name);
    }
    if (nested) {
      ASSIGN_OR_RETURN(run, exec_con_->Prepare(fmt::format("SELECT {} FROM ({}\n) AS tl_result", wrapped, statement)));
    }
  }
  if (run.statement_type() != type) return Internal("statement changed type between planning and running");
  ASSIGN_OR_RETURN(out.rows, run.Execute());
  out.scan.rows = static_cast<int64_t>(out.rows.row_count());
  out.scan.elapsed_seconds = Seconds(start);
  return out;
}

}  // namespace tradelake
