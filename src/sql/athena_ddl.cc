#include "sql/athena_ddl.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/text.h"
#include "core/time.h"
#include "table/catalog.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

constexpr std::string_view kS3Scheme = "s3://";
constexpr size_t kMaxAthenaName = 255;

bool IsLowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Athena lower-cases names and supports no special character but '_'
// (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
// Everything this file backticks passes this check, so no name needs escaping.
bool IsAthenaName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxAthenaName &&
         std::all_of(name.begin(), name.end(), [](char c) { return IsLowerOrDigit(c) || c == '_'; });
}

std::string Backticked(std::string_view name) { return fmt::format("`{}`", name); }

// Every value put between single quotes has been checked to hold no quote,
// backslash or control character, so no escaping is needed: Athena's DDL
// parser (Hive) escapes with '\', its SQL parser (Trino) by doubling, and a
// value that needs neither reads the same in both.
std::string Quoted(std::string_view value) { return fmt::format("'{}'", value); }

// --- options -----------------------------------------------------------------

Status CheckBucket(std::string_view bucket, std::string_view location) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format(
        "location {}: bucket {} is not an S3 bucket name: {} (use s3://<bucket>/<prefix>)",
        QuoteForMessage(location), QuoteForMessage(bucket), why));
  };
  if (bucket.size() < 3 || bucket.size() > 63) return bad("it must be 3-63 characters long");
  for (const char c : bucket) {
    if (!IsLowerOrDigit(c) && c != '.' && c != '-') {
      return bad("it may hold only a-z, 0-9, '.' and '-' (no uppercase letters, no '_')");
    }
  }
  if (!IsLowerOrDigit(bucket.front()) || !IsLowerOrDigit(bucket.back())) {
    return bad("it must start and end with a letter or a digit");
  }
  if (bucket.find("..") != std::string_view::npos) return bad("it must not contain \"..\"");
  const bool ip_like =
      std::all_of(bucket.begin(), bucket.end(), [](char c) { return IsDigit(c) || c == '.'; }) &&
      std::count(bucket.begin(), bucket.end(), '.') == 3;
  if (ip_like) return bad("it must not look like an IP address");
  for (std::string_view reserved : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (bucket.starts_with(reserved)) return bad(fmt::format("S3 reserves the prefix {:?}", reserved));
  }
  for (std::string_view reserved : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}) {
    if (bucket.ends_with(reserved)) return bad(fmt::format("S3 reserves the suffix {:?}", reserved));
  }
  return Status::OK();
}

Status CheckDatabase(std::string_view database) {
  if (!IsAthenaName(database)) {
    return InvalidArgument(fmt::format(
        "database {} is not an Athena database name: use 1-{} of a-z, 0-9 and '_' (like tradelake)",
        QuoteForMessage(database), kMaxAthenaName));
  }
  return Status::OK();
}

Status CheckTrinoCatalog(std::string_view catalog) {
  if (!IsAthenaName(catalog)) {
    return InvalidArgument(fmt::format(
        "Trino catalog {} is not a plain catalog name: use 1-{} of a-z, 0-9 and '_', the name of the "
        "catalog file with connector.name=delta_lake (like delta); check --trino-catalog",
        QuoteForMessage(catalog), kMaxAthenaName));
  }
  return Status::OK();
}

Status CheckProducts(const std::vector<std::string>& products) {
  std::set<std::string_view> seen;
  for (const std::string& p : products) {
    RETURN_IF_ERROR(ValidateProductId(p));
    if (!seen.insert(p).second) {
      // Athena would project the partition twice and count its rows twice.
      return InvalidArgument(fmt::format("product id {} is listed twice; check --products", p));
    }
  }
  return Status::OK();
}

Status CheckFirstDate(std::string_view date) {
  if (date.empty()) {
    return InvalidArgument(
        "partition projection needs the lake's first trade date, the start of the projected "
        "date range: pass --first-date YYYY-MM-DD, or turn projection off (--no-projection)");
  }
  const Status bad = InvalidArgument(fmt::format(
      "first date {} is not a calendar date YYYY-MM-DD (like 2024-01-31)", QuoteForMessage(date)));
  const bool shaped = date.size() == 10 && date[4] == '-' && date[7] == '-' &&
                      std::all_of(date.begin(), date.end(), [](char c) { return IsDigit(c) || c == '-'; });
  if (!shaped) return bad;
  // A date that survives the round trip is a real calendar day in canonical form.
  Result<TimestampMicros> midnight = ParseRfc3339(fmt::format("{}T00:00:00Z", date));
  if (!midnight.ok() || FormatDate(*midnight) != date) return bad;
  return Status::OK();
}

