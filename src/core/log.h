// Logging: spdlog underneath, configured once by the CLI.
//
// Text format for people ("2026-11-27T07:30:00.123Z INFO  message"), JSON
// lines for machines ({"ts":...,"level":"info","msg":"..."} with the message
// properly escaped). Logs go to stderr so stdout stays clean for data output.
// Use spdlog's functions directly (spdlog::info("...{}", x)) after InitLogging.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

enum class LogFormat { kText, kJson };

// Parses "text" / "json"; InvalidArgument naming the accepted values otherwise.
Result<LogFormat> ParseLogFormat(std::string_view text);

// One formatted log line, newline included: the exact bytes InitLogging's
// logger writes for a message. level is spdlog's lowercase name ("info",
// "warn", ...). Text: "2026-11-27T07:30:00.123Z INFO  message"; JSON:
// {"ts":"2026-11-27T07:30:00.123Z","level":"info","msg":"..."} where msg is
// escaped per RFC 8259 (quotes, backslashes, control characters) and bytes
// that are not valid UTF-8 become U+FFFD, so every line is valid JSON.
// Timestamps are UTC with milliseconds (truncated). Thread-safe.
std::string FormatLogLine(LogFormat format, TimestampMicros time, std::string_view level,
                          std::string_view message);

// Installs the default logger writing to stderr. level: "trace", "debug",
// "info", "warn", "error", "off" (an unknown level is InvalidArgument and
// leaves logging unchanged). Safe to call more than once (last wins).
// REQUIRES: no other thread is logging while this runs.
Status InitLogging(LogFormat format, std::string_view level);

}  // namespace tradelake
