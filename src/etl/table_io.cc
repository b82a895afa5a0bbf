#include "etl/table_io.h"

#include <duckdb.h>  // the C API header
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

// --- schemas -----------------------------------------------------------------

enum class ColType { kVarchar, kBigint, kDecimal, kTimestamp, kDate };

struct ColumnSpec {
  const char* name;
  ColType type;
  bool nullable;
};

constexpr int kDecimalWidth = 38;
// DuckDB's default. 1,000,000-row groups were measured 2.5-3x slower to
// write a million trades, with ~300 MB more peak memory (the writer buffers
// a whole group), and leave DuckDB one thread per file when reading.
constexpr int kRowGroupSize = 122'880;

// Column order of each array is the order in the file and the index the
// Fill*/Read* functions below use.
constexpr ColumnSpec kSilverTradeColumns[] = {
    {"product_id", ColType::kVarchar, false},      // 0
    {"trade_id", ColType::kBigint, false},         // 1
    {"price", ColType::kDecimal, false},           // 2
    {"size", ColType::kDecimal, false},            // 3
    {"quote_notional", ColType::kDecimal, false},  // 4
    {"side", ColType::kVarchar, false},            // 5
    {"taker_side", ColType::kVarchar, false},      // 6
    {"trade_time", ColType::kTimestamp, false},    // 7
    {"ingested_at", ColType::kTimestamp, false},   // 8
    {"bronze_object", ColType::kVarchar, false},   // 9
};

constexpr ColumnSpec kRejectedColumns[] = {
    {"product_id", ColType::kVarchar, false},     // 0
    {"date", ColType::kDate, true},               // 1
    {"trade_id", ColType::kBigint, true},         // 2
    {"rule", ColType::kVarchar, false},           // 3
    {"detail", ColType::kVarchar, false},         // 4
    {"raw", ColType::kVarchar, false},            // 5
    {"bronze_object", ColType::kVarchar, false},  // 6
    {"rejected_at", ColType::kTimestamp, false},  // 7
};

constexpr ColumnSpec kGoldBarColumns[] = {
    {"product_id", ColType::kVarchar, false},      // 0
    {"period_start", ColType::kTimestamp, false},  // 1
    {"trade_count", ColType::kBigint, false},      // 2
    {"avg_price", ColType::kDecimal, false},       // 3
    {"total_volume", ColType::kDecimal, false},    // 4
    {"quote_volume", ColType::kDecimal, false},    // 5
    {"vwap", ColType::kDecimal, false},            // 6
    {"open", ColType::kDecimal, false},            // 7
    {"high", ColType::kDecimal, false},            // 8
    {"low", ColType::kDecimal, false},             // 9
    {"close", ColType::kDecimal, false},           // 10
    {"buy_volume", ColType::kDecimal, false},      // 11
    {"sell_volume", ColType::kDecimal, false},     // 12
    {"first_trade_id", ColType::kBigint, false},   // 13
    {"last_trade_id", ColType::kBigint, false},    // 14
    {"price_sum", ColType::kDecimal, false},       // 15
};

constexpr ColumnSpec kQualityColumns[] = {
    {"product_id", ColType::kVarchar, false},        // 0
    {"date", ColType::kDate, false},                 // 1
    {"etl_seq", ColType::kBigint, false},            // 2
    {"committed_at", ColType::kTimestamp, false},    // 3
    {"records", ColType::kBigint, false},            // 4
    {"inserted", ColType::kBigint, false},           // 5
    {"duplicates", ColType::kBigint, false},         // 6
    {"rejected", ColType::kBigint, false},           // 7
    {"rejected_by_rule", ColType::kVarchar, false},  // 8
};

constexpr ColumnSpec kReconColumns[] = {
    {"product_id", ColType::kVarchar, false},      // 0
    {"minute", ColType::kTimestamp, false},        // 1
    {"status", ColType::kVarchar, false},          // 2
    {"gold_open", ColType::kDecimal, true},        // 3
    {"gold_high", ColType::kDecimal, true},        // 4
    {"gold_low", ColType::kDecimal, true},         // 5
    {"gold_close", ColType::kDecimal, true},       // 6
    {"gold_volume", ColType::kDecimal, true},      // 7
    {"gold_trade_count", ColType::kBigint, true},  // 8
    {"exchange_open", ColType::kDecimal, true},    // 9
    {"exchange_high", ColType::kDecimal, true},    // 10
    {"exchange_low", ColType::kDecimal, true},     // 11
    {"exchange_close", ColType::kDecimal, true},   // 12
    {"exchange_volume", ColType::kDecimal, true},  // 13
    {"exchange_candle", ColType::kVarchar, true},  // 14
    {"detail", ColType::kVarchar, false},          // 15
    {"reconciled_at", ColType::kTimestamp, false}, // 16
};

using Columns = std::span<const ColumnSpec>;

// ChunkFiller and ChunkReader keep per-column pointers in fixed arrays.
constexpr size_t kMaxColumns = 20;
static_assert(std::size(kSilverTradeColumns) <= kMaxColumns);
static_assert(std::size(kRejectedColumns) <= kMaxColumns);
static_assert(std::size(kGoldBarColumns) <= kMaxColumns);
static_assert(std::size(kQualityColumns) <= kMaxColumns);
static_assert(std::size(kReconColumns) <= kMaxColumns);

std::string TypeSql(ColType type) {
  switch (type) {
    case ColType::kVarchar:
      return "VARCHAR";
    case ColType::kBigint:
      return "BIGINT";
    case ColType::kDecimal:
      return fmt::format("DECIMAL({},{})", kDecimalWidth, kSilverScale);
    case ColType::kTimestamp:
      return "TIMESTAMP";
    case ColType::kDate:
      return "DATE";
  }
  return "?";
}

std::vector<ColumnDef> ToDefs(Columns cols) {
  std::vector<ColumnDef> defs;
  defs.reserve(cols.size());
  for (const ColumnSpec& c : cols) defs.push_back({c.name, TypeSql(c.type), c.nullable});
  return defs;
}

