#include "ingest/checkpoint.h"

#include <algorithm>
#include <charconv>

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

std::string StateProductPrefix(std::string_view product_id) {
  return fmt::format("_state/ingest/source={}/product={}/", kBronzeSource, product_id);
}

void AddObjectRanges(const std::vector<ObjectInfo>& objects, std::vector<LandedRange>* out) {
  for (const auto& o : objects) {
    auto key = ParseBronzeObjectKey(o.key);
    if (!key.ok()) continue;  // not ours (e.g. a file someone dropped in); never trusted as coverage
    out->push_back({key->first_id, key->last_id, false, o.key, o.size});
  }
}

std::optional<LandedRange> ParseGapKey(std::string_view gap_prefix, const ObjectInfo& g) {
  std::string_view name = std::string_view(g.key).substr(gap_prefix.size());
  if (!name.ends_with(".json")) return std::nullopt;
  name.remove_suffix(5);
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  int64_t a = 0, b = 0;
  auto r1 = std::from_chars(name.data(), name.data() + dash, a);
  auto r2 = std::from_chars(name.data() + dash + 1, name.data() + name.size(), b);
  if (r1.ec != std::errc() || r1.ptr != name.data() + dash || r2.ec != std::errc() ||
      r2.ptr != name.data() + name.size() || a > b) {
    return std::nullopt;
  }
  return LandedRange{a, b, true, g.key, g.size};
}

void SortByFirst(std::vector<LandedRange>* ranges) {
  std::sort(ranges->begin(), ranges->end(),
            [](const LandedRange& x, const LandedRange& y) { return x.first_id < y.first_id; });
}

// Above this many days, list by month instead of by day.
constexpr int64_t kMaxDayLists = 7;

// Key suffixes after "product=<id>/" that together cover the trade dates of
// days [first_day, last_day] (days since the epoch): one per day for a short
// span; else one per month, or per year for a whole year inside the span.
std::vector<std::string> DatePrefixes(int64_t first_day, int64_t last_day) {
  using namespace std::chrono;
  std::vector<std::string> out;
  auto ymd_of = [](int64_t day) { return year_month_day{sys_days{days{day}}}; };
  if (last_day - first_day + 1 <= kMaxDayLists) {
    for (int64_t d = first_day; d <= last_day; ++d) {
      const auto ymd = ymd_of(d);
      out.push_back(fmt::format("date={:04}-{:02}-{:02}/", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())));
    }
    return out;
  }
  const auto first = ymd_of(first_day);
  const auto last = ymd_of(last_day);
  year_month ym = first.year() / first.month();
  const year_month end = last.year() / last.month();
  while (ym <= end) {
    // A whole year strictly inside the span is one listing.
    if (ym.month() == January && ym != first.year() / first.month() && ym.year() < end.year()) {
      out.push_back(fmt::format("date={:04}-", static_cast<int>(ym.year())));
      ym += years{1};
      continue;
    }
    out.push_back(fmt::format("date={:04}-{:02}-", static_cast<int>(ym.year()), static_cast<unsigned>(ym.month())));
    ym += months{1};
  }
  return out;
}

}  // namespace

std::string CheckpointKey(std::string_view product_id) {
  return StateProductPrefix(product_id) + "checkpoint.json";
}

std::string GapReportPrefix(std::string_view product_id) {
  return StateProductPrefix(product_id) + "gaps/";
}

std::string GapReportKey(std::string_view product_id, int64_t first_id, int64_t last_id) {
  return fmt::format("{}{}-{}.json", GapReportPrefix(product_id), first_id, last_id);
}

Result<std::optional<Checkpoint>> LoadCheckpoint(ObjectStore* store, std::string_view product_id) {
  const std::string key = CheckpointKey(product_id);
  auto data = store->Get(key);
  if (data.status().code() == StatusCode::kNotFound) return std::optional<Checkpoint>();
  if (!data.ok()) return data.status();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto corrupt = [&](std::string_view why) {
    return DataLoss(fmt::format("checkpoint {} is corrupt ({}); move it away to re-derive it from Bronze",
                                key, why));
  };
  if (parser.parse(*data).get(doc) != simdjson::SUCCESS) return corrupt("not JSON");
  Checkpoint cp;
  std::string_view pid;
  if (doc["product_id"].get_string().get(pid) != simdjson::SUCCESS || pid != product_id) {
    return corrupt("wrong product_id");
  }
  cp.product_id = std::string(pid);
  if (doc["low"].get_int64().get(cp.low) != simdjson::SUCCESS ||
      doc["high"].get_int64().get(cp.high) != simdjson::SUCCESS || cp.high < cp.low - 1) {
    return corrupt("bad low/high");
  }
  int64_t t = 0;
  if (doc["high_time_us"].get_int64().get(t) == simdjson::SUCCESS) cp.high_time = t;
  if (doc["updated_at_us"].get_int64().get(cp.updated_at) != simdjson::SUCCESS) cp.updated_at = 0;
  simdjson::dom::object bf;
  if (doc["backfill"].get_object().get(bf) == simdjson::SUCCESS) {
    Backfill b;
    if (bf["from"].get_int64().get(b.from) != simdjson::SUCCESS ||
        bf["next"].get_int64().get(b.next) != simdjson::SUCCESS || b.next < b.from) {
      return corrupt("bad backfill");
    }
    if (bf["landed_time_us"].get_int64().get(t) == simdjson::SUCCESS) b.landed_time = t;
    cp.backfill = b;
  }
  // Absent in checkpoints written before the landed log existed.
  simdjson::dom::element seq;
  if (doc["landed_next_seq"].get(seq) == simdjson::SUCCESS) {
    int64_t n = 0;
    if (seq.get_int64().get(n) != simdjson::SUCCESS || n < 0) return corrupt("bad landed_next_seq");
    cp.landed_next_seq = n;
  }
  return std::optional<Checkpoint>(std::move(cp));
}

