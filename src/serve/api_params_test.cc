#include "serve/api_params.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace tradelake {
namespace {

TimestampMicros T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.value_or(0);
}

const TimestampMicros kNow = T("2024-05-02T13:00:00Z");

template <typename V>
std::string ErrorOf(const Result<V>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

TEST(ApiParams, ProductIsRequiredAndMustBeAPlainId) {
  EXPECT_TRUE(Contains(ErrorOf(ParseProductParam({})), "missing parameter product"));
  EXPECT_TRUE(Contains(ErrorOf(ParseProductParam({{"product", "BTC USD"}})), "parameter product"));
  ErrorOf(ParseProductParam({{"product", "../etc"}}));
  ErrorOf(ParseProductParam({{"product", "BTC-USD'; DROP TABLE x; --"}}));
  ErrorOf(ParseProductParam({{"product", ""}}));
  auto p = ParseProductParam({{"product", "BTC-USD"}, {"other", "x"}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "BTC-USD");
}

TEST(ApiParams, IntervalDefaultsToOneHourAndKnowsOnlyThree) {
  auto def = ParseIntervalParam({});
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->name, "1h");
  EXPECT_EQ(def->micros, kMicrosPerHour);
  for (std::string_view name : {"1m", "1h", "1d"}) {
    auto i = ParseIntervalParam({{"interval", std::string(name)}});
    ASSERT_TRUE(i.ok()) << name;
    EXPECT_EQ(i->name, name);
  }
  EXPECT_EQ(ParseIntervalParam({{"interval", "1d"}})->micros, kMicrosPerDay);
  EXPECT_TRUE(Contains(ErrorOf(ParseIntervalParam({{"interval", "5m"}})),
                       "\"5m\" is not one of 1m, 1h, 1d"));
  ErrorOf(ParseIntervalParam({{"interval", ""}}));
  ErrorOf(ParseIntervalParam({{"interval", "1H"}}));
}

TEST(ApiParams, RangeDefaultsDependOnTheInterval) {
  for (auto [interval, span] : {std::pair{"1m", kMicrosPerDay}, std::pair{"1h", 7 * kMicrosPerDay},
                                std::pair{"1d", 365 * kMicrosPerDay}}) {
    auto q = ParseBarsQuery({{"product", "BTC-USD"}, {"interval", interval}}, kNow);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    EXPECT_EQ(q->range.to, kNow) << interval;
    EXPECT_EQ(q->range.from, kNow - span) << interval;
  }
  // A given `to` moves the default `from` with it.
  auto q = ParseBarsQuery({{"product", "BTC-USD"}, {"interval", "1m"}, {"to", "2024-05-01"}}, kNow);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->range.from, T("2024-04-30T00:00:00Z"));
}

TEST(ApiParams, RangeAcceptsTimestampsDatesAndDurationsAgo) {
  auto r = ParseRangeParams({{"from", "6h"}, {"to", "2024-05-02T12:30:00.5+00:00"}}, kNow,
                            kMicrosPerDay, 31 * kMicrosPerDay, "interval=1m");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->from, T("2024-05-02T07:00:00Z"));
  EXPECT_EQ(r->to, T("2024-05-02T12:30:00.5Z"));
  auto d = ParseRangeParams({{"from", "2024-05-01"}, {"to", "2024-05-02"}}, kNow, kMicrosPerDay,
                            kMicrosPerDay, "x");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->to - d->from, kMicrosPerDay);  // exactly the longest span is allowed
}

TEST(ApiParams, RangeRejectsBadEmptyAndTooLongRanges) {
  const auto bars = [](QueryParams p) {
    p.emplace("product", "BTC-USD");
    return ParseBarsQuery(p, kNow);
  };
  EXPECT_TRUE(Contains(ErrorOf(bars({{"from", "yesterday"}})), "parameter from"));
  EXPECT_TRUE(Contains(ErrorOf(bars({{"to", "2024-13-01"}})), "parameter to"));
  EXPECT_TRUE(
      Contains(ErrorOf(bars({{"from", "2024-05-03"}, {"to", "2024-05-01"}})), "empty time range"));
  ErrorOf(bars({{"from", "2024-05-01"}, {"to", "2024-05-01"}}));
  const std::string m =
      ErrorOf(bars({{"interval", "1m"}, {"from", "2024-03-01"}, {"to", "2024-05-01"}}));
  EXPECT_TRUE(Contains(m, "at most 31 days")) << m;
  EXPECT_TRUE(Contains(m, "or use interval=1h")) << m;
  EXPECT_TRUE(Contains(ErrorOf(bars({{"from", "2010-01-01"}, {"to", "2024-05-01"}})), "1826 days"));
  EXPECT_TRUE(
      Contains(ErrorOf(bars({{"interval", "1d"}, {"from", "1900-01-01"}, {"to", "2024-05-01"}})),
               "36525 days"));
  // The first problem wins: product before interval before range.
  EXPECT_TRUE(
      Contains(ErrorOf(ParseBarsQuery({{"interval", "5m"}, {"from", "x"}}, kNow)), "product"));
  EXPECT_TRUE(Contains(
      ErrorOf(ParseBarsQuery({{"product", "A-B"}, {"interval", "5m"}, {"from", "x"}}, kNow)),
      "interval"));
}

