#include "store/policy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tradelake {
namespace {

Policy Parse(std::string_view json) {
  auto p = ParsePolicy(json);
  EXPECT_TRUE(p.ok()) << p.status().ToString() << "\n" << json;
  return p.ok() ? *p : Policy{};
}

Request Req(std::string action, std::string resource,
            std::map<std::string, std::string> context = {}) {
  return Request{std::move(action), std::move(resource), std::move(context)};
}

// The message of a ParsePolicy failure (and that it is InvalidArgument).
std::string ParseError(std::string_view json) {
  auto p = ParsePolicy(json);
  EXPECT_FALSE(p.ok()) << "accepted:\n" << json;
  if (p.ok()) return "";
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << p.status().ToString();
  return p.status().message();
}

constexpr std::string_view kGetBronze = R"({
  "Version": "2012-10-17",
  "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/p/bronze/*"}
})";

// --- evaluation rules --------------------------------------------------------------

TEST(PolicyEvaluate, DeniesByDefaultWhatNoStatementAllows) {
  const Policy p = Parse(kGetBronze);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/bronze/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject", "arn:aws:s3:::b/p/bronze/x")), Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/silver/x")), Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::other/p/bronze/x")),
            Decision::kImplicitDeny);
}

TEST(PolicyEvaluate, ExplicitDenyWinsOverAllowInEitherOrder) {
  for (const bool deny_first : {true, false}) {
    const std::string allow = R"({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})";
    const std::string deny =
        R"({"Sid": "NoBronzeDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/p/bronze/*"})";
    const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": [)" +
                           (deny_first ? deny : allow) + "," + (deny_first ? allow : deny) + "]}");
    const Evaluation e = Explain(p, Req("s3:DeleteObject", "arn:aws:s3:::b/p/bronze/x"));
    EXPECT_EQ(e.decision, Decision::kExplicitDeny);
    EXPECT_EQ(e.statement, "NoBronzeDelete");
    EXPECT_EQ(Evaluate(p, Req("s3:DeleteObject", "arn:aws:s3:::b/p/silver/x")), Decision::kAllow);
  }
}

TEST(PolicyEvaluate, ExplainNamesTheAllowingStatementBySidOrIndex) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a/*"},
    {"Sid": "ReadB", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/b/*"}]})");
  EXPECT_EQ(Explain(p, Req("s3:GetObject", "arn:aws:s3:::b/a/x")).statement, "Statement[0]");
  EXPECT_EQ(Explain(p, Req("s3:GetObject", "arn:aws:s3:::b/b/x")).statement, "ReadB");
  EXPECT_EQ(Explain(p, Req("s3:GetObject", "arn:aws:s3:::b/c/x")).statement, "");
}

TEST(PolicyEvaluate, StarMatchesAnyRunIncludingSlashesAndNothing) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/p/*/date=*/x"}})");
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/bronze/a/b/date=2024/x")),
            Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:Get", "arn:aws:s3:::b/p//date=/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/bronze/date=2024/y")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject", "arn:aws:s3:::b/p/bronze/date=2024/x")),
            Decision::kImplicitDeny);
}

TEST(PolicyEvaluate, QuestionMarkMatchesExactlyOneCharacter) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "s3:?etObject", "Resource": "arn:aws:s3:::b/p/part-??.parquet"}})");
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/part-07.parquet")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/part-7.parquet")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/part-007.parquet")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject", "arn:aws:s3:::b/p/part-07.parquet")),
            Decision::kImplicitDeny);
}

TEST(PolicyEvaluate, WildcardMatchBacktracksAndHandlesEdgeCases) {
  EXPECT_TRUE(WildcardMatch("", "", false));
  EXPECT_FALSE(WildcardMatch("", "a", false));
  EXPECT_TRUE(WildcardMatch("*", "", false));
  EXPECT_TRUE(WildcardMatch("a*b*c", "aXbYbZc", false));
  EXPECT_FALSE(WildcardMatch("a*b*c", "aXbYbZ", false));
  EXPECT_TRUE(WildcardMatch("*a?", "bbbaab", false));
  EXPECT_FALSE(WildcardMatch("?", "", false));
  EXPECT_TRUE(WildcardMatch("**?", "x", false));
  EXPECT_TRUE(WildcardMatch("ABC", "abc", true));
  EXPECT_FALSE(WildcardMatch("ABC", "abc", false));
}

