#include "query/duckdb.h"

#include <fmt/format.h>

namespace tradelake {
namespace duckdb_internal {

void CloseDatabase::operator()(duckdb_database db) const { duckdb_close(&db); }
void Disconnect::operator()(duckdb_connection con) const { duckdb_disconnect(&con); }
void DestroyResult::operator()(duckdb_result* result) const {
  duckdb_destroy_result(result);
  std::default_delete<duckdb_result>()(result);
}
void DestroyPrepared::operator()(duckdb_prepared_statement stmt) const {
  duckdb_destroy_prepare(&stmt);
}

}  // namespace duckdb_internal

namespace {

using ResultPtr = std::unique_ptr<duckdb_result, duckdb_internal::DestroyResult>;

struct DestroyLogicalType {
  void operator()(duckdb_logical_type type) const { duckdb_destroy_logical_type(&type); }
};
using LogicalTypePtr = std::unique_ptr<_duckdb_logical_type, DestroyLogicalType>;

struct DuckFree {
  void operator()(void* p) const { duckdb_free(p); }
};

// Maps DuckDB's error class to our retry-aware codes (see status.h).
Status ErrorStatus(duckdb_error_type type, std::string message) {
  switch (type) {
    case DUCKDB_ERROR_IO: return IOError(std::move(message));
    case DUCKDB_ERROR_INTERRUPT: return Cancelled(std::move(message));
    case DUCKDB_ERROR_PERMISSION: return PermissionDenied(std::move(message));
    case DUCKDB_ERROR_INTERNAL:
    case DUCKDB_ERROR_FATAL: return Internal(std::move(message));
    default: return InvalidArgument(std::move(message));
  }
}

// Status for a failed duckdb_query / duckdb_execute_prepared.
Status ResultError(duckdb_result* result) {
  const char* message = duckdb_result_error(result);
  return ErrorStatus(duckdb_result_error_type(result),
                     message != nullptr ? message : "DuckDB query failed without a message");
}

ResultPtr NewResult() { return ResultPtr(std::make_unique<duckdb_result>().release()); }

std::string_view TypeIdName(duckdb_type type) {
  switch (type) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_DATE: return "DATE";
    case DUCKDB_TYPE_TIME: return "TIME";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT: return "UHUGEINT";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BLOB: return "BLOB";
    case DUCKDB_TYPE_DECIMAL: return "DECIMAL";
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_ENUM: return "ENUM";
    case DUCKDB_TYPE_LIST: return "LIST";
    case DUCKDB_TYPE_STRUCT: return "STRUCT";
    case DUCKDB_TYPE_MAP: return "MAP";
    case DUCKDB_TYPE_ARRAY: return "ARRAY";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_UNION: return "UNION";
    case DUCKDB_TYPE_BIT: return "BIT";
    case DUCKDB_TYPE_TIME_TZ: return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_BIGNUM: return "BIGNUM";
    case DUCKDB_TYPE_SQLNULL: return "NULL";
    case DUCKDB_TYPE_TIME_NS: return "TIME_NS";
    default: return "UNKNOWN";
  }
}

}  // namespace

// --- QueryResult -------------------------------------------------------------
//
// Values are read with the materialized-result accessors (duckdb_row_count,
// duckdb_value_string), which DuckDB 1.4 marks deprecated but still ships.
// They give DuckDB's own VARCHAR rendering of every type, which a typed
// chunk reader would have to reimplement; when they are removed, this class
// is the one place to switch to duckdb_fetch_chunk.

QueryResult::QueryResult(ResultPtr result) : result_(std::move(result)) {
  row_count_ = duckdb_row_count(raw());
  const idx_t columns = duckdb_column_count(raw());
  column_names_.reserve(columns);
  for (idx_t c = 0; c < columns; ++c) {
    const char* name = duckdb_column_name(raw(), c);
    column_names_.emplace_back(name != nullptr ? name : "");
  }
}

uint64_t QueryResult::rows_changed() const { return result_ ? duckdb_rows_changed(raw()) : 0; }

duckdb_statement_type QueryResult::statement_type() const {
  return result_ ? duckdb_result_statement_type(*raw()) : DUCKDB_STATEMENT_TYPE_INVALID;
}

duckdb_type QueryResult::column_type(uint64_t col) const { return duckdb_column_type(raw(), col); }

