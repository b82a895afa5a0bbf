#include "sql/render.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "core/text.h"

namespace tradelake {
namespace {

bool IsNumeric(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
      return true;
    default:
      return false;
  }
}

bool IsJsonNumber(duckdb_type t) { return IsNumeric(t) && t != DUCKDB_TYPE_DECIMAL; }

// Display width of UTF-8 text: one column per code point (good enough for
// the Latin, symbol and digit text a trade table holds).
size_t Width(std::string_view s) {
  size_t w = 0;
  for (unsigned char ch : s) {
    if ((ch & 0xC0) != 0x80) ++w;
  }
  return w;
}

// Cuts s to at most `width` columns, ending in "…" when cut; control
// characters are shown as spaces so a value cannot break the layout.
std::string Fit(std::string_view s, size_t width) {
  std::string out;
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(s[i]);
    if ((ch & 0xC0) != 0x80) {
      if (w + 1 > width - 1 && Width(s.substr(i)) + w > width) {
        out += "…";
        return out;
      }
      ++w;
    }
    out += ch < 0x20 ? ' ' : static_cast<char>(ch);
  }
  return out;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  const size_t w = Width(s);
  if (w >= width) return s;
  const std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  if (name == "parquet") return OutputFormat::kParquet;
  return InvalidArgument(fmt::format("unknown output format {}: use table, csv, json or parquet",
                                     QuoteForMessage(name)));
}

std::string RenderTable(const QueryResult& result, uint64_t max_rows, size_t max_width) {
  const uint64_t cols = result.column_count();
  if (cols == 0) return "(no columns)\n";
  const uint64_t shown = max_rows == 0 ? result.row_count() : std::min(result.row_count(), max_rows);
  std::vector<std::vector<std::string>> cells(shown, std::vector<std::string>(cols));
  std::vector<size_t> width(cols);
  std::vector<bool> right(cols);
  std::vector<std::string> header(cols), types(cols);
  for (uint64_t c = 0; c < cols; ++c) {
    header[c] = Fit(result.column_name(c), max_width);
    types[c] = Fit(result.column_type_name(c), max_width);
    right[c] = IsNumeric(result.column_type(c));
    width[c] = std::max(Width(header[c]), Width(types[c]));
  }
  for (uint64_t r = 0; r < shown; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      cells[r][c] = Fit(result.GetStringOr(r, c, "NULL"), max_width);
      width[c] = std::max(width[c], Width(cells[r][c]));
    }
  }
  auto rule = [&](const char* left, const char* mid, const char* rightc) {
    std::string line = left;
    for (uint64_t c = 0; c < cols; ++c) {
      for (size_t i = 0; i < width[c] + 2; ++i) line += "─";
      line += c + 1 == cols ? rightc : mid;
    }
    return line + "\n";
  };
  auto row = [&](const std::vector<std::string>& values, bool align) {
    std::string line = "│";
    for (uint64_t c = 0; c < cols; ++c) line += " " + Pad(values[c], width[c], align && right[c]) + " │";
    return line + "\n";
  };
  std::string out = rule("┌", "┬", "┐");
  out += row(header, false);
  out += row(types, false);
  out += rule("├", "┼", "┤");
  for (const auto& values : cells) out += row(values, true);
  out += rule("└", "┴", "┘");
  if (shown < result.row_count()) out += fmt::format("({} more rows)\n", result.row_count() - shown);
  return out;
}

std::string RenderCsv(const QueryResult& result) {
  std::string out;
  auto field = [&out](std::string_view v) {
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
      out += v;
      return;
    }
    out += '"';
    for (char ch : v) {
      if (ch == '"') out += '"';
      out += ch;
    }
    out += '"';
  };
  for (uint64_t c = 0; c < result.column_count(); ++c) {
    if (c) out += ',';
    field(result.column_name(c));
  }
  out += "\r\n";
  for (uint64_t r = 0; r < result.row_count(); ++r) {
    for (uint64_t c = 0; c < result.column_count(); ++c) {
      if (c) out += ',';
      if (auto v = result.GetString(r, c)) field(*v);
    }
    out += "\r\n";
  }
  return out;
}

void AppendJsonValue(std::string* out, const QueryResult& result, uint64_t row, uint64_t col) {
  const auto v = result.GetString(row, col);
  const duckdb_type t = result.column_type(col);
  if (!v) {
    *out += "null";
  } else if (t == DUCKDB_TYPE_BOOLEAN) {
    *out += *v == "true" ? "true" : "false";
  } else if (IsJsonNumber(t) && !v->empty() && std::all_of(v->begin(), v->end(), [](char ch) {
               return std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == 'e' ||
                      ch == 'E' || ch == '+';
             })) {
    *out += *v;  // inf/nan fall through to strings below
  } else {
    AppendJsonString(out, *v);
  }
}

