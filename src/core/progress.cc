#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace tradelake {
namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

// 1234567 -> "1,234,567".
std::string WithThousands(int64_t v) {
  // Work on the magnitude as unsigned so INT64_MIN does not overflow.
  const bool negative = v < 0;
  uint64_t m = negative ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string digits = std::to_string(m);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

// 32 -> "0:32", 3725 -> "1:02:05".
std::string FormatEta(int64_t seconds) {
  if (seconds >= 3600) {
    return fmt::format("{}:{:02d}:{:02d}", seconds / 3600, seconds / 60 % 60, seconds % 60);
  }
  return fmt::format("{}:{:02d}", seconds / 60, seconds % 60);
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::string unit, int64_t total, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled && ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Add(int64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  MaybeDraw(false);
}

void ProgressBar::SetTotal(int64_t total) {
  total_.store(total, std::memory_order_relaxed);
  MaybeDraw(false);
}

void ProgressBar::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  std::string line(1, '\r');  // piecewise: see MaybeDraw
  line += Render();
  line += "\033[K\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string ProgressBar::Render() const { return Render(std::chrono::steady_clock::now() - start_); }

std::string ProgressBar::Render(std::chrono::steady_clock::duration elapsed) const {
  const int64_t done = done_.load(std::memory_order_relaxed);
  const int64_t total = total_.load(std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;

  std::string out;
  if (!label_.empty()) out += label_ + "  ";
  if (total > 0) {
    const int64_t clamped = done < 0 ? 0 : (done > total ? total : done);
    // Widen before multiplying: done * width could overflow int64 near its max.
    const auto filled = static_cast<int>(static_cast<__int128>(clamped) * kBarWidth / total);
    out += '[';
    out.append(static_cast<size_t>(filled), '=');
    if (filled < kBarWidth) {
      out += '>';
      out.append(static_cast<size_t>(kBarWidth - filled - 1), ' ');
    }
    out += "] ";
    out += WithThousands(done) + "/" + WithThousands(total);
  } else {
    out += WithThousands(done);
  }
  if (!unit_.empty()) out += " " + unit_;
  out += "  " + WithThousands(static_cast<int64_t>(rate)) + "/s";
  if (total > 0) {
    if (done >= total) {
      out += "  ETA 0:00";
    } else if (rate >= 1e-9) {
      const double eta = static_cast<double>(total - done) / rate;
      // Past ~a century the number means nothing; cap it instead of overflowing.
      out += "  ETA " + (eta < 3.0e9 ? FormatEta(static_cast<int64_t>(eta)) : std::string("--:--"));
    } else {
      out += "  ETA --:--";
    }
  }
  return out;
}

void ProgressBar::MaybeDraw(bool force) {
  if (!enabled_) return;
  // A thread that finds another one drawing skips: the next Add redraws.
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  if (force) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return;
  }
  if (finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  // Appended piecewise: `"\r" + std::string` trips GCC 12's false -Wrestrict at -O2.
  std::string line(1, '\r');
  line += Render(now - start_);
  line += "\033[K";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tradelake
