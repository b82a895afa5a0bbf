#include "core/log.h"

#include <chrono>
#include <memory>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace tradelake {
namespace {

// "2026-11-27T07:30:00.123Z": the microsecond form cut to milliseconds.
std::string FormatMillis(TimestampMicros t) {
  std::string s = FormatRfc3339Micros(t);  // "...:00.123456Z"
  s.resize(s.size() - 4);
  s += 'Z';
  return s;
}

// spdlog's pattern strings cannot escape the message, so both formats go
// through FormatLogLine and the two stay byte-identical with the tests.
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            msg.time.time_since_epoch())
                            .count();
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line =
        FormatLogLine(format_, static_cast<TimestampMicros>(micros),
                      std::string_view(level.data(), level.size()),
                      std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  const LogFormat format_;
};

Result<spdlog::level::level_enum> ParseLevel(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "off") return spdlog::level::off;
  return InvalidArgument(fmt::format(
      "unknown log level \"{}\"; use trace, debug, info, warn, error or off", text));
}

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return InvalidArgument(fmt::format("unknown log format \"{}\"; use text or json", text));
}

std::string FormatLogLine(LogFormat format, TimestampMicros time, std::string_view level,
                          std::string_view message) {
  std::string out;
  out.reserve(message.size() + 64);
  if (format == LogFormat::kJson) {
    // One JSON library for every JSON tradelake writes. Invalid UTF-8 in a
    // message (an exchange's error text) becomes U+FFFD instead of throwing.
    nlohmann::ordered_json line;
    line["ts"] = FormatMillis(time);
    line["level"] = level;
    line["msg"] = message;
    out = line.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
    out += '\n';
    return out;
  }
  out += FormatMillis(time);
  out += ' ';
  std::string upper(level);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  out += fmt::format("{:<5} ", upper);
  out += message;
  out += '\n';
  return out;
}

Status InitLogging(LogFormat format, std::string_view level) {
  ASSIGN_OR_RETURN(const spdlog::level::level_enum lvl, ParseLevel(level));
  try {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("tradelake", std::move(sink));
    logger->set_formatter(std::make_unique<LineFormatter>(format));
    logger->set_level(lvl);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
  } catch (const std::exception& e) {
    return Internal(fmt::format("cannot set up logging: {}", e.what()));
  }
  return Status::OK();
}

}  // namespace tradelake
