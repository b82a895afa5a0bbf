// Which products to ingest: an explicit list, or every product the exchange
// lists as online, narrowed by quote currency and exclusions. `tradelake
// ingest` and `tradelake run` resolve their --products/--quote/--exclude
// flags with the same function, against one GET /products.
//
//   --products BTC-USD,ETH-USD     exactly these (each must be listed; a product
//                                  listed with another status than "online" is
//                                  still taken, with a warning: its history is
//                                  served)
//   --products all                 every product whose status is "online"
//   --quote USD,USDC               keep only products quoted in these currencies
//   --exclude USDT-USD,DAI-USD     drop these
//
// Errors (values, never exceptions): InvalidArgument for an empty or
// malformed selection or one that leaves nothing; NotFound naming the first
// product of an explicit list that the exchange does not list; the listing's
// own error if GET /products fails. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "exchange/coinbase_client.h"

namespace tradelake {

struct ProductSelection {
  std::vector<std::string> products;  // ids, or the single word "all"
  std::vector<std::string> quotes;    // quote currencies to keep (empty: any)
  std::vector<std::string> exclude;   // ids to drop

  bool all() const { return products.size() == 1 && products[0] == "all"; }
};

// From the flags' comma-separated texts (whitespace around items ignored).
ProductSelection ParseProductSelection(std::string_view products, std::string_view quotes,
                                       std::string_view exclude);

// Applies `selection` to the exchange's listing. `listing_url` names the
// listing in error messages ("https://api.exchange.coinbase.com/products").
// The result keeps the order of the explicit list, or the listing's id order
// (sorted) for "all"; no id twice.
Result<std::vector<std::string>> ResolveProducts(const ProductSelection& selection,
                                                 const std::vector<ProductInfo>& listed,
                                                 std::string_view listing_url);

// Lists the exchange's products (one request through `limiter`, which may be
// null) and resolves `selection` against them.
Result<std::vector<std::string>> ResolveProducts(const ProductSelection& selection,
                                                 const CoinbaseOptions& exchange, RateLimiter* limiter);

}  // namespace tradelake
