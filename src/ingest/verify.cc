#include "ingest/verify.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "ingest/checkpoint.h"

namespace tradelake {

Result<std::vector<std::string>> ListBronzeProducts(ObjectStore* store) {
  const std::string prefix = fmt::format("bronze/source={}/", kBronzeSource);
  ASSIGN_OR_RETURN(auto objects, store->List(prefix));
  std::set<std::string> products;
  for (const auto& o : objects) {
    auto key = ParseBronzeObjectKey(o.key);
    if (key.ok()) products.insert(key->product_id);
  }
  return std::vector<std::string>(products.begin(), products.end());
}

Result<BronzeProductSummary> VerifyBronze(ObjectStore* store, const std::string& product_id,
                                          std::vector<int64_t>* ids_out) {
  BronzeProductSummary sum;
  sum.product_id = product_id;
  ASSIGN_OR_RETURN(auto objects, store->List(BronzeProductPrefix(product_id)));
  std::vector<int64_t> ids;
  simdjson::dom::parser parser;
  struct Edge { int64_t id; std::string time; };
  std::optional<Edge> first, last;
  for (const auto& o : objects) {
    auto key = ParseBronzeObjectKey(o.key);
    if (!key.ok()) {
      sum.problems.push_back(fmt::format("{}: not a Bronze object name", o.key));
      continue;
    }
    ++sum.objects;
    sum.bytes += o.size;
    ASSIGN_OR_RETURN(std::string data, store->Get(o.key));
    auto records = DecodeBronzeObject(data);
    if (!records.ok()) {
      sum.problems.push_back(fmt::format("{}: {}", o.key, records.status().message()));
      continue;
    }
    int64_t prev = -1;
    for (const auto& r : *records) {
      if (r.trade_id < key->first_id || r.trade_id > key->last_id) {
        sum.problems.push_back(fmt::format("{}: trade {} outside the object's range", o.key, r.trade_id));
      }
      if (r.trade_id <= prev) {
        sum.problems.push_back(fmt::format("{}: trade {} out of order", o.key, r.trade_id));
      }
      prev = r.trade_id;
      ids.push_back(r.trade_id);
      if (!first || r.trade_id < first->id || !last || r.trade_id > last->id) {
        std::string_view t;
        simdjson::dom::element doc;
        std::string time;
        if (parser.parse(r.trade).get(doc) == simdjson::SUCCESS && doc["time"].get_string().get(t) == simdjson::SUCCESS) {
          time = std::string(t);
        }
        if (!first || r.trade_id < first->id) first = Edge{r.trade_id, time};
        if (!last || r.trade_id > last->id) last = Edge{r.trade_id, time};
      }
    }
    if (!records->empty() && (records->front().trade_id != key->first_id || records->back().trade_id != key->last_id)) {
      sum.problems.push_back(fmt::format("{}: first/last trade do not match the object's name", o.key));
    }
  }
  // The ETL finds Bronze objects only through the landed-object log: each
  // must be announced there, and each entry must name an object that exists.
  std::set<std::string> announced;
  for (int64_t seq = 0;;) {
    constexpr int64_t kBatch = 10'000;
    ASSIGN_OR_RETURN(auto entries, ReadLanded(store, product_id, seq, kBatch));
    for (auto& e : entries) announced.insert(std::move(e.key));
    seq += static_cast<int64_t>(entries.size());
    if (static_cast<int64_t>(entries.size()) < kBatch) break;
  }
  std::set<std::string> existing;
  for (const auto& o : objects) {
    if (!ParseBronzeObjectKey(o.key).ok()) continue;
    existing.insert(o.key);
    if (!announced.contains(o.key)) {
      sum.problems.push_back(fmt::format(
          "{}: not announced in the landed-object log ({}), so the ETL never reads it; if it landed after the "
          "ingest checkpoint, the next `tradelake ingest` of {} announces it",
          o.key, LandedLogPrefix(product_id), product_id));
    }
  }
  for (const auto& k : announced) {
    if (!existing.contains(k)) {
      sum.problems.push_back(fmt::format("{}: announced in the landed-object log but not in Bronze", k));
    }
  }

  std::sort(ids.begin(), ids.end());
  ASSIGN_OR_RETURN(auto ranges, ListLandedRanges(store, product_id));
  std::vector<LandedRange> gaps;
  for (const auto& r : ranges) {
    if (r.is_gap) gaps.push_back(r);
  }
  auto gap_covers = [&](int64_t id) {
    for (const auto& g : gaps) {
      if (id >= g.first_id && id <= g.last_id) return true;
    }
    return false;
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0 && ids[i] == ids[i - 1]) {
      ++sum.duplicates;
      continue;
    }
    if (i > 0 && ids[i] > ids[i - 1] + 1) {
      // Split the missing run into reported and unexplained parts.
      int64_t run_start = -1;
      for (int64_t id = ids[i - 1] + 1; id < ids[i]; ++id) {
        if (gap_covers(id)) {
          ++sum.reported_gap_trades;
          if (!sum.open_gaps.empty() && sum.open_gaps.back().second == id - 1) {
            sum.open_gaps.back().second = id;
          } else {
            sum.open_gaps.emplace_back(id, id);
          }
          if (run_start >= 0) sum.unexplained_missing.emplace_back(run_start, id - 1), run_start = -1;
        } else if (run_start < 0) {
          run_start = id;
        }
      }
      if (run_start >= 0) sum.unexplained_missing.emplace_back(run_start, ids[i] - 1);
    }
  }
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ASSIGN_OR_RETURN(sum.closed_gaps, ListClosedGaps(store, product_id));
  ASSIGN_OR_RETURN(sum.gap_index, LoadGapIndex(store, product_id));
  sum.trades = static_cast<int64_t>(ids.size());
  if (first) {
    sum.first_id = first->id;
    sum.first_time = first->time;
    sum.last_id = last->id;
    sum.last_time = last->time;
  }
  if (ids_out) *ids_out = std::move(ids);
  return sum;
}

}  // namespace tradelake
