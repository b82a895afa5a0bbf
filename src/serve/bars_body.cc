#include "serve/bars_body.h"

#include <httplib.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "etl/dec18.h"
#include "serve/http_response.h"

namespace tradelake {
namespace {

void AppendRow(std::string* out, const BarCells& b) {
  out->push_back('{');
  for (size_t i = 0; i < kBarFields.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->push_back('"');
    out->append(kBarFields[i]);
    out->append("\":");
    out->append(b.cells[i]);
  }
}

// The JSON text of a string value, made by the JSON library.
std::string JsonString(std::string text) { return DumpJson(nlohmann::ordered_json(std::move(text))); }

}  // namespace

BarCells CellsOf(const GoldBar& b) {
  BarCells c;
  c.time = b.period_start;
  c.cells = {JsonString(FormatRfc3339Trimmed(b.period_start)),
             JsonString(Dec18ToString(b.open)),
             JsonString(Dec18ToString(b.high)),
             JsonString(Dec18ToString(b.low)),
             JsonString(Dec18ToString(b.close)),
             JsonString(Dec18ToString(b.total_volume)),
             JsonString(Dec18ToString(b.quote_volume)),
             JsonString(Dec18ToString(b.vwap)),
             std::to_string(b.trade_count),
             JsonString(Dec18ToString(b.buy_volume)),
             JsonString(Dec18ToString(b.sell_volume))};
  return c;
}

std::string BarsJson(std::span<const BarCells> gold, std::span<const LiveBarCells> live, BarsFormat format) {
  std::string out;
  size_t bytes = 64;
  for (const BarCells& b : gold) {
    for (const std::string& c : b.cells) bytes += c.size() + 16;
  }
  out.reserve(bytes + live.size() * 512);
  if (format == BarsFormat::kRows) {
    out.push_back('[');
    for (const BarCells& b : gold) {
      if (out.size() > 1) out.push_back(',');
      AppendRow(&out, b);
      out.push_back('}');
    }
    for (const LiveBarCells& l : live) {
      if (out.size() > 1) out.push_back(',');
      AppendRow(&out, l.bar);
      out.append(l.complete ? ",\"provisional\":true,\"complete\":true}" : ",\"provisional\":true,\"complete\":false}");
    }
    out.push_back(']');
    return out;
  }
  out.push_back('{');
  for (size_t i = 0; i < kBarFields.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    out.append(kBarFields[i]);
    out.append("\":[");
    bool first = true;
    for (const BarCells& b : gold) {
      if (!first) out.push_back(',');
      first = false;
      out.append(b.cells[i]);
    }
    for (const LiveBarCells& l : live) {
      if (!first) out.push_back(',');
      first = false;
      out.append(l.bar.cells[i]);
    }
    out.push_back(']');
  }
  if (!live.empty()) {
    std::string provisional = ",\"provisional\":[", complete = ",\"complete\":[";
    for (size_t i = 0; i < gold.size(); ++i) {
      provisional.append(i > 0 ? ",false" : "false");
      complete.append(i > 0 ? ",null" : "null");
    }
    for (size_t i = 0; i < live.size(); ++i) {
      const bool sep = i > 0 || !gold.empty();
      provisional.append(sep ? ",true" : "true");
      complete.append(sep ? "," : "");
      complete.append(live[i].complete ? "true" : "false");
    }
    out.append(provisional).append("]").append(complete).append("]");
  }
  out.push_back('}');
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  std::string lower(accept_encoding);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  // gzip's own entry decides; otherwise "*" does. A weight of q=0 (0.0,
  // 0.000) refuses; any other accepts.
  bool star = false;
  for (const std::string& entry : SplitCommaList(lower)) {
    const std::string_view item = entry;
    const size_t semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    bool accepted = true;
    if (semi != std::string_view::npos) {
      const std::string_view params = trim(item.substr(semi + 1));
      if (params.starts_with("q=")) accepted = trim(params.substr(2)).find_first_not_of("0.") != std::string_view::npos;
    }
    if (coding != "*") return accepted;
    star = accepted;
  }
  return star;
}

std::string Gzip(std::string_view body) {
  // httplib's own gzip encoder (zlib, exported by Debian's libcpp-httplib):
  // the server sends its output as it is (http_response.h SetBody).
  httplib::detail::gzip_compressor gz;
  std::string out;
  out.reserve(body.size() / 4 + 64);
  const bool ok = gz.compress(body.data(), body.size(), /*last=*/true, [&out](const char* data, size_t n) {
    out.append(data, n);
    return true;
  });
  return ok ? out : std::string();
}

}  // namespace tradelake
