// Rendering query results: an aligned table for people, CSV, JSON and
// Parquet for programs, and the one-line scan summary after each statement.
//
// Exactness: values are DuckDB's own text of each value (a DECIMAL(38,18)
// keeps all 18 digits). In JSON, integers, floats and booleans are JSON
// numbers/booleans; DECIMAL values are JSON strings, because most JSON
// readers would turn a number into a double and lose digits. Parquet output
// keeps every column's DuckDB type.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "query/duckdb.h"
#include "sql/lake_sql.h"

namespace tradelake {

enum class OutputFormat { kTable, kCsv, kJson, kParquet };

// "table", "csv", "json", "parquet" -> format; InvalidArgument otherwise.
Result<OutputFormat> ParseOutputFormat(std::string_view name);

// Box-drawn table, numbers right-aligned; at most `max_rows` rows (0: all),
// with a "(N more rows)" line when cut. `max_width` cuts long cells with "…".
std::string RenderTable(const QueryResult& result, uint64_t max_rows = 0, size_t max_width = 60);
// RFC 4180: header line, fields quoted when needed, NULL as an empty field.
std::string RenderCsv(const QueryResult& result);
// One value of `result` as JSON, by the rules above (DECIMAL and text as
// strings, integers, finite floats and booleans as JSON values, NULL as null).
void AppendJsonValue(std::string* out, const QueryResult& result, uint64_t row, uint64_t col);
// A JSON array of objects, one per row, keys in column order.
std::string RenderJson(const QueryResult& result);
// Writes `result` to a Parquet file (zstd) at `path`, columns typed as in
// the result. Nested types are not supported (InvalidArgument).
Status WriteResultParquet(const QueryResult& result, const std::string& path);

// "3 rows in 0.041 s · read 2 of 120 files, 1.2 MiB of 96.0 MiB (118 skipped) ·
//  Athena: $0.000048 (10 MB minimum)"
std::string ScanSummary(const ScanStats& scan);

// 1536 -> "1.5 KiB".
std::string HumanBytes(int64_t bytes);
// "10GB", "512MiB", "1TB", "123" (bytes) -> bytes; decimal units are
// powers of 1000, binary units (KiB, MiB, GiB, TiB) powers of 1024.
Result<int64_t> ParseByteSize(std::string_view text);

}  // namespace tradelake
