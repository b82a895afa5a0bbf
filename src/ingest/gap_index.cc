#include "ingest/gap_index.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

using Json = nlohmann::ordered_json;

std::string StatePrefix(std::string_view product_id) {
  return fmt::format("_state/ingest/source={}/product={}/", kBronzeSource, product_id);
}

void PutTime(Json& j, const char* name, TimestampMicros t) {
  j[fmt::format("{}_us", name)] = t;
  j[name] = FormatRfc3339Micros(t);  // for people; the _us field is what is read
}

Json ClosedJson(const ClosedGap& c) {
  Json j;
  j["first_trade_id"] = c.first_id;
  j["last_trade_id"] = c.last_id;
  j["trades"] = c.trades;
  j["report"] = c.report;
  PutTime(j, "opened_at", c.opened_at);
  PutTime(j, "closed_at", c.closed_at);
  j["attempts"] = c.attempts;
  j["objects"] = c.objects;
  j["partial"] = c.partial;
  return j;
}

// Reads a closure record or index entry; false if a field is missing or of
// another type.
bool ParseClosed(const Json& j, ClosedGap* c) {
  try {
    c->first_id = j.at("first_trade_id").get<int64_t>();
    c->last_id = j.at("last_trade_id").get<int64_t>();
    c->trades = j.at("trades").get<int64_t>();
    c->report = j.at("report").get<std::string>();
    c->opened_at = j.at("opened_at_us").get<int64_t>();
    c->closed_at = j.at("closed_at_us").get<int64_t>();
    c->attempts = j.at("attempts").get<int>();
    c->objects = j.at("objects").get<std::vector<std::string>>();
    c->partial = j.value("partial", false);
    return true;
  } catch (const Json::exception&) {
    return false;
  }
}

