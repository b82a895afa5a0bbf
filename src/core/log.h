// Logging: spdlog underneath, configured once by the CLI.
//
// Text format for people ("2026-11-27T07:30:00.123Z INFO  message"), JSON
// lines for machines ({"ts":...,"level":"info","msg":"..."} with the message
// properly escaped). Logs go to stderr so stdout stays clean for data output.
// Use spdlog's functions directly (spdlog::info("...{}", x)) after InitLogging.
#pragma once

#include <string_view>

#include "core/status.h"

namespace tradelake {

enum class LogFormat { kText, kJson };

// Parses "text" / "json".
Result<LogFormat> ParseLogFormat(std::string_view text);

// Installs the default logger writing to stderr. level: "trace", "debug",
// "info", "warn", "error", "off". Safe to call more than once (last wins).
// REQUIRES: no other thread is logging while this runs.
Status InitLogging(LogFormat format, std::string_view level);

}  // namespace tradelake
