// libFuzzer target: arbitrary bytes as a Bronze trade object.
//
// Validation must never crash and must give the same answer twice (the
// parser is reused). An accepted trade has price > 0, size > 0, side "buy" or
// "sell" with taker_side its opposite, and quote_notional * 10^18 == price *
// size exactly (checked with schoolbook multiplication on digit strings, not
// with the code under test). A rejection names a documented rule and keeps
// the input byte for byte.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "etl/validate.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

std::string MulDigits(const std::string& a, const std::string& b) {
  std::vector<int> acc(a.size() + b.size(), 0);
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) acc[i + j + 1] += (a[i] - '0') * (b[j] - '0');
  }
  for (size_t k = acc.size(); k-- > 1;) {
    acc[k - 1] += acc[k] / 10;
    acc[k] %= 10;
  }
  std::string out;
  for (int d : acc) {
    if (!out.empty() || d != 0) out += static_cast<char>('0' + d);
  }
  return out.empty() ? "0" : out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const TradeContext ctx{
      .product_id = "BTC-USD",
      .date = "2024-05-01",
      .request = "/products/BTC-USD/trades?limit=1000",
      .bronze_object = "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/1-2.jsonl.zst",
      .ingested_at = 1714567890000000,
      .now = 1714568000000000};
  static TradeValidator validator;
  const ValidationOutcome out = validator.Validate(raw, ctx);
  Check(validator.Validate(raw, ctx) == out);

  if (const auto* r = std::get_if<RejectedRecord>(&out)) {
    bool known = false;
    for (const DqRuleInfo& rule : kDqRules) known = known || rule.name == r->rule;
    Check(known);
    Check(!r->detail.empty());
    Check(r->raw == raw);
    Check(r->product_id == "BTC-USD" && r->rejected_at == ctx.now);
    return 0;
  }
  const SilverTrade& t = std::get<SilverTrade>(out);
  Check(t.price > 0 && t.size > 0 && t.quote_notional > 0);
  Check((t.side == "buy" && t.taker_side == "sell") || (t.side == "sell" && t.taker_side == "buy"));
  Check(t.time - ctx.now <= kMaxFutureSkewMicros);
  Check(t.product_id == "BTC-USD");
  const std::string product = MulDigits(Int128ToString(t.price), Int128ToString(t.size));
  Check(product == Int128ToString(t.quote_notional) + std::string(18, '0'));
  Check(Int128ToString(t.price).size() <= 38 && Int128ToString(t.size).size() <= 38 &&
        Int128ToString(t.quote_notional).size() <= 38);
  return 0;
}