TEST(ApiParams, RangeRejectsTimesOutsideYearsOneTo9999WithoutOverflow) {
  const auto range = [](QueryParams p, TimestampMicros now = kNow) {
    return ParseRangeParams(p, now, kMicrosPerDay, 36525 * kMicrosPerDay, "interval=1d");
  };
  EXPECT_TRUE(
      Contains(ErrorOf(range({{"from", "0001-01-01T00:00:00+01:00"}, {"to", "0001-02-01"}})),
               "parameter from"));
  EXPECT_TRUE(Contains(ErrorOf(range({{"to", "9999-12-31T12:00:00Z"}})), "parameter to"));
  // 100,000,000 days ago is far before year 1: refused, not wrapped around.
  ErrorOf(range({{"from", "100000000d"}}));
  ErrorOf(range({{"from", "1000000w"}, {"to", "999999w"}}));
  ErrorOf(range({}, kApiMaxTime + 1));
  ErrorOf(range({}, kApiMinTime - 1));
  // The edges themselves are accepted; the default `from` stops at the first.
  auto first = range({{"to", "0001-01-01T12:00:00Z"}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->from, kApiMinTime);
  EXPECT_EQ(FormatRfc3339Trimmed(kApiMinTime), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Trimmed(kApiMaxTime), "9999-12-31T00:00:00Z");
  auto last = range({{"from", "9999-12-30"}, {"to", "9999-12-31"}});
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->to, kApiMaxTime);
  ErrorOf(range({{"to", "0001-01-01"}}));  // nothing before it to default `from` to
}

TEST(ApiParams, LimitIsAWholeNumberFromOneTo10000) {
  EXPECT_EQ(ParseLimitParam({}).value_or(-1), 100);
  EXPECT_EQ(ParseLimitParam({{"limit", "1"}}).value_or(-1), 1);
  EXPECT_EQ(ParseLimitParam({{"limit", "10000"}}).value_or(-1), 10000);
  for (std::string_view bad :
       {"0", "10001", "-5", "+5", "5 ", " 5", "abc", "", "1e3", "99999999999999999999"}) {
    EXPECT_TRUE(
        Contains(ErrorOf(ParseLimitParam({{"limit", std::string(bad)}})), "parameter limit"))
        << bad;
  }
}

TEST(ApiParams, TradesQueryDefaultsToTheLastDayAndAHundredTrades) {
  auto q = ParseTradesQuery({{"product", "ETH-USD"}}, kNow);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->product, "ETH-USD");
  EXPECT_EQ(q->limit, 100);
  EXPECT_EQ(q->range.to, kNow);
  EXPECT_EQ(q->range.from, kNow - kMicrosPerDay);
  EXPECT_TRUE(
      Contains(ErrorOf(ParseTradesQuery({{"product", "ETH-USD"}, {"limit", "0"}}, kNow)), "limit"));
  EXPECT_TRUE(
      Contains(ErrorOf(ParseTradesQuery(
                   {{"product", "ETH-USD"}, {"from", "1800-01-01"}, {"to", "2024-01-01"}}, kNow)),
               "trades allows at most 36525 days"));
}

TEST(ApiParams, AlignUpRoundsUpToTheIntervalOnBothSidesOfTheEpoch) {
  const int64_t m = kMicrosPerMinute;
  EXPECT_EQ(AlignUp(0, m), 0);
  EXPECT_EQ(AlignUp(1, m), m);
  EXPECT_EQ(AlignUp(m - 1, m), m);
  EXPECT_EQ(AlignUp(m, m), m);
  EXPECT_EQ(AlignUp(m + 1, m), 2 * m);
  EXPECT_EQ(AlignUp(-1, m), 0);
  EXPECT_EQ(AlignUp(-m, m), -m);
  EXPECT_EQ(AlignUp(-m - 1, m), -m);
  EXPECT_EQ(AlignUp(T("2024-05-01T10:00:30Z"), kMicrosPerHour), T("2024-05-01T11:00:00Z"));
  EXPECT_EQ(AlignUp(T("2024-05-01T10:00:30Z"), kMicrosPerDay), T("2024-05-02T00:00:00Z"));
  for (const BarInterval& i : kBarIntervals) {
    EXPECT_EQ(AlignUp(kApiMinTime, i.micros), kApiMinTime) << i.name;
    EXPECT_EQ(AlignUp(kApiMaxTime, i.micros), kApiMaxTime) << i.name;
    EXPECT_EQ(AlignUp(kApiMaxTime - 1, i.micros), kApiMaxTime) << i.name;
  }
}

