#include "bronze/landed_log.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "bronze/bronze.h"

namespace tradelake {
namespace {

std::string ProductsPrefix() { return fmt::format("_state/ingest/products/source={}/", kBronzeSource); }

std::string MarkerKey(std::string_view product_id) {
  return fmt::format("{}{}.json", ProductsPrefix(), product_id);
}

std::string EntryKey(std::string_view product_id, int64_t seq) {
  return fmt::format("{}{:020}.json", LandedLogPrefix(product_id), seq);
}

std::string EncodeEntry(const LandedEntry& e) {
  nlohmann::ordered_json j;
  j["seq"] = e.seq;
  j["key"] = e.key;
  j["first_trade_id"] = e.first_trade_id;
  j["last_trade_id"] = e.last_trade_id;
  j["records"] = e.records;
  j["bytes"] = e.bytes;
  j["landed_at"] = FormatRfc3339Micros(e.landed_at);
  return j.dump() + "\n";
}

Result<LandedEntry> DecodeEntry(std::string_view key, int64_t seq, const std::string& data,
                                simdjson::dom::parser* parser) {
  auto corrupt = [&](std::string_view why) {
    return DataLoss(fmt::format("landed-log entry {} is corrupt ({}); the ETL cannot read past it", key, why));
  };
  simdjson::dom::element doc;
  if (parser->parse(data).get(doc) != simdjson::SUCCESS) return corrupt("not JSON");
  LandedEntry e;
  std::string_view object_key;
  std::string_view landed_at;
  if (doc["seq"].get_int64().get(e.seq) != simdjson::SUCCESS) return corrupt("no seq");
  if (e.seq != seq) return corrupt(fmt::format("seq {} in an entry named {}", e.seq, seq));
  if (doc["key"].get_string().get(object_key) != simdjson::SUCCESS) return corrupt("no key");
  if (doc["first_trade_id"].get_int64().get(e.first_trade_id) != simdjson::SUCCESS ||
      doc["last_trade_id"].get_int64().get(e.last_trade_id) != simdjson::SUCCESS ||
      e.first_trade_id > e.last_trade_id) {
    return corrupt("bad first_trade_id/last_trade_id");
  }
  if (doc["records"].get_int64().get(e.records) != simdjson::SUCCESS || e.records < 0) return corrupt("bad records");
  if (doc["bytes"].get_int64().get(e.bytes) != simdjson::SUCCESS || e.bytes < 0) return corrupt("bad bytes");
  if (doc["landed_at"].get_string().get(landed_at) != simdjson::SUCCESS) return corrupt("no landed_at");
  auto t = ParseRfc3339(landed_at);
  if (!t.ok()) return corrupt("bad landed_at");
  e.key = std::string(object_key);
  e.landed_at = *t;
  return e;
}

// True if entry `seq` exists. Head, not Get: probing reads no bodies.
Result<bool> EntryExists(ObjectStore* store, std::string_view product_id, int64_t seq) {
  auto h = store->Head(EntryKey(product_id, seq));
  if (h.ok()) return true;
  if (h.status().code() == StatusCode::kNotFound) return false;
  return h.status();
}

// The first free seq, knowing `taken` is taken. Entries form a prefix with
// no holes (every append takes the first free seq at or after a taken one),
// so gallop forward, then bisect: O(log n) probes even when the caller's
// next_seq is far behind (an old checkpoint, a second writer).
Result<int64_t> FirstFreeAfter(ObjectStore* store, std::string_view product_id, int64_t taken) {
  int64_t lo = taken;  // taken
  int64_t step = 1;
  int64_t hi = 0;  // free
  while (true) {
    const int64_t probe = lo + step;
    ASSIGN_OR_RETURN(bool exists, EntryExists(store, product_id, probe));
    if (!exists) {
      hi = probe;
      break;
    }
    lo = probe;
    step *= 2;
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    ASSIGN_OR_RETURN(bool exists, EntryExists(store, product_id, mid));
    (exists ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace

std::string LandedLogPrefix(std::string_view product_id) {
  return fmt::format("_state/ingest/landed/source={}/product={}/", kBronzeSource, product_id);
}

Result<int64_t> AppendLanded(ObjectStore* store, std::string_view product_id, LandedEntry entry,
                             int64_t* next_seq) {
  if (*next_seq < 0) return InvalidArgument(fmt::format("landed log of {}: negative next seq {}", product_id, *next_seq));
  if (*next_seq == 0) {
    // The marker goes first: a product whose log has an entry always has a
    // marker, so ListLandedProducts never misses one.
    nlohmann::ordered_json m;
    m["source"] = kBronzeSource;
    m["product_id"] = product_id;
    m["log"] = LandedLogPrefix(product_id);
    Status s = store->Put(MarkerKey(product_id), m.dump() + "\n", WriteMode::kCreateOnly);
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) {
      return s.WithContext(fmt::format("writing the landed-product marker of {}", product_id));
    }
  }
  if (entry.landed_at == 0) entry.landed_at = NowMicros();
  int64_t seq = *next_seq;
  while (true) {
    entry.seq = seq;
    Status s = store->Put(EntryKey(product_id, seq), EncodeEntry(entry), WriteMode::kCreateOnly);
    if (s.ok()) break;
    if (s.code() != StatusCode::kAlreadyExists) {
      return s.WithContext(fmt::format("announcing {} in the landed log", entry.key));
    }
    // Another writer holds this seq (or our bookmark was stale): never
    // overwrite, take the next free one.
    ASSIGN_OR_RETURN(seq, FirstFreeAfter(store, product_id, seq));
  }
  *next_seq = seq + 1;
  return seq;
}

Result<std::vector<LandedEntry>> ReadLanded(ObjectStore* store, std::string_view product_id, int64_t from_seq,
                                            int64_t max_entries) {
  std::vector<LandedEntry> out;
  if (from_seq < 0) return InvalidArgument(fmt::format("landed log of {}: negative seq {}", product_id, from_seq));
  simdjson::dom::parser parser;
  for (int64_t seq = from_seq; static_cast<int64_t>(out.size()) < max_entries; ++seq) {
    const std::string key = EntryKey(product_id, seq);
    auto data = store->Get(key);
    if (data.status().code() == StatusCode::kNotFound) break;
    if (!data.ok()) return data.status().WithContext(fmt::format("reading landed-log entry {}", key));
    ASSIGN_OR_RETURN(LandedEntry e, DecodeEntry(key, seq, *data, &parser));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<std::string>> ListLandedProducts(ObjectStore* store) {
  const std::string prefix = ProductsPrefix();
  ASSIGN_OR_RETURN(auto objects, store->List(prefix));
  std::vector<std::string> out;
  for (const auto& o : objects) {
    std::string_view name = std::string_view(o.key).substr(prefix.size());
    // Only "<id>.json" directly under the prefix; anything else is not ours.
    if (!name.ends_with(".json") || name.find('/') != std::string_view::npos) continue;
    name.remove_suffix(5);
    if (name.empty()) continue;
    out.emplace_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status LandBronzeObject(ObjectStore* store, std::string_view key, std::string_view data, int64_t first_trade_id,
                        int64_t last_trade_id, int64_t records, int64_t* next_seq) {
  ASSIGN_OR_RETURN(BronzeKey parsed, ParseBronzeObjectKey(key));
  RETURN_IF_ERROR(store->Put(key, data, WriteMode::kCreateOnly));
  LandedEntry e;
  e.key = std::string(key);
  e.first_trade_id = first_trade_id;
  e.last_trade_id = last_trade_id;
  e.records = records;
  e.bytes = static_cast<int64_t>(data.size());
  auto seq = AppendLanded(store, parsed.product_id, std::move(e), next_seq);
  return seq.status();
}

}  // namespace tradelake