// 10^38 - 1: the largest unscaled value of a DECIMAL(38, s).
constexpr Dec18 MaxDecimal38() {
  Dec18 v = 1;
  for (int i = 0; i < kDecimalWidth; ++i) v *= 10;
  return v - 1;
}
constexpr Dec18 kMaxUnscaled = MaxDecimal38();

// --- DuckDB handles ------------------------------------------------------------

struct CloseDatabase {
  void operator()(duckdb_database db) const { duckdb_close(&db); }
};
struct Disconnect {
  void operator()(duckdb_connection con) const { duckdb_disconnect(&con); }
};
struct DestroyConfig {
  void operator()(duckdb_config c) const { duckdb_destroy_config(&c); }
};
struct DestroyLogicalType {
  void operator()(duckdb_logical_type t) const { duckdb_destroy_logical_type(&t); }
};
struct DestroyChunk {
  void operator()(duckdb_data_chunk c) const { duckdb_destroy_data_chunk(&c); }
};
struct DestroyResult {
  void operator()(duckdb_result* r) const {
    duckdb_destroy_result(r);
    std::default_delete<duckdb_result>()(r);
  }
};
struct DestroyPrepared {
  void operator()(duckdb_prepared_statement p) const { duckdb_destroy_prepare(&p); }
};
struct DuckFree {
  void operator()(char* p) const { duckdb_free(p); }
};

using LogicalTypePtr = std::unique_ptr<_duckdb_logical_type, DestroyLogicalType>;
using ChunkPtr = std::unique_ptr<_duckdb_data_chunk, DestroyChunk>;
using ResultPtr = std::unique_ptr<duckdb_result, DestroyResult>;

LogicalTypePtr MakeType(ColType type) {
  switch (type) {
    case ColType::kVarchar:
      return LogicalTypePtr(duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
    case ColType::kBigint:
      return LogicalTypePtr(duckdb_create_logical_type(DUCKDB_TYPE_BIGINT));
    case ColType::kDecimal:
      return LogicalTypePtr(duckdb_create_decimal_type(kDecimalWidth, kSilverScale));
    case ColType::kTimestamp:
      // UTC-adjusted in Parquet (isAdjustedToUTC=true): Delta's `timestamp`.
      return LogicalTypePtr(duckdb_create_logical_type(DUCKDB_TYPE_TIMESTAMP_TZ));
    case ColType::kDate:
      return LogicalTypePtr(duckdb_create_logical_type(DUCKDB_TYPE_DATE));
  }
  return nullptr;
}

// A string literal for SQL: single quotes doubled.
std::string SqlQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// DuckDB expands glob characters in read_parquet paths; a lake path never
// has them, and a file named with them could not be read back.
Status CheckPath(const std::string& path) {
  if (path.empty()) return InvalidArgument("a Parquet file path is empty");
  if (path.find_first_of(std::string_view("*?[\0", 4)) != std::string::npos) {
    return InvalidArgument(fmt::format(
        "Parquet file path {:?} has a glob character (*, ? or [) or a NUL byte; lake paths "
        "never do",
        path));
  }
  return Status::OK();
}

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF):
// DuckDB's VARCHAR requires it, and the C API does not check.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t min = 0;  // smallest code point of this length: shorter is overlong
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// "YYYY-MM-DD" -> days since 1970-01-01, or nullopt if it is not a real date.
std::optional<int32_t> ParseDateDays(std::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (date[i] < '0' || date[i] > '9') return std::nullopt;
  }
  Result<TimestampMicros> midnight = ParseRfc3339(fmt::format("{}T00:00:00Z", date));
  if (!midnight.ok()) return std::nullopt;
  // The parser may normalize (Feb 30); only a date that formats back is real.
  if (FormatDate(*midnight) != date) return std::nullopt;
  return static_cast<int32_t>(*midnight / kMicrosPerDay);
}

// --- writing -----------------------------------------------------------------

// Fills one DuckDB data chunk, row by row. The first value that cannot be
// stored is remembered, and the write then fails.
class ChunkFiller {
 public:
  ChunkFiller(duckdb_data_chunk chunk, Columns cols) {
    for (idx_t c = 0; c < cols.size(); ++c) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c);
      vectors_[c] = v;
      data_[c] = duckdb_vector_get_data(v);
      if (cols[c].nullable) {
        duckdb_vector_ensure_validity_writable(v);
        validity_[c] = duckdb_vector_get_validity(v);
      }
    }
  }

  void Varchar(idx_t col, idx_t row, std::string_view s) {
    if (!IsValidUtf8(s)) return Fail(col, row, "is not valid UTF-8");
    duckdb_vector_assign_string_element_len(vectors_[col], row, s.data(), s.size());
    MarkValid(col, row);
  }
  void Int64(idx_t col, idx_t row, int64_t v) {
    static_cast<int64_t*>(data_[col])[row] = v;
    MarkValid(col, row);
  }
  void Decimal(idx_t col, idx_t row, Dec18 v) {
    if (v > kMaxUnscaled || v < -kMaxUnscaled) {
      return Fail(col, row, "does not fit DECIMAL(38,18) (more than 20 integer digits)");
    }
    // DECIMAL(38, s) is stored as a hugeint: two's complement, split in halves.
    const auto bits = static_cast<unsigned __int128>(v);
    static_cast<duckdb_hugeint*>(data_[col])[row] =
        duckdb_hugeint{static_cast<uint64_t>(bits), static_cast<int64_t>(v >> 64)};
    MarkValid(col, row);
  }
  void Timestamp(idx_t col, idx_t row, TimestampMicros t) {
    static_cast<duckdb_timestamp*>(data_[col])[row] = duckdb_timestamp{t};
    MarkValid(col, row);
  }
  void Date(idx_t col, idx_t row, int32_t days) {
    static_cast<duckdb_date*>(data_[col])[row] = duckdb_date{days};
    MarkValid(col, row);
  }
  void Null(idx_t col, idx_t row) { duckdb_validity_set_row_invalid(validity_[col], row); }
  void Fail(idx_t col, idx_t row, std::string what) {
    if (!error_) error_ = Error{col, row, std::move(what)};
  }

  struct Error {
    idx_t col;
    idx_t row;  // within the chunk
    std::string what;
  };
  const std::optional<Error>& error() const { return error_; }

 private:
  // DuckDB may hand the same output chunk again; a row of a nullable column
  // that was NULL before must be made valid again.
  void MarkValid(idx_t col, idx_t row) {
    if (validity_[col] != nullptr) duckdb_validity_set_row_valid(validity_[col], row);
  }

  duckdb_vector vectors_[kMaxColumns] = {};
  void* data_[kMaxColumns] = {};
  uint64_t* validity_[kMaxColumns] = {};
  std::optional<Error> error_;
};

