// SQL text helpers for the shell and LakeSql: splitting a script into
// statements and telling whether a line-by-line input is complete.
//
// The scanner knows DuckDB's lexical rules that can hide a ';': string
// literals ('it''s', E'..'), quoted identifiers ("a;b"), dollar-quoted
// strings ($$..$$, $tag$..$tag$), line comments (-- ...) and block comments
// (/* ... */, nested). Everything else is passed through untouched; DuckDB
// itself parses each piece.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tradelake {

// The statements of `script`, without their ';' and surrounding blanks;
// empty statements (";;", comments only) are dropped.
std::vector<std::string> SplitSqlStatements(std::string_view script);

// True if `text` ends, outside any literal or comment, with a ';' followed
// only by blanks and comments: what the shell waits for before running.
bool EndsStatement(std::string_view text);

// `s` without the blanks and comments (-- ..., /* ... */) it starts with.
std::string_view SkipLeadingComments(std::string_view s);

// `s` without leading and trailing whitespace.
std::string_view TrimSql(std::string_view s);

}  // namespace tradelake
