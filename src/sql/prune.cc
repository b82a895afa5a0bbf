#include "sql/prune.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "core/time.h"

namespace tradelake {
namespace {

// Splits `text` at every top-level occurrence of `sep` (outside quotes and
// parentheses).
std::vector<std::string_view> SplitTopLevel(std::string_view text, std::string_view sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '\'') quoted = false;  // '' re-enters on the next quote
      continue;
    }
    if (ch == '\'') quoted = true;
    else if (ch == '(') ++depth;
    else if (ch == ')') --depth;
    else if (depth == 0 && text.substr(i, sep.size()) == sep) {
      parts.push_back(text.substr(start, i - start));
      i += sep.size() - 1;
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// True if s is "( ... )" with the outer parentheses matching each other.
bool WrappedInParens(std::string_view s) {
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') return false;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (quoted) {
      if (ch == '\'') quoted = false;
      continue;
    }
    if (ch == '\'') quoted = true;
    else if (ch == '(') ++depth;
    else if (ch == ')' && --depth == 0 && i + 1 != s.size()) return false;
  }
  return true;
}

std::string_view StripParens(std::string_view s) {
  s = Trim(s);
  while (WrappedInParens(s)) s = Trim(s.substr(1, s.size() - 2));
  return s;
}

// Reads a SQL string literal at the start of s: 'it''s' -> it's, with an
// optional ::TYPE cast after it, which is returned in *cast.
std::optional<std::string> ParseLiteral(std::string_view s, std::string* cast) {
  s = Trim(s);
  if (s.empty() || s.front() != '\'') return std::nullopt;
  std::string value;
  size_t i = 1;
  for (;; ++i) {
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '\'') {
      if (i + 1 < s.size() && s[i + 1] == '\'') {
        value.push_back('\'');
        ++i;
        continue;
      }
      break;
    }
    value.push_back(s[i]);
  }
  std::string_view rest = Trim(s.substr(i + 1));
  cast->clear();
  if (rest.starts_with("::")) {
    cast->assign(rest.substr(2));
  } else if (!rest.empty()) {
    return std::nullopt;
  }
  return value;
}

enum class Op { kEq, kLt, kLe, kGt, kGe };

// "col op literal" -> parts; nullopt if the predicate has another shape.
struct Comparison {
  std::string column;
  Op op;
  std::string literal;
  std::string cast;
};

std::optional<Comparison> ParseComparison(std::string_view pred) {
  size_t i = 0;
  while (i < pred.size() && (std::isalnum(static_cast<unsigned char>(pred[i])) || pred[i] == '_')) ++i;
  if (i == 0) return std::nullopt;
  Comparison c;
  c.column.assign(pred.substr(0, i));
  std::string_view rest = Trim(pred.substr(i));
  if (rest.starts_with(">=")) c.op = Op::kGe, rest.remove_prefix(2);
  else if (rest.starts_with("<=")) c.op = Op::kLe, rest.remove_prefix(2);
  else if (rest.starts_with("<>") || rest.starts_with("!=")) return std::nullopt;
  else if (rest.starts_with("=")) c.op = Op::kEq, rest.remove_prefix(1);
  else if (rest.starts_with(">")) c.op = Op::kGt, rest.remove_prefix(1);
  else if (rest.starts_with("<")) c.op = Op::kLt, rest.remove_prefix(1);
  else return std::nullopt;
  auto literal = ParseLiteral(rest, &c.cast);
  if (!literal) return std::nullopt;
  c.literal = std::move(*literal);
  return c;
}

bool IsProductColumn(std::string_view col) { return col == "product_id" || col == "product"; }
bool IsTimeColumn(std::string_view col) { return col == "trade_time" || col == "period_start"; }

