#include "ingest/product_selection.h"

#include <gtest/gtest.h>

#include "exchange/simulator.h"

namespace tradelake {
namespace {

ProductInfo Listed(std::string id, std::string status, std::string quote = "") {
  ProductInfo p;
  p.id = std::move(id);
  p.status = std::move(status);
  p.quote_currency = std::move(quote);
  return p;
}

const std::vector<ProductInfo> kListing = {
    Listed("SOL-USD", "online", "USD"),   Listed("BTC-USD", "online", "USD"),
    Listed("BTC-USDC", "online", "USDC"), Listed("ETH-EUR", "online", "EUR"),
    Listed("LUNA-USD", "delisted", "USD"), Listed("ETH-USD", "offline", "USD"),
    Listed("DOGE-USDT", "online"),  // no quote_currency field: read from the id
};
constexpr std::string_view kUrl = "http://exchange/products";

std::vector<std::string> Resolve(std::string_view products, std::string_view quotes = "",
                                 std::string_view exclude = "") {
  auto r = ResolveProducts(ParseProductSelection(products, quotes, exclude), kListing, kUrl);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<std::string>{};
}

TEST(ProductSelection, AllIsEveryOnlineProductSortedById) {
  EXPECT_EQ(Resolve("all"), (std::vector<std::string>{"BTC-USD", "BTC-USDC", "DOGE-USDT", "ETH-EUR", "SOL-USD"}));
}

TEST(ProductSelection, QuoteAndExcludeNarrowTheSelection) {
  EXPECT_EQ(Resolve("all", "USD,USDC"), (std::vector<std::string>{"BTC-USD", "BTC-USDC", "SOL-USD"}));
  EXPECT_EQ(Resolve("all", "USD, USDC", "BTC-USDC,SOL-USD"), (std::vector<std::string>{"BTC-USD"}));
  EXPECT_EQ(Resolve("all", "USDT"), (std::vector<std::string>{"DOGE-USDT"}));
  // An explicit list keeps its order and is narrowed the same way.
  EXPECT_EQ(Resolve("SOL-USD,ETH-EUR,BTC-USD", "USD"), (std::vector<std::string>{"SOL-USD", "BTC-USD"}));
  EXPECT_EQ(Resolve("SOL-USD,BTC-USD,SOL-USD", "", "BTC-USD"), (std::vector<std::string>{"SOL-USD"}));
}

TEST(ProductSelection, AnExplicitProductMayBeDelistedButMustBeListed) {
  EXPECT_EQ(Resolve("LUNA-USD,BTC-USD"), (std::vector<std::string>{"LUNA-USD", "BTC-USD"}));
  auto r = ResolveProducts(ParseProductSelection("BTC-USD,FOO-USD", "", ""), kListing, kUrl);
  ASSERT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "product FOO-USD is not listed by the exchange (GET http://exchange/products); check --products");
}

TEST(ProductSelection, ASelectionThatLeavesNothingIsAnErrorSayingWhy) {
  auto r = ResolveProducts(ParseProductSelection("all", "JPY", ""), kListing, kUrl);
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--products all --quote JPY selects nothing: the exchange lists 7 products, 5 online"),
            std::string::npos)
      << r.status().message();
  r = ResolveProducts(ParseProductSelection("BTC-USD", "", "BTC-USD"), kListing, kUrl);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = ResolveProducts(ParseProductSelection("all,BTC-USD", "", ""), kListing, kUrl);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = ResolveProducts(ParseProductSelection("", "", ""), kListing, kUrl);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(ProductSelection, ResolvesAgainstTheSimulatorsListingWithStatuses) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD", "BTC-USDC", "DOGE-EUR", "LUNA-USD"};
  o.product_status = {{"LUNA-USD", "delisted"}};
  o.history_micros = kMicrosPerMinute;
  o.live = false;
  o.rate_limit = false;
  auto sim = Simulator::Start(o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  CoinbaseOptions exchange;
  exchange.base_url = (*sim)->url();
  auto all = ResolveProducts(ParseProductSelection("all", "USD,USDC", "ETH-USD"), exchange, nullptr);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, (std::vector<std::string>{"BTC-USD", "BTC-USDC"}));
  auto unknown = ResolveProducts(ParseProductSelection("BTC-USD,NOPE-USD", "", ""), exchange, nullptr);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("product NOPE-USD is not listed by the exchange (GET " + (*sim)->url() +
                                            "/products)"),
            std::string::npos)
      << unknown.status().message();

  o.product_status = {{"XRP-USD", "delisted"}};
  EXPECT_EQ(Simulator::Start(o).status().code(), StatusCode::kInvalidArgument) << "status of an unlisted product";
}

}  // namespace
}  // namespace tradelake
