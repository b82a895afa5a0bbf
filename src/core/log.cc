#include "core/log.h"

#include <chrono>
#include <memory>
#include <utility>

#include <fmt/format.h>
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

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append(fmt::format("\\u{:04x}", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
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
    out += "{\"ts\":\"";
    out += FormatMillis(time);
    out += "\",\"level\":";
    AppendJsonString(level, &out);
    out += ",\"msg\":";
    AppendJsonString(message, &out);
    out += "}\n";
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