// product_id = 'X' OR product_id IN ('Y', 'Z') OR ... -> {X, Y, Z}; nullopt
// if any disjunct is something else.
std::optional<std::set<std::string>> ParseProductSet(std::string_view pred) {
  std::set<std::string> products;
  for (std::string_view part : SplitTopLevel(pred, " OR ")) {
    part = StripParens(part);
    if (auto cmp = ParseComparison(part)) {
      if (!IsProductColumn(cmp->column) || cmp->op != Op::kEq) return std::nullopt;
      products.insert(cmp->literal);
      continue;
    }
    // col IN ('a', 'b')
    const size_t in = part.find(" IN ");
    if (in == std::string_view::npos || !IsProductColumn(Trim(part.substr(0, in)))) return std::nullopt;
    std::string_view list = StripParens(part.substr(in + 4));
    for (std::string_view item : SplitTopLevel(list, ",")) {
      std::string cast;
      auto literal = ParseLiteral(item, &cast);
      if (!literal) return std::nullopt;
      products.insert(*literal);
    }
  }
  return products;
}

void NarrowDays(ScanConstraints* c, Op op, int64_t day, bool exclusive_at_midnight) {
  switch (op) {
    case Op::kEq:
      c->min_day = std::max(c->min_day, day);
      c->max_day = std::min(c->max_day, day);
      break;
    case Op::kGt:
    case Op::kGe:
      c->min_day = std::max(c->min_day, day);
      break;
    case Op::kLt:
      // time < midnight of day d: nothing of day d qualifies.
      c->max_day = std::min(c->max_day, exclusive_at_midnight ? day - 1 : day);
      break;
    case Op::kLe:
      c->max_day = std::min(c->max_day, day);
      break;
  }
}

void AddPredicate(std::string_view pred, ScanConstraints* c) {
  pred = StripParens(pred);
  // DuckDB marks filters it may skip as "optional: ..."; they still hold for
  // every row the query returns, so they prune the same.
  if (pred.starts_with("optional:")) pred = StripParens(pred.substr(9));
  if (pred.empty()) return;
  if (auto cmp = ParseComparison(pred)) {
    if (IsProductColumn(cmp->column) && cmp->op == Op::kEq) {
      std::set<std::string> only{cmp->literal};
      if (c->products) {
        std::set<std::string> both;
        for (const auto& p : *c->products) {
          if (only.count(p)) both.insert(p);
        }
        c->products = std::move(both);
      } else {
        c->products = std::move(only);
      }
      return;
    }
    if (cmp->column == "date" && (cmp->cast.empty() || cmp->cast == "DATE")) {
      // DATE compared with a DATE literal: exact.
      if (cmp->op == Op::kGt || cmp->op == Op::kLt) {
        if (auto day = ParseDay(cmp->literal)) {
          if (cmp->op == Op::kGt) c->min_day = std::max(c->min_day, *day + 1);
          else c->max_day = std::min(c->max_day, *day - 1);
        }
        return;
      }
      if (auto day = ParseDay(cmp->literal)) NarrowDays(c, cmp->op, *day, false);
      return;
    }
    if (IsTimeColumn(cmp->column) && cmp->cast == "TIMESTAMP" && cmp->literal.size() >= 10) {
      auto day = ParseDay(std::string_view(cmp->literal).substr(0, 10));
      if (!day) return;
      std::string_view clock = std::string_view(cmp->literal).substr(10);
      const bool midnight = clock.empty() || clock == " 00:00:00" ||
                            (clock.starts_with(" 00:00:00.") && clock.find_first_not_of('0', 10) == std::string_view::npos);
      NarrowDays(c, cmp->op, *day, midnight);
      return;
    }
    return;
  }
  if (auto products = ParseProductSet(pred)) {
    if (c->products) {
      std::set<std::string> both;
      for (const auto& p : *c->products) {
        if (products->count(p)) both.insert(p);
      }
      c->products = std::move(both);
    } else {
      c->products = std::move(*products);
    }
  }
}