void FillSilverTrade(ChunkFiller& f, idx_t r, const SilverTrade& t) {
  f.Varchar(0, r, t.product_id);
  f.Int64(1, r, t.trade_id);
  f.Decimal(2, r, t.price);
  f.Decimal(3, r, t.size);
  f.Decimal(4, r, t.quote_notional);
  f.Varchar(5, r, t.side);
  f.Varchar(6, r, t.taker_side);
  f.Timestamp(7, r, t.time);
  f.Timestamp(8, r, t.ingested_at);
  f.Varchar(9, r, t.bronze_object);
}

void FillRejected(ChunkFiller& f, idx_t r, const RejectedRecord& t) {
  f.Varchar(0, r, t.product_id);
  if (t.date.empty()) {
    f.Null(1, r);
  } else if (std::optional<int32_t> days = ParseDateDays(t.date)) {
    f.Date(1, r, *days);
  } else {
    f.Fail(1, r, fmt::format("{:?} is not a date YYYY-MM-DD", t.date));
  }
  if (t.trade_id.has_value()) {
    f.Int64(2, r, *t.trade_id);
  } else {
    f.Null(2, r);
  }
  f.Varchar(3, r, t.rule);
  f.Varchar(4, r, t.detail);
  f.Varchar(5, r, t.raw);
  f.Varchar(6, r, t.bronze_object);
  f.Timestamp(7, r, t.rejected_at);
}

void FillGoldBar(ChunkFiller& f, idx_t r, const GoldBar& b) {
  f.Varchar(0, r, b.product_id);
  f.Timestamp(1, r, b.period_start);
  f.Int64(2, r, b.trade_count);
  f.Decimal(3, r, b.avg_price);
  f.Decimal(4, r, b.total_volume);
  f.Decimal(5, r, b.quote_volume);
  f.Decimal(6, r, b.vwap);
  f.Decimal(7, r, b.open);
  f.Decimal(8, r, b.high);
  f.Decimal(9, r, b.low);
  f.Decimal(10, r, b.close);
  f.Decimal(11, r, b.buy_volume);
  f.Decimal(12, r, b.sell_volume);
  f.Int64(13, r, b.first_trade_id);
  f.Int64(14, r, b.last_trade_id);
  f.Decimal(15, r, b.price_sum);
}

void FillQuality(ChunkFiller& f, idx_t r, const QualityRow& q) {
  f.Varchar(0, r, q.product_id);
  if (std::optional<int32_t> days = ParseDateDays(q.date)) {
    f.Date(1, r, *days);
  } else {
    f.Fail(1, r, fmt::format("{:?} is not a date YYYY-MM-DD", q.date));
  }
  f.Int64(2, r, q.etl_seq);
  f.Timestamp(3, r, q.committed_at);
  f.Int64(4, r, q.records);
  f.Int64(5, r, q.inserted);
  f.Int64(6, r, q.duplicates);
  f.Int64(7, r, q.rejected);
  f.Varchar(8, r, q.rejected_by_rule);
}

void FillOhlcv(ChunkFiller& f, idx_t r, idx_t first, const std::optional<Ohlcv>& v) {
  for (idx_t i = 0; i < 5; ++i) {
    if (!v) {
      f.Null(first + i, r);
      continue;
    }
    const Dec18 values[] = {v->open, v->high, v->low, v->close, v->volume};
    f.Decimal(first + i, r, values[i]);
  }
}

void FillRecon(ChunkFiller& f, idx_t r, const ReconRow& x) {
  f.Varchar(0, r, x.product_id);
  f.Timestamp(1, r, x.minute);
  f.Varchar(2, r, x.status);
  FillOhlcv(f, r, 3, x.gold);
  if (x.gold_trade_count) {
    f.Int64(8, r, *x.gold_trade_count);
  } else {
    f.Null(8, r);
  }
  FillOhlcv(f, r, 9, x.exchange);
  if (x.candle) {
    f.Varchar(14, r, *x.candle);
  } else {
    f.Null(14, r);
  }
  f.Varchar(15, r, x.detail);
  f.Timestamp(16, r, x.reconciled_at);
}

// A name next to path that no other writer (thread or process) picks. The
// leading '.' hides a file left by a crash from Hive, Athena and Spark
// (they skip names starting with '.' or '_'), and "*.parquet" globs skip it.
std::string TempPathFor(const std::filesystem::path& path) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string name = fmt::format(".{}.tmp-{}-{:x}-{:x}", path.filename().string(), ::getpid(),
                                       std::hash<std::thread::id>()(std::this_thread::get_id()),
                                       static_cast<uint64_t>(now));
  return (path.parent_path() / name).string();
}

// Removes a file at scope exit unless released.
class FileRemover {
 public:
  explicit FileRemover(std::string path) : path_(std::move(path)) {}
  FileRemover(const FileRemover&) = delete;
  FileRemover& operator=(const FileRemover&) = delete;
  ~FileRemover() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove(path_, ec);
    }
  }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

