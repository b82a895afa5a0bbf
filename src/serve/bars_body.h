// The /api/v1/bars answer text (rows or columnar) made from bar cells
// (bars_cache.h), and its gzip encoding.
//
// Contract: every value is JSON text made by the JSON library (the cells);
// this file only joins them with the keys, commas and brackets of compact
// JSON, so the text equals what nlohmann-json dumps for the same document
// (the row form is checked against it in api_server_test). Prices stay the
// exact decimal strings of the cells. Threads: plain functions, no state.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "etl/rows.h"
#include "serve/api_params.h"
#include "serve/bars_cache.h"

namespace tradelake {

// A bar of the live tail: its cells and whether it holds every trade of
// its minute.
struct LiveBarCells {
  BarCells bar;
  bool complete = false;
};

// The cells of a live tail bar (GoldBar's measures as exact decimal strings).
BarCells CellsOf(const GoldBar& bar);

// The value of "bars": Gold's bars, then the live tail's.
//  - kRows: [{"time":...,"sell_volume":...}, ...]; live bars end with
//    "provisional":true,"complete":<bool>.
//  - kColumnar: {"time":[...],...,"sell_volume":[...]}, and, when `live` is
//    not empty, "provisional":[false..., true...] and "complete":[null for
//    each Gold bar, then each live bar's].
std::string BarsJson(std::span<const BarCells> gold, std::span<const LiveBarCells> live, BarsFormat format);

// True when an Accept-Encoding header value accepts gzip ("gzip" or "*"
// listed without q=0; "x-gzip" too).
bool AcceptsGzip(std::string_view accept_encoding);

// `body` gzip-compressed (zlib's default level), or "" if zlib fails.
std::string Gzip(std::string_view body);

}  // namespace tradelake
