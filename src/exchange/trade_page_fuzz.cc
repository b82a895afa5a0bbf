// libFuzzer target: arbitrary bytes as a /trades response body.
//
// ParseTradePage must either accept the body and hand back views that are
// exactly "{...}" objects inside it, in order and without overlap, each of
// which parses again on its own to the same trade; or refuse it with a
// retryable Unavailable and no trades. Moving the page must keep the views.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "exchange/coinbase_client.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckViews(const tradelake::TradePage& page) {
  const char* begin = page.body.data();
  const char* end = begin + page.body.size();
  const char* previous_end = begin;
  for (const tradelake::RawTrade& trade : page.trades) {
    const char* p = trade.raw.data();
    Check(p != nullptr && p >= previous_end && p + trade.raw.size() <= end);
    Check(trade.raw.size() >= 2 && trade.raw.front() == '{' && trade.raw.back() == '}');
    previous_end = p + trade.raw.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  tradelake::TradePage page;
  tradelake::Status status = tradelake::ParseTradePage(body, &page);
  if (!status.ok()) {
    Check(status.code() == tradelake::StatusCode::kUnavailable);
    Check(page.trades.empty());
    return 0;
  }
  Check(page.body == body);
  CheckViews(page);

  for (const tradelake::RawTrade& trade : page.trades) {
    tradelake::TradePage single;
    Check(tradelake::ParseTradePage("[" + std::string(trade.raw) + "]", &single).ok());
    Check(single.trades.size() == 1);
    Check(single.trades[0].raw == trade.raw);
    Check(single.trades[0].trade_id == trade.trade_id);
    Check(single.trades[0].time == trade.time);
  }

  const size_t count = page.trades.size();
  tradelake::TradePage moved(std::move(page));
  Check(moved.trades.size() == count);
  CheckViews(moved);
  tradelake::TradePage assigned;
  assigned = std::move(moved);
  Check(assigned.trades.size() == count);
  CheckViews(assigned);
  return 0;
}