// The rows of the Write* call in progress on a session, offered to DuckDB as
// the table function tl_rows() so that the Parquet writer pulls them chunk by
// chunk, straight from the caller's vector: no staging table, no second copy
// of the data. Each session owns one RowSource for its whole life and
// registers tl_rows() once, with the RowSource as extra_info; a call fills it
// in (RowsServed) and empties it again before returning. So the pointer
// DuckDB holds is never stale, and between calls tl_rows() fails to bind
// instead of reaching a finished call's rows. (Registering each call's rows
// under a new name would also be safe, but grows the catalog by one function
// per call, for the life of the thread.)
struct RowSource {
  Columns cols;
  const void* rows = nullptr;  // a const std::vector<Row>*; nullptr between calls
  size_t count = 0;
  // Fills rows [first, first + n) of *rows into rows [0, n) of a chunk.
  void (*fill)(const void* rows, size_t first, idx_t n, ChunkFiller& filler) = nullptr;
  // C API table functions run on one thread unless told otherwise, and a
  // call runs one COPY, so a plain cursor will do.
  size_t next = 0;
  std::optional<std::string> error = std::nullopt;  // the first value that cannot be stored
};

template <typename Row, void (*FillRow)(ChunkFiller&, idx_t, const Row&)>
void FillRows(const void* rows, size_t first, idx_t n, ChunkFiller& filler) {
  const auto& v = *static_cast<const std::vector<Row>*>(rows);
  for (idx_t r = 0; r < n; ++r) FillRow(filler, r, v[first + r]);
}

// Points a RowSource at one call's rows until destroyed, on every way out.
class RowsServed {
 public:
  template <typename Row, void (*FillRow)(ChunkFiller&, idx_t, const Row&)>
  static RowsServed Serve(RowSource& source, Columns cols, const std::vector<Row>& rows) {
    source = RowSource{
        .cols = cols, .rows = &rows, .count = rows.size(), .fill = &FillRows<Row, FillRow>};
    return RowsServed(source);
  }
  RowsServed(const RowsServed&) = delete;
  RowsServed& operator=(const RowsServed&) = delete;
  ~RowsServed() { source_ = RowSource{}; }

 private:
  explicit RowsServed(RowSource& source) : source_(source) {}
  RowSource& source_;
};

void BindRows(duckdb_bind_info info) {
  const auto* src = static_cast<const RowSource*>(duckdb_bind_get_extra_info(info));
  if (src->rows == nullptr) {
    duckdb_bind_set_error(info, "tl_rows() has rows only during a tradelake Write* call");
    return;
  }
  for (const ColumnSpec& c : src->cols) {
    LogicalTypePtr type = MakeType(c.type);
    duckdb_bind_add_result_column(info, c.name, type.get());
  }
}

void InitRows(duckdb_init_info) {}

void ProduceRows(duckdb_function_info info, duckdb_data_chunk output) {
  auto* src = static_cast<RowSource*>(duckdb_function_get_extra_info(info));
  if (src->rows == nullptr) {  // bind refused it; never reached
    duckdb_data_chunk_set_size(output, 0);
    return;
  }
  const idx_t n = std::min<idx_t>(duckdb_vector_size(), src->count - src->next);
  ChunkFiller filler(output, src->cols);
  src->fill(src->rows, src->next, n, filler);
  if (const auto& e = filler.error()) {
    src->error =
        fmt::format("row {} column {}: {}", src->next + e->row, src->cols[e->col].name, e->what);
    duckdb_function_set_error(info, src->error->c_str());
    return;
  }
  duckdb_data_chunk_set_size(output, n);
  src->next += n;
}

struct DestroyTableFunction {
  void operator()(duckdb_table_function f) const { duckdb_destroy_table_function(&f); }
};

// --- this thread's DuckDB session ----------------------------------------------

// A private in-memory database, its one connection and its tl_rows() source.
//
// Opening a database was the fixed cost of every call (~50M instructions:
// catalog, buffer pool, worker threads), so each thread keeps one session
// and reuses it. Why not one process-wide database with a connection per
// thread: a table function registered through the C API goes into the
// database's system catalog, shared by every connection, so threads would
// need a name each and a lock around registration, and one fatal error would
// invalidate the database for every thread. A session per thread keeps the
// header's contract without any shared state. The price: each thread that
// has called in keeps its database (catalog, allocator caches and DuckDB's
// idle worker threads) until it exits.
//
// Nothing carries over from one call to the next: the calls never SET
// anything (their options are in the statement: COPY ... (FORMAT ...),
// read_parquet(..., hive_partitioning = false)), create no tables, run in
// autocommit mode (a failed statement is rolled back), and a call's results
// are destroyed before it returns. Keep it so: a setting a call needs belongs
// in its statement, not in a SET.
class Session {
  struct Key {  // only Open makes sessions
    explicit Key() = default;
  };

 public:
  explicit Session(Key /*unused*/) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // This thread's session: opened on first use, and again after the last
  // one met an error that leaves a DuckDB database unusable; closed when the
  // thread exits (for the main thread, before static objects are destroyed).
  // The pointer is valid until this thread's next ForThisThread call.
  static Result<Session*> ForThisThread() {
    thread_local std::unique_ptr<Session> session;
    if (session != nullptr && session->broken_) session.reset();
    if (session == nullptr) {
      ASSIGN_OR_RETURN(session, Open());
    }
    return session.get();
  }

  // What tl_rows() serves; see RowsServed.
  RowSource& rows() { return rows_; }

  // Runs sql; on failure returns DuckDB's error type and message.
  struct Error {
    duckdb_error_type type;
    std::string message;
  };
  std::variant<ResultPtr, Error> Query(const std::string& sql) {
    ResultPtr result(std::make_unique<duckdb_result>().release());
    if (duckdb_query(con_.get(), sql.c_str(), result.get()) != DuckDBSuccess) {
      return Failed(result.get());
    }
    return result;
  }

