// RAII wrappers over DuckDB's C API (DuckDB 1.4): Database, Connection,
// QueryResult, PreparedStatement.
//
// Every DuckDB handle is owned by a unique_ptr whose deleter calls the
// matching duckdb_close / duckdb_disconnect / duckdb_destroy_* function, so
// nothing leaks on any path. No function throws; failures come back as
// Status with DuckDB's own error message:
//   - IO errors (unreadable/unwritable files)   -> IOError
//   - an interrupted query (Interrupt())        -> Cancelled
//   - a file the sandbox settings forbid        -> PermissionDenied
//   - DuckDB internal/fatal errors              -> Internal
//   - everything else (syntax, binder, catalog, conversion, constraint, ...)
//                                               -> InvalidArgument
//
// Threads: a Database may be shared by any number of threads, each with its
// own Connection. A Connection (and the PreparedStatements and QueryResults
// made from it) is used by one thread at a time; only Interrupt() may be
// called from another thread. A Database must outlive its Connections, and a
// Connection its PreparedStatements.
#pragma once

#include <duckdb.h>  // angle brackets: the C API header, not this file

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tradelake {

namespace duckdb_internal {
struct CloseDatabase {
  void operator()(duckdb_database db) const;
};
struct Disconnect {
  void operator()(duckdb_connection con) const;
};
struct DestroyResult {
  void operator()(duckdb_result* result) const;
};
struct DestroyPrepared {
  void operator()(duckdb_prepared_statement stmt) const;
};
}  // namespace duckdb_internal

// The rows of one executed statement, fully materialized in memory.
class QueryResult {
 public:
  // No rows and no columns (what a statement that returns nothing gives).
  QueryResult() = default;
  QueryResult(QueryResult&&) noexcept = default;
  QueryResult& operator=(QueryResult&&) noexcept = default;

  uint64_t row_count() const { return row_count_; }
  uint64_t column_count() const { return column_names_.size(); }
  // Rows inserted/updated/deleted; 0 for other statements.
  uint64_t rows_changed() const;
  duckdb_statement_type statement_type() const;

  // REQUIRES: col < column_count() (for all column accessors below).
  const std::string& column_name(uint64_t col) const { return column_names_[col]; }
  const std::vector<std::string>& column_names() const { return column_names_; }
  duckdb_type column_type(uint64_t col) const;
  // SQL spelling of the column type: "BIGINT", "VARCHAR", "DECIMAL(38,18)".
  std::string column_type_name(uint64_t col) const;

  // REQUIRES: row < row_count(), col < column_count().
  bool IsNull(uint64_t row, uint64_t col) const;
  // The value as DuckDB casts it to VARCHAR (a DECIMAL(38,18) keeps all 18
  // fractional digits; a TIMESTAMP reads "2024-05-01 12:00:44.39"), or
  // nullopt for NULL. Nested values (LIST, STRUCT, MAP, ARRAY, UNION) come
  // back as "": DuckDB's value API does not render them; cast them in SQL
  // (x::VARCHAR) to read them as text.
  std::optional<std::string> GetString(uint64_t row, uint64_t col) const;
  // Same, with NULL shown as null_text.
  std::string GetStringOr(uint64_t row, uint64_t col, std::string_view null_text) const;

 private:
  friend class Connection;
  friend class PreparedStatement;
  // Takes ownership of a successfully executed result.
  explicit QueryResult(std::unique_ptr<duckdb_result, duckdb_internal::DestroyResult> result);

  // The legacy value accessors take a non-const pointer but do not change
  // what this class exposes.
  duckdb_result* raw() const { return result_.get(); }

  std::unique_ptr<duckdb_result, duckdb_internal::DestroyResult> result_;
  uint64_t row_count_ = 0;
  std::vector<std::string> column_names_;
};

// A statement parsed and bound once, executed any number of times.
class PreparedStatement {
 public:
  PreparedStatement(PreparedStatement&&) noexcept = default;
  PreparedStatement& operator=(PreparedStatement&&) noexcept = default;

  // What kind of statement this is (SELECT, INSERT, COPY, ATTACH, ...), as
  // DuckDB's parser classified it. DUCKDB_STATEMENT_TYPE_INVALID if unknown.
  duckdb_statement_type statement_type() const;
  // Number of parameters ($1, ?, ...).
  uint64_t parameter_count() const;
  // The result's columns, known before executing.
  uint64_t column_count() const;
  std::string column_name(uint64_t col) const;
  duckdb_type column_type(uint64_t col) const;

  // Bind parameter index (1-based). InvalidArgument if out of range or the
  // value does not fit the parameter's type.
  Status BindString(uint64_t index, std::string_view value);
  Status BindInt64(uint64_t index, int64_t value);
  Status BindNull(uint64_t index);

  Result<QueryResult> Execute();

 private:
  friend class Connection;
  explicit PreparedStatement(
      std::unique_ptr<_duckdb_prepared_statement, duckdb_internal::DestroyPrepared> stmt)
      : stmt_(std::move(stmt)) {}

  std::unique_ptr<_duckdb_prepared_statement, duckdb_internal::DestroyPrepared> stmt_;
};

class Connection {
 public:
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  // Runs sql (one or more ';'-separated statements) and returns the result of
  // the last one. On failure returns a non-OK Status with DuckDB's message
  // (e.g. "Parser Error: syntax error at or near ...").
  Result<QueryResult> Query(std::string_view sql);

  // Parses exactly one statement. Fails with InvalidArgument (DuckDB's
  // message) on a syntax or binder error, or when sql holds several statements.
  Result<PreparedStatement> Prepare(std::string_view sql);

  // Asks the running query to stop; it then fails with Cancelled. Safe to
  // call from another thread.
  void Interrupt();

 private:
  friend class Database;
  explicit Connection(std::unique_ptr<_duckdb_connection, duckdb_internal::Disconnect> con)
      : con_(std::move(con)) {}

  std::unique_ptr<_duckdb_connection, duckdb_internal::Disconnect> con_;
};

class Database {
 public:
  using Config = std::vector<std::pair<std::string, std::string>>;

  // Opens (creating if needed) the database file at path, or an in-memory
  // database for ":memory:" or "". config holds DuckDB settings applied at
  // start-up, e.g. {{"threads", "2"}, {"memory_limit", "1GB"},
  // {"access_mode", "READ_ONLY"}}. An unknown setting or bad value fails with
  // InvalidArgument naming it; a file that cannot be opened with IOError.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, const Config& config = {});

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A new connection. Safe to call from any thread.
  Result<Connection> Connect();

 private:
  struct PassKey {
    explicit PassKey() = default;
  };

 public:
  // Only Open() can build a Database; public for std::make_unique.
  Database(PassKey, std::unique_ptr<_duckdb_database, duckdb_internal::CloseDatabase> db)
      : db_(std::move(db)) {}

 private:

  std::unique_ptr<_duckdb_database, duckdb_internal::CloseDatabase> db_;
};

// "SELECT", "INSERT", "COPY", ... for messages.
std::string_view StatementTypeName(duckdb_statement_type type);

}  // namespace tradelake