std::string_view EngineName(DdlEngine engine) {
  switch (engine) {
    case DdlEngine::kAthena:
      return "athena";
    case DdlEngine::kTrino:
      return "trino";
    case DdlEngine::kSpark:
      return "spark";
  }
  return "?";
}

// Everything of `options` but the table list, checked; the normalized
// location on success. An empty first_date is checked per table: only
// tables partitioned by date need it.
Result<std::string> CheckOptions(const AthenaDdlOptions& options) {
  ASSIGN_OR_RETURN(std::string location, NormalizeS3Location(options.location));
  RETURN_IF_ERROR(CheckDatabase(options.database));
  if (options.engine == DdlEngine::kTrino) RETURN_IF_ERROR(CheckTrinoCatalog(options.trino_catalog));
  if (options.format == DdlFormat::kHive) {
    if (options.engine != DdlEngine::kAthena) {
      return InvalidArgument(fmt::format(
          "the hive format is Athena DDL; for {} use the delta format (the default), which reads the "
          "Delta log", EngineName(options.engine)));
    }
    if (options.projection) {
      RETURN_IF_ERROR(CheckProducts(options.products));
      if (!options.first_date.empty()) RETURN_IF_ERROR(CheckFirstDate(options.first_date));
    }
  }
  return location;
}

// --- lake layout ---------------------------------------------------------------

// The Hive partition keys of a table's folders, in folder order, read off
// catalog.h (PartitionColumns, and PartitionName / ProductPartitionName for
// the folder names) so that a change of the lake layout reaches the DDL (or
// fails here) instead of drifting from a copy.
struct PartitionLayout {
  std::vector<std::string> keys;  // "product_id"[, "date"]
  std::string product_key;
  std::string date_key;            // "" when the table has no date folders
  std::string location_template;   // "product_id=${product_id}/date=${date}"
};

Result<PartitionLayout> ReadPartitionLayout(std::string_view table) {
  PartitionLayout layout;
  layout.keys = PartitionColumns(table);
  const bool valid_names = std::all_of(layout.keys.begin(), layout.keys.end(),
                                       [](const std::string& k) { return IsAthenaName(k); });
  if (layout.keys.empty() || layout.keys.size() > 2 || !valid_names ||
      (layout.keys.size() == 2 && layout.keys[0] == layout.keys[1])) {
    std::string keys;
    for (const std::string& k : layout.keys) keys += fmt::format("{}{}", keys.empty() ? "" : ", ", QuoteForMessage(k));
    return Internal(fmt::format("{} is partitioned by ({}), not by product[, date]; update src/sql/athena_ddl.cc "
                                "for the new lake layout", table, keys));
  }
  auto placeholder = [](std::string_view key) { return fmt::format("${{{}}}", key); };
  layout.product_key = layout.keys[0];
  if (layout.keys.size() == 2) {
    layout.date_key = layout.keys[1];
    layout.location_template = PartitionName(placeholder(layout.product_key), placeholder(layout.date_key));
  } else {
    layout.location_template = ProductPartitionName(placeholder(layout.product_key));
  }
  // The folders must be key=value with the keys in this order.
  std::string expected;
  for (const std::string& k : layout.keys) {
    expected += fmt::format("{}{}={}", expected.empty() ? "" : "/", k, placeholder(k));
  }
  if (layout.location_template != expected) {
    return Internal(fmt::format("{} partition folder {} is not {}; update src/sql/athena_ddl.cc for the new lake "
                                "layout", table, QuoteForMessage(layout.location_template),
                                QuoteForMessage(expected)));
  }
  return layout;
}

Status CheckLakeTable(std::string_view table) {
  for (std::string_view t : EtlTables()) {
    if (t == table) return Status::OK();
  }
  std::string known;
  for (std::string_view t : EtlTables()) known += fmt::format("{}{}", known.empty() ? "" : ", ", t);
  return InvalidArgument(
      fmt::format("{} is not a lake table; the tables are {}", QuoteForMessage(table), known));
}

Result<std::vector<ColumnDef>> LakeSchema(std::string_view table) {
  RETURN_IF_ERROR(CheckLakeTable(table));
  std::vector<ColumnDef> schema = SchemaOf(table);
  if (schema.empty()) {
    return Internal(fmt::format("etl/table_io.h SchemaOf has no schema for lake table {}", table));
  }
  return schema;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

bool ParseInt(std::string_view text, int* out) {
  const std::string t = Trim(text);
  if (t.empty()) return false;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && end == t.data() + t.size();
}

}  // namespace