Status SaveCheckpoint(ObjectStore* store, const Checkpoint& cp) {
  nlohmann::ordered_json j;
  j["product_id"] = cp.product_id;
  j["low"] = cp.low;
  j["high"] = cp.high;
  if (cp.high_time) {
    j["high_time_us"] = *cp.high_time;
    j["high_time"] = FormatRfc3339Micros(*cp.high_time);
  }
  if (cp.backfill) {
    nlohmann::ordered_json b;
    b["from"] = cp.backfill->from;
    b["next"] = cp.backfill->next;
    if (cp.backfill->landed_time) b["landed_time_us"] = *cp.backfill->landed_time;
    j["backfill"] = std::move(b);
  }
  if (cp.landed_next_seq) j["landed_next_seq"] = *cp.landed_next_seq;
  j["updated_at_us"] = cp.updated_at;
  j["updated_at"] = FormatRfc3339Micros(cp.updated_at);
  // The product id must read back byte for byte (LoadCheckpoint compares
  // it), so text that is not UTF-8 is refused rather than replaced.
  std::string text;
  try {
    text = j.dump();
  } catch (const nlohmann::json::type_error& e) {
    return InvalidArgument(fmt::format("saving ingest checkpoint: product id is not UTF-8 ({})", e.what()));
  }
  return store->Put(CheckpointKey(cp.product_id), text + "\n", WriteMode::kOverwrite)
      .WithContext("saving ingest checkpoint");
}

Status WriteGapReport(ObjectStore* store, const GapReport& gap) {
  nlohmann::ordered_json j;
  j["product_id"] = gap.product_id;
  j["first_trade_id"] = gap.first_id;
  j["last_trade_id"] = gap.last_id;
  j["count"] = gap.last_id - gap.first_id + 1;
  j["reason"] = gap.reason;
  j["request"] = gap.request;
  j["attempts"] = gap.attempts;
  j["detected_at"] = FormatRfc3339Micros(gap.detected_at);
  const std::string key = GapReportKey(gap.product_id, gap.first_id, gap.last_id);
  // reason and request carry the exchange's words: bytes that are not UTF-8
  // become U+FFFD (the default handler would throw out of the ingester).
  const std::string text =
      j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  Status s = store->Put(key, text + "\n", WriteMode::kCreateOnly);
  if (s.code() == StatusCode::kAlreadyExists) return Status::OK();
  return s;
}

Result<std::vector<LandedRange>> ListLandedRanges(ObjectStore* store, std::string_view product_id) {
  std::vector<LandedRange> out;
  ASSIGN_OR_RETURN(auto objects, store->List(BronzeProductPrefix(product_id)));
  AddObjectRanges(objects, &out);
  const std::string gap_prefix = GapReportPrefix(product_id);
  ASSIGN_OR_RETURN(auto gaps, store->List(gap_prefix));
  for (const auto& g : gaps) {
    auto r = ParseGapKey(gap_prefix, g);
    if (r) out.push_back(std::move(*r));
  }
  SortByFirst(&out);
  return out;
}

Result<std::vector<LandedRange>> ListLandedRangesSince(ObjectStore* store, std::string_view product_id,
                                                       TimestampMicros since, TimestampMicros now) {
  std::vector<LandedRange> out;
  const std::string product_prefix = BronzeProductPrefix(product_id);
  // Slack for trade times slightly out of id order and for clocks that
  // disagree near midnight; usually the span is one or two days.
  constexpr int64_t kSlack = 2 * kMicrosPerHour;
  const int64_t first_day = DayNumber(since - kSlack);
  const int64_t last_day = DayNumber(std::max(since, now) + kSlack);
  for (const auto& p : DatePrefixes(first_day, last_day)) {
    ASSIGN_OR_RETURN(auto objects, store->List(product_prefix + p));
    AddObjectRanges(objects, &out);
  }
  SortByFirst(&out);
  return out;
}

int64_t AdvanceOverLanded(const std::vector<LandedRange>& ranges, int64_t next) {
  // Ranges are sorted by first id; one pass suffices since each step only
  // moves `next` forward.
  for (const auto& r : ranges) {
    if (r.first_id > next) break;
    if (r.first_id <= next && r.last_id >= next) next = r.last_id + 1;
  }
  return next;
}

Result<int64_t> AdvanceOverLandedAndGaps(ObjectStore* store, std::string_view product_id,
                                         const std::vector<LandedRange>& ranges, int64_t next,
                                         std::vector<LandedRange>* gaps_passed) {
  const std::string gap_prefix = GapReportPrefix(product_id);
  while (true) {
    next = AdvanceOverLanded(ranges, next);
    // "gaps/<next>-" matches only reports starting exactly at next ("100-"
    // is not a prefix of "1000-...").
    ASSIGN_OR_RETURN(auto gaps, store->List(fmt::format("{}{}-", gap_prefix, next)));
    int64_t to = next;
    for (const auto& g : gaps) {
      auto r = ParseGapKey(gap_prefix, g);
      if (r && r->first_id == next) {
        to = std::max(to, r->last_id + 1);
        if (gaps_passed) gaps_passed->push_back(*r);
      }
    }
    if (to == next) return next;
    next = to;
  }
}

}  // namespace tradelake
