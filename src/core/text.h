// Small text helpers shared by every part: quoting untrusted input in error
// messages, writing JSON strings, splitting comma lists. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

// `text` as one short printable line for an error message: in double
// quotes, '"' and '\' escaped, other bytes outside printable ASCII as \xNN,
// cut after 64 bytes with "..." after the closing quote.
std::string QuoteForMessage(std::string_view text);

// Appends `s` as a JSON string literal (with quotes): '"', '\' and control
// characters escaped; other bytes, UTF-8 included, copied as they are.
void AppendJsonString(std::string* out, std::string_view s);

// "BTC-USD, ETH-USD,,SOL-USD" -> {"BTC-USD", "ETH-USD", "SOL-USD"}: split on
// ',', spaces around items trimmed, empty items dropped.
std::vector<std::string> SplitCommaList(std::string_view s);

// OK for a product id tradelake accepts: 1-64 ASCII letters, digits and '-'
// (like BTC-USD), so it is safe in an object key, a URL path, a Hive folder,
// a SQL literal and an enum list; InvalidArgument naming it otherwise.
Status ValidateProductId(std::string_view product_id);

}  // namespace tradelake
