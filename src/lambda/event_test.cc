#include "lambda/event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tradelake {
namespace {

TEST(LambdaEvent, AnEventBridgeScheduledEventIsTheStep) {
  auto e = ParseLambdaEvent(R"({"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events",
                               "account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1",
                               "resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->action, StepAction::kStep);
  EXPECT_TRUE(e->scheduled);
}

TEST(LambdaEvent, AnEmptyBodyOrEmptyObjectIsTheStep) {
  for (const char* body : {"", "  ", "null", "{}", R"({"action":"step"})"}) {
    auto e = ParseLambdaEvent(body);
    ASSERT_TRUE(e.ok()) << body;
    EXPECT_EQ(e->action, StepAction::kStep) << body;
  }
}

TEST(LambdaEvent, ExplicitActionsWithProductsAndSince) {
  auto e = ParseLambdaEvent(R"({"action":"ingest","products":["BTC-USD","ETH-USD"],"since":"6h"})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->action, StepAction::kIngest);
  EXPECT_EQ(e->products, (std::vector<std::string>{"BTC-USD", "ETH-USD"}));
  EXPECT_EQ(e->since, "6h");
  auto c = ParseLambdaEvent(R"({"action":"etl","products":"BTC-USD,SOL-USD"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->products.size(), 2u);
  for (const char* a : {"compact", "reconcile"}) {
    auto x = ParseLambdaEvent(std::string(R"({"action":")") + a + "\"}");
    ASSERT_TRUE(x.ok()) << a;
    EXPECT_EQ(StepActionName(x->action), a);
  }
}

TEST(LambdaEvent, TyposAndWrongShapesAreRefusedNotRunAsTheDefault) {
  for (const char* body : {R"({"action":"ingets"})", R"({"acton":"etl"})", R"([1,2])", R"("step")", "{nope",
                           R"({"action":"etl","since":"1h"})", R"({"products":[]})", R"({"products":[1]})",
                           R"({"action":7})", R"({"source":"aws.events","detail-type":"EC2 Instance State-change"})"}) {
    auto e = ParseLambdaEvent(body);
    EXPECT_FALSE(e.ok()) << body;
    if (!e.ok()) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << body;
    }
  }
  auto e = ParseLambdaEvent(R"({"action":"ingets"})");
  EXPECT_NE(e.status().message().find("\"ingest\""), std::string::npos) << "names what is accepted";
}

TEST(EmfLine, FollowsTheEmbeddedMetricFormatSpecification) {
  auto line = EmfLine("tradelake", {{"Function", "tradelake-ingest"}, {"Step", "ingest"}},
                      {{"TradesLanded", "Count", 1200}, {"LagSeconds", "Seconds", 2.5}}, {{"RequestId", "r-1"}},
                      1767225600000);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(line->find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(*line);
  EXPECT_EQ(j["_aws"]["Timestamp"], 1767225600000);
  const auto& d = j["_aws"]["CloudWatchMetrics"][0];
  EXPECT_EQ(d["Namespace"], "tradelake");
  EXPECT_EQ(d["Dimensions"], nlohmann::json::parse(R"([["Function","Step"]])"));
  EXPECT_EQ(d["Metrics"][0], nlohmann::json::parse(R"({"Name":"TradesLanded","Unit":"Count"})"));
  // Every dimension and metric named in the directive is a member of the root.
  EXPECT_EQ(j["Function"], "tradelake-ingest");
  EXPECT_EQ(j["Step"], "ingest");
  EXPECT_EQ(j["TradesLanded"], 1200);
  EXPECT_EQ(j["LagSeconds"], 2.5);
  EXPECT_EQ(j["RequestId"], "r-1");
}

TEST(EmfLine, RefusesNamesCloudWatchWouldDropTheRecordFor) {
  EXPECT_FALSE(EmfLine("n", {{"Step", "x"}}, {{"Step", "Count", 1}}, {}, 0).ok());
  EXPECT_FALSE(EmfLine("n", {}, {{"_aws", "Count", 1}}, {}, 0).ok());
  EXPECT_FALSE(EmfLine("n", {}, {{"A", "Count", 1}, {"A", "Count", 2}}, {}, 0).ok());
}

}  // namespace
}  // namespace tradelake