  // Like Query, but the result streams: each duckdb_fetch_chunk runs the
  // query a little further instead of holding every row in memory first
  // (for a million trades that is ~250 MB less, and about as much time).
  // DuckDB 1.4 marks duckdb_execute_prepared_streaming deprecated without a
  // non-deprecated streaming replacement in the C API; when it goes, Query
  // is the drop-in fallback. An error met while fetching shows in
  // StreamError once the chunks run out.
  std::variant<ResultPtr, Error> Stream(const std::string& sql) {
    duckdb_prepared_statement raw = nullptr;
    const duckdb_state state = duckdb_prepare(con_.get(), sql.c_str(), &raw);
    std::unique_ptr<_duckdb_prepared_statement, DestroyPrepared> stmt(raw);
    if (state != DuckDBSuccess) {
      const char* message = stmt != nullptr ? duckdb_prepare_error(stmt.get()) : nullptr;
      return Error{DUCKDB_ERROR_INVALID_INPUT,
                   message != nullptr ? message : "DuckDB could not prepare the query"};
    }
    ResultPtr result(std::make_unique<duckdb_result>().release());
    if (duckdb_execute_prepared_streaming(stmt.get(), result.get()) != DuckDBSuccess) {
      return Failed(result.get());
    }
    return result;
  }
  std::optional<Error> StreamError(duckdb_result* result) {
    if (duckdb_result_error(result) == nullptr) return std::nullopt;
    return Failed(result);
  }

 private:
  static Result<std::unique_ptr<Session>> Open() {
    duckdb_config raw_config = nullptr;
    if (duckdb_create_config(&raw_config) != DuckDBSuccess) {
      return Internal("cannot create a DuckDB configuration (out of memory?)");
    }
    std::unique_ptr<_duckdb_config, DestroyConfig> config(raw_config);
    // Row order is part of the contract; never reach for the network.
    for (const auto& [key, value] : {std::pair{"preserve_insertion_order", "true"},
                                     std::pair{"autoinstall_known_extensions", "false"}}) {
      if (duckdb_set_config(config.get(), key, value) != DuckDBSuccess) {
        return Internal(fmt::format("DuckDB rejected setting {}={}", key, value));
      }
    }
    duckdb_database raw_db = nullptr;
    char* raw_error = nullptr;
    const duckdb_state state = duckdb_open_ext(nullptr, &raw_db, config.get(), &raw_error);
    std::unique_ptr<char, DuckFree> error(raw_error);
    auto s = std::make_unique<Session>(Key{});
    s->db_.reset(raw_db);
    if (state != DuckDBSuccess) {
      return Internal(fmt::format("cannot open an in-memory DuckDB database: {}",
                                  error != nullptr ? error.get() : "unknown error"));
    }
    duckdb_connection raw_con = nullptr;
    const duckdb_state con_state = duckdb_connect(s->db_.get(), &raw_con);
    s->con_.reset(raw_con);
    if (con_state != DuckDBSuccess) {
      return Internal("cannot connect to an in-memory DuckDB database");
    }
    std::unique_ptr<_duckdb_table_function, DestroyTableFunction> fn(
        duckdb_create_table_function());
    duckdb_table_function_set_name(fn.get(), "tl_rows");
    duckdb_table_function_set_extra_info(fn.get(), &s->rows_, nullptr);
    duckdb_table_function_set_bind(fn.get(), &BindRows);
    duckdb_table_function_set_init(fn.get(), &InitRows);
    duckdb_table_function_set_function(fn.get(), &ProduceRows);
    if (duckdb_register_table_function(s->con_.get(), fn.get()) != DuckDBSuccess) {
      return Internal("cannot register the row source tl_rows() with DuckDB");
    }
    return s;
  }

  // DuckDB invalidates a database after a fatal or internal error: every
  // later query on it fails. Other errors (a bad file, a full disk, a value
  // tl_rows() refused) leave the session as good as new.
  Error Failed(duckdb_result* result) {
    const duckdb_error_type type = duckdb_result_error_type(result);
    if (type == DUCKDB_ERROR_FATAL || type == DUCKDB_ERROR_INTERNAL) broken_ = true;
    const char* message = duckdb_result_error(result);
    return Error{type, message != nullptr ? message : "DuckDB query failed without a message"};
  }

  // Declared first, destroyed last: DuckDB holds a pointer to it until the
  // database is closed. The connection must go before its database.
  RowSource rows_;
  std::unique_ptr<_duckdb_database, CloseDatabase> db_;
  std::unique_ptr<_duckdb_connection, Disconnect> con_;
  bool broken_ = false;
};

// Streams rows through tl_rows() into DuckDB's Parquet writer, writing a
// temporary file that is then renamed over path.
template <typename Row, void (*FillRow)(ChunkFiller&, idx_t, const Row&)>
Status WriteTable(std::string_view table, Columns cols, const std::vector<Row>& rows,
                  const std::string& path) {
  RETURN_IF_ERROR(CheckPath(path));
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) {
      return IOError(fmt::format("cannot write {} to {}: cannot create folder {}: {}", table, path,
                                 target.parent_path().string(), ec.message()));
    }
  }
  ASSIGN_OR_RETURN(Session * session, Session::ForThisThread());
  const RowsServed served = RowsServed::Serve<Row, FillRow>(session->rows(), cols, rows);
  const std::string tmp = TempPathFor(target);
  FileRemover remove_tmp(tmp);
  const std::string copy = fmt::format(
      "COPY (SELECT * FROM tl_rows()) TO {} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {})",
      SqlQuote(tmp), kRowGroupSize);
  if (auto r = session->Query(copy); std::holds_alternative<Session::Error>(r)) {
    if (const std::optional<std::string>& e = session->rows().error) {
      return InvalidArgument(fmt::format("cannot write {} to {}: {}", table, path, *e));
    }
    return IOError(
        fmt::format("cannot write {} to {}: {}", table, path, std::get<Session::Error>(r).message));
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    return IOError(fmt::format("cannot write {} to {}: cannot rename {} into place: {}", table,
                               path, tmp, ec.message()));
  }
  remove_tmp.Release();
  return Status::OK();
}

// --- reading -----------------------------------------------------------------