// Splits "(a)(b)(c)" into a, b, c; anything else is one predicate.
std::vector<std::string_view> SplitGroups(std::string_view text) {
  std::vector<std::string_view> groups;
  text = Trim(text);
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '\'') quoted = false;
      continue;
    }
    if (ch == '\'') {
      quoted = true;
    } else if (ch == '(') {
      if (depth++ == 0 && i != start) return {text};  // not a run of groups
    } else if (ch == ')') {
      if (--depth == 0) {
        groups.push_back(text.substr(start, i + 1 - start));
        start = i + 1;
      }
    } else if (depth == 0 && ch != ' ') {
      return {text};
    }
  }
  if (groups.empty()) groups.push_back(text);
  return groups;
}

std::string FormatDay(int64_t day) { return FormatDate(day * 86'400'000'000LL); }

void CollectScans(simdjson::dom::element node, std::vector<PlannedScan>* scans) {
  simdjson::dom::object obj;
  if (node.get_object().get(obj) == simdjson::SUCCESS) {
    simdjson::dom::object extra;
    if (obj["extra_info"].get_object().get(extra) == simdjson::SUCCESS) {
      std::string_view function, table;
      const bool is_function = extra["Function"].get_string().get(function) == simdjson::SUCCESS;
      const bool is_table = extra["Table"].get_string().get(table) == simdjson::SUCCESS;
      if (is_function || is_table) {
        PlannedScan scan;
        if (is_function) scan.function.assign(function);
        if (is_table) scan.table.assign(table);
        for (const char* field : {"Filters", "File Filters"}) {
          simdjson::dom::element value;
          if (extra[field].get(value) != simdjson::SUCCESS) continue;
          std::string_view text;
          simdjson::dom::array lines;
          if (value.get_string().get(text) == simdjson::SUCCESS) {
            AddFilterText(text, &scan.constraints);
          } else if (value.get_array().get(lines) == simdjson::SUCCESS) {
            for (simdjson::dom::element line : lines) {
              if (line.get_string().get(text) == simdjson::SUCCESS) AddFilterText(text, &scan.constraints);
            }
          }
        }
        scans->push_back(std::move(scan));
      }
    }
    simdjson::dom::array children;
    if (obj["children"].get_array().get(children) == simdjson::SUCCESS) {
      for (simdjson::dom::element child : children) CollectScans(child, scans);
    }
    return;
  }
  simdjson::dom::array arr;
  if (node.get_array().get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : arr) CollectScans(child, scans);
  }
}

}  // namespace

std::optional<int64_t> ParseDay(std::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
  auto t = ParseRfc3339(fmt::format("{}T00:00:00Z", date));
  if (!t.ok()) return std::nullopt;
  return DayNumber(*t);
}

bool ScanConstraints::Matches(std::string_view product, int64_t first_day, int64_t last_day) const {
  if (last_day < min_day || first_day > max_day) return false;
  return !products || products->count(std::string(product)) > 0;
}

bool ScanConstraints::Unconstrained() const {
  return !products && min_day == std::numeric_limits<int64_t>::min() &&
         max_day == std::numeric_limits<int64_t>::max();
}

std::string ScanConstraints::ToString() const {
  std::string out = "products ";
  if (!products) {
    out += "any";
  } else {
    out += "{";
    bool first = true;
    for (const auto& p : *products) {
      if (!first) out += ", ";
      out += p;
      first = false;
    }
    out += "}";
  }
  out += ", days ";
  out += min_day == std::numeric_limits<int64_t>::min() ? std::string("..") : FormatDay(min_day) + "..";
  if (max_day != std::numeric_limits<int64_t>::max()) out += FormatDay(max_day);
  return out;
}

void AddFilterText(std::string_view text, ScanConstraints* c) {
  for (std::string_view group : SplitGroups(text)) {
    for (std::string_view pred : SplitTopLevel(StripParens(group), " AND ")) AddPredicate(pred, c);
  }
}

Result<std::vector<PlannedScan>> ScansOfPlan(std::string_view plan_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(plan_json.data(), plan_json.size()).get(root) != simdjson::SUCCESS) {
    return InvalidArgument("the query plan is not valid JSON");
  }
  std::vector<PlannedScan> scans;
  CollectScans(root, &scans);
  return scans;
}

}  // namespace tradelake
