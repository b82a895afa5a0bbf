#include "lambda/cost.h"

#include <gtest/gtest.h>

namespace tradelake {
namespace {

double Line(const CostEstimate& e, const std::string& service) {
  for (const auto& l : e.lines) {
    if (l.service == service) return l.usd;
  }
  ADD_FAILURE() << "no line " << service;
  return 0;
}

TEST(Cost, RequestLinesAreRequestsTimesTheListPrice) {
  CostInputs in;
  in.products = 1;
  in.steps_per_month = 1000;
  in.ingest_puts_base = 0; in.ingest_puts_per_product = 3; in.ingest_lists_per_product = 1;
  in.etl_puts_base = 6; in.etl_puts_per_product = 4; in.etl_lists_base = 2;
  AwsPrices p;
  const CostEstimate e = EstimateTradelake(in, p);
  // 1000 steps x (3 + 1 + 6 + 4 + 2) PUT-class requests at $0.005 per 1000.
  EXPECT_NEAR(Line(e, "S3 PUT/LIST"), 16.0 * 0.005, 1e-9);
  // Two functions invoked every step.
  EXPECT_NEAR(Line(e, "Lambda requests"), 2000 / 1e6 * 0.20, 1e-12);
}

TEST(Cost, GrowsWithProductsAndOneProductCostsLessThanTheGlueJobAlone) {
  AwsPrices p;
  double last = 0;
  for (int n : {1, 10, 200}) {
    CostInputs in;
    in.products = n;
    const double ours = EstimateTradelake(in, p).total();
    EXPECT_GT(ours, last) << n;
    last = ours;
  }
  // The original's fixed floor is the hourly Glue job; tradelake has none.
  // (With many products per-minute S3 requests overtake it: docs/aws.md.)
  CostInputs one;
  EXPECT_LT(EstimateTradelake(one, p).total(), Line(EstimateOriginal(one, p), "Glue"));
}

TEST(Cost, AnHourlyEtlMakesSixtyTimesFewerEtlRequests) {
  CostInputs minute, hourly;
  minute.ingest_puts_per_product = hourly.ingest_puts_per_product = 0;
  minute.ingest_lists_per_product = hourly.ingest_lists_per_product = 0;
  hourly.etl_every_minutes = 60;
  AwsPrices p;
  EXPECT_NEAR(Line(EstimateTradelake(minute, p), "S3 PUT/LIST"), 60 * Line(EstimateTradelake(hourly, p), "S3 PUT/LIST"),
              1e-9);
}

TEST(Cost, AthenaBillsTenMegabytesAtLeastPerQuery) {
  CostInputs in;
  in.athena_queries_per_day = 100;
  in.athena_bytes_per_query = 1000;
  AwsPrices p;
  EXPECT_NEAR(Line(EstimateTradelake(in, p), "Athena"), 100 * 30.44 * 10e6 / 1e12 * 5.0, 1e-9);
}

TEST(Cost, TheComparisonPrintsThePriceDate) {
  CostInputs in;
  const std::string text = RenderCostComparison(in, AwsPrices{});
  EXPECT_NE(text.find(AwsPrices{}.date), std::string::npos);
  EXPECT_NE(text.find("Glue"), std::string::npos);
}

}  // namespace
}  // namespace tradelake