namespace athena_internal {

Result<std::string> AthenaType(std::string_view duckdb_type) {
  std::string upper = Trim(duckdb_type);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; });
  // Hive/Glue DDL names (https://docs.aws.amazon.com/athena/latest/ug/data-types.html),
  // for the Parquet physical types DuckDB writes for each.
  static constexpr std::pair<std::string_view, std::string_view> kExact[] = {
      {"VARCHAR", "string"},   {"BIGINT", "bigint"},   {"INTEGER", "int"},
      {"SMALLINT", "smallint"}, {"TINYINT", "tinyint"}, {"DOUBLE", "double"},
      {"FLOAT", "float"},      {"BOOLEAN", "boolean"}, {"DATE", "date"},
      {"TIMESTAMP", "timestamp"}, {"BLOB", "binary"},
  };
  for (const auto& [duck, athena] : kExact) {
    if (upper == duck) return std::string(athena);
  }
  constexpr std::string_view kDecimal = "DECIMAL(";
  if (upper.starts_with(kDecimal) && upper.ends_with(")")) {
    const std::string_view args =
        std::string_view(upper).substr(kDecimal.size(), upper.size() - kDecimal.size() - 1);
    const size_t comma = args.find(',');
    int precision = 0;
    int scale = 0;
    if (comma != std::string_view::npos && ParseInt(args.substr(0, comma), &precision) &&
        ParseInt(args.substr(comma + 1), &scale) && precision >= 1 && precision <= 38 && scale >= 0 &&
        scale <= precision) {
      return fmt::format("decimal({},{})", precision, scale);
    }
  }
  return InvalidArgument(fmt::format(
      "DuckDB type {} has no Athena type here (mapped: VARCHAR, BIGINT, INTEGER, SMALLINT, TINYINT, "
      "DOUBLE, FLOAT, BOOLEAN, DATE, TIMESTAMP, BLOB, DECIMAL(p<=38,s))",
      QuoteForMessage(duckdb_type)));
}

Result<AthenaTable> DescribeTableWithSchema(std::string_view lake_table,
                                            const std::vector<ColumnDef>& schema,
                                            const AthenaDdlOptions& options) {
  AthenaDdlOptions hive = options;
  hive.format = DdlFormat::kHive;
  hive.engine = DdlEngine::kAthena;
  ASSIGN_OR_RETURN(const std::string location, CheckOptions(hive));
  RETURN_IF_ERROR(CheckLakeTable(lake_table));
  ASSIGN_OR_RETURN(const PartitionLayout layout, ReadPartitionLayout(lake_table));
  if (options.projection && !layout.date_key.empty() && options.first_date.empty()) {
    RETURN_IF_ERROR(CheckFirstDate(options.first_date));  // the error saying it is needed
  }

  AthenaTable table;
  table.lake_table = std::string(lake_table);
  table.database = options.database;
  table.name = AthenaTableName(lake_table);
  if (!IsAthenaName(table.name)) {
    return InvalidArgument(fmt::format("lake table {} gives no valid Athena table name ({})",
                                       QuoteForMessage(lake_table), QuoteForMessage(table.name)));
  }
  table.location = fmt::format("{}/{}", location, TableFolder(lake_table));

  std::set<std::string_view> seen;
  for (const ColumnDef& c : schema) {
    if (!IsAthenaName(c.name) || !seen.insert(c.name).second) {
      return Internal(fmt::format("{} column {} {} in Athena (names are 1-{} of a-z, 0-9, '_', each once)",
                                  lake_table, QuoteForMessage(c.name),
                                  IsAthenaName(c.name) ? "is repeated" : "cannot be named so", kMaxAthenaName));
    }
    // A key of the Hive folders: a partition column, valued from the folder.
    if (std::find(layout.keys.begin(), layout.keys.end(), c.name) != layout.keys.end()) continue;
    Result<std::string> type = athena_internal::AthenaType(c.type);
    if (!type.ok()) {
      return Internal(fmt::format("{} column {}: {}; map it in src/sql/athena_ddl.cc", lake_table,
                                  c.name, type.status().message()));
    }
    table.columns.push_back({c.name, std::move(type).value()});
  }
  if (table.columns.empty()) {
    return Internal(fmt::format("{} has no column besides its partition keys", lake_table));
  }
  for (const std::string& key : layout.keys) table.partitions.push_back({key, "string"});

  auto& props = table.properties;
  // What Athena writes with (INSERT INTO), the codec tradelake writes with.
  props.emplace_back("parquet.compression", "ZSTD");
  if (options.projection) {
    const std::string& p = layout.product_key;
    const std::string& d = layout.date_key;
    props.emplace_back("projection.enabled", "true");
    if (options.products.empty()) {
      props.emplace_back(fmt::format("projection.{}.type", p), "injected");
    } else {
      std::string values;
      for (const std::string& id : options.products) values += fmt::format("{}{}", values.empty() ? "" : ",", id);
      props.emplace_back(fmt::format("projection.{}.type", p), "enum");
      props.emplace_back(fmt::format("projection.{}.values", p), values);
    }
    if (!d.empty()) {
      props.emplace_back(fmt::format("projection.{}.type", d), "date");
      props.emplace_back(fmt::format("projection.{}.range", d), fmt::format("{},NOW", options.first_date));
      props.emplace_back(fmt::format("projection.{}.format", d), "yyyy-MM-dd");
      props.emplace_back(fmt::format("projection.{}.interval", d), "1");
      props.emplace_back(fmt::format("projection.{}.interval.unit", d), "DAYS");
    }
    props.emplace_back("storage.location.template",
                       fmt::format("{}{}/", table.location, layout.location_template));
  }
  return table;
}

}  // namespace athena_internal

