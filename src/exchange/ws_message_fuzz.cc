// libFuzzer target: arbitrary bytes as one message of Coinbase's WebSocket
// feed (exchange/ws_feed.h ParseWsMessage).
//
// The parser must either refuse the text with DataLoss, or return a message
// whose checked fields hold what it promises: a match's price and size parse
// as exact decimals, its side is buy or sell, its product id is valid, its
// raw text is the input byte for byte, and its time survives a round trip
// through RFC 3339; a heartbeat's time does too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "core/decimal.h"
#include "core/text.h"
#include "core/time.h"
#include "exchange/ws_feed.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckTime(tradelake::TimestampMicros t) {
  tradelake::Result<tradelake::TimestampMicros> back = tradelake::ParseRfc3339(tradelake::FormatRfc3339Micros(t));
  Check(back.ok() && *back == t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tradelake::Result<tradelake::WsMessage> m = tradelake::ParseWsMessage(text, 7);
  if (!m.ok()) {
    Check(m.status().code() == tradelake::StatusCode::kDataLoss);
    return 0;
  }
  if (const auto* match = std::get_if<tradelake::WsMatch>(&*m)) {
    Check(tradelake::Decimal::Parse(match->price).ok());
    Check(tradelake::Decimal::Parse(match->size).ok());
    Check(match->side == "buy" || match->side == "sell");
    Check(tradelake::ValidateProductId(match->product).ok());
    Check(match->raw == text);
    Check(match->received_at == 7);
    CheckTime(match->time);
  } else if (const auto* beat = std::get_if<tradelake::WsHeartbeat>(&*m)) {
    Check(beat->received_at == 7);
    CheckTime(beat->time);
  } else if (const auto* err = std::get_if<tradelake::WsErrorMessage>(&*m)) {
    Check(!err->message.empty());
  }
  return 0;
}