std::string QueryResult::column_type_name(uint64_t col) const {
  LogicalTypePtr type(duckdb_column_logical_type(raw(), col));
  if (type == nullptr) return "UNKNOWN";
  const duckdb_type id = duckdb_get_type_id(type.get());
  if (id == DUCKDB_TYPE_DECIMAL) {
    return fmt::format("DECIMAL({},{})", duckdb_decimal_width(type.get()),
                       duckdb_decimal_scale(type.get()));
  }
  return std::string(TypeIdName(id));
}

bool QueryResult::IsNull(uint64_t row, uint64_t col) const {
  return duckdb_value_is_null(raw(), col, row);
}

std::optional<std::string> QueryResult::GetString(uint64_t row, uint64_t col) const {
  if (IsNull(row, col)) return std::nullopt;
  duckdb_string s = duckdb_value_string(raw(), col, row);
  // nullptr for nested types, which the materialized-result API cannot render.
  if (s.data == nullptr) return std::string();
  std::unique_ptr<char, DuckFree> owned(s.data);
  return std::string(s.data, s.size);
}

std::string QueryResult::GetStringOr(uint64_t row, uint64_t col, std::string_view null_text) const {
  std::optional<std::string> v = GetString(row, col);
  return v.has_value() ? std::move(*v) : std::string(null_text);
}

// --- PreparedStatement ---------------------------------------------------------

duckdb_statement_type PreparedStatement::statement_type() const {
  return duckdb_prepared_statement_type(stmt_.get());
}

uint64_t PreparedStatement::parameter_count() const { return duckdb_nparams(stmt_.get()); }

uint64_t PreparedStatement::column_count() const { return duckdb_prepared_statement_column_count(stmt_.get()); }

std::string PreparedStatement::column_name(uint64_t col) const {
  std::unique_ptr<char, DuckFree> name(const_cast<char*>(duckdb_prepared_statement_column_name(stmt_.get(), col)));
  return name ? std::string(name.get()) : std::string();
}

duckdb_type PreparedStatement::column_type(uint64_t col) const {
  return duckdb_prepared_statement_column_type(stmt_.get(), col);
}

namespace {
Status BindStatus(duckdb_state state, duckdb_prepared_statement stmt, uint64_t index) {
  if (state == DuckDBSuccess) return Status::OK();
  const uint64_t count = duckdb_nparams(stmt);
  if (index < 1 || index > count) {
    return InvalidArgument(fmt::format("cannot bind parameter {}: the statement has {} parameter(s)",
                                       index, count));
  }
  return InvalidArgument(fmt::format("cannot bind parameter {}: the value does not fit its type", index));
}
}  // namespace

Status PreparedStatement::BindString(uint64_t index, std::string_view value) {
  return BindStatus(duckdb_bind_varchar_length(stmt_.get(), index, value.data(), value.size()),
                    stmt_.get(), index);
}

Status PreparedStatement::BindInt64(uint64_t index, int64_t value) {
  return BindStatus(duckdb_bind_int64(stmt_.get(), index, value), stmt_.get(), index);
}

Status PreparedStatement::BindNull(uint64_t index) {
  return BindStatus(duckdb_bind_null(stmt_.get(), index), stmt_.get(), index);
}

Result<QueryResult> PreparedStatement::Execute() {
  ResultPtr result = NewResult();
  if (duckdb_execute_prepared(stmt_.get(), result.get()) != DuckDBSuccess) {
    return ResultError(result.get());
  }
  return QueryResult(std::move(result));
}

// --- Connection ----------------------------------------------------------------

Result<QueryResult> Connection::Query(std::string_view sql) {
  const std::string text(sql);  // the C API wants a NUL-terminated string
  ResultPtr result = NewResult();
  // duckdb_query fills *result even on failure; the deleter frees it either way.
  if (duckdb_query(con_.get(), text.c_str(), result.get()) != DuckDBSuccess) {
    return ResultError(result.get());
  }
  return QueryResult(std::move(result));
}

Result<PreparedStatement> Connection::Prepare(std::string_view sql) {
  const std::string text(sql);
  duckdb_prepared_statement raw = nullptr;
  const duckdb_state state = duckdb_prepare(con_.get(), text.c_str(), &raw);
  // The handle must be destroyed even when preparing failed.
  std::unique_ptr<_duckdb_prepared_statement, duckdb_internal::DestroyPrepared> stmt(raw);
  if (state != DuckDBSuccess) {
    const char* message = stmt != nullptr ? duckdb_prepare_error(stmt.get()) : nullptr;
    // The C API gives no error type for a failed prepare: its message starts with it.
    std::string error = message != nullptr ? message : "DuckDB could not prepare the statement";
    if (error.starts_with("Permission Error")) return PermissionDenied(std::move(error));
    if (error.starts_with("IO Error")) return IOError(std::move(error));
    return InvalidArgument(std::move(error));
  }
  return PreparedStatement(std::move(stmt));
}