std::string AthenaTableName(std::string_view lake_table) {
  std::string name(lake_table);
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

Result<std::string> NormalizeS3Location(std::string_view location) {
  if (location.empty()) {
    return InvalidArgument("no S3 location given: pass the lake's location as s3://bucket/prefix (--location)");
  }
  const std::string q = QuoteForMessage(location);
  if (std::any_of(location.begin(), location.end(), IsControl)) {
    return InvalidArgument(fmt::format("location {} holds a control character", q));
  }
  if (!location.starts_with(kS3Scheme)) {
    return InvalidArgument(
        fmt::format("location {} is not an S3 location: it must start with s3:// (like s3://my-bucket/lake)", q));
  }
  std::string_view rest = location.substr(kS3Scheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  const size_t slash = rest.find('/');
  const std::string_view bucket = rest.substr(0, slash);
  RETURN_IF_ERROR(CheckBucket(bucket, location));
  if (slash == std::string_view::npos) return fmt::format("{}{}", kS3Scheme, bucket);

  const std::string_view prefix = rest.substr(slash + 1);
  if (Status s = ValidateKey(prefix); !s.ok()) {
    return InvalidArgument(fmt::format("location {}: the prefix is not a valid lake prefix: {}", q, s.message()));
  }
  // ' and \ would end or escape a DDL string literal, $ would start a
  // ${...} placeholder of storage.location.template, * ? " are no lake
  // prefix (store/policy_store.h).
  if (prefix.find_first_of("'\\$*?\"") != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "location {}: the prefix must not contain ' \\ $ * ? or \" (choose a plain prefix like data/lake)", q));
  }
  return fmt::format("{}{}/{}", kS3Scheme, bucket, prefix);
}

Result<AthenaTable> DescribeAthenaTable(std::string_view lake_table, const AthenaDdlOptions& options) {
  ASSIGN_OR_RETURN(const std::vector<ColumnDef> schema, LakeSchema(lake_table));
  return athena_internal::DescribeTableWithSchema(lake_table, schema, options);
}

std::string CreateTableSql(const AthenaTable& table) {
  auto column_list = [](const std::vector<AthenaColumn>& cols) {
    std::string out;
    for (size_t i = 0; i < cols.size(); ++i) {
      out += fmt::format("  {} {}{}\n", Backticked(cols[i].name), cols[i].type, i + 1 < cols.size() ? "," : "");
    }
    return out;
  };
  std::string sql = fmt::format("CREATE EXTERNAL TABLE IF NOT EXISTS {}.{} (\n", Backticked(table.database),
                                Backticked(table.name));
  sql += column_list(table.columns);
  sql += ")\n";
  if (!table.partitions.empty()) {
    sql += "PARTITIONED BY (\n";
    sql += column_list(table.partitions);
    sql += ")\n";
  }
  sql += "STORED AS PARQUET\n";
  sql += fmt::format("LOCATION {}", Quoted(table.location));
  if (!table.properties.empty()) {
    sql += "\nTBLPROPERTIES (\n";
    for (size_t i = 0; i < table.properties.size(); ++i) {
      const auto& [key, value] = table.properties[i];
      sql += fmt::format("  {}={}{}", Quoted(key), Quoted(value), i + 1 < table.properties.size() ? ",\n" : "\n");
    }
    sql += ")";
  }
  return sql;
}

Result<DdlEngine> ParseDdlEngine(std::string_view name) {
  for (DdlEngine e : {DdlEngine::kAthena, DdlEngine::kTrino, DdlEngine::kSpark}) {
    if (name == EngineName(e)) return e;
  }
  return InvalidArgument(
      fmt::format("engine {} is not known: use athena, trino or spark (--engine)", QuoteForMessage(name)));
}