std::string LogicalTypeName(duckdb_logical_type type) {
  const duckdb_type id = duckdb_get_type_id(type);
  switch (id) {
    case DUCKDB_TYPE_DECIMAL:
      return fmt::format("DECIMAL({},{})", duckdb_decimal_width(type), duckdb_decimal_scale(type));
    case DUCKDB_TYPE_BOOLEAN:
      return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
      return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
      return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
      return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
      return "BIGINT";
    case DUCKDB_TYPE_UBIGINT:
      return "UBIGINT";
    case DUCKDB_TYPE_HUGEINT:
      return "HUGEINT";
    case DUCKDB_TYPE_FLOAT:
      return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
      return "DOUBLE";
    case DUCKDB_TYPE_VARCHAR:
      return "VARCHAR";
    case DUCKDB_TYPE_BLOB:
      return "BLOB";
    case DUCKDB_TYPE_DATE:
      return "DATE";
    case DUCKDB_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_S:
      return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return "TIMESTAMP_NS";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return "TIMESTAMP WITH TIME ZONE";
    default:
      return fmt::format("DuckDB type #{}", static_cast<int>(id));
  }
}

bool TypeMatches(duckdb_logical_type type, ColType want) {
  const duckdb_type id = duckdb_get_type_id(type);
  switch (want) {
    case ColType::kVarchar:
      return id == DUCKDB_TYPE_VARCHAR;
    case ColType::kBigint:
      return id == DUCKDB_TYPE_BIGINT;
    case ColType::kDecimal:
      return id == DUCKDB_TYPE_DECIMAL && duckdb_decimal_width(type) == kDecimalWidth &&
             duckdb_decimal_scale(type) == kSilverScale &&
             duckdb_decimal_internal_type(type) == DUCKDB_TYPE_HUGEINT;
    case ColType::kTimestamp:
      // Files written before the Delta tables hold plain TIMESTAMP (UTC by convention).
      return id == DUCKDB_TYPE_TIMESTAMP_TZ || id == DUCKDB_TYPE_TIMESTAMP;
    case ColType::kDate:
      return id == DUCKDB_TYPE_DATE;
  }
  return false;
}

// Typed access to one result chunk, by schema column index.
class ChunkReader {
 public:
  ChunkReader(duckdb_data_chunk chunk, Columns cols, const std::vector<idx_t>& result_col)
      : cols_(cols) {
    for (idx_t c = 0; c < cols.size(); ++c) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, result_col[c]);
      data_[c] = duckdb_vector_get_data(v);
      validity_[c] = duckdb_vector_get_validity(v);  // nullptr: no NULLs
    }
  }

  bool IsNull(idx_t col, idx_t row) const {
    return validity_[col] != nullptr && !duckdb_validity_row_is_valid(validity_[col], row);
  }
  std::string Varchar(idx_t col, idx_t row) {
    if (!Present(col, row)) return {};
    auto* s = &static_cast<duckdb_string_t*>(data_[col])[row];
    return std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
  }
  int64_t Int64(idx_t col, idx_t row) {
    if (!Present(col, row)) return 0;
    return static_cast<const int64_t*>(data_[col])[row];
  }
  Dec18 Decimal(idx_t col, idx_t row) {
    if (!Present(col, row)) return 0;
    const duckdb_hugeint h = static_cast<const duckdb_hugeint*>(data_[col])[row];
    const auto bits = (static_cast<unsigned __int128>(static_cast<uint64_t>(h.upper)) << 64) |
                      static_cast<unsigned __int128>(h.lower);
    return static_cast<Dec18>(bits);
  }
  TimestampMicros Timestamp(idx_t col, idx_t row) {
    if (!Present(col, row)) return 0;
    return static_cast<const duckdb_timestamp*>(data_[col])[row].micros;
  }
  int32_t DateDays(idx_t col, idx_t row) {
    if (!Present(col, row)) return 0;
    return static_cast<const duckdb_date*>(data_[col])[row].days;
  }

  // The first NULL found in a column that does not allow one.
  std::optional<std::pair<idx_t, idx_t>> null_error() const { return null_error_; }

 private:
  bool Present(idx_t col, idx_t row) {
    if (!IsNull(col, row)) return true;
    if (!cols_[col].nullable && !null_error_) null_error_ = {col, row};
    return false;
  }

  Columns cols_;
  void* data_[kMaxColumns] = {};
  uint64_t* validity_[kMaxColumns] = {};
  std::optional<std::pair<idx_t, idx_t>> null_error_;
};

void ReadSilverTrade(ChunkReader& rd, idx_t r, SilverTrade& t) {
  t.product_id = rd.Varchar(0, r);
  t.trade_id = rd.Int64(1, r);
  t.price = rd.Decimal(2, r);
  t.size = rd.Decimal(3, r);
  t.quote_notional = rd.Decimal(4, r);
  t.side = rd.Varchar(5, r);
  t.taker_side = rd.Varchar(6, r);
  t.time = rd.Timestamp(7, r);
  t.ingested_at = rd.Timestamp(8, r);
  t.bronze_object = rd.Varchar(9, r);
}

void ReadRejectedRecord(ChunkReader& rd, idx_t r, RejectedRecord& t) {
  t.product_id = rd.Varchar(0, r);
  if (!rd.IsNull(1, r)) t.date = FormatDate(int64_t{rd.DateDays(1, r)} * kMicrosPerDay);
  if (!rd.IsNull(2, r)) t.trade_id = rd.Int64(2, r);
  t.rule = rd.Varchar(3, r);
  t.detail = rd.Varchar(4, r);
  t.raw = rd.Varchar(5, r);
  t.bronze_object = rd.Varchar(6, r);
  t.rejected_at = rd.Timestamp(7, r);
}

void ReadGoldBar(ChunkReader& rd, idx_t r, GoldBar& b) {
  b.product_id = rd.Varchar(0, r);
  b.period_start = rd.Timestamp(1, r);
  b.trade_count = rd.Int64(2, r);
  b.avg_price = rd.Decimal(3, r);
  b.total_volume = rd.Decimal(4, r);
  b.quote_volume = rd.Decimal(5, r);
  b.vwap = rd.Decimal(6, r);
  b.open = rd.Decimal(7, r);
  b.high = rd.Decimal(8, r);
  b.low = rd.Decimal(9, r);
  b.close = rd.Decimal(10, r);
  b.buy_volume = rd.Decimal(11, r);
  b.sell_volume = rd.Decimal(12, r);
  b.first_trade_id = rd.Int64(13, r);
  b.last_trade_id = rd.Int64(14, r);
  b.price_sum = rd.Decimal(15, r);
}

