#include "core/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

namespace tradelake {
namespace {

using ::testing::HasSubstr;

// 2026-11-27T07:30:00.123456Z
const TimestampMicros kT = ParseRfc3339("2026-11-27T07:30:00.123456Z").value_or(0);

// Parses one JSON log line with a real JSON parser; fails the test if invalid.
struct Parsed {
  std::string ts, level, msg;
};
Parsed ParseLine(const std::string& line) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  Parsed p;
  auto error = parser.parse(line).get(doc);
  EXPECT_EQ(error, simdjson::SUCCESS) << "not valid JSON: " << line;
  if (error) return p;
  p.ts = std::string(doc["ts"].get_string().value_unsafe());
  p.level = std::string(doc["level"].get_string().value_unsafe());
  p.msg = std::string(doc["msg"].get_string().value_unsafe());
  return p;
}

TEST(ParseLogFormat, AcceptsTextAndJsonOnly) {
  EXPECT_EQ(ParseLogFormat("text").value_or(LogFormat::kJson), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json").value_or(LogFormat::kText), LogFormat::kJson);
  Result<LogFormat> bad = ParseLogFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("\"xml\""));
}

TEST(FormatLogLine, TextIsTimestampLevelMessage) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kT, "info", "ingested 42 trades"),
            "2026-11-27T07:30:00.123Z INFO  ingested 42 trades\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kT, "error", "boom"),
            "2026-11-27T07:30:00.123Z ERROR boom\n");
}

TEST(FormatLogLine, JsonEscapesQuotesNewlinesAndControlCharacters) {
  const std::string msg = "product \"FOO-USD\" is not listed\nline2\ttab\\ \x01 end";
  const std::string line = FormatLogLine(LogFormat::kJson, kT, "warn", msg);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-11-27T07:30:00.123Z\",\"level\":\"warn\","
            "\"msg\":\"product \\\"FOO-USD\\\" is not listed\\nline2\\ttab\\\\ \\u0001 end\"}\n");
  // One line, and a JSON parser gets the original message back.
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const Parsed p = ParseLine(line);
  EXPECT_EQ(p.ts, "2026-11-27T07:30:00.123Z");
  EXPECT_EQ(p.level, "warn");
  EXPECT_EQ(p.msg, msg);
}

TEST(FormatLogLine, JsonKeepsUtf8AndReplacesInvalidBytes) {
  const std::string euro = "price in \xE2\x82\xAC";
  EXPECT_EQ(ParseLine(FormatLogLine(LogFormat::kJson, kT, "info", euro)).msg, euro);
  const Parsed p = ParseLine(FormatLogLine(LogFormat::kJson, kT, "info", "bad \xC3\x28 \xFF"));
  EXPECT_EQ(p.msg, "bad \xEF\xBF\xBD( \xEF\xBF\xBD");
}

TEST(FormatLogLine, JsonOfAnyBytesIsOneValidLine) {
  // Every byte value alone and after a UTF-8 lead byte: never a throw, never
  // a second line, always JSON a parser reads back.
  for (int a = 0; a < 256; ++a) {
    for (const std::string& prefix : {std::string(), std::string("\xE2"), std::string("\xF0\x9F")}) {
      std::string msg = prefix + static_cast<char>(a) + "x";
      const std::string line = FormatLogLine(LogFormat::kJson, kT, "info", msg);
      ASSERT_EQ(line.find('\n'), line.size() - 1) << a;
      ParseLine(line);
      ASSERT_FALSE(HasFailure()) << "byte " << a << " after " << prefix.size() << " lead bytes";
    }
  }
}

TEST(InitLogging, WritesJsonLinesToStderrAtTheChosenLevel) {
  ASSERT_TRUE(InitLogging(LogFormat::kJson, "info").ok());
  ::testing::internal::CaptureStderr();
  spdlog::debug("hidden");
  spdlog::info("said \"{}\"\nthen left", "hi");
  spdlog::default_logger()->flush();
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  const Parsed p = ParseLine(out);
  EXPECT_EQ(p.level, "info");
  EXPECT_EQ(p.msg, "said \"hi\"\nthen left");
  EXPECT_EQ(p.ts.size(), std::string("2026-11-27T07:30:00.123Z").size());
  EXPECT_TRUE(ParseRfc3339(p.ts).ok()) << p.ts;
}

TEST(InitLogging, RejectsUnknownLevels) {
  Status s = InitLogging(LogFormat::kText, "verbose");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("\"verbose\""));
  ASSERT_TRUE(InitLogging(LogFormat::kText, "info").ok());
}

}  // namespace
}  // namespace tradelake
