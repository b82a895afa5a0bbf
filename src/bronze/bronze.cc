#include "bronze/bronze.h"

#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/text.h"

namespace tradelake {
namespace {

// zstd level 3: ~5x smaller JSON at several hundred MB/s, well above the
// exchange's rate.
constexpr int kZstdLevel = 3;

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Largest zstd window accepted (2^27 = 128 MiB, zstd's default limit for
// streaming): the window is what a decoder must hold besides its output.
constexpr int kZstdMaxWindowLog = 27;

Result<int64_t> ParseId(std::string_view s, std::string_view what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return InvalidArgument(fmt::format("bad {} \"{}\"", what, s));
  }
  return v;
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
  // The product and date go into Silver partitions, SQL and messages: only
  // names tradelake itself would write pass.
  if (!ValidateProductId(out.product_id).ok()) return bad("invalid product id");
  rest.remove_prefix(slash + 1);
  if (!rest.starts_with("date=") || rest.size() < 16 || rest[15] != '/') return bad("no date");
  out.date = std::string(rest.substr(5, 10));
  auto midnight = ParseRfc3339(out.date + "T00:00:00Z");
  if (!midnight.ok() || FormatDate(*midnight) != out.date) return bad("invalid date");
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

namespace {

// Reads a JSON string starting at text[*pos] == '"'; advances past it.
bool ReadJsonString(std::string_view text, size_t* pos, std::string* out) {
  if (*pos >= text.size() || text[*pos] != '"') return false;
  // Fast path: no escapes before the closing quote (every line tradelake writes).
  const size_t close = text.find('"', *pos + 1);
  if (close != std::string_view::npos &&
      text.substr(*pos + 1, close - *pos - 1).find('\\') == std::string_view::npos) {
    out->assign(text.substr(*pos + 1, close - *pos - 1));
    *pos = close + 1;
    return true;
  }
  out->clear();
  for (size_t i = *pos + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      *pos = i + 1;
      return true;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= text.size()) return false;
    switch (text[i]) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'u': {
        if (i + 4 >= text.size()) return false;
        unsigned v = 0;
        for (int k = 1; k <= 4; ++k) {
          const char h = text[i + static_cast<size_t>(k)];
          v <<= 4;
          if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
          else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
          else return false;
        }
        if (v >= 0x80) return false;  // tradelake only escapes control characters this way
        out->push_back(static_cast<char>(v));
        i += 4;
        break;
      }
      default: return false;
    }
  }
  return false;
}

bool Consume(std::string_view text, size_t* pos, std::string_view lit) {
  if (text.substr(*pos, lit.size()) != lit) return false;
  *pos += lit.size();
  return true;
}

void ParseLine(BronzeLine* l) {
  const std::string_view t = l->line;
  size_t pos = 0;
  if (!Consume(t, &pos, "{\"ingested_at\":") || !ReadJsonString(t, &pos, &l->ingested_at)) {
    l->error = "no ingested_at";
    return;
  }
  if (!Consume(t, &pos, ",\"request\":") || !ReadJsonString(t, &pos, &l->request)) {
    l->error = "no request";
    return;
  }
  if (Consume(t, &pos, ",\"trade_text\":")) {
    if (!ReadJsonString(t, &pos, &l->trade) || pos + 1 != t.size() || t.back() != '}') l->error = "bad trade_text";
    return;
  }
  if (!Consume(t, &pos, ",\"trade\":") || t.back() != '}' || pos >= t.size()) {
    l->error = "no trade";
    return;
  }
  l->trade = std::string(t.substr(pos, t.size() - pos - 1));
}

}  // namespace

Result<std::string> DecompressBronzeObject(std::string_view compressed, size_t max_bytes) {
  // The frame header's content size is only a claim: a hostile object can
  // claim anything, or nothing. Never allocate by it; decompress in steps
  // and stop as soon as the output passes max_bytes.
  const unsigned long long claimed = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (claimed == ZSTD_CONTENTSIZE_ERROR) return DataLoss("Bronze object is not a zstd frame");
  auto too_big = [&] {
    return DataLoss(fmt::format(
        "Bronze object inflates to more than the limit of {} MiB ({} bytes compressed); tradelake writes at most "
        "--object-trades trades (~250 bytes each) per object, so it is not one of its objects",
        max_bytes >> 20, compressed.size()));
  };
  if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed > max_bytes) return too_big();
  std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) return Internal("zstd: cannot create a decompression context");
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kZstdMaxWindowLog);
  // Steps of 1 MiB kept apart and joined at the end: a growing string
  // would hold its old and new buffers at once (1.5-3x the output) while
  // it reallocates, so a bomb would cost more than max_bytes.
  std::vector<std::string> steps;
  size_t total = 0;
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  constexpr size_t kStep = 1 << 20;
  while (true) {
    if (total > max_bytes) return too_big();
    std::string step(std::min(kStep, max_bytes + 1 - total), '\0');  // one byte past the limit tells "too big"
    ZSTD_outBuffer o{step.data(), step.size(), 0};
    const size_t ret = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(ret)) {
      return DataLoss(fmt::format("Bronze object does not decompress: {}", ZSTD_getErrorName(ret)));
    }
    total += o.pos;
    const bool full = o.pos == step.size();
    step.resize(o.pos);
    if (!step.empty()) steps.push_back(std::move(step));
    if (total > max_bytes) return too_big();
    if (ret == 0) break;  // the frame ended
    if (in.pos == in.size && !full) return DataLoss("Bronze object does not decompress: truncated zstd frame");
  }
  if (in.pos != in.size) return DataLoss("Bronze object has bytes after its zstd frame");
  if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && total != claimed) {
    return DataLoss("Bronze object does not decompress: short frame");
  }
  if (steps.size() == 1) return std::move(steps.front());
  std::string out;
  out.reserve(total);
  for (const auto& st : steps) out += st;
  return out;
}

Result<std::vector<BronzeLine>> ReadBronzeLines(std::string_view compressed, size_t max_bytes) {
  ASSIGN_OR_RETURN(std::string jsonl, DecompressBronzeObject(compressed, max_bytes));
  std::vector<BronzeLine> out;
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string::npos) end = jsonl.size();
    BronzeLine l;
    l.line = jsonl.substr(pos, end - pos);
    pos = end + 1;
    ParseLine(&l);
    out.push_back(std::move(l));
  }
  return out;
}

Result<std::vector<DecodedBronzeRecord>> DecodeBronzeObject(std::string_view compressed, size_t max_bytes) {
  ASSIGN_OR_RETURN(auto lines, ReadBronzeLines(compressed, max_bytes));
  std::vector<DecodedBronzeRecord> out;
  out.reserve(lines.size());
  simdjson::dom::parser dom;
  int64_t line_no = 0;
  for (auto& l : lines) {
    ++line_no;
    auto fail = [&](std::string_view why) {
      return DataLoss(fmt::format("Bronze line {}: {}", line_no, why));
    };
    if (!l.error.empty()) return fail(l.error);
    simdjson::dom::element trade;
    if (dom.parse(l.trade).get(trade) != simdjson::SUCCESS) return fail("trade is not JSON");
    int64_t id = 0;
    if (trade["trade_id"].get_int64().get(id) != simdjson::SUCCESS) return fail("trade has no integer trade_id");
    out.push_back({id, std::move(l.trade), std::move(l.ingested_at)});
  }
  return out;
}

}  // namespace tradelake
