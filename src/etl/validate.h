// The data-quality layer: one Bronze trade record -> a Silver row or a
// rejected record that names the rule it broke (DESIGN.md "Tables").
//
// Rules, checked in this order; the first one broken is the one reported
// (RejectedRecord::rule is the name, ::detail says exactly what was wrong):
//
//   invalid_json          the record is not one well-formed JSON object, or it
//                         repeats one of the keys below (which value would count?)
//   missing_field         trade_id (JSON integer fitting int64), price, size,
//                         side or time (JSON strings) is missing or of another
//                         JSON type; detail names the field
//   product_mismatch      the Bronze line's request is not "/products/<id>/trades..."
//                         for the partition's product, or the trade carries a
//                         "product_id" that is not the partition's product
//   decimal_out_of_range  price or size is not a plain decimal string, or is not
//                         exactly DECIMAL(38,18) (more than 18 fractional or 20
//                         integer digits; never rounded; trailing zeros are fine),
//                         or price * size is not (the quote notional)
//   price_not_positive    price <= 0
//   size_not_positive     size <= 0
//   invalid_side          side is not exactly "buy" or "sell"
//   invalid_time          time is not an RFC 3339 timestamp (core/time.h)
//   future_time           time is more than 5 minutes after TradeContext::now
//
// Every record maps to exactly one outcome, so "Bronze records read = Silver
// inserted + duplicates + rejected" holds per record. Duplicates are the
// caller's business (this layer sees one record at a time).
#pragma once

#include <array>
#include <memory>
#include <string_view>
#include <variant>

#include "core/time.h"
#include "etl/rows.h"

namespace simdjson::dom {
class parser;
}  // namespace simdjson::dom

namespace tradelake {

// Rule names: a public contract (silver.trades_rejected.rule, `tradelake dq`).
namespace dq_rule {
inline constexpr std::string_view kInvalidJson = "invalid_json";
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kProductMismatch = "product_mismatch";
inline constexpr std::string_view kDecimalOutOfRange = "decimal_out_of_range";
inline constexpr std::string_view kPriceNotPositive = "price_not_positive";
inline constexpr std::string_view kSizeNotPositive = "size_not_positive";
inline constexpr std::string_view kInvalidSide = "invalid_side";
inline constexpr std::string_view kInvalidTime = "invalid_time";
inline constexpr std::string_view kFutureTime = "future_time";
}  // namespace dq_rule

struct DqRuleInfo {
  std::string_view name;
  std::string_view description;  // one line, for `tradelake dq`
};

// All rules, in the order they are checked.
inline constexpr std::array<DqRuleInfo, 9> kDqRules = {{
    {dq_rule::kInvalidJson, "the record is not one JSON object, or repeats a trade field"},
    {dq_rule::kMissingField,
     "trade_id, price, size, side or time is missing or of the wrong JSON type"},
    {dq_rule::kProductMismatch,
     "the request path or the trade's product_id names another product than the partition"},
    {dq_rule::kDecimalOutOfRange, "price, size or price*size is not an exact DECIMAL(38,18)"},
    {dq_rule::kPriceNotPositive, "price is zero or negative"},
    {dq_rule::kSizeNotPositive, "size is zero or negative"},
    {dq_rule::kInvalidSide, "side is not \"buy\" or \"sell\""},
    {dq_rule::kInvalidTime, "time is not an RFC 3339 timestamp"},
    {dq_rule::kFutureTime, "time is more than 5 minutes in the future"},
}};

// How far a trade's time may lie after TradeContext::now (clock skew).
inline constexpr int64_t kMaxFutureSkewMicros = 5 * kMicrosPerMinute;

// Where a record came from and when it is judged. Borrowed views: they must
// stay valid during the call only.
struct TradeContext {
  std::string_view product_id;     // of the Bronze partition, e.g. "BTC-USD"
  std::string_view date;           // of the Bronze partition, "YYYY-MM-DD"
  std::string_view request;        // the Bronze line's "request"; empty skips that check
  std::string_view bronze_object;  // the Bronze key (lineage)
  TimestampMicros ingested_at = 0;
  TimestampMicros now = 0;  // for future_time; also RejectedRecord::rejected_at
};

using ValidationOutcome = std::variant<SilverTrade, RejectedRecord>;

// Validates one trade. Holds a reusable JSON parser, so keep one per thread:
// not thread-safe, cheap to reuse, not cheap to create.
//
// On success returns a SilverTrade with product_id, ingested_at and
// bronze_object from `ctx`, price/size/quote_notional exact at scale 18,
// side as published (the maker's side on Coinbase Exchange) and taker_side
// its opposite. Otherwise returns a RejectedRecord with the partition's
// product_id and date, the rule and detail, `raw_trade_json` byte for byte,
// trade_id when it could be read, and rejected_at = ctx.now.
class TradeValidator {
 public:
  TradeValidator();
  ~TradeValidator();
  TradeValidator(const TradeValidator&) = delete;
  TradeValidator& operator=(const TradeValidator&) = delete;

  ValidationOutcome Validate(std::string_view raw_trade_json, const TradeContext& ctx);

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
};

// The same with a thread_local TradeValidator. Thread-safe.
ValidationOutcome ValidateTrade(std::string_view raw_trade_json, const TradeContext& ctx);

// "BTC-USD" from "/products/BTC-USD/trades?limit=1000"; empty if `request`
// does not have that shape.
std::string_view ProductOfTradesRequest(std::string_view request);

}  // namespace tradelake