void ReadQuality(ChunkReader& rd, idx_t r, QualityRow& q) {
  q.product_id = rd.Varchar(0, r);
  q.date = FormatDate(int64_t{rd.DateDays(1, r)} * kMicrosPerDay);
  q.etl_seq = rd.Int64(2, r);
  q.committed_at = rd.Timestamp(3, r);
  q.records = rd.Int64(4, r);
  q.inserted = rd.Int64(5, r);
  q.duplicates = rd.Int64(6, r);
  q.rejected = rd.Int64(7, r);
  q.rejected_by_rule = rd.Varchar(8, r);
}

std::optional<Ohlcv> ReadOhlcv(ChunkReader& rd, idx_t r, idx_t first) {
  if (rd.IsNull(first, r)) return std::nullopt;
  return Ohlcv{rd.Decimal(first, r), rd.Decimal(first + 1, r), rd.Decimal(first + 2, r), rd.Decimal(first + 3, r),
               rd.Decimal(first + 4, r)};
}

void ReadRecon(ChunkReader& rd, idx_t r, ReconRow& x) {
  x.product_id = rd.Varchar(0, r);
  x.minute = rd.Timestamp(1, r);
  x.status = rd.Varchar(2, r);
  x.gold = ReadOhlcv(rd, r, 3);
  if (!rd.IsNull(8, r)) x.gold_trade_count = rd.Int64(8, r);
  x.exchange = ReadOhlcv(rd, r, 9);
  if (!rd.IsNull(14, r)) x.candle = rd.Varchar(14, r);
  x.detail = rd.Varchar(15, r);
  x.reconciled_at = rd.Timestamp(16, r);
}

constexpr int64_t kMaxReserveRows = 64 << 20;

Status ReadError(std::string_view table, const std::string& path, const Session::Error& e) {
  // Anything but a failing disk means the bytes are not the Parquet we wrote.
  if (e.type == DUCKDB_ERROR_IO && e.message.find("agic bytes") == std::string::npos &&
      e.message.find("too small") == std::string::npos) {
    return IOError(fmt::format("cannot read {} from {}: {}", table, path, e.message));
  }
  return DataLoss(
      fmt::format("{} is not a readable Parquet file of {}: {}", path, table, e.message));
}

template <typename Row>
Result<std::vector<Row>> ReadTable(std::string_view table, Columns cols, const std::string& path,
                                   void (*read)(ChunkReader&, idx_t, Row&)) {
  RETURN_IF_ERROR(CheckPath(path));
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return IOError(fmt::format("cannot read {} from {}: {}", table, path, ec.message()));
    }
    return NotFound(fmt::format("cannot read {}: no file {}", table, path));
  }
  if (!std::filesystem::is_regular_file(st)) {
    return InvalidArgument(fmt::format("cannot read {}: {} is not a regular file", table, path));
  }
  ASSIGN_OR_RETURN(Session * session, Session::ForThisThread());

  // The footer's row count sizes the vector once (capped: a corrupt footer
  // must not make us reserve terabytes). Also fails early on a non-Parquet file.
  size_t expected_rows = 0;
  std::optional<int64_t> footer_rows;
  {
    auto meta = session->Query(
        fmt::format("SELECT num_rows FROM parquet_file_metadata({})", SqlQuote(path)));
    if (auto* e = std::get_if<Session::Error>(&meta)) return ReadError(table, path, *e);
    ResultPtr& r = std::get<ResultPtr>(meta);
    ChunkPtr chunk(duckdb_fetch_chunk(*r));
    if (chunk != nullptr && duckdb_data_chunk_get_size(chunk.get()) == 1 &&
        duckdb_column_type(r.get(), 0) == DUCKDB_TYPE_BIGINT) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk.get(), 0);
      footer_rows = static_cast<const int64_t*>(duckdb_vector_get_data(v))[0];
      expected_rows = static_cast<size_t>(std::clamp<int64_t>(*footer_rows, 0, kMaxReserveRows));
    }
  }

  // The file may sit under Hive folders (product_id=X/date=D); read only what
  // the file holds, never columns made up from the folder names (DuckDB 1.4
  // would otherwise detect them even for a single file).
  auto queried = session->Stream(
      fmt::format("SELECT * FROM read_parquet({}, hive_partitioning = false)", SqlQuote(path)));
  if (auto* e = std::get_if<Session::Error>(&queried)) return ReadError(table, path, *e);
  duckdb_result* result = std::get<ResultPtr>(queried).get();

  // Columns are found by name; order and extra columns do not matter.
  std::vector<idx_t> result_col(cols.size());
  const idx_t result_columns = duckdb_column_count(result);
  for (idx_t c = 0; c < cols.size(); ++c) {
    std::optional<idx_t> found;
    for (idx_t k = 0; k < result_columns && !found; ++k) {
      const char* name = duckdb_column_name(result, k);
      if (name != nullptr && std::string_view(name) == cols[c].name) found = k;
    }
    if (!found) {
      return DataLoss(fmt::format("{} is not a {} file: it has no column {} (expected {})", path,
                                  table, cols[c].name, ColumnListSql(ToDefs(cols))));
    }
    LogicalTypePtr type(duckdb_column_logical_type(result, *found));
    if (type == nullptr || !TypeMatches(type.get(), cols[c].type)) {
      return DataLoss(fmt::format("{} is not a {} file: column {} is {}, expected {}", path, table,
                                  cols[c].name, type ? LogicalTypeName(type.get()) : "unknown",
                                  TypeSql(cols[c].type)));
    }
    result_col[c] = *found;
  }

  std::vector<Row> rows;
  rows.reserve(expected_rows);
  for (;;) {
    ChunkPtr chunk(duckdb_fetch_chunk(*result));
    if (chunk == nullptr) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk.get());
    if (n == 0) break;
    ChunkReader reader(chunk.get(), cols, result_col);
    const size_t base = rows.size();
    rows.resize(base + n);  // filled in place: no temporary row per value
    for (idx_t r = 0; r < n; ++r) read(reader, r, rows[base + r]);
    if (auto e = reader.null_error()) {
      return DataLoss(fmt::format("{}: column {} of {} is NULL in row {}", path,
                                  cols[e->first].name, table, base + e->second));
    }
  }
  // A streaming result reports errors met while reading (a corrupt page) here.
  if (std::optional<Session::Error> e = session->StreamError(result)) {
    return ReadError(table, path, *e);
  }
  // The C API also ends a stream early, without an error, if fetching throws;
  // the footer's count tells a short read from the end of the file.
  if (footer_rows.has_value() && static_cast<uint64_t>(*footer_rows) != rows.size()) {
    return DataLoss(fmt::format("{}: read {} rows of {} but its footer says {}", path, rows.size(),
                                table, *footer_rows));
  }
  return rows;
}

}  // namespace

