#include "core/progress.h"

#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tradelake {
namespace {

using std::chrono::seconds;

TEST(ProgressBar, ShowsBarCountsRateAndEtaWhenTheTotalIsKnown) {
  ProgressBar bar("BTC-USD,ETH-USD", "trades", 1'000'000, /*enabled=*/false);
  bar.Add(412'000);
  // 412,000 in 20 s is 20,600/s; the remaining 588,000 take 28.5 s.
  EXPECT_EQ(bar.Render(seconds(20)),
            "BTC-USD,ETH-USD  [=========>              ] 412,000/1,000,000 trades  20,600/s  ETA 0:28");
}

TEST(ProgressBar, ShowsCountAndRateOnlyWithoutATotal) {
  ProgressBar bar("BTC-USD", "trades", 0, /*enabled=*/false);
  bar.Add(1'234'567);
  EXPECT_EQ(bar.Render(seconds(1)), "BTC-USD  1,234,567 trades  1,234,567/s");
}

TEST(ProgressBar, SetTotalTurnsTheBarOnAndAFullBarHasNoArrow) {
  ProgressBar bar("ETH-USD", "trades", 0, /*enabled=*/false);
  bar.Add(500);
  bar.SetTotal(500);
  EXPECT_EQ(bar.Render(seconds(2)),
            "ETH-USD  [========================] 500/500 trades  250/s  ETA 0:00");
}

TEST(ProgressBar, FormatsLongEtasWithHoursAndUnknownRatesWithDashes) {
  ProgressBar bar("", "trades", 10'000'000, /*enabled=*/false);
  bar.Add(1000);
  // 1,000/s leaves 9,999 s = 2:46:39.
  EXPECT_THAT(bar.Render(seconds(1)), ::testing::EndsWith("1,000/s  ETA 2:46:39"));
  ProgressBar idle("", "", 10, /*enabled=*/false);
  EXPECT_EQ(idle.Render(seconds(0)), "[>                       ] 0/10  0/s  ETA --:--");
}

TEST(ProgressBar, CountsEveryAddFromManyThreads) {
  ProgressBar bar("x", "trades", 0, /*enabled=*/false);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&bar] {
      for (int k = 0; k < 10'000; ++k) bar.Add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bar.Render(seconds(1)), "x  80,000 trades  80,000/s");
}

TEST(ProgressBar, PrintsNothingWhenDisabled) {
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar("BTC-USD", "trades", 100, /*enabled=*/false);
    bar.Add(100);
    bar.Finish();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(ProgressBar, PrintsNothingWhenStderrIsNotATerminal) {
  // CaptureStderr redirects fd 2 to a file, as a pipe or CI log would.
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar("BTC-USD", "trades", 100, /*enabled=*/true);
    bar.Add(100);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace tradelake
