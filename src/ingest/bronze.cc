#include "ingest/bronze.h"

#include <zstd.h>

#include <charconv>
#include <memory>

#include <fmt/format.h>
#include <simdjson.h>

namespace tradelake {
namespace {

// zstd level 3: ~5x smaller JSON at several hundred MB/s, well above the
// exchange's rate.
constexpr int kZstdLevel = 3;

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

Result<int64_t> ParseId(std::string_view s, std::string_view what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return InvalidArgument(fmt::format("bad {} \"{}\"", what, s));
  }
  return v;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out->append(fmt::format("\\u{:04x}", static_cast<int>(c)));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string BronzeProductPrefix(std::string_view product_id) {
  return fmt::format("bronze/source={}/product={}/", kBronzeSource, product_id);
}

std::string BronzeObjectKey(std::string_view product_id, std::string_view date, int64_t first_id,
                            int64_t last_id) {
  return fmt::format("bronze/source={}/product={}/date={}/{}-{}.jsonl.zst", kBronzeSource,
                     product_id, date, first_id, last_id);
}

Result<BronzeKey> ParseBronzeObjectKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("not a Bronze object key \"{}\": {}", key, why));
  };
  const std::string prefix = fmt::format("bronze/source={}/product=", kBronzeSource);
  if (!key.starts_with(prefix)) return bad("wrong prefix");
  std::string_view rest = key.substr(prefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return bad("no product");
  BronzeKey out;
  out.product_id = std::string(rest.substr(0, slash));
  rest.remove_prefix(slash + 1);
  if (!rest.starts_with("date=") || rest.size() < 16 || rest[15] != '/') return bad("no date");
  out.date = std::string(rest.substr(5, 10));
  rest.remove_prefix(16);
  constexpr std::string_view kExt = ".jsonl.zst";
  if (!rest.ends_with(kExt)) return bad("not .jsonl.zst");
  rest.remove_suffix(kExt.size());
  const size_t dash = rest.find('-');
  if (dash == std::string_view::npos) return bad("no first-last range");
  auto first = ParseId(rest.substr(0, dash), "first trade id");
  auto last = ParseId(rest.substr(dash + 1), "last trade id");
  if (!first.ok() || !last.ok() || *first > *last) return bad("bad first-last range");
  out.first_id = *first;
  out.last_id = *last;
  return out;
}

Result<std::string> EncodeBronzeObject(const std::vector<BronzeRecord>& records,
                                       TimestampMicros ingested_at, std::string_view request) {
  std::string prefix = "{\"ingested_at\":\"" + FormatRfc3339Micros(ingested_at) + "\",\"request\":";
  AppendJsonString(&prefix, request);
  std::string jsonl;
  size_t total = 0;
  for (const auto& r : records) total += r.raw.size() + prefix.size() + 16;
  jsonl.reserve(total);
  for (const auto& r : records) {
    jsonl.append(prefix);
    if (r.raw.find_first_of("\n\r") == std::string_view::npos) {
      jsonl.append(",\"trade\":");
      jsonl.append(r.raw);
    } else {
      jsonl.append(",\"trade_text\":");
      AppendJsonString(&jsonl, r.raw);
    }
    jsonl.append("}\n");
  }
  std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
  if (!cctx) return Internal("zstd: cannot create a compression context");
  std::string out(ZSTD_compressBound(jsonl.size()), '\0');
  const size_t n = ZSTD_compressCCtx(cctx.get(), out.data(), out.size(), jsonl.data(), jsonl.size(),
                                     kZstdLevel);
  if (ZSTD_isError(n)) return Internal(fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  out.resize(n);
  return out;
}

Result<std::vector<DecodedBronzeRecord>> DecodeBronzeObject(std::string_view compressed) {
  const unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return DataLoss("Bronze object is not a complete zstd frame");
  }
  std::string jsonl(size + simdjson::SIMDJSON_PADDING, '\0');
  const size_t n = ZSTD_decompress(jsonl.data(), size, compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n != size) {
    return DataLoss(fmt::format("Bronze object does not decompress: {}",
                                ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  jsonl.resize(n);
  std::vector<DecodedBronzeRecord> out;
  simdjson::dom::parser dom;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < jsonl.size()) {
    ++line_no;
    size_t end = jsonl.find('\n', pos);
    if (end == std::string::npos) return DataLoss(fmt::format("Bronze line {} is not terminated", line_no));
    std::string_view line(jsonl.data() + pos, end - pos);
    pos = end + 1;
    auto fail = [&](std::string_view why) {
      return DataLoss(fmt::format("Bronze line {}: {}", line_no, why));
    };
    simdjson::dom::element doc;
    if (dom.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS) return fail("not JSON");
    DecodedBronzeRecord rec;
    std::string_view at;
    if (doc["ingested_at"].get_string().get(at) != simdjson::SUCCESS) return fail("no ingested_at");
    rec.ingested_at = std::string(at);
    std::string_view text;
    if (doc["trade_text"].get_string().get(text) == simdjson::SUCCESS) {
      rec.trade = std::string(text);
    } else {
      // The exchange's bytes: everything after "trade": up to the closing brace.
      constexpr std::string_view kTag = ",\"trade\":";
      const size_t t = line.find(kTag);
      if (t == std::string_view::npos || line.back() != '}') return fail("no trade");
      rec.trade = std::string(line.substr(t + kTag.size(), line.size() - t - kTag.size() - 1));
    }
    simdjson::dom::element trade;
    if (dom.parse(rec.trade).get(trade) != simdjson::SUCCESS) return fail("trade is not JSON");
    int64_t id = 0;
    if (trade["trade_id"].get_int64().get(id) != simdjson::SUCCESS) return fail("trade has no integer trade_id");
    rec.trade_id = id;
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace tradelake
