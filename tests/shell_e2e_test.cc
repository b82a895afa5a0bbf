// The interactive SQL shell, driven through a pseudo-terminal (util-linux
// `script`), as a person would type: multi-line statements, dot commands,
// the scan limit, and the history file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "e2e_util.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

TEST(SqlShell, MultiLineStatementsDotCommandsScanLimitAndHistory) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` (util-linux)";
  const fs::path dir = e2e::FreshDir("sql-shell");
  const fs::path lake = dir / "lake";  // an empty lake: the shell still works
  fs::create_directories(lake);
  const fs::path input = dir / "typed.txt";
  {
    std::ofstream in(input);
    in << ".tables\n"
          "SELECT 40 +\n"
          "  2 AS answer;\n"
          ".schema gold.trades_daily\n"
          ".maxscan 1KB\n"
          ".maxscan\n"
          "SELECT 'a;b' AS s; SELECT 7 AS n;\n"
          "SELEC 1;\n"
          "COPY (SELECT 1) TO 'x.csv';\n"
          ".quit\n";
  }
  const fs::path out = dir / "screen.txt";
  const std::string cmd = "cd '" + dir.string() + "' && HOME='" + dir.string() + "' timeout 30 script -qec \"'" +
                          std::string(TRADELAKE_BINARY) + "' sql --lake '" + lake.string() + "'\" /dev/null < '" +
                          input.string() + "' > '" + out.string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << e2e::ReadFile(out);
  const std::string screen = e2e::ReadFile(out);
  EXPECT_NE(screen.find("tradelake SQL shell over"), std::string::npos) << screen;
  EXPECT_NE(screen.find("gold.trades_hourly"), std::string::npos) << screen;          // .tables
  EXPECT_NE(screen.find("answer"), std::string::npos) << screen;                      // multi-line
  EXPECT_NE(screen.find("42"), std::string::npos) << screen;
  EXPECT_NE(screen.find("period_start"), std::string::npos) << screen;                // .schema
  EXPECT_NE(screen.find("scan limit: 1000 B"), std::string::npos) << screen;          // .maxscan
  EXPECT_NE(screen.find("a;b"), std::string::npos) << screen;                         // ';' in a literal
  EXPECT_NE(screen.find("syntax error"), std::string::npos) << screen;                // an error, and on
  EXPECT_NE(screen.find("read-only: COPY"), std::string::npos) << screen;             // refused
  EXPECT_FALSE(fs::exists(dir / "x.csv"));
  const std::string history = e2e::ReadFile(dir / ".tradelake_history");
  EXPECT_NE(history.find("answer"), std::string::npos) << history;
}

}  // namespace
}  // namespace tradelake
