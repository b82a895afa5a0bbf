#include "sql/sql_text.h"

#include <algorithm>
#include <cctype>

namespace tradelake {
namespace {

// Walks `text`, calling on_semicolon(pos) for every ';' outside literals and
// comments. Returns false if the text ends inside a literal or comment.
template <typename F>
bool Scan(std::string_view text, F on_semicolon, bool* only_blank_after_last = nullptr) {
  size_t i = 0;
  const size_t n = text.size();
  bool blank_since_semicolon = false;
  bool seen_semicolon = false;
  while (i < n) {
    const char ch = text[i];
    if (ch == '\'' || ch == '"') {
      blank_since_semicolon = false;
      const char quote = ch;
      // Backslash escapes exist only in E'...' strings (E not ending a word).
      const auto ident = [&](size_t k) {
        return std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '_' || text[k] == '$';
      };
      const bool escapes = quote == '\'' && i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e') &&
                           (i < 2 || !ident(i - 2));
      ++i;
      for (;;) {
        if (i >= n) return false;
        if (text[i] == quote) {
          if (i + 1 < n && text[i + 1] == quote) {
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (escapes && text[i] == '\\' && i + 1 < n) {
          i += 2;
          continue;
        }
        ++i;
      }
      continue;
    }
    if (ch == '-' && i + 1 < n && text[i + 1] == '-') {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (ch == '/' && i + 1 < n && text[i + 1] == '*') {
      int depth = 1;
      i += 2;
      while (depth > 0) {
        if (i + 1 >= n) return false;
        if (text[i] == '/' && text[i + 1] == '*') ++depth, i += 2;
        else if (text[i] == '*' && text[i + 1] == '/') --depth, i += 2;
        else ++i;
      }
      continue;
    }
    // $ inside a word (a$b) is part of an identifier, not a quote.
    if (ch == '$' && (i == 0 || !(std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '_' ||
                                  text[i - 1] == '$'))) {
      // $tag$ ... $tag$ (tag: letters, digits, underscore; may be empty)
      size_t j = i + 1;
      while (j < n && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
      if (j < n && text[j] == '$' && (j == i + 1 || !std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
        const std::string_view tag = text.substr(i, j + 1 - i);
        const size_t end = text.find(tag, j + 1);
        if (end == std::string_view::npos) return false;
        blank_since_semicolon = false;
        i = end + tag.size();
        continue;
      }
    }
    if (ch == ';') {
      on_semicolon(i);
      seen_semicolon = true;
      blank_since_semicolon = true;
      ++i;
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(ch))) blank_since_semicolon = false;
    ++i;
  }
  if (only_blank_after_last != nullptr) *only_blank_after_last = seen_semicolon && blank_since_semicolon;
  return true;
}

bool OnlyCommentsOrBlank(std::string_view s) {
  bool any = false;
  std::string_view rest = s;
  while (!rest.empty()) {
    rest = TrimSql(rest);
    if (rest.starts_with("--")) {
      const size_t nl = rest.find('\n');
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl);
    } else if (rest.starts_with("/*")) {
      const size_t end = rest.find("*/");
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    } else if (!rest.empty()) {
      any = true;
      break;
    }
  }
  return !any;
}

}  // namespace

std::string_view SkipLeadingComments(std::string_view s) {
  for (;;) {
    s = TrimSql(s);
    if (s.starts_with("--")) {
      const size_t nl = s.find('\n');
      s = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
    } else if (s.starts_with("/*")) {
      int depth = 0;
      size_t i = 0;
      do {
        if (s.substr(i, 2) == "/*") ++depth, i += 2;
        else if (s.substr(i, 2) == "*/") --depth, i += 2;
        else ++i;
      } while (depth > 0 && i < s.size());
      s = s.substr(std::min(i, s.size()));
    } else {
      return s;
    }
  }
}

std::string_view TrimSql(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> SplitSqlStatements(std::string_view script) {
  std::vector<std::string> out;
  size_t start = 0;
  auto add = [&](size_t end) {
    std::string_view piece = script.substr(start, end - start);
    if (!OnlyCommentsOrBlank(piece)) out.emplace_back(TrimSql(piece));
  };
  Scan(script, [&](size_t pos) {
    add(pos);
    start = pos + 1;
  });
  // An unterminated literal or comment stays in the last piece: DuckDB reports it.
  add(script.size());
  return out;
}

bool EndsStatement(std::string_view text) {
  bool ended = false;
  const bool closed = Scan(text, [](size_t) {}, &ended);
  return closed && ended;
}

}  // namespace tradelake
