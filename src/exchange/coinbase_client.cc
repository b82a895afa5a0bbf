#include "exchange/coinbase_client.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

namespace tradelake {
namespace {

namespace od = simdjson::ondemand;

// Deeper nesting than this is no trade the exchange would send; refusing it
// also bounds the validator's recursion.
constexpr int kMaxJsonDepth = 64;
// 9999-12-31T23:59:59Z: no candle time beyond what ParseRfc3339 accepts.
constexpr int64_t kMaxUnixSeconds = 253402300799;

Status MalformedJson(simdjson::error_code error, size_t body_size) {
  return Unavailable(fmt::format("malformed JSON from exchange: {} (body of {} bytes)",
                                 simdjson::error_message(error), body_size));
}

Status UnexpectedShape(std::string what) {
  return Unavailable(fmt::format("unexpected answer from exchange: {}", what));
}

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input. Grow
// the string's buffer (zero-filled, so nothing uninitialized is ever read)
// while keeping its size; returns the usable capacity to tell simdjson.
size_t PadForSimdjson(std::string& body) {
  const size_t size = body.size();
  body.append(simdjson::SIMDJSON_PADDING, '\0');
  body.resize(size);
  return size + simdjson::SIMDJSON_PADDING;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// On Demand only checks what is read, so every value is walked to make sure
// the whole body is JSON (Bronze keeps objects verbatim; they must parse later).
simdjson::error_code ValidateValue(od::value& value, int depth) {
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element : array) {
        od::value child;
        if (auto error = element.get(child)) return error;
        if (auto error = ValidateValue(child, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return error;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        if (auto error = ValidateValue(field.value(), depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      // get_double accepts every JSON number (also integers beyond 64 bits)
      // and rejects malformed ones.
      double ignored;
      return value.get_double().get(ignored);
    }
    case od::json_type::string: {
      std::string_view ignored;
      return value.get_string().get(ignored);
    }
    case od::json_type::boolean: {
      bool ignored;
      return value.get_bool().get(ignored);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) return error;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// After the array's last element (or its '[' when empty) only "]" and
// whitespace may follow; On Demand does not look past the array itself.
bool OnlyCloseBracketFollows(std::string_view body, size_t pos) {
  while (pos < body.size() && IsJsonSpace(body[pos])) ++pos;
  if (pos >= body.size() || body[pos] != ']') return false;
  ++pos;
  while (pos < body.size() && IsJsonSpace(body[pos])) ++pos;
  return pos == body.size();
}

// Calls `on_object(index, object)` for each element of the top-level array in
// `body` (padded), then checks that nothing follows the array. `on_object` must
// consume the object and return its end offset in `body` (one past '}').
template <typename OnObject>
Status ForEachObject(const std::string& body, size_t capacity, std::string_view what,
                     OnObject on_object) {
  od::parser parser;
  od::document doc;
  if (auto error = parser.iterate(body.data(), body.size(), capacity).get(doc)) {
    return MalformedJson(error, body.size());
  }
  od::array array;
  if (auto error = doc.get_array().get(array)) {
    if (error == simdjson::INCORRECT_TYPE) {
      return UnexpectedShape(fmt::format("{} is not a JSON array", what));
    }
    return MalformedJson(error, body.size());
  }
  size_t index = 0;
  size_t end = body.find('[') + 1;  // stage 1 found the '[', so it is there
  for (auto element : array) {
    od::object object;
    if (auto error = element.get_object().get(object)) {
      if (error == simdjson::INCORRECT_TYPE) {
        return UnexpectedShape(fmt::format("element {} of {} is not a JSON object", index, what));
      }
      return MalformedJson(error, body.size());
    }
    Result<size_t> object_end = on_object(index, object);
    if (!object_end.ok()) return object_end.status();
    end = *object_end;
    ++index;
  }
  if (!OnlyCloseBracketFollows(body, end)) {
    return MalformedJson(simdjson::TRAILING_CONTENT, body.size());
  }
  return Status::OK();
}

// A body the On Demand walk refused may be well-formed JSON of the wrong shape
// or no JSON at all; say which (a full DOM parse, only on this error path).
Status ClassifyFailure(const std::string& body, Status failure) {
  simdjson::dom::parser parser;
  simdjson::dom::element ignored;
  if (auto error =
          parser.parse(body.data(), body.size(), /*realloc_if_needed=*/false).get(ignored)) {
    return MalformedJson(error, body.size());
  }
  return failure;
}

// The object's text exactly as sent, from '{' to '}'. REQUIRES: all fields of
// `object` have been iterated. simdjson's view runs up to the next token, so
// the whitespace before a ',' or ']' is trimmed off.
Result<std::string_view> RawObject(od::object& object, const std::string& body) {
  std::string_view raw;
  if (auto error = object.raw_json().get(raw)) return MalformedJson(error, body.size());
  while (!raw.empty() && IsJsonSpace(raw.back())) raw.remove_suffix(1);
  const char* begin = body.data();
  if (raw.size() < 2 || raw.front() != '{' || raw.back() != '}' || raw.data() < begin ||
      raw.data() + raw.size() > begin + body.size()) {
    return Internal("simdjson returned an object view that is not a {...} inside the body");
  }
  return raw;
}

// The text of a candle value: a JSON number's token as sent, or a string
// holding a decimal. Whitespace after a token is trimmed.
Result<std::string> CandleValueText(od::value value, size_t index, size_t field, size_t body_size) {
  od::json_type type;
  if (auto error = value.type().get(type)) return MalformedJson(error, body_size);
  if (type == od::json_type::number) {
    std::string_view token = value.raw_json_token();
    while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
    return std::string(token);
  }
  if (type == od::json_type::string) {
    std::string_view text;
    if (auto error = value.get_string().get(text)) return MalformedJson(error, body_size);
    return std::string(text);
  }
  return UnexpectedShape(fmt::format("value {} of candle {} is not a number", field, index));
}

std::optional<int64_t> ParseHeaderInt(const HttpResponse& response, const std::string& name) {
  auto it = response.headers.find(name);
  if (it == response.headers.end()) return std::nullopt;
  const std::string& text = it->second;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    spdlog::debug("ignoring {} header {:?}: not an integer", name, text);
    return std::nullopt;
  }
  return value;
}

// The exchange's answer, short enough for an error message: {"message":"..."}.
std::string QuoteBody(std::string_view body) {
  constexpr size_t kMaxQuoted = 200;
  if (body.empty()) return "(empty body)";
  std::string out(body.substr(0, kMaxQuoted));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (body.size() > kMaxQuoted) out += "...";
  return out;
}

// HttpClient prefixes its errors with "GET <url>: "; the retry loop names the
// URL itself.
std::string_view WithoutUrlPrefix(std::string_view message, const std::string& url) {
  const std::string prefix = "GET " + url + ": ";
  if (message.starts_with(prefix)) message.remove_prefix(prefix.size());
  return message;
}

Status ParseProducts(std::string& body, std::vector<ProductInfo>* products) {
  products->clear();
  const size_t capacity = PadForSimdjson(body);
  Status status = ForEachObject(
      body, capacity, "the product list", [&](size_t index, od::object& object) -> Result<size_t> {
        ProductInfo product;
        bool has_id = false;
        for (auto field_result : object) {
          od::field field;
          std::string_view key;
          if (auto error = std::move(field_result).get(field))
            return MalformedJson(error, body.size());
          if (auto error = field.unescaped_key().get(key)) return MalformedJson(error, body.size());
          std::string* target = nullptr;
          if (key == "id") {
            target = &product.id;
            has_id = true;
          } else if (key == "status") {
            target = &product.status;
          } else if (key == "base_increment") {
            target = &product.base_increment;
          } else if (key == "quote_increment") {
            target = &product.quote_increment;
          } else if (key == "base_currency") {
            target = &product.base_currency;
          } else if (key == "quote_currency") {
            target = &product.quote_currency;
          }
          od::json_type type;
          if (auto error = field.value().type().get(type)) return MalformedJson(error, body.size());
          if (target != nullptr && type == od::json_type::string) {
            std::string_view text;
            if (auto error = field.value().get_string().get(text)) {
              return MalformedJson(error, body.size());
            }
            target->assign(text);
          } else {
            if (key == "id") {
              return UnexpectedShape(
                  fmt::format("product {} has an \"id\" that is not a string", index));
            }
            if (auto error = ValidateValue(field.value(), 2))
              return MalformedJson(error, body.size());
          }
        }
        if (!has_id) return UnexpectedShape(fmt::format("product {} has no \"id\"", index));
        ASSIGN_OR_RETURN(std::string_view raw, RawObject(object, body));
        products->push_back(std::move(product));
        return static_cast<size_t>(raw.data() + raw.size() - body.data());
      });
  if (status.ok()) return status;
  products->clear();
  return ClassifyFailure(body, std::move(status));
}

}  // namespace

TradePage::TradePage(TradePage&& other) noexcept { *this = std::move(other); }

TradePage& TradePage::operator=(TradePage&& other) noexcept {
  if (this == &other) return *this;
  const char* old_begin = other.body.data();
  const char* old_end = old_begin + other.body.size();
  body = std::move(other.body);
  trades = std::move(other.trades);
  cb_after = other.cb_after;
  cb_before = other.cb_before;
  request_path = std::move(other.request_path);
  // A heap buffer changes owner and the views stay valid; an inline (SSO)
  // buffer is copied, so views into the old one are moved to the same offset.
  if (body.data() != old_begin) {
    for (RawTrade& trade : trades) {
      const char* p = trade.raw.data();
      if (p != nullptr && std::less_equal<const char*>()(old_begin, p) &&
          std::less_equal<const char*>()(p + trade.raw.size(), old_end)) {
        trade.raw = std::string_view(body.data() + (p - old_begin), trade.raw.size());
      }
    }
  }
  other.body.clear();
  other.trades.clear();
  other.cb_after.reset();
  other.cb_before.reset();
  other.request_path.clear();
  return *this;
}

Status ParseTradePage(std::string body, TradePage* page) {
  page->trades.clear();
  page->body = std::move(body);
  std::string& text = page->body;
  const size_t capacity = PadForSimdjson(text);
  std::vector<RawTrade> trades;
  Status status = ForEachObject(
      text, capacity, "the trade page", [&](size_t index, od::object& object) -> Result<size_t> {
        RawTrade trade;
        bool has_id = false;
        for (auto field_result : object) {
          od::field field;
          std::string_view key;
          if (auto error = std::move(field_result).get(field))
            return MalformedJson(error, text.size());
          if (auto error = field.unescaped_key().get(key)) return MalformedJson(error, text.size());
          od::json_type type;
          if (auto error = field.value().type().get(type)) return MalformedJson(error, text.size());
          if (key == "trade_id") {
            if (has_id)
              return UnexpectedShape(fmt::format("trade {} has more than one trade_id", index));
            // A number that is not an int64 (1.5, 1e3, 2^63) is as wrong as a string.
            if (type != od::json_type::number ||
                field.value().get_int64().get(trade.trade_id) != simdjson::SUCCESS) {
              if (auto error = ValidateValue(field.value(), 2))
                return MalformedJson(error, text.size());
              return UnexpectedShape(
                  fmt::format("trade {} has a trade_id that is not an integer", index));
            }
            has_id = true;
          } else if (key == "time" && type == od::json_type::string) {
            std::string_view time_text;
            if (auto error = field.value().get_string().get(time_text)) {
              return MalformedJson(error, text.size());
            }
            // An unparsable time is the ETL's to reject with a rule, not a bad page.
            Result<TimestampMicros> time = ParseRfc3339(time_text);
            trade.time = time.ok() ? std::optional<TimestampMicros>(*time) : std::nullopt;
          } else {
            if (auto error = ValidateValue(field.value(), 2))
              return MalformedJson(error, text.size());
          }
        }
        if (!has_id) return UnexpectedShape(fmt::format("trade {} has no trade_id", index));
        ASSIGN_OR_RETURN(trade.raw, RawObject(object, text));
        trades.push_back(trade);
        return static_cast<size_t>(trade.raw.data() + trade.raw.size() - text.data());
      });
  if (!status.ok()) return ClassifyFailure(text, std::move(status));
  page->trades = std::move(trades);
  return Status::OK();
}

int64_t BackoffCeilingMs(const RetryPolicy& policy, int retry) {
  const int64_t base = std::max<int64_t>(policy.base_delay_ms, 0);
  const int64_t cap = std::max<int64_t>(policy.max_delay_ms, 0);
  int64_t ceiling = base;
  for (int i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;  // stops before overflow
  return std::min(ceiling, cap);
}

CoinbaseClient::CoinbaseClient(CoinbaseOptions options, RateLimiter* limiter, ClientStats* stats)
    : options_(std::move(options)),
      limiter_(limiter),
      stats_(stats != nullptr ? stats : &own_stats_),
      http_(options_.http),
      jitter_(options_.jitter_seed ? *options_.jitter_seed : std::random_device{}()) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
}

std::chrono::milliseconds CoinbaseClient::NextBackoff(int retry) {
  std::uniform_int_distribution<int64_t> full_jitter(0, BackoffCeilingMs(options_.retry, retry));
  return std::chrono::milliseconds(full_jitter(jitter_));
}

Status CoinbaseClient::Fetch(const std::string& path,
                             const std::function<Status(HttpResponse&)>& on_ok) {
  const std::string url = options_.base_url + path;
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  Status last;
  for (int attempt = 1;; ++attempt) {
    if (limiter_ != nullptr) limiter_->Acquire();
    stats_->requests.fetch_add(1, std::memory_order_relaxed);
    Result<HttpResponse> got = http_.Get(url);
    if (!got.ok()) {
      if (!got.status().IsRetryable()) return got.status();
      stats_->transport_errors.fetch_add(1, std::memory_order_relaxed);
      last =
          Status(got.status().code(), std::string(WithoutUrlPrefix(got.status().message(), url)));
    } else {
      HttpResponse& response = *got;
      stats_->bytes.fetch_add(static_cast<int64_t>(response.body.size()),
                              std::memory_order_relaxed);
      const long code = response.status;
      if (code >= 200 && code < 300) {
        Status status = on_ok(response);
        if (status.ok() || !status.IsRetryable()) return status;
        stats_->invalid_bodies.fetch_add(1, std::memory_order_relaxed);
        last = std::move(status);
      } else if (code == 429) {
        stats_->rate_limited.fetch_add(1, std::memory_order_relaxed);
        last = ResourceExhausted(fmt::format("answered 429 {}", QuoteBody(response.body)));
      } else if (code >= 500) {
        stats_->server_errors.fetch_add(1, std::memory_order_relaxed);
        last = Unavailable(fmt::format("answered {} {}", code, QuoteBody(response.body)));
      } else {
        std::string message =
            fmt::format("GET {} answered {} {}", path, code, QuoteBody(response.body));
        if (code == 404) return NotFound(std::move(message));
        return InvalidArgument(
            std::move(message));  // 400, other 4xx, and 1xx/3xx we never asked for
      }
    }
    if (attempt >= max_attempts) break;
    const std::chrono::milliseconds delay = NextBackoff(attempt);
    stats_->retries.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("GET {}: attempt {}/{} failed: {}; retrying in {} ms", url, attempt, max_attempts,
                 last.message(), delay.count());
    if (options_.sleep) {
      options_.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }
  return last.WithContext(fmt::format("GET {} failed after {} attempts", url, max_attempts));
}

Result<std::vector<ProductInfo>> CoinbaseClient::ListProducts() {
  std::vector<ProductInfo> products;
  RETURN_IF_ERROR(Fetch("/products", [&](HttpResponse& response) {
    return ParseProducts(response.body, &products);
  }));
  return products;
}

Result<TradePage> CoinbaseClient::GetTrades(std::string_view product_id,
                                            std::optional<int64_t> after, int limit) {
  RETURN_IF_ERROR(ValidateProductId(product_id));
  if (limit < 1 || limit > kMaxTradesPerPage) {
    return InvalidArgument(
        fmt::format("trade page limit {} is outside 1..{}", limit, kMaxTradesPerPage));
  }
  if (after && *after <= 0) {
    return InvalidArgument(fmt::format("trade cursor after={} is not a positive trade id", *after));
  }
  std::string path = fmt::format("/products/{}/trades?limit={}", product_id, limit);
  if (after) path += fmt::format("&after={}", *after);

  TradePage page;
  Status status = Fetch(path, [&](HttpResponse& response) {
    RETURN_IF_ERROR(ParseTradePage(std::move(response.body), &page));
    page.cb_after = ParseHeaderInt(response, "cb-after");
    page.cb_before = ParseHeaderInt(response, "cb-before");
    return Status::OK();
  });
  if (status.code() == StatusCode::kNotFound) {
    return NotFound(fmt::format("product {} is not listed by the exchange ({}); check --products",
                                product_id, status.message()));
  }
  RETURN_IF_ERROR(status);
  page.request_path = std::move(path);
  return page;
}

Result<std::vector<Candle>> ParseCandles(std::string body) {
  const size_t size = body.size();
  const size_t capacity = PadForSimdjson(body);
  od::parser parser;
  od::document doc;
  if (auto error = parser.iterate(body.data(), size, capacity).get(doc)) return MalformedJson(error, size);
  od::array array;
  if (auto error = doc.get_array().get(array)) {
    if (error == simdjson::INCORRECT_TYPE) return UnexpectedShape("candles are not a JSON array");
    return MalformedJson(error, size);
  }
  std::vector<Candle> candles;
  size_t end = body.find('[') + 1;
  for (auto element : array) {
    const size_t index = candles.size();
    od::array row;
    if (auto error = element.get_array().get(row)) {
      if (error == simdjson::INCORRECT_TYPE) {
        return UnexpectedShape(fmt::format("candle {} is not an array", index));
      }
      return MalformedJson(error, size);
    }
    Candle c;
    size_t field = 0;
    for (auto v : row) {
      od::value value;
      if (auto error = v.get(value)) return MalformedJson(error, size);
      if (field == 0) {
        int64_t seconds = 0;
        if (auto error = value.get_int64().get(seconds)) {
          if (error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_ERROR) {
            return UnexpectedShape(fmt::format("time of candle {} is not an integer", index));
          }
          return MalformedJson(error, size);
        }
        if (seconds < 0 || seconds > kMaxUnixSeconds) {
          return UnexpectedShape(fmt::format("time {} of candle {} is out of range", seconds, index));
        }
        c.start = seconds * kMicrosPerSecond;
      } else if (field <= 5) {
        ASSIGN_OR_RETURN(std::string text, CandleValueText(value, index, field, size));
        std::string* slots[] = {&c.low, &c.high, &c.open, &c.close, &c.volume};
        *slots[field - 1] = std::move(text);
      }
      ++field;
    }
    if (field != 6) {
      return UnexpectedShape(fmt::format("candle {} has {} values, not 6 [time, low, high, open, close, volume]",
                                         index, field));
    }
    std::string_view raw;
    if (auto error = row.raw_json().get(raw)) return MalformedJson(error, size);
    while (!raw.empty() && IsJsonSpace(raw.back())) raw.remove_suffix(1);
    c.raw = std::string(raw);
    end = static_cast<size_t>(raw.data() + raw.size() - body.data());
    candles.push_back(std::move(c));
  }
  if (!OnlyCloseBracketFollows(std::string_view(body.data(), size), end)) {
    return MalformedJson(simdjson::TRAILING_CONTENT, size);
  }
  return candles;
}

Result<std::vector<Candle>> CoinbaseClient::GetCandles(std::string_view product_id, TimestampMicros start,
                                                       TimestampMicros end) {
  RETURN_IF_ERROR(ValidateProductId(product_id));
  if (start % kMicrosPerMinute != 0 || end % kMicrosPerMinute != 0 || end <= start ||
      (end - start) / kMicrosPerMinute > kMaxCandlesPerRequest) {
    return InvalidArgument(fmt::format("candle range [{}, {}) is not 1..{} whole minutes", FormatRfc3339Trimmed(start),
                                       FormatRfc3339Trimmed(end), kMaxCandlesPerRequest));
  }
  // The exchange's end is inclusive: ask up to the last bucket's start.
  const std::string path =
      fmt::format("/products/{}/candles?granularity=60&start={}&end={}", product_id, start / kMicrosPerSecond,
                  (end - kMicrosPerMinute) / kMicrosPerSecond);
  std::vector<Candle> candles;
  Status status = Fetch(path, [&](HttpResponse& response) {
    ASSIGN_OR_RETURN(candles, ParseCandles(std::move(response.body)));
    return Status::OK();
  });
  if (status.code() == StatusCode::kNotFound) {
    return NotFound(fmt::format("product {} is not listed by the exchange ({}); check --products",
                                product_id, status.message()));
  }
  RETURN_IF_ERROR(status);
  // Only the buckets asked for (an exchange may round the range outward).
  std::erase_if(candles, [&](const Candle& c) { return c.start < start || c.start >= end; });
  return candles;
}

}  // namespace tradelake
