// Partition pruning: which files of a table a query can possibly need.
//
// tradelake lets DuckDB plan each statement first, over every committed file,
// and reads from the plan what DuckDB pushed into each scan: the hive
// "File Filters" (product_id, date) and the row "Filters" (e.g. on
// trade_time). From the simple predicates among them it derives, per scan, a
// set of products and a range of days; every other predicate is ignored,
// which can only keep more files, never fewer. The files of a table are then
// those whose partition (product, date) satisfies the constraints of at least
// one scan of the statement.
//
// Why days follow from times: every table's `date` is the UTC date of its
// time column (silver.trades by trade_time, Gold by period_start), so a
// row with trade_time >= '2024-05-02 10:00' lives in date >= 2024-05-02.
// A file of a table without a date folder (gold.trades_hourly, a month per
// file; gold.trades_daily, a year) spans a range of days, known from its
// period_start statistics: it is needed when that range meets the scan's.
//
// Recognised predicates (column names as DuckDB prints them):
//   product_id | product   = 'X'  |  IN ('X', 'Y', ...)  |  OR of those
//   date                   = < <= > >= 'YYYY-MM-DD'::DATE
//   trade_time | period_start | rejected_at are NOT used (rejected_at is not
//   the partition date); trade_time and period_start
//                          = < <= > >= 'YYYY-MM-DD HH:MM:SS[.ffffff]'::TIMESTAMP
// Conjunctions are split on top-level AND; File Filters come as
// "(a)(b)" and are split likewise.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

// What one scan can need. Default: everything.
struct ScanConstraints {
  std::optional<std::set<std::string>> products;  // nullopt: any product
  int64_t min_day = std::numeric_limits<int64_t>::min();  // days since 1970-01-01, inclusive
  int64_t max_day = std::numeric_limits<int64_t>::max();

  // True if a file of partition (product, day) may hold rows of this scan.
  bool Matches(std::string_view product, int64_t day) const { return Matches(product, day, day); }
  // True if a file of `product` holding rows of days first_day..last_day
  // (inclusive) may hold rows of this scan.
  bool Matches(std::string_view product, int64_t first_day, int64_t last_day) const;
  bool Unconstrained() const;
  // "products {BTC-USD}, days 2024-05-01..2024-05-02" for EXPLAIN-like output.
  std::string ToString() const;
};

// Adds the predicates of one filter text (a "Filters" or "File Filters"
// entry of DuckDB's plan) to `c`, narrowing it. Unrecognised parts are
// skipped.
void AddFilterText(std::string_view text, ScanConstraints* c);

// One table scan found in a plan.
struct PlannedScan {
  std::string function;  // "READ_PARQUET", "READ_JSON", ... ("" for a table scan)
  std::string table;     // a table scan's table, bare name ("trades_hourly"); "" otherwise
  ScanConstraints constraints;
};

// Walks the JSON of `EXPLAIN (FORMAT JSON) <statement>` and returns every
// scan with its constraints. InvalidArgument if the text is not such a plan.
Result<std::vector<PlannedScan>> ScansOfPlan(std::string_view plan_json);

// "YYYY-MM-DD" -> days since the epoch, or nullopt if malformed.
std::optional<int64_t> ParseDay(std::string_view date);

}  // namespace tradelake
