// Bronze: the raw, immutable landing layer.
//
// Layout (DESIGN.md):
//   bronze/source=coinbase/product=<id>/date=<UTC trade date>/<first>-<last>.jsonl.zst
// One object holds trades of one product and one trade date, ascending by
// trade_id, ids first..last (holes only where a gap report says so). It is
// zstd-compressed JSON Lines; each line is
//   {"ingested_at":"<RFC 3339 micros>","request":"<path?query>","trade":<object>}
// where <object> is the trade exactly as the exchange sent it, byte for byte.
// (If an exchange object ever contained a raw line break, it is kept instead
// as the JSON string "trade_text", so the file stays one record per line.)
//
// Objects are written once with WriteMode::kCreateOnly and never modified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tradelake {

inline constexpr std::string_view kBronzeSource = "coinbase";

// "bronze/source=coinbase/product=BTC-USD/"
std::string BronzeProductPrefix(std::string_view product_id);

// "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/100-199.jsonl.zst"
std::string BronzeObjectKey(std::string_view product_id, std::string_view date, int64_t first_id,
                            int64_t last_id);

struct BronzeKey {
  std::string product_id;
  std::string date;  // "YYYY-MM-DD"
  int64_t first_id = 0;
  int64_t last_id = 0;
};
// Parses a key made by BronzeObjectKey; InvalidArgument for anything else,
// including a product id core/text.h ValidateProductId refuses and a date
// that is not a real calendar date ("2024-02-30", "2024-13-01").
Result<BronzeKey> ParseBronzeObjectKey(std::string_view key);

// One trade to land: its id and the exchange's bytes.
struct BronzeRecord {
  int64_t trade_id = 0;
  std::string_view raw;
};

// Builds an object's bytes (compressed). `records` ascending by trade_id.
Result<std::string> EncodeBronzeObject(const std::vector<BronzeRecord>& records,
                                       TimestampMicros ingested_at, std::string_view request);

// A decoded line.
struct DecodedBronzeRecord {
  int64_t trade_id = 0;
  std::string trade;        // the exchange's object, byte for byte
  std::string ingested_at;  // as written
};

// One line of a Bronze object, read leniently: a line that is not what
// tradelake writes (e.g. a broken record in a hand-made object) comes back
// with `error` set and `line` holding its bytes, so the ETL can reject it
// with a reason instead of failing or dropping it.
struct BronzeLine {
  std::string line;         // the whole line, without '\n'
  std::string ingested_at;  // RFC 3339, as written
  std::string request;      // "/products/BTC-USD/trades?..."
  std::string trade;        // the exchange's object, byte for byte
  std::string error;        // empty when the line has the Bronze shape
};

// Most bytes an object may decompress to (a hostile object -- 1 MB that
// inflates to 10 GB -- fails instead). tradelake's own objects hold at most
// --object-trades (50,000) trades of ~250 bytes: ~12 MB.
inline constexpr size_t kMaxBronzeObjectBytes = size_t{256} << 20;

// The object's bytes, decompressed in steps into memory that never exceeds
// max_bytes (plus one step of 1 MiB): the frame's claimed size is not
// trusted, and the decoder's window is at most 128 MiB. DataLoss, saying so,
// for an object that inflates past max_bytes, is not one complete zstd frame
// or has bytes after it.
Result<std::string> DecompressBronzeObject(std::string_view compressed, size_t max_bytes = kMaxBronzeObjectBytes);

// Decompresses an object (DecompressBronzeObject) and splits it into lines.
// DataLoss only when the object itself does not decompress within max_bytes.
Result<std::vector<BronzeLine>> ReadBronzeLines(std::string_view compressed,
                                                size_t max_bytes = kMaxBronzeObjectBytes);

// Decompresses and parses an object. DataLoss for a corrupt, truncated or
// oversized object (naming the line), so nothing bad is ever silently skipped.
Result<std::vector<DecodedBronzeRecord>> DecodeBronzeObject(std::string_view compressed,
                                                            size_t max_bytes = kMaxBronzeObjectBytes);

}  // namespace tradelake