std::string RenderJson(const QueryResult& result) {
  std::string out = "[";
  for (uint64_t r = 0; r < result.row_count(); ++r) {
    out += r ? ",\n  {" : "\n  {";
    for (uint64_t c = 0; c < result.column_count(); ++c) {
      if (c) out += ", ";
      AppendJsonString(&out, result.column_name(c));
      out += ": ";
      AppendJsonValue(&out, result, r, c);
    }
    out += "}";
  }
  out += result.row_count() ? "\n]\n" : "]\n";
  return out;
}

Status WriteResultParquet(const QueryResult& result, const std::string& path) {
  // A private, unsandboxed in-memory database that holds only the result:
  // the typed table is rebuilt from DuckDB's text of each value (exact for
  // every scalar type) and written with COPY.
  ASSIGN_OR_RETURN(auto db, Database::Open(":memory:", {{"threads", "1"}}));
  ASSIGN_OR_RETURN(Connection con, db->Connect());
  std::string columns, casts;
  for (uint64_t c = 0; c < result.column_count(); ++c) {
    const duckdb_type t = result.column_type(c);
    if (t == DUCKDB_TYPE_LIST || t == DUCKDB_TYPE_STRUCT || t == DUCKDB_TYPE_MAP || t == DUCKDB_TYPE_ARRAY ||
        t == DUCKDB_TYPE_UNION) {
      return InvalidArgument(fmt::format("column {} is {}: Parquet output supports scalar columns only; "
                                         "cast it to VARCHAR in the query",
                                         QuoteForMessage(result.column_name(c)), result.column_type_name(c)));
    }
    std::string name = "\"";
    for (char ch : result.column_name(c)) name += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    name += "\"";
    if (c) columns += ", ", casts += ", ";
    columns += fmt::format("{} VARCHAR", name);
    casts += fmt::format("CAST({} AS {}) AS {}", name, result.column_type_name(c), name);
  }
  if (result.column_count() == 0) return InvalidArgument("the statement returned no columns to write");
  RETURN_IF_ERROR(con.Query(fmt::format("CREATE TABLE raw ({})", columns)).status());
  std::string placeholders;
  for (uint64_t c = 0; c < result.column_count(); ++c) placeholders += c ? ", ?" : "?";
  ASSIGN_OR_RETURN(PreparedStatement insert, con.Prepare(fmt::format("INSERT INTO raw VALUES ({})", placeholders)));
  RETURN_IF_ERROR(con.Query("BEGIN").status());
  for (uint64_t r = 0; r < result.row_count(); ++r) {
    for (uint64_t c = 0; c < result.column_count(); ++c) {
      auto v = result.GetString(r, c);
      RETURN_IF_ERROR(v ? insert.BindString(c + 1, *v) : insert.BindNull(c + 1));
    }
    RETURN_IF_ERROR(insert.Execute().status());
  }
  RETURN_IF_ERROR(con.Query("COMMIT").status());
  std::string quoted = "'";
  for (char ch : path) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
  quoted += "'";
  return con.Query(fmt::format("COPY (SELECT {} FROM raw) TO {} (FORMAT parquet, COMPRESSION zstd)", casts, quoted))
      .status()
      .WithContext(fmt::format("writing {}", path));
}

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (std::fabs(v) >= 1024 && u < 5) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

Result<int64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number(text.substr(0, i));
  std::string unit;
  for (char ch : text.substr(i)) {
    if (ch != ' ') unit += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  char* end = nullptr;
  const double value = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  struct Unit {
    const char* name;
    double factor;
  };
  static const Unit kUnits[] = {{"", 1},          {"B", 1},        {"KB", 1e3},          {"MB", 1e6},
                                {"GB", 1e9},      {"TB", 1e12},    {"KIB", 1024.0},      {"MIB", 1048576.0},
                                {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
  if (value >= 0 && end != nullptr && *end == '\0') {
    for (const auto& u : kUnits) {
      if (unit == u.name) {
        const double bytes = value * u.factor;
        if (bytes < 9e18) return static_cast<int64_t>(std::llround(bytes));
      }
    }
  }
  return InvalidArgument(fmt::format("{} is not a size: use e.g. 500MB, 10GB, 1TiB or a number of bytes",
                                     QuoteForMessage(text)));
}

std::string ScanSummary(const ScanStats& scan) {
  return fmt::format("{} row{} in {:.3f} s · read {} of {} files, {} of {} ({} skipped) · Athena: ${:.6f}{}",
                     scan.rows, scan.rows == 1 ? "" : "s", scan.elapsed_seconds, scan.files_read, scan.files_total,
                     HumanBytes(scan.bytes_read), HumanBytes(scan.bytes_total), scan.files_skipped(),
                     AthenaCostUsd(scan.bytes_read), scan.bytes_read < (int64_t{10} << 20) ? " (10 MB minimum)" : "");
}

}  // namespace tradelake