TEST(PolicyEvaluate, ActionsMatchIgnoringCaseResourcesDoNot) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "S3:getobject", "Resource": "arn:aws:s3:::b/p/Gold/*"}})");
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/Gold/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("S3:GETOBJECT", "arn:aws:s3:::b/p/Gold/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/gold/x")), Decision::kImplicitDeny);
}

TEST(PolicyEvaluate, NotActionAppliesToEveryOtherAction) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
    {"Effect": "Deny", "NotAction": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::b/p/gold/*"}]})");
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/gold/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:getobject", "arn:aws:s3:::b/p/gold/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject", "arn:aws:s3:::b/p/gold/x")), Decision::kExplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject", "arn:aws:s3:::b/p/silver/x")), Decision::kAllow);
}

TEST(PolicyEvaluate, NotResourceAppliesToEveryOtherResource) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "s3:GetObject", "NotResource": ["arn:aws:s3:::b/p/bronze/*", "arn:aws:s3:::b/p/_state/*"]}})");
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/gold/x")), Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/bronze/x")), Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::b/p/_state/etl/lock")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject", "arn:aws:s3:::b/p/gold/x")), Decision::kImplicitDeny);
}

TEST(PolicyEvaluate, StatementMayBeAnObjectOrAnArrayAndActionsAStringOrList) {
  const Policy one = Parse(kGetBronze);
  const Policy list = Parse(R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/p/bronze/*"]}]})");
  ASSERT_EQ(one.statements.size(), 1u);
  ASSERT_EQ(list.statements.size(), 1u);
  for (const Policy* p : {&one, &list}) {
    EXPECT_EQ(Evaluate(*p, Req("s3:GetObject", "arn:aws:s3:::b/p/bronze/x")), Decision::kAllow);
    EXPECT_EQ(Evaluate(*p, Req("s3:GetObject", "arn:aws:s3:::b/p/gold/x")),
              Decision::kImplicitDeny);
  }
}

// --- conditions ----------------------------------------------------------------------

Policy ListPolicy(std::string_view op, std::string_view values) {
  return Parse(std::string(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {")") +
               std::string(op) + R"(": {"s3:prefix": )" + std::string(values) + "}}}}");
}

Decision ListWith(const Policy& p, std::optional<std::string> prefix) {
  Request r = Req("s3:ListBucket", "arn:aws:s3:::b");
  if (prefix) r.context["s3:prefix"] = *prefix;
  return Evaluate(p, r);
}

TEST(PolicyCondition, StringLikeMatchesAnyOfItsPatterns) {
  const Policy p = ListPolicy("StringLike", R"(["p/bronze/*", "p/_state/ingest/*"])");
  EXPECT_EQ(ListWith(p, "p/bronze/"), Decision::kAllow);
  EXPECT_EQ(ListWith(p, "p/bronze/source=coinbase/"), Decision::kAllow);
  EXPECT_EQ(ListWith(p, "p/_state/ingest/x/"), Decision::kAllow);
  EXPECT_EQ(ListWith(p, "p/bronze"), Decision::kImplicitDeny);  // would also list "p/bronzeX/..."
  EXPECT_EQ(ListWith(p, "p/silver/"), Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(p, "p/Bronze/"), Decision::kImplicitDeny);  // values are case-sensitive
  EXPECT_EQ(ListWith(p, "p/"), Decision::kImplicitDeny);
}

TEST(PolicyCondition, StringEqualsTakesNoWildcards) {
  const Policy p = ListPolicy("StringEquals", R"("p/gold/*")");
  EXPECT_EQ(ListWith(p, "p/gold/*"), Decision::kAllow);
  EXPECT_EQ(ListWith(p, "p/gold/x"), Decision::kImplicitDeny);
  const Policy ic = ListPolicy("StringEqualsIgnoreCase", R"("P/GOLD/")");
  EXPECT_EQ(ListWith(ic, "p/gold/"), Decision::kAllow);
}

TEST(PolicyCondition, NegatedOperatorsHoldWhenNoValueMatches) {
  const Policy not_like = ListPolicy("StringNotLike", R"(["p/bronze/*", "p/_state/*"])");
  EXPECT_EQ(ListWith(not_like, "p/gold/"), Decision::kAllow);
  EXPECT_EQ(ListWith(not_like, "p/bronze/"), Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(not_like, "p/_state/etl/"), Decision::kImplicitDeny);
  const Policy not_equals = ListPolicy("StringNotEquals", R"(["p/a/", "p/b/"])");
  EXPECT_EQ(ListWith(not_equals, "p/c/"), Decision::kAllow);
  EXPECT_EQ(ListWith(not_equals, "p/b/"), Decision::kImplicitDeny);
}

// IAM: "If the key that you specify in a policy condition is not present in
// the request context, the values do not match and the condition is false.
// If the policy condition requires that the key is not matched, such as
// StringNotLike or ArnNotLike, and the right key is not present, the
// condition is true." (IAM User Guide, Condition operators.) ...IfExists is
// true when the key is absent; Null tests presence.
TEST(PolicyCondition, MissingKeyIsFalseForPositiveTrueForNegatedOperators) {
  EXPECT_EQ(ListWith(ListPolicy("StringLike", R"("*")"), std::nullopt), Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(ListPolicy("StringEquals", R"("")"), std::nullopt), Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(ListPolicy("StringEqualsIgnoreCase", R"("x")"), std::nullopt),
            Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(ListPolicy("StringNotLike", R"("p/bronze/*")"), std::nullopt),
            Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("StringNotEquals", R"("p/")"), std::nullopt), Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("StringNotEqualsIgnoreCase", R"("p/")"), std::nullopt),
            Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("StringLikeIfExists", R"("p/gold/*")"), std::nullopt),
            Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("StringLikeIfExists", R"("p/gold/*")"), "p/bronze/"),
            Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(ListPolicy("StringLikeIfExists", R"("p/gold/*")"), "p/gold/"),
            Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("Null", R"("true")"), std::nullopt), Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("Null", R"("true")"), "p/"), Decision::kImplicitDeny);
  EXPECT_EQ(ListWith(ListPolicy("Null", "false"), "p/"), Decision::kAllow);
  EXPECT_EQ(ListWith(ListPolicy("Null", "false"), std::nullopt), Decision::kImplicitDeny);
}

TEST(PolicyCondition, KeysAreCaseInsensitiveOnBothSides) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"StringLike": {"S3:Prefix": "p/*"}}}})");
  EXPECT_EQ(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::b", {{"s3:prefix", "p/x"}})),
            Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::b", {{"S3:PREFIX", "p/x"}})),
            Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::b", {{"s3:delimiter", "p/x"}})),
            Decision::kImplicitDeny);
}

TEST(PolicyCondition, OperatorsAndKeysAreAndedValuesOred) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {
      "StringLike": {"s3:prefix": ["p/gold/*", "p/silver/*"], "s3:delimiter": "/"},
      "StringNotLike": {"s3:prefix": "p/gold/secret/*"}}}})");
  auto list = [&](std::string prefix, std::string delimiter) {
    return Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::b",
                           {{"s3:prefix", prefix}, {"s3:delimiter", delimiter}}));
  };
  EXPECT_EQ(list("p/gold/", "/"), Decision::kAllow);
  EXPECT_EQ(list("p/silver/t/", "/"), Decision::kAllow);
  EXPECT_EQ(list("p/gold/", "|"), Decision::kImplicitDeny);
  EXPECT_EQ(list("p/gold/secret/x", "/"), Decision::kImplicitDeny);
  EXPECT_EQ(list("p/bronze/", "/"), Decision::kImplicitDeny);
}

TEST(PolicyCondition, ConditionedDenyOnlyDeniesWhenItHolds) {
  const Policy p = Parse(R"({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
    {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
     "Condition": {"StringNotLike": {"s3:prefix": "p/_artifacts/*"}}}]})");
  EXPECT_EQ(ListWith(p, "p/_artifacts/"), Decision::kAllow);
  EXPECT_EQ(ListWith(p, "p/gold/"), Decision::kExplicitDeny);
  EXPECT_EQ(ListWith(p, std::nullopt),
            Decision::kExplicitDeny);  // missing key: StringNotLike holds
}

// --- malformed documents ------------------------------------------------------------

TEST(PolicyParse, RejectsMalformedDocumentsSayingWhatIsWrong) {
  const std::string ok_stmt = R"("Effect": "Allow", "Action": "s3:GetObject", "Resource": "*")";
  auto doc = [](std::string stmt) {
    return R"({"Version": "2012-10-17", "Statement": {)" + stmt + "}}";
  };
  struct Case {
    std::string json;
    std::string expected;  // substring of the message
  };
  const std::vector<Case> cases = {
      {"{", "not valid JSON"},
      {"", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"Version": "2012-10-17"})", "missing Statement"},
      {R"({"Version": "2012-10-17", "Statement": []})", "empty list"},
      {R"({"Version": "2012-10-18", "Statement": {)" + ok_stmt + "}}", "unknown policy Version"},
      {R"({"Version": "2012-10-17", "Statment": {}, "Statement": {)" + ok_stmt + "}}",
       "unknown top-level field \"Statment\""},
      {R"({"Version": "2012-10-17", "Statement": [1]})", "Statement[0] must be an object"},
      {doc(R"("Effect": "allow", "Action": "s3:GetObject", "Resource": "*")"),
       "unknown Effect \"allow\""},
      {doc(R"("Action": "s3:GetObject", "Resource": "*")"), "missing Effect"},
      {doc(R"("Effect": "Allow", "Resource": "*")"), "missing Action"},
      {doc(R"("Effect": "Allow", "Action": "s3:GetObject")"), "missing Resource"},
      {doc(R"("Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:Put*", "Resource": "*")"),
       "both Action and NotAction"},
      {doc(R"("Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "NotResource": "*")"),
       "both Resource and NotResource"},
      {doc(R"("Effect": "Allow", "Action": [], "Resource": "*")"), "Action is an empty list"},
      {doc(R"("Effect": "Allow", "Action": [1], "Resource": "*")"), "Action[0] must be a string"},
      {doc(R"("Effect": "Allow", "Action": "GetObject", "Resource": "*")"),
       "\"<service>:<action>\""},
      {doc(R"("Effect": "Allow", "Action": "s3:GetObject", "Resource": "bucket/key")"),
       "neither an ARN"},
      {doc(R"("Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::${LakeBucket}/*")"),
       "unresolved policy variable"},
      {doc(ok_stmt + R"(, "Principal": {"AWS": "*"})"),
       "Principal belongs in resource-based policies"},
      {doc(ok_stmt + R"(, "Effect": "Deny")"), "duplicate field \"Effect\""},
      {doc(ok_stmt + R"(, "Conditions": {})"), "unknown field \"Conditions\""},
      {doc(ok_stmt + R"(, "Sid": "not ok!")"), "may hold only ASCII letters and digits"},
      {doc(ok_stmt + R"(, "Condition": {"ArnLike": {"aws:SourceArn": "arn:*"}})"),
       "unsupported condition operator \"ArnLike\""},
      {doc(ok_stmt + R"(, "Condition": {"ForAnyValue:StringLike": {"s3:prefix": "a"}})"),
       "unsupported condition operator \"ForAnyValue:StringLike\""},
      {doc(ok_stmt + R"(, "Condition": {"NullIfExists": {"s3:prefix": "true"}})"),
       "unsupported condition operator"},
      {doc(ok_stmt + R"(, "Condition": {"Null": {"s3:prefix": "maybe"}})"),
       "Null takes \"true\" or \"false\""},
      {doc(ok_stmt + R"(, "Condition": {"StringLike": {"s3:prefix": []}})"), "empty list"},
      {doc(ok_stmt + R"(, "Condition": {"StringLike": {"s3:prefix": {"a": 1}}})"),
       "must be a string"},
      {doc(ok_stmt + R"(, "Condition": {"StringLike": {}})"), "names no condition key"},
      {doc(ok_stmt + R"(, "Condition": {"StringLike": "s3:prefix"})"), "must be an object"},
      {doc(ok_stmt + R"(, "Condition": {"StringLike": {"s3:prefix": "a", "S3:PREFIX": "b"}})"),
       "appears twice"},
      {R"({"Version": "2012-10-17", "Statement": [{"Sid": "A", )" + ok_stmt +
           R"(}, {"Sid": "A", )" + ok_stmt + "}]}",
       "Sid \"A\" is used by two statements"},
  };
  for (const Case& c : cases) {
    EXPECT_NE(ParseError(c.json).find(c.expected), std::string::npos)
        << "input: " << c.json << "\nmessage: " << ParseError(c.json)
        << "\nexpected: " << c.expected;
  }
}

TEST(PolicyParse, ErrorsNameTheStatementBySid) {
  const std::string message = ParseError(R"({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    {"Sid": "ReadGold", "Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]})");
  EXPECT_NE(message.find("Statement[1] (Sid \"ReadGold\"): unknown Effect \"Permit\""),
            std::string::npos)
      << message;
}

TEST(PolicyParse, AcceptsConditionValuesThatAreBooleansOrIntegersAndAMissingVersion) {
  const Policy p = Parse(R"({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
    "Condition": {"Null": {"s3:prefix": true}, "StringEquals": {"s3:max-keys": [1000, 5]}}}})");
  ASSERT_EQ(p.statements.size(), 1u);
  ASSERT_EQ(p.statements[0].conditions.size(), 2u);
  EXPECT_EQ(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::b", {{"s3:max-keys", "5"}})),
            Decision::kAllow);
}

// --- policy variables -----------------------------------------------------------------

TEST(PolicyVariables, SubstitutesEveryPlaceholder) {
  auto text = SubstitutePolicyVariables("arn:aws:s3:::${LakeBucket}/${LakePrefix}/x ${LakePrefix}",
                                        {{"LakeBucket", "bkt"}, {"LakePrefix", "data/lake"}});
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "arn:aws:s3:::bkt/data/lake/x data/lake");
}

TEST(PolicyVariables, RefusesUnknownPlaceholdersAndUnsafeValues) {
  auto typo = SubstitutePolicyVariables("${LakeBuckt}", {{"LakeBucket", "b"}});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("\"${LakeBuckt}\"; known: LakeBucket"), std::string::npos)
      << typo.status().message();
  EXPECT_FALSE(SubstitutePolicyVariables("${LakeBucket", {{"LakeBucket", "b"}}).ok());
  for (const char* bad : {"a\"b", "a\\b", "a*", "a?", "${x}", "a\nb"}) {
    auto r = SubstitutePolicyVariables("${V}", {{"V", bad}});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// --- the real documents vs DESIGN.md's role table ---------------------------------------

const std::filesystem::path kRepoRoot =
    std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();

std::string ReadRepoFile(const std::string& relative) {
  std::ifstream in(kRepoRoot / relative, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

const PolicyVariables kLake = {{"LakeBucket", "lake-bucket"}, {"LakePrefix", "lake"}};

Policy LoadRole(const std::string& role) {
  auto p = LoadPolicyFile((kRepoRoot / "policies" / (role + ".json")).string(), kLake);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : Policy{};
}

// One key per area of the lake layout.
const std::vector<std::pair<std::string, std::string>> kAreas = {
    {"bronze", "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/1-100.jsonl.zst"},
    {"silver", "silver/trades/product_id=BTC-USD/date=2024-05-01/part-00000001-ab.parquet"},
    {"gold", "gold/trades_hourly/product_id=BTC-USD/date=2024-05-01/part-00000001-ab.parquet"},
    {"_state/ingest", "_state/ingest/source=coinbase/product=BTC-USD/checkpoint.json"},
    {"_state/etl", "_state/etl/lock"},
    {"_catalog", "_catalog/commits/00000000000000000001.json"},
    {"_state/ingest/landed", "_state/ingest/landed/source=coinbase/product=BTC-USD/00000000000000000007.json"},
    {"_state/ingest/products", "_state/ingest/products/source=coinbase/BTC-USD.json"},
};

Request ForOperation(const std::string& op, const std::string& area, const std::string& key) {
  if (op == "list")
    return Req("s3:ListBucket", "arn:aws:s3:::lake-bucket", {{"s3:prefix", "lake/" + area + "/"}});
  const std::string action = op == "get"   ? "s3:GetObject"
                             : op == "put" ? "s3:PutObject"
                                           : "s3:DeleteObject";
  return Req(action, "arn:aws:s3:::lake-bucket/lake/" + key);
}

// A = allowed, . = implicitly denied (no statement allows it),
// D = explicitly denied (Bronze is immutable, the deployer touches no data).
TEST(RolePolicies, MatchTheRoleTableOfTheDesign) {
  struct Row {
    std::string role, op;
    std::string expected;  // one letter per area, in kAreas order; spaces are for the eye
  };
  // clang-format off
  const std::vector<Row> table = {
      //                      bronze  silver  gold    _state/ _state/ _catalog landed  products
      //                                              ingest  etl              (_state/ingest/...)
      {"ingest",   "get",    "A       .       .       A       .       .        A       A"},
      {"ingest",   "put",    "A       .       .       A       .       .        A       A"},
      {"ingest",   "list",   "A       .       .       A       .       .        A       A"},
      {"ingest",   "delete", "D       .       .       .       .       .        .       ."},
      // etl reads the landed log and the product markers, writes nothing of ingest's.
      {"etl",      "get",    "A       A       A       .       A       A        A       A"},
      {"etl",      "put",    "D       A       A       .       A       A        .       ."},
      {"etl",      "list",   "A       A       A       .       A       A        A       A"},
      {"etl",      "delete", "D       A       A       .       A       A        .       ."},
      {"analyst",  "get",    ".       A       A       .       .       A        .       ."},
      {"analyst",  "put",    ".       .       .       .       .       .        .       ."},
      {"analyst",  "list",   ".       A       A       .       .       A        .       ."},
      {"analyst",  "delete", ".       .       .       .       .       .        .       ."},
      {"deployer", "get",    "D       D       D       D       D       D        D       D"},
      {"deployer", "put",    "D       D       D       D       D       D        D       D"},
      {"deployer", "list",   "D       D       D       D       D       D        D       D"},
      {"deployer", "delete", "D       D       D       D       D       D        D       D"},
  };
  // clang-format on
  std::map<std::string, Policy> policies;
  for (const char* role : {"ingest", "etl", "analyst", "deployer"}) policies[role] = LoadRole(role);
  for (const Row& row : table) {
    std::string letters = row.expected;
    std::erase(letters, ' ');
    ASSERT_EQ(letters.size(), kAreas.size()) << row.role << " " << row.op;
    for (size_t i = 0; i < kAreas.size(); ++i) {
      const auto& [area, key] = kAreas[i];
      const Decision want = letters[i] == 'A'   ? Decision::kAllow
                            : letters[i] == 'D' ? Decision::kExplicitDeny
                                                : Decision::kImplicitDeny;
      const Request request = ForOperation(row.op, area, key);
      EXPECT_EQ(DecisionName(Evaluate(policies[row.role], request)), DecisionName(want))
          << row.role << " " << row.op << " " << area << ": " << request.action << " "
          << request.resource;
    }
  }
}

TEST(RolePolicies, AreScopedToTheLakeBucketAndPrefix) {
  for (const char* role : {"ingest", "etl", "analyst"}) {
    const Policy p = LoadRole(role);
    SCOPED_TRACE(role);
    const std::string gold = "gold/trades_daily/product_id=BTC-USD/date=2024-05-01/part-1.parquet";
    const std::string bronze =
        "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/1-2.jsonl.zst";
    const std::string key = std::string(role) == "ingest" ? bronze : gold;
    EXPECT_EQ(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::lake-bucket/lake/" + key)),
              Decision::kAllow);
    EXPECT_NE(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::other-bucket/lake/" + key)),
              Decision::kAllow);
    EXPECT_NE(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::lake-bucket/other/" + key)),
              Decision::kAllow);
    EXPECT_NE(Evaluate(p, Req("s3:GetObject", "arn:aws:s3:::lake-bucket/" + key)),
              Decision::kAllow);
    // Listing needs a prefix inside the role's areas: not the bucket, not the lake root.
    EXPECT_NE(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::lake-bucket")), Decision::kAllow);
    EXPECT_NE(
        Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::lake-bucket", {{"s3:prefix", "lake/"}})),
        Decision::kAllow);
    EXPECT_NE(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::other-bucket",
                              {{"s3:prefix", "lake/gold/"}})),
              Decision::kAllow);
  }
}

TEST(RolePolicies, DeployerMayOnlyShipCodeAndArtifacts) {
  const Policy p = LoadRole("deployer");
  EXPECT_EQ(Evaluate(p, Req("lambda:UpdateFunctionCode",
                            "arn:aws:lambda:us-east-1:123456789012:function:tradelake-ingest")),
            Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("lambda:UpdateFunctionConfiguration",
                            "arn:aws:lambda:us-east-1:123456789012:function:tradelake-ingest")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("lambda:UpdateFunctionCode",
                            "arn:aws:lambda:us-east-1:123456789012:function:other")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:PutObject",
                            "arn:aws:s3:::lake-bucket/lake/_artifacts/tradelake-0.1.0.zip")),
            Decision::kAllow);
  EXPECT_EQ(Evaluate(p, Req("s3:DeleteObject",
                            "arn:aws:s3:::lake-bucket/lake/_artifacts/tradelake-0.1.0.zip")),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate(p, Req("s3:ListBucket", "arn:aws:s3:::lake-bucket")), Decision::kExplicitDeny);
}

TEST(RolePolicies, AreValidIamDocumentsWithVersion20121017) {
  for (const char* role : {"ingest", "etl", "analyst", "deployer"}) {
    const std::string raw = ReadRepoFile(std::string("policies/") + role + ".json");
    ASSERT_FALSE(raw.empty()) << role;
    // Unsubstituted they must fail loudly, not parse into something that matches nothing.
    EXPECT_FALSE(ParsePolicy(raw).ok()) << role;
    EXPECT_EQ(LoadRole(role).version, "2012-10-17") << role;
  }
}

}  // namespace
}  // namespace tradelake