void Connection::Interrupt() { duckdb_interrupt(con_.get()); }

// --- Database ------------------------------------------------------------------

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, const Config& config) {
  duckdb_config raw_config = nullptr;
  if (duckdb_create_config(&raw_config) != DuckDBSuccess) {
    return Internal("cannot create a DuckDB configuration (out of memory?)");
  }
  struct DestroyConfig {
    void operator()(duckdb_config c) const { duckdb_destroy_config(&c); }
  };
  std::unique_ptr<_duckdb_config, DestroyConfig> cfg(raw_config);
  for (const auto& [key, value] : config) {
    if (duckdb_set_config(cfg.get(), key.c_str(), value.c_str()) != DuckDBSuccess) {
      return InvalidArgument(fmt::format("DuckDB setting {}={} is not accepted; check the name "
                                         "against duckdb_settings()",
                                         key, value));
    }
  }
  const char* db_path = path.empty() || path == ":memory:" ? nullptr : path.c_str();
  duckdb_database raw_db = nullptr;
  char* raw_error = nullptr;
  const duckdb_state state = duckdb_open_ext(db_path, &raw_db, cfg.get(), &raw_error);
  std::unique_ptr<char, DuckFree> error(raw_error);
  std::unique_ptr<_duckdb_database, duckdb_internal::CloseDatabase> db(raw_db);
  if (state != DuckDBSuccess) {
    const std::string where = db_path != nullptr ? path : ":memory:";
    const std::string why = error != nullptr ? error.get() : "unknown error";
    // Settings are only validated when the database starts.
    if (why.find("setting") != std::string::npos || why.find("option") != std::string::npos) {
      return InvalidArgument(fmt::format("cannot open DuckDB database {}: {}", where, why));
    }
    return IOError(fmt::format("cannot open DuckDB database {}: {}", where, why));
  }
  return std::make_unique<Database>(PassKey(), std::move(db));
}

Result<Connection> Database::Connect() {
  duckdb_connection raw = nullptr;
  const duckdb_state state = duckdb_connect(db_.get(), &raw);
  std::unique_ptr<_duckdb_connection, duckdb_internal::Disconnect> con(raw);
  if (state != DuckDBSuccess) return Internal("cannot connect to the DuckDB database");
  return Connection(std::move(con));
}

std::string_view StatementTypeName(duckdb_statement_type type) {
  switch (type) {
    case DUCKDB_STATEMENT_TYPE_SELECT: return "SELECT";
    case DUCKDB_STATEMENT_TYPE_INSERT: return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE: return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return "EXPLAIN";
    case DUCKDB_STATEMENT_TYPE_DELETE: return "DELETE";
    case DUCKDB_STATEMENT_TYPE_PREPARE: return "PREPARE";
    case DUCKDB_STATEMENT_TYPE_CREATE: return "CREATE";
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return "EXECUTE";
    case DUCKDB_STATEMENT_TYPE_ALTER: return "ALTER";
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return "TRANSACTION";
    case DUCKDB_STATEMENT_TYPE_COPY: return "COPY";
    case DUCKDB_STATEMENT_TYPE_ANALYZE: return "ANALYZE";
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return "VARIABLE_SET";
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC: return "CREATE_FUNC";
    case DUCKDB_STATEMENT_TYPE_DROP: return "DROP";
    case DUCKDB_STATEMENT_TYPE_EXPORT: return "EXPORT";
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return "PRAGMA";
    case DUCKDB_STATEMENT_TYPE_VACUUM: return "VACUUM";
    case DUCKDB_STATEMENT_TYPE_CALL: return "CALL";
    case DUCKDB_STATEMENT_TYPE_SET: return "SET";
    case DUCKDB_STATEMENT_TYPE_LOAD: return "LOAD";
    case DUCKDB_STATEMENT_TYPE_RELATION: return "RELATION";
    case DUCKDB_STATEMENT_TYPE_EXTENSION: return "EXTENSION";
    case DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN: return "LOGICAL_PLAN";
    case DUCKDB_STATEMENT_TYPE_ATTACH: return "ATTACH";
    case DUCKDB_STATEMENT_TYPE_DETACH: return "DETACH";
    case DUCKDB_STATEMENT_TYPE_MULTI: return "MULTI";
    default: return "INVALID";
  }
}

}  // namespace tradelake
