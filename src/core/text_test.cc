#include "core/text.h"

#include <gtest/gtest.h>

namespace tradelake {
namespace {

TEST(QuoteForMessage, KeepsMessagesOnOnePrintableLine) {
  EXPECT_EQ(QuoteForMessage("abc"), "\"abc\"");
  EXPECT_EQ(QuoteForMessage("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteForMessage(std::string_view("\n\x01\xff", 3)), "\"\\x0a\\x01\\xff\"");
  EXPECT_EQ(QuoteForMessage(std::string(100, 'x')), "\"" + std::string(64, 'x') + "\"...");
}

TEST(AppendJsonString, EscapesWhatJsonRequires) {
  std::string out;
  AppendJsonString(&out, std::string_view("q\"b\\n\nt\t\x01 caf\xc3\xa9", 15));
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\nt\\t\\u0001 caf\xc3\xa9\"");
}

TEST(SplitCommaList, TrimsAndDropsEmptyItems) {
  EXPECT_EQ(SplitCommaList("BTC-USD, ETH-USD,,SOL-USD "), (std::vector<std::string>{"BTC-USD", "ETH-USD", "SOL-USD"}));
  EXPECT_TRUE(SplitCommaList("").empty());
  EXPECT_TRUE(SplitCommaList(" , ,").empty());
  EXPECT_EQ(SplitCommaList("a"), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace tradelake
