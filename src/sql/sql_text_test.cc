#include "sql/sql_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tradelake {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Statements = std::vector<std::string>;

// ------------------------------------------------------- SplitSqlStatements

TEST(SplitSqlStatements, SplitsOnSemicolonsAndTrims) {
  EXPECT_THAT(SplitSqlStatements("SELECT 1; SELECT 2;"), ElementsAre("SELECT 1", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("  SELECT 1\n"), ElementsAre("SELECT 1"));
  EXPECT_THAT(SplitSqlStatements("\tSELECT 1 ;\n\n  SELECT\n  2\n;\n"), ElementsAre("SELECT 1", "SELECT\n  2"));
}

TEST(SplitSqlStatements, SemicolonInsideSingleQuotesIsText) {
  EXPECT_THAT(SplitSqlStatements("SELECT 'a;b'; SELECT 2"), ElementsAre("SELECT 'a;b'", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT 'it''s; fine' AS x; SELECT 2"),
              ElementsAre("SELECT 'it''s; fine' AS x", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT ''';'''; SELECT 2"), ElementsAre("SELECT ''';'''", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT '--;' , '/*;'; SELECT 2"), ElementsAre("SELECT '--;' , '/*;'", "SELECT 2"));
}

TEST(SplitSqlStatements, SemicolonInsideQuotedIdentifiersIsText) {
  EXPECT_THAT(SplitSqlStatements("SELECT 1 AS \"a;b\"; SELECT 2"), ElementsAre("SELECT 1 AS \"a;b\"", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1 AS \"x\"\";y\"; SELECT 2"),
              ElementsAre("SELECT 1 AS \"x\"\";y\"", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1 AS \"it's;\"; SELECT 2"), ElementsAre("SELECT 1 AS \"it's;\"", "SELECT 2"));
}

TEST(SplitSqlStatements, EscapeStringsMayEscapeAQuoteWithABackslash) {
  EXPECT_THAT(SplitSqlStatements("SELECT E'a\\';b'; SELECT 2"), ElementsAre("SELECT E'a\\';b'", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT e'\\\\'; SELECT 2"), ElementsAre("SELECT e'\\\\'", "SELECT 2"));
}

// In DuckDB (like PostgreSQL with standard_conforming_strings) a backslash in
// an ordinary '...' literal is an ordinary character: 'C:\' is complete, and
// `tradelake sql "SELECT 'C:\'"` prints C:\.
TEST(SplitSqlStatements, BackslashInAnOrdinaryLiteralIsAnOrdinaryCharacter) {
  EXPECT_THAT(SplitSqlStatements("SELECT 'C:\\'; SELECT 2"), ElementsAre("SELECT 'C:\\'", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT 'a\\' AS x, 'b;' AS y; SELECT 2"),
              ElementsAre("SELECT 'a\\' AS x, 'b;' AS y", "SELECT 2"));
}

TEST(SplitSqlStatements, SemicolonInsideDollarQuotesIsText) {
  EXPECT_THAT(SplitSqlStatements("SELECT $$a;b$$; SELECT 2"), ElementsAre("SELECT $$a;b$$", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT $tag$ a; $$ ; ' $tag$; SELECT 2"),
              ElementsAre("SELECT $tag$ a; $$ ; ' $tag$", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT $t_1$;$t_2$;$t_1$ AS x; SELECT 2"),
              ElementsAre("SELECT $t_1$;$t_2$;$t_1$ AS x", "SELECT 2"));
  // "$1" is a parameter, not a quote.
  EXPECT_THAT(SplitSqlStatements("SELECT $1; SELECT $2"), ElementsAre("SELECT $1", "SELECT $2"));
}

// '$' may continue an identifier (DuckDB's lexer, like PostgreSQL's); it only
// opens a dollar quote where an identifier cannot continue.
TEST(SplitSqlStatements, DollarInsideAnIdentifierIsNotAQuote) {
  EXPECT_THAT(SplitSqlStatements("SELECT 1 AS a$b$c; SELECT 2"), ElementsAre("SELECT 1 AS a$b$c", "SELECT 2"));
}

TEST(SplitSqlStatements, SemicolonInsideCommentsIsText) {
  EXPECT_THAT(SplitSqlStatements("SELECT 1 -- a;b\n; SELECT 2"), ElementsAre("SELECT 1 -- a;b", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT /* a; */ 1; SELECT 2"), ElementsAre("SELECT /* a; */ 1", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT /* a /* b; */ c; */ 1; SELECT 2"),
              ElementsAre("SELECT /* a /* b; */ c; */ 1", "SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1 /* it's; \"x */; SELECT 2"),
              ElementsAre("SELECT 1 /* it's; \"x */", "SELECT 2"));
}

TEST(SplitSqlStatements, EmptyStatementsAndCommentOnlyPiecesAreDropped) {
  EXPECT_THAT(SplitSqlStatements(""), IsEmpty());
  EXPECT_THAT(SplitSqlStatements(" \n\t "), IsEmpty());
  EXPECT_THAT(SplitSqlStatements(";;  ; -- only a comment\n; /* c */ ;"), IsEmpty());
  EXPECT_THAT(SplitSqlStatements("-- just a comment"), IsEmpty());
  EXPECT_THAT(SplitSqlStatements("/* a */ /* b */"), IsEmpty());
  EXPECT_THAT(SplitSqlStatements(";SELECT 1;;;SELECT 2;;"), ElementsAre("SELECT 1", "SELECT 2"));
  // A leading comment stays with its statement (DuckDB ignores it).
  EXPECT_THAT(SplitSqlStatements("-- header\nSELECT 1;"), ElementsAre("-- header\nSELECT 1"));
}

TEST(SplitSqlStatements, UnterminatedLiteralOrCommentStaysInTheLastPiece) {
  EXPECT_THAT(SplitSqlStatements("SELECT 'abc; SELECT 2"), ElementsAre("SELECT 'abc; SELECT 2"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1; SELECT \"abc; SELECT 3"), ElementsAre("SELECT 1", "SELECT \"abc; SELECT 3"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1; SELECT /* abc; SELECT 3"),
              ElementsAre("SELECT 1", "SELECT /* abc; SELECT 3"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1; SELECT $$abc; SELECT 3"),
              ElementsAre("SELECT 1", "SELECT $$abc; SELECT 3"));
  // Nested comment closed only once: still open.
  EXPECT_THAT(SplitSqlStatements("SELECT /* a /* b */ ; c"), ElementsAre("SELECT /* a /* b */ ; c"));
}

TEST(SplitSqlStatements, HostileScriptsAreSplitWhereDuckDbWouldSplitThem) {
  // What a refused statement hidden after a literal looks like: it must come
  // out as its own statement, so the read-only gate sees it.
  EXPECT_THAT(SplitSqlStatements("SELECT 'x'; COPY (SELECT 1) TO '/tmp/x.csv'"),
              ElementsAre("SELECT 'x'", "COPY (SELECT 1) TO '/tmp/x.csv'"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1 -- ; \nCOPY (SELECT 1) TO '/tmp/x.csv'"),
              ElementsAre("SELECT 1 -- ; \nCOPY (SELECT 1) TO '/tmp/x.csv'"));
}

// ------------------------------------------------------------- EndsStatement

TEST(EndsStatement, TrueOnlyAfterATopLevelSemicolon) {
  EXPECT_TRUE(EndsStatement("SELECT 1;"));
  EXPECT_TRUE(EndsStatement("SELECT 1;\n\n"));
  EXPECT_TRUE(EndsStatement("SELECT 1;  -- done"));
  EXPECT_TRUE(EndsStatement("SELECT 1; /* done */  "));
  EXPECT_TRUE(EndsStatement("SELECT\n1\n;"));
  EXPECT_TRUE(EndsStatement("SELECT 1; SELECT 2;"));
  EXPECT_TRUE(EndsStatement("SELECT $$;$$;"));
  EXPECT_TRUE(EndsStatement("SELECT 'a;';"));
  EXPECT_FALSE(EndsStatement(""));
  EXPECT_FALSE(EndsStatement("   "));
  EXPECT_FALSE(EndsStatement("SELECT 1"));
  EXPECT_FALSE(EndsStatement("SELECT 1; SELECT 2"));
  EXPECT_FALSE(EndsStatement("-- ;"));
}

TEST(EndsStatement, SemicolonInsideLiteralsOrCommentsDoesNotEnd) {
  EXPECT_FALSE(EndsStatement("SELECT ';'"));
  EXPECT_FALSE(EndsStatement("SELECT \";\""));
  EXPECT_FALSE(EndsStatement("SELECT 1 -- ;"));
  EXPECT_FALSE(EndsStatement("SELECT 1 /* ; */"));
  EXPECT_FALSE(EndsStatement("SELECT $$;$$"));
  EXPECT_FALSE(EndsStatement("SELECT $q$;$q$"));
}

TEST(EndsStatement, UnterminatedLiteralOrCommentNeverEnds) {
  EXPECT_FALSE(EndsStatement("SELECT 'abc;"));
  EXPECT_FALSE(EndsStatement("SELECT \"abc;"));
  EXPECT_FALSE(EndsStatement("SELECT /* abc;"));
  EXPECT_FALSE(EndsStatement("SELECT /* a /* b */ c;"));
  EXPECT_FALSE(EndsStatement("SELECT $$abc;"));
  EXPECT_FALSE(EndsStatement("SELECT 1; /* still open"));
  EXPECT_FALSE(EndsStatement("SELECT 1; 'open"));
}

TEST(EndsStatement, ABackslashAtTheEndOfAnOrdinaryLiteralClosesIt) {
  // The shell would otherwise wait forever for more lines.
  EXPECT_TRUE(EndsStatement("SELECT 'C:\\';"));
  EXPECT_TRUE(EndsStatement("SELECT E'\\'';"));
}

// ------------------------------------------------------------------ TrimSql

TEST(TrimSql, RemovesAllLeadingAndTrailingWhitespace) {
  EXPECT_EQ(TrimSql(" \t\r\n SELECT 1 \n\t"), "SELECT 1");
  EXPECT_EQ(TrimSql("SELECT  1"), "SELECT  1");
  EXPECT_EQ(TrimSql("   "), "");
  EXPECT_EQ(TrimSql(""), "");
}

}  // namespace
}  // namespace tradelake
