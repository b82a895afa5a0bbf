#include "etl/table_stats.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "etl/dec18.h"
#include "etl/table_io.h"

namespace tradelake {
namespace {

std::string JsonText(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }
// Delta stats hold timestamps as ISO-8601 with milliseconds (truncated, as Spark writes them).
std::string StatsTime(TimestampMicros t) {
  const TimestampMicros ms = t >= 0 ? t / 1000 * 1000 : (t - 999) / 1000 * 1000;
  const std::string full = FormatRfc3339Micros(ms);  // ...T12:34:56.789000Z
  return JsonText(full.substr(0, full.size() - 4) + "Z");
}
std::string StatsDate(std::string_view date) { return JsonText(date); }
std::string StatsDec(Dec18 v) { return Dec18ToString(v); }

template <typename T, typename Less = std::less<T>>
struct MinMax {
  std::optional<T> lo, hi;
  void Add(const T& v) {
    if (!lo || Less()(v, *lo)) lo = v;
    if (!hi || Less()(*hi, v)) hi = v;
  }
};

}  // namespace

DeltaStats StatsOf(const std::vector<SilverTrade>& rows) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(rows.size());
  MinMax<std::string> product, side;
  MinMax<int64_t> id, time, ingested;
  MinMax<Dec18> price, size, notional;
  for (const auto& r : rows) {
    product.Add(r.product_id);
    id.Add(r.trade_id);
    price.Add(r.price);
    size.Add(r.size);
    notional.Add(r.quote_notional);
    time.Add(r.time);
    ingested.Add(r.ingested_at);
  }
  if (!rows.empty()) {
    st.min_values = {{"product_id", JsonText(*product.lo)}, {"trade_id", std::to_string(*id.lo)},
                     {"price", StatsDec(*price.lo)},        {"size", StatsDec(*size.lo)},
                     {"quote_notional", StatsDec(*notional.lo)}, {"trade_time", StatsTime(*time.lo)},
                     {"ingested_at", StatsTime(*ingested.lo)}};
    st.max_values = {{"product_id", JsonText(*product.hi)}, {"trade_id", std::to_string(*id.hi)},
                     {"price", StatsDec(*price.hi)},        {"size", StatsDec(*size.hi)},
                     {"quote_notional", StatsDec(*notional.hi)}, {"trade_time", StatsTime(*time.hi)},
                     {"ingested_at", StatsTime(*ingested.hi)}};
  }
  for (const auto& c : SilverTradesSchema()) st.null_count[c.name] = 0;
  return st;
}

DeltaStats StatsOf(const std::vector<GoldBar>& rows) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(rows.size());
  MinMax<std::string> product;
  MinMax<int64_t> period, first, last;
  for (const auto& b : rows) {
    product.Add(b.product_id);
    period.Add(b.period_start);
    first.Add(b.first_trade_id);
    last.Add(b.last_trade_id);
  }
  if (!rows.empty()) {
    st.min_values = {{"product_id", JsonText(*product.lo)}, {"period_start", StatsTime(*period.lo)},
                     {"first_trade_id", std::to_string(*first.lo)}, {"last_trade_id", std::to_string(*last.lo)}};
    st.max_values = {{"product_id", JsonText(*product.hi)}, {"period_start", StatsTime(*period.hi)},
                     {"first_trade_id", std::to_string(*first.hi)}, {"last_trade_id", std::to_string(*last.hi)}};
  }
  for (const auto& c : GoldBarsSchema()) st.null_count[c.name] = 0;
  return st;
}

DeltaStats StatsOf(const std::vector<RejectedRecord>& rows) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(rows.size());
  MinMax<std::string> product;
  MinMax<int64_t> id, at;
  int64_t null_ids = 0, null_dates = 0;
  for (const auto& r : rows) {
    product.Add(r.product_id);
    if (r.trade_id) {
      id.Add(*r.trade_id);
    } else {
      ++null_ids;
    }
    if (r.date.empty()) ++null_dates;
    at.Add(r.rejected_at);
  }
  if (!rows.empty()) {
    st.min_values = {{"product_id", JsonText(*product.lo)}, {"rejected_at", StatsTime(*at.lo)}};
    st.max_values = {{"product_id", JsonText(*product.hi)}, {"rejected_at", StatsTime(*at.hi)}};
    if (id.lo) {
      st.min_values["trade_id"] = std::to_string(*id.lo);
      st.max_values["trade_id"] = std::to_string(*id.hi);
    }
  }
  for (const auto& c : RejectedSchema()) st.null_count[c.name] = 0;
  st.null_count["trade_id"] = null_ids;
  st.null_count["date"] = null_dates;
  return st;
}

DeltaStats StatsOf(const std::vector<QualityRow>& rows) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(rows.size());
  MinMax<std::string> product, date;
  MinMax<int64_t> seq;
  for (const auto& q : rows) {
    product.Add(q.product_id);
    date.Add(q.date);
    seq.Add(q.etl_seq);
  }
  if (!rows.empty()) {
    st.min_values = {{"product_id", JsonText(*product.lo)}, {"date", StatsDate(*date.lo)},
                     {"etl_seq", std::to_string(*seq.lo)}};
    st.max_values = {{"product_id", JsonText(*product.hi)}, {"date", StatsDate(*date.hi)},
                     {"etl_seq", std::to_string(*seq.hi)}};
  }
  for (const auto& c : QualitySchema()) st.null_count[c.name] = 0;
  return st;
}

DeltaStats StatsOf(const std::vector<ReconRow>& rows) {
  DeltaStats st;
  st.num_records = static_cast<int64_t>(rows.size());
  MinMax<std::string> product, status;
  MinMax<int64_t> minute, at;
  int64_t gold_nulls = 0, exchange_nulls = 0, candle_nulls = 0;
  for (const auto& r : rows) {
    product.Add(r.product_id);
    status.Add(r.status);
    minute.Add(r.minute);
    at.Add(r.reconciled_at);
    gold_nulls += r.gold ? 0 : 1;
    exchange_nulls += r.exchange ? 0 : 1;
    candle_nulls += r.candle ? 0 : 1;
  }
  if (!rows.empty()) {
    st.min_values = {{"product_id", JsonText(*product.lo)}, {"minute", StatsTime(*minute.lo)},
                     {"status", JsonText(*status.lo)}, {"reconciled_at", StatsTime(*at.lo)}};
    st.max_values = {{"product_id", JsonText(*product.hi)}, {"minute", StatsTime(*minute.hi)},
                     {"status", JsonText(*status.hi)}, {"reconciled_at", StatsTime(*at.hi)}};
  }
  for (const auto& c : ReconSchema()) {
    int64_t nulls = 0;
    if (c.name.starts_with("gold_")) nulls = gold_nulls;
    if (c.name.starts_with("exchange_")) nulls = c.name == "exchange_candle" ? candle_nulls : exchange_nulls;
    st.null_count[c.name] = nulls;
  }
  return st;
}

}  // namespace tradelake
