#include "etl/validate.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <utility>

#include "core/decimal.h"
#include "core/text.h"
#include "etl/dec18.h"

namespace tradelake {
namespace {

namespace dom = simdjson::dom;


std::string_view TypeName(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
      return "integer";
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

// The fields a trade must carry, in the order missing_field reports them.
enum Field { kTradeId, kPrice, kSize, kSide, kTime, kProductId, kFieldCount };
constexpr std::string_view kFieldNames[kFieldCount] = {"trade_id", "price", "size",
                                                       "side",     "time",  "product_id"};

int FieldOf(std::string_view key) {
  // Dispatch on length first: a handful of comparisons per key.
  switch (key.size()) {
    case 4:
      if (key == "size") return kSize;
      if (key == "side") return kSide;
      if (key == "time") return kTime;
      return -1;
    case 5:
      return key == "price" ? kPrice : -1;
    case 8:
      return key == "trade_id" ? kTradeId : -1;
    case 10:
      return key == "product_id" ? kProductId : -1;
    default:
      return -1;
  }
}

// ctx.now as text. FormatRfc3339Micros is only defined for years 0001-9999;
// the clock is the caller's, so do not trust it to be in range.
std::string FormatNow(TimestampMicros now) {
  constexpr TimestampMicros kMin = -62'135'596'800LL * kMicrosPerSecond;
  constexpr TimestampMicros kMax = 253'402'300'800LL * kMicrosPerSecond - 1;
  if (now < kMin || now > kMax) return fmt::format("{} us since the epoch", now);
  return FormatRfc3339Micros(now);
}

// A price or size: the value at scale 18 and the Decimal as written (whose
// smaller scale makes the notional cheap to compute).
struct Amount {
  Decimal parsed;
  Dec18 value = 0;
};

// Empty on success; otherwise the detail for decimal_out_of_range.
std::string ParseAmount(std::string_view field, std::string_view text, Amount* out) {
  Result<Decimal> d = ParseDecimalTrimmed(text);
  if (!d.ok()) return fmt::format("{}: {}", field, d.status().message());
  Result<Dec18> v = Dec18FromDecimal(*d);
  if (!v.ok()) return fmt::format("{} {}: {}", field, QuoteForMessage(text), v.status().message());
  out->parsed = *d;
  out->value = *v;
  return {};
}

}  // namespace

std::string_view ProductOfTradesRequest(std::string_view request) {
  constexpr std::string_view kPrefix = "/products/";
  constexpr std::string_view kSuffix = "/trades";
  if (request.substr(0, kPrefix.size()) != kPrefix) return {};
  const std::string_view rest = request.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return {};
  const std::string_view product = rest.substr(0, slash);
  if (product.find('?') != std::string_view::npos) return {};
  const std::string_view tail = rest.substr(slash);
  if (tail.substr(0, kSuffix.size()) != kSuffix) return {};
  if (tail.size() != kSuffix.size() && tail[kSuffix.size()] != '?') return {};
  return product;
}

TradeValidator::TradeValidator() : parser_(std::make_unique<dom::parser>()) {}
TradeValidator::~TradeValidator() = default;

ValidationOutcome TradeValidator::Validate(std::string_view raw, const TradeContext& ctx) {
  std::optional<int64_t> trade_id;
  auto reject = [&](std::string_view rule, std::string detail) -> ValidationOutcome {
    RejectedRecord r;
    r.product_id = std::string(ctx.product_id);
    r.date = std::string(ctx.date);
    r.trade_id = trade_id;
    r.rule = std::string(rule);
    r.detail = std::move(detail);
    r.raw = std::string(raw);
    r.bronze_object = std::string(ctx.bronze_object);
    r.rejected_at = ctx.now;
    return r;
  };

  // --- invalid_json ------------------------------------------------------------
  dom::element root;
  if (auto err = parser_->parse(raw.data(), raw.size()).get(root); err != simdjson::SUCCESS) {
    return reject(dq_rule::kInvalidJson, std::string(simdjson::error_message(err)));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return reject(dq_rule::kInvalidJson,
                  fmt::format("expected a JSON object, got {}", TypeName(root.type())));
  }
  dom::element fields[kFieldCount];
  bool present[kFieldCount] = {};
  int repeated = -1;
  for (dom::key_value_pair kv : object) {
    const int f = FieldOf(kv.key);
    if (f < 0) continue;  // fields the exchange may add are kept in Bronze, not judged
    if (present[f]) {
      if (repeated < 0 || f == kTradeId) repeated = f;
      continue;
    }
    present[f] = true;
    fields[f] = kv.value;
  }
  // trade_id first, so that every later rejection can carry it (an ambiguous
  // one cannot be read).
  if (present[kTradeId] && repeated != kTradeId) {
    int64_t id = 0;
    if (fields[kTradeId].get_int64().get(id) == simdjson::SUCCESS) trade_id = id;
  }
  if (repeated >= 0) {
    return reject(dq_rule::kInvalidJson,
                  fmt::format("key \"{}\" appears more than once", kFieldNames[repeated]));
  }

  // --- missing_field -----------------------------------------------------------
  if (!trade_id) {
    return reject(dq_rule::kMissingField,
                  present[kTradeId]
                      ? fmt::format("trade_id must be a JSON integer within int64, got {}",
                                    fields[kTradeId].is_number()
                                        ? std::string("an out-of-range or fractional number")
                                        : std::string(TypeName(fields[kTradeId].type())))
                      : std::string("trade_id is missing"));
  }
  std::string_view text[kFieldCount];
  for (int f : {kPrice, kSize, kSide, kTime}) {
    if (!present[f]) {
      return reject(dq_rule::kMissingField, fmt::format("{} is missing", kFieldNames[f]));
    }
    if (fields[f].get_string().get(text[f]) != simdjson::SUCCESS) {
      return reject(dq_rule::kMissingField,
                    fmt::format("{} must be a JSON string, got {}", kFieldNames[f],
                                TypeName(fields[f].type())));
    }
  }

  // --- product_mismatch --------------------------------------------------------
  if (!ctx.request.empty()) {
    const std::string_view requested = ProductOfTradesRequest(ctx.request);
    if (requested.empty()) {
      return reject(dq_rule::kProductMismatch,
                    fmt::format("request {} is not /products/<id>/trades, so the product "
                                "cannot be confirmed as {}",
                                QuoteForMessage(ctx.request), ctx.product_id));
    }
    if (requested != ctx.product_id) {
      return reject(dq_rule::kProductMismatch,
                    fmt::format("request {} is for product {}, but the partition is {}",
                                QuoteForMessage(ctx.request), QuoteForMessage(requested), ctx.product_id));
    }
  }
  if (present[kProductId]) {
    std::string_view product;
    if (fields[kProductId].get_string().get(product) != simdjson::SUCCESS) {
      return reject(dq_rule::kProductMismatch,
                    fmt::format("product_id must be a JSON string, got {}",
                                TypeName(fields[kProductId].type())));
    }
    if (product != ctx.product_id) {
      return reject(dq_rule::kProductMismatch,
                    fmt::format("trade's product_id {} is not the partition's {}", QuoteForMessage(product),
                                ctx.product_id));
    }
  }

  // --- decimal_out_of_range, price/size_not_positive ---------------------------
  Amount price, size;
  if (std::string why = ParseAmount("price", text[kPrice], &price); !why.empty()) {
    return reject(dq_rule::kDecimalOutOfRange, std::move(why));
  }
  if (std::string why = ParseAmount("size", text[kSize], &size); !why.empty()) {
    return reject(dq_rule::kDecimalOutOfRange, std::move(why));
  }
  Result<Dec18> notional = MultiplyToDec18(price.parsed, size.parsed);
  if (!notional.ok()) {
    return reject(dq_rule::kDecimalOutOfRange,
                  "quote notional price * size: " + notional.status().message());
  }
  if (price.value <= 0) {
    return reject(dq_rule::kPriceNotPositive,
                  fmt::format("price {} is not positive", QuoteForMessage(text[kPrice])));
  }
  if (size.value <= 0) {
    return reject(dq_rule::kSizeNotPositive,
                  fmt::format("size {} is not positive", QuoteForMessage(text[kSize])));
  }

  // --- invalid_side ------------------------------------------------------------
  const std::string_view side = text[kSide];
  std::string_view taker_side;
  if (side == "buy") {
    taker_side = "sell";
  } else if (side == "sell") {
    taker_side = "buy";
  } else {
    return reject(dq_rule::kInvalidSide,
                  fmt::format("side {} is not \"buy\" or \"sell\"", QuoteForMessage(side)));
  }

  // --- invalid_time, future_time -----------------------------------------------
  Result<TimestampMicros> time = ParseRfc3339(text[kTime]);
  if (!time.ok()) return reject(dq_rule::kInvalidTime, time.status().message());
  // In 128 bits: ctx.now is the caller's and may be anywhere in int64.
  const __int128 ahead = static_cast<__int128>(*time) - ctx.now;
  if (ahead > kMaxFutureSkewMicros) {
    return reject(
        dq_rule::kFutureTime,
        fmt::format("time {} is {} s after now ({}); at most {} s of clock skew is allowed",
                    text[kTime], static_cast<int64_t>(ahead / kMicrosPerSecond), FormatNow(ctx.now),
                    kMaxFutureSkewMicros / kMicrosPerSecond));
  }

  SilverTrade t;
  t.product_id = std::string(ctx.product_id);
  t.trade_id = *trade_id;
  t.price = price.value;
  t.size = size.value;
  t.quote_notional = *notional;
  t.side = std::string(side);
  t.taker_side = std::string(taker_side);
  t.time = *time;
  t.ingested_at = ctx.ingested_at;
  t.bronze_object = std::string(ctx.bronze_object);
  return t;
}

ValidationOutcome ValidateTrade(std::string_view raw_trade_json, const TradeContext& ctx) {
  thread_local TradeValidator validator;
  return validator.Validate(raw_trade_json, ctx);
}

}  // namespace tradelake