std::string Dump(const Json& j) {
  // Keys and reports are ASCII; replace guards against anything else rather
  // than letting the library throw.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

int64_t GapRetryDelayMs(const GapRetryPolicy& policy, int attempt) {
  const int64_t cap = std::max<int64_t>(0, policy.max_delay_ms);
  int64_t delay = std::max<int64_t>(0, policy.first_delay_ms);
  for (int i = 1; i < attempt && delay < cap; ++i) delay = delay > cap / 2 ? cap : delay * 2;
  return std::min(delay, cap);
}

int64_t GapIndex::open_ids() const {
  int64_t n = 0;
  for (const auto& g : open) n += g.last_id - g.first_id + 1;
  return n;
}

std::string GapIndexKey(std::string_view product_id) { return StatePrefix(product_id) + "gap_index.json"; }

std::string GapRepairPrefix(std::string_view product_id) { return StatePrefix(product_id) + "gap_repairs/"; }

Result<GapIndex> LoadGapIndex(ObjectStore* store, std::string_view product_id) {
  GapIndex index;
  index.product_id = std::string(product_id);
  const std::string key = GapIndexKey(product_id);
  auto data = store->Get(key);
  if (data.status().code() == StatusCode::kNotFound) return index;
  if (!data.ok()) return data.status().WithContext("reading the gap index");
  auto corrupt = [&](std::string_view why) {
    return DataLoss(fmt::format("gap index {} is corrupt ({}); move it away: open gaps are then retried only "
                                "when found again",
                                key, why));
  };
  Json j = Json::parse(*data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return corrupt("not a JSON object");
  if (j.value("product_id", std::string()) != product_id) return corrupt("wrong product_id");
  try {
    for (const auto& o : j.at("open")) {
      OpenGap g;
      g.first_id = o.at("first_trade_id").get<int64_t>();
      g.last_id = o.at("last_trade_id").get<int64_t>();
      g.report = o.at("report").get<std::string>();
      g.opened_at = o.at("opened_at_us").get<int64_t>();
      g.attempts = o.at("attempts").get<int>();
      if (o.contains("last_attempt_at_us")) g.last_attempt_at = o.at("last_attempt_at_us").get<int64_t>();
      g.next_attempt_at = o.at("next_attempt_at_us").get<int64_t>();
      if (o.contains("landing")) g.landing = o.at("landing").get<std::vector<std::string>>();
      if (g.first_id > g.last_id) return corrupt(fmt::format("open gap {}-{} is empty", g.first_id, g.last_id));
      index.open.push_back(std::move(g));
    }
    index.closed_repairs = j.at("closed_repairs").get<int64_t>();
    index.closed_trades = j.at("closed_trades").get<int64_t>();
    for (const auto& c : j.at("recent_closed")) {
      ClosedGap closed;
      if (!ParseClosed(c, &closed)) return corrupt("bad recent_closed entry");
      index.recent_closed.push_back(std::move(closed));
    }
  } catch (const Json::exception& e) {
    return corrupt(e.what());
  }
  std::sort(index.open.begin(), index.open.end(),
            [](const OpenGap& a, const OpenGap& b) { return a.first_id < b.first_id; });
  return index;
}

Status SaveGapIndex(ObjectStore* store, const GapIndex& index) {
  Json j;
  j["product_id"] = index.product_id;
  j["open_gaps"] = index.open.size();
  j["open_ids"] = index.open_ids();
  Json open = Json::array();
  for (const auto& g : index.open) {
    Json o;
    o["first_trade_id"] = g.first_id;
    o["last_trade_id"] = g.last_id;
    o["report"] = g.report;
    PutTime(o, "opened_at", g.opened_at);
    o["attempts"] = g.attempts;
    if (g.last_attempt_at) PutTime(o, "last_attempt_at", *g.last_attempt_at);
    PutTime(o, "next_attempt_at", g.next_attempt_at);
    if (!g.landing.empty()) o["landing"] = g.landing;
    open.push_back(std::move(o));
  }
  j["open"] = std::move(open);
  j["closed_repairs"] = index.closed_repairs;
  j["closed_trades"] = index.closed_trades;
  Json recent = Json::array();
  for (const auto& c : index.recent_closed) recent.push_back(ClosedJson(c));
  j["recent_closed"] = std::move(recent);
  return store->Put(GapIndexKey(index.product_id), Dump(j), WriteMode::kOverwrite).WithContext("saving the gap index");
}

bool AddOpenGap(GapIndex* index, OpenGap gap) {
  for (const auto& g : index->open) {
    if (g.first_id <= gap.last_id && gap.first_id <= g.last_id) return false;  // already open (or part of it)
  }
  auto at = std::lower_bound(index->open.begin(), index->open.end(), gap.first_id,
                             [](const OpenGap& g, int64_t first) { return g.first_id < first; });
  index->open.insert(at, std::move(gap));
  return true;
}

Status RecordClosedGap(ObjectStore* store, GapIndex* index, const ClosedGap& closed) {
  const std::string key = fmt::format("{}{}-{}.json", GapRepairPrefix(index->product_id), closed.first_id, closed.last_id);
  Status s = store->Put(key, Dump(ClosedJson(closed)), WriteMode::kCreateOnly);
  if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s.WithContext("recording a repaired gap");
  ++index->closed_repairs;
  index->closed_trades += closed.trades;
  index->recent_closed.push_back(closed);
  if (index->recent_closed.size() > kRecentClosedGaps) {
    index->recent_closed.erase(index->recent_closed.begin(),
                               index->recent_closed.end() - static_cast<std::ptrdiff_t>(kRecentClosedGaps));
  }
  return Status::OK();
}

Result<std::vector<ClosedGap>> ListClosedGaps(ObjectStore* store, std::string_view product_id) {
  std::vector<ClosedGap> out;
  ASSIGN_OR_RETURN(auto objects, store->List(GapRepairPrefix(product_id)));
  for (const auto& o : objects) {
    ASSIGN_OR_RETURN(std::string data, store->Get(o.key));
    Json j = Json::parse(data, nullptr, /*allow_exceptions=*/false);
    ClosedGap c;
    if (j.is_discarded() || !ParseClosed(j, &c)) {
      return DataLoss(fmt::format("gap repair record {} is corrupt", o.key));
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const ClosedGap& a, const ClosedGap& b) { return a.first_id < b.first_id; });
  return out;
}

}  // namespace tradelake