// The claim the bars cache rests on: for every bar start p (a multiple of
// the interval), p in [from, to) exactly when p in [AlignUp(from), AlignUp(to)).
TEST(ApiParams, AlignedRangeSelectsExactlyTheSameBars) {
  for (const BarInterval& interval : kBarIntervals) {
    const int64_t i = interval.micros;
    const int64_t base = T("2024-05-01T00:00:00Z");
    const int64_t offsets[] = {-i - 1, -i, -i + 1, -1,        0,     1,        i / 2,
                               i - 1,  i,  i + 1,  2 * i - 1, 2 * i, 3 * i + 7};
    int checked = 0;
    for (int64_t f : offsets) {
      for (int64_t t : offsets) {
        const TimeRange r{base + f, base + t};
        const TimeRange a = AlignRangeUp(r, i);
        EXPECT_GE(a.from, r.from);
        EXPECT_GE(a.to, r.to);
        EXPECT_LT(a.from - r.from, i);
        EXPECT_LT(a.to - r.to, i);
        for (int64_t p = base - 3 * i; p <= base + 5 * i; p += i) {
          const bool in_given = r.from <= p && p < r.to;
          const bool in_aligned = a.from <= p && p < a.to;
          EXPECT_EQ(in_given, in_aligned)
              << interval.name << " from " << f << " to " << t << " p " << p;
          ++checked;
        }
      }
    }
    EXPECT_GT(checked, 1000);
  }
}

TEST(ApiParams, BarsQueryKeepsTheAskedRangeAndAlignsTheQueriedOne) {
  auto q = ParseBarsQuery({{"product", "BTC-USD"},
                           {"interval", "1m"},
                           {"from", "2024-05-01T10:00:30Z"},
                           {"to", "2024-05-01T10:02:00.5Z"}},
                          kNow);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->interval.name, "1m");
  EXPECT_EQ(q->range.from, T("2024-05-01T10:00:30Z"));
  EXPECT_EQ(q->range.to, T("2024-05-01T10:02:00.5Z"));
  EXPECT_EQ(q->aligned.from, T("2024-05-01T10:01:00Z"));
  EXPECT_EQ(q->aligned.to, T("2024-05-01T10:03:00Z"));
  // Inside one minute: a valid request whose aligned range is empty.
  auto e = ParseBarsQuery({{"product", "BTC-USD"},
                           {"interval", "1m"},
                           {"from", "2024-05-01T10:00:10Z"},
                           {"to", "2024-05-01T10:00:50Z"}},
                          kNow);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->aligned.from, e->aligned.to);
}

TEST(ApiParams, SqlBodyIsTextOrJsonWithASqlString) {
  EXPECT_EQ(ParseSqlBody("SELECT 1", "text/plain").value_or(""), "SELECT 1");
  EXPECT_EQ(ParseSqlBody("SELECT 1", "").value_or(""), "SELECT 1");
  EXPECT_EQ(ParseSqlBody("{\"sql\": \"SELECT 2\"}", "application/json").value_or(""), "SELECT 2");
  EXPECT_EQ(ParseSqlBody(" \n{\"sql\": \"SELECT 3\", \"x\": 1}", "text/plain").value_or(""),
            "SELECT 3");
  EXPECT_EQ(ParseSqlBody("{\"sql\": \"SELECT '\\u00e9'\"}", "application/json; charset=utf-8")
                .value_or(""),
            "SELECT '\xc3\xa9'");
  for (auto [body, type] : {std::pair{"{\"query\": 1}", "application/json"},
                            std::pair{"{\"sql\": 1}", "application/json"},
                            std::pair{"{\"sql\": \"SELECT 1\"", "text/plain"},
                            std::pair{"[\"SELECT 1\"]", "application/json"},
                            std::pair{"SELECT 1", "application/json"}}) {
    EXPECT_TRUE(Contains(ErrorOf(ParseSqlBody(body, type)), "not the SQL text nor JSON")) << body;
  }
  for (std::string_view empty : {"", "  \n", ";", " ; ;\r\n"}) {
    EXPECT_TRUE(Contains(ErrorOf(ParseSqlBody(empty, "text/plain")), "no SQL statement")) << empty;
  }
  ErrorOf(ParseSqlBody("{\"sql\": \" ; \"}", "application/json"));
  // Bytes after a NUL are part of the text, not cut off.
  const std::string with_nul("SELECT 1\0x", 10);
  EXPECT_EQ(ParseSqlBody(with_nul, "text/plain").value_or(""), with_nul);
}

}  // namespace
}  // namespace tradelake