Result<DdlFormat> ParseDdlFormat(std::string_view name) {
  if (name == "delta") return DdlFormat::kDelta;
  if (name == "hive") return DdlFormat::kHive;
  return InvalidArgument(fmt::format(
      "format {} is not known: use delta (the tables' Delta log) or hive (Athena partitions over the folders) "
      "(--format)", QuoteForMessage(name)));
}

Result<std::string> DeltaTableSql(std::string_view lake_table, const AthenaDdlOptions& options) {
  ASSIGN_OR_RETURN(const std::string lake, CheckOptions(options));
  RETURN_IF_ERROR(CheckLakeTable(lake_table));
  const std::string name = AthenaTableName(lake_table);
  if (!IsAthenaName(name)) {
    return InvalidArgument(fmt::format("lake table {} gives no valid table name ({})",
                                       QuoteForMessage(lake_table), QuoteForMessage(name)));
  }
  // TableFolder ends in '/': the folder holding _delta_log/.
  const std::string folder = fmt::format("{}/{}", lake, TableFolder(lake_table));
  std::string_view no_slash = folder;
  if (no_slash.ends_with('/')) no_slash.remove_suffix(1);
  switch (options.engine) {
    case DdlEngine::kAthena:
      // AWS allows nothing but LOCATION and 'table_type' here: the schema
      // and the partitions come from the log.
      return fmt::format("CREATE EXTERNAL TABLE {}.{}\nLOCATION {}\nTBLPROPERTIES ('table_type'='DELTA')",
                         Backticked(options.database), Backticked(name), Quoted(folder));
    case DdlEngine::kTrino:
      // The connector refuses CREATE TABLE over an existing Delta table;
      // register_table reads the schema from the log.
      return fmt::format(
          "CALL \"{}\".system.register_table(schema_name => {}, table_name => {}, table_location => {})",
          options.trino_catalog, Quoted(options.database), Quoted(name), Quoted(no_slash));
    case DdlEngine::kSpark:
      // Name and LOCATION only: Delta takes schema, partitioning and
      // properties from the existing log (any other clause must match it).
      return fmt::format("CREATE TABLE IF NOT EXISTS {}.{}\nUSING DELTA\nLOCATION {}", Backticked(options.database),
                         Backticked(name), Quoted(no_slash));
  }
  return Internal("unknown DDL engine");
}

Result<std::vector<AthenaStatement>> AthenaDdlStatements(const AthenaDdlOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options).status());
  std::vector<std::string> tables = options.tables;
  if (tables.empty()) {
    for (std::string_view t : EtlTables()) tables.emplace_back(t);
  }
  std::set<std::string_view> seen;
  for (const std::string& t : tables) {
    RETURN_IF_ERROR(CheckLakeTable(t));
    if (!seen.insert(t).second) return InvalidArgument(fmt::format("table {} is asked for twice", t));
  }

  std::vector<AthenaStatement> statements;
  if (options.engine == DdlEngine::kTrino) {
    // Without a schema location: tables keep the location they are
    // registered with, and dropping one leaves its files alone.
    statements.push_back({"", fmt::format("CREATE SCHEMA IF NOT EXISTS \"{}\".\"{}\"", options.trino_catalog,
                                          options.database)});
  } else {
    statements.push_back({"", fmt::format("CREATE DATABASE IF NOT EXISTS {}", Backticked(options.database))});
  }
  for (const std::string& t : tables) {
    if (options.format == DdlFormat::kDelta) {
      ASSIGN_OR_RETURN(std::string sql, DeltaTableSql(t, options));
      statements.push_back({t, std::move(sql)});
      continue;
    }
    ASSIGN_OR_RETURN(const AthenaTable table, DescribeAthenaTable(t, options));
    statements.push_back({t, CreateTableSql(table)});
    if (!options.projection) {
      // Registers the partitions found under LOCATION in Glue; only those
      // existing now, so it is rerun after each ETL run that adds a day.
      statements.push_back(
          {t, fmt::format("MSCK REPAIR TABLE {}.{}", Backticked(table.database), Backticked(table.name))});
    }
  }
  return statements;
}

Result<std::string> AthenaDdl(const AthenaDdlOptions& options) {
  ASSIGN_OR_RETURN(const std::vector<AthenaStatement> statements, AthenaDdlStatements(options));
  std::string script;
  for (const AthenaStatement& s : statements) {
    if (!script.empty()) script += "\n";
    script += s.sql;
    script += ";\n";
  }
  return script;
}

}  // namespace tradelake
