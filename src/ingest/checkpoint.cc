#include "ingest/checkpoint.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <simdjson.h>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

std::string StateProductPrefix(std::string_view product_id) {
  return fmt::format("_state/ingest/source={}/product={}/", kBronzeSource, product_id);
}

}  // namespace

std::string CheckpointKey(std::string_view product_id) {
  return StateProductPrefix(product_id) + "checkpoint.json";
}

std::string GapReportPrefix(std::string_view product_id) {
  return StateProductPrefix(product_id) + "gaps/";
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
    cp.backfill = b;
  }
  return std::optional<Checkpoint>(std::move(cp));
}

Status SaveCheckpoint(ObjectStore* store, const Checkpoint& cp) {
  std::string json = fmt::format("{{\"product_id\":\"{}\",\"low\":{},\"high\":{}", cp.product_id,
                                 cp.low, cp.high);
  if (cp.high_time) {
    json += fmt::format(",\"high_time_us\":{},\"high_time\":\"{}\"", *cp.high_time,
                        FormatRfc3339Micros(*cp.high_time));
  }
  if (cp.backfill) {
    json += fmt::format(",\"backfill\":{{\"from\":{},\"next\":{}}}", cp.backfill->from, cp.backfill->next);
  }
  json += fmt::format(",\"updated_at_us\":{},\"updated_at\":\"{}\"}}\n", cp.updated_at,
                      FormatRfc3339Micros(cp.updated_at));
  return store->Put(CheckpointKey(cp.product_id), json, WriteMode::kOverwrite)
      .WithContext("saving ingest checkpoint");
}

Status WriteGapReport(ObjectStore* store, const GapReport& gap) {
  std::string json = fmt::format(
      "{{\"product_id\":\"{}\",\"first_trade_id\":{},\"last_trade_id\":{},\"count\":{},"
      "\"reason\":\"{}\",\"request\":\"{}\",\"attempts\":{},\"detected_at\":\"{}\"}}\n",
      gap.product_id, gap.first_id, gap.last_id, gap.last_id - gap.first_id + 1, gap.reason,
      gap.request, gap.attempts, FormatRfc3339Micros(gap.detected_at));
  const std::string key = fmt::format("{}{}-{}.json", GapReportPrefix(gap.product_id), gap.first_id, gap.last_id);
  Status s = store->Put(key, json, WriteMode::kCreateOnly);
  if (s.code() == StatusCode::kAlreadyExists) return Status::OK();
  return s;
}

Result<std::vector<LandedRange>> ListLandedRanges(ObjectStore* store, std::string_view product_id) {
  std::vector<LandedRange> out;
  ASSIGN_OR_RETURN(auto objects, store->List(BronzeProductPrefix(product_id)));
  for (const auto& o : objects) {
    auto key = ParseBronzeObjectKey(o.key);
    if (!key.ok()) continue;  // not ours (e.g. a file someone dropped in); never trusted as coverage
    out.push_back({key->first_id, key->last_id, false});
  }
  const std::string gap_prefix = GapReportPrefix(product_id);
  ASSIGN_OR_RETURN(auto gaps, store->List(gap_prefix));
  for (const auto& g : gaps) {
    std::string_view name = std::string_view(g.key).substr(gap_prefix.size());
    if (!name.ends_with(".json")) continue;
    name.remove_suffix(5);
    const size_t dash = name.find('-');
    if (dash == std::string_view::npos) continue;
    int64_t a = 0, b = 0;
    auto r1 = std::from_chars(name.data(), name.data() + dash, a);
    auto r2 = std::from_chars(name.data() + dash + 1, name.data() + name.size(), b);
    if (r1.ec != std::errc() || r2.ec != std::errc() || a > b) continue;
    out.push_back({a, b, true});
  }
  std::sort(out.begin(), out.end(),
            [](const LandedRange& x, const LandedRange& y) { return x.first_id < y.first_id; });
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

}  // namespace tradelake