std::vector<ColumnDef> SilverTradesSchema() { return ToDefs(kSilverTradeColumns); }
std::vector<ColumnDef> RejectedSchema() { return ToDefs(kRejectedColumns); }
std::vector<ColumnDef> GoldBarsSchema() { return ToDefs(kGoldBarColumns); }
std::vector<ColumnDef> QualitySchema() { return ToDefs(kQualityColumns); }
std::vector<ColumnDef> ReconSchema() { return ToDefs(kReconColumns); }

std::vector<ColumnDef> SchemaOf(std::string_view table) {
  if (table == kSilverTrades) return SilverTradesSchema();
  if (table == kSilverRejected) return RejectedSchema();
  if (table == kAuditQuality) return QualitySchema();
  if (table == kAuditReconciliation) return ReconSchema();
  return GoldBarsSchema();
}

DeltaMetadata DeltaMetadataFor(std::string_view table, int64_t created_time_ms) {
  DeltaMetadata m;
  // A fixed id per table: tables are identified by their place in the lake,
  // and a rebuilt table keeps its id (engines cache by id).
  const size_t h = std::hash<std::string_view>()(table);
  m.id = fmt::format("7a6c0000-{:04x}-4000-8000-{:012x}", h & 0xffff, (h >> 16) & 0xffffffffffffULL);
  m.name = std::string(table);
  m.partition_columns = PartitionColumns(table);
  m.created_time = created_time_ms;
  nlohmann::json fields = nlohmann::json::array();
  auto delta_type = [](const std::string& duck) -> std::string {
    if (duck == "VARCHAR") return "string";
    if (duck == "BIGINT") return "long";
    if (duck == "TIMESTAMP") return "timestamp";
    if (duck == "DATE") return "date";
    return fmt::format("decimal({},{})", kDecimalWidth, kSilverScale);
  };
  std::vector<ColumnDef> schema = SchemaOf(table);
  // Partition columns that the files do not hold (date) are table columns too.
  for (const std::string& p : m.partition_columns) {
    bool present = false;
    for (const auto& c : schema) present |= c.name == p;
    if (!present) schema.push_back({p, p == "date" ? "DATE" : "VARCHAR", false});
  }
  for (const ColumnDef& c : schema) {
    fields.push_back({{"name", c.name}, {"type", delta_type(c.type)}, {"nullable", c.nullable},
                      {"metadata", nlohmann::json::object()}});
  }
  m.schema_string = nlohmann::json{{"type", "struct"}, {"fields", fields}}.dump();
  return m;
}

std::string ColumnListSql(const std::vector<ColumnDef>& schema) {
  std::string out;
  for (const ColumnDef& c : schema) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}{}", c.name, c.type, c.nullable ? "" : " NOT NULL");
  }
  return out;
}

Status WriteSilverTrades(const std::vector<SilverTrade>& rows, const std::string& path) {
  return WriteTable<SilverTrade, &FillSilverTrade>("silver.trades", kSilverTradeColumns, rows,
                                                   path);
}
Status WriteRejected(const std::vector<RejectedRecord>& rows, const std::string& path) {
  return WriteTable<RejectedRecord, &FillRejected>("silver.trades_rejected", kRejectedColumns, rows,
                                                   path);
}
Status WriteGoldBars(const std::vector<GoldBar>& rows, const std::string& path) {
  return WriteTable<GoldBar, &FillGoldBar>("gold bars", kGoldBarColumns, rows, path);
}

Result<std::vector<SilverTrade>> ReadSilverTrades(const std::string& path) {
  return ReadTable<SilverTrade>("silver.trades", kSilverTradeColumns, path, &ReadSilverTrade);
}
Result<std::vector<RejectedRecord>> ReadRejected(const std::string& path) {
  return ReadTable<RejectedRecord>("silver.trades_rejected", kRejectedColumns, path,
                                   &ReadRejectedRecord);
}
Status WriteQualityRows(const std::vector<QualityRow>& rows, const std::string& path) {
  return WriteTable<QualityRow, &FillQuality>("audit.data_quality", kQualityColumns, rows, path);
}
Result<std::vector<QualityRow>> ReadQualityRows(const std::string& path) {
  return ReadTable<QualityRow>("audit.data_quality", kQualityColumns, path, &ReadQuality);
}

Status WriteReconRows(const std::vector<ReconRow>& rows, const std::string& path) {
  return WriteTable<ReconRow, &FillRecon>("audit.candle_reconciliation", kReconColumns, rows, path);
}
Result<std::vector<ReconRow>> ReadReconRows(const std::string& path) {
  return ReadTable<ReconRow>("audit.candle_reconciliation", kReconColumns, path, &ReadRecon);
}

Result<std::vector<GoldBar>> ReadGoldBars(const std::string& path) {
  return ReadTable<GoldBar>("gold bars", kGoldBarColumns, path, &ReadGoldBar);
}

}  // namespace tradelake
