#include "ingest/product_selection.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/text.h"

namespace tradelake {
namespace {

std::string QuoteOf(const ProductInfo& p) {
  if (!p.quote_currency.empty()) return p.quote_currency;
  const size_t dash = p.id.find('-');  // listings without quote_currency: BASE-QUOTE
  return dash == std::string::npos ? "" : p.id.substr(dash + 1);
}

}  // namespace

ProductSelection ParseProductSelection(std::string_view products, std::string_view quotes,
                                       std::string_view exclude) {
  ProductSelection s;
  s.products = SplitCommaList(products);
  s.quotes = SplitCommaList(quotes);
  s.exclude = SplitCommaList(exclude);
  return s;
}

Result<std::vector<std::string>> ResolveProducts(const ProductSelection& selection,
                                                 const std::vector<ProductInfo>& listed,
                                                 std::string_view listing_url) {
  if (selection.products.empty()) {
    return InvalidArgument("no products given; pass --products BTC-USD,ETH-USD or --products all");
  }
  if (!selection.all() && std::find(selection.products.begin(), selection.products.end(), "all") !=
                              selection.products.end()) {
    return InvalidArgument("--products all cannot be combined with product ids; use --exclude to drop some");
  }
  std::map<std::string, const ProductInfo*, std::less<>> by_id;
  for (const auto& p : listed) by_id.emplace(p.id, &p);
  const std::set<std::string, std::less<>> quotes(selection.quotes.begin(), selection.quotes.end());
  const std::set<std::string, std::less<>> excluded(selection.exclude.begin(), selection.exclude.end());
  for (const auto& e : excluded) {
    if (!by_id.contains(e)) spdlog::warn("--exclude {}: the exchange does not list it ({})", e, listing_url);
  }
  auto keep = [&](const ProductInfo& p) {
    return !excluded.contains(p.id) && (quotes.empty() || quotes.contains(QuoteOf(p)));
  };

  std::vector<std::string> out;
  std::set<std::string> seen;
  if (selection.all()) {
    size_t online = 0;
    for (const auto& [id, p] : by_id) {
      if (p->status != "online") continue;
      ++online;
      if (keep(*p)) out.push_back(id);
    }
    if (out.empty()) {
      return InvalidArgument(fmt::format(
          "--products all{}{} selects nothing: the exchange lists {} products, {} online ({}); check --quote and "
          "--exclude",
          quotes.empty() ? "" : fmt::format(" --quote {}", fmt::join(selection.quotes, ",")),
          excluded.empty() ? "" : fmt::format(" --exclude {}", fmt::join(selection.exclude, ",")), listed.size(),
          online, listing_url));
    }
    return out;
  }
  for (const auto& id : selection.products) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      return NotFound(fmt::format("product {} is not listed by the exchange (GET {}); check --products", id,
                                  listing_url));
    }
    if (!keep(*it->second) || !seen.insert(id).second) continue;
    if (it->second->status != "online") {
      spdlog::warn("{}: the exchange lists it as \"{}\", not online; ingesting the history it serves", id,
                   it->second->status);
    }
    out.push_back(id);
  }
  if (out.empty()) {
    return InvalidArgument(fmt::format("--quote/--exclude leave none of --products {}; check them",
                                       fmt::join(selection.products, ",")));
  }
  return out;
}

Result<std::vector<std::string>> ResolveProducts(const ProductSelection& selection,
                                                 const CoinbaseOptions& exchange, RateLimiter* limiter) {
  if (selection.products.empty()) {
    return InvalidArgument("no products given; pass --products BTC-USD,ETH-USD or --products all");
  }
  CoinbaseClient client(exchange, limiter, nullptr);
  ASSIGN_OR_RETURN(auto listed, client.ListProducts());
  std::string base = exchange.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return ResolveProducts(selection, listed, base + "/products");
}

}  // namespace tradelake
