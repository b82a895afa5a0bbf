// libFuzzer target: any bytes as a policy document must parse or fail with
// InvalidArgument, never crash; whatever parses must evaluate any request
// without crashing, and an explicit Deny must never come from a policy with
// no Deny statement.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/policy.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto substituted =
      SubstitutePolicyVariables(text, {{"LakeBucket", "bkt"}, {"LakePrefix", "lake"}});
  if (!substituted.ok()) Check(substituted.status().code() == StatusCode::kInvalidArgument);

  for (std::string_view doc : {text, substituted.ok() ? std::string_view(*substituted) : text}) {
    Result<Policy> policy = ParsePolicy(doc);
    if (!policy.ok()) {
      Check(policy.status().code() == StatusCode::kInvalidArgument);
      Check(!policy.status().message().empty());
      continue;
    }
    Check(!policy->statements.empty());
    bool has_deny = false;
    for (const PolicyStatement& st : policy->statements) has_deny = has_deny || st.deny;

    // Requests built from the input itself reach the wildcard matcher with
    // patterns and texts the fuzzer controls.
    const std::string tail(text.substr(0, std::min<size_t>(text.size(), 64)));
    const Request requests[] = {
        {"s3:GetObject", "arn:aws:s3:::bkt/lake/bronze/x", {}},
        {"s3:ListBucket", "arn:aws:s3:::bkt", {{"s3:prefix", "lake/gold/"}}},
        {"s3:ListBucket", "arn:aws:s3:::bkt", {}},
        {tail, "arn:aws:s3:::" + tail, {{"S3:Prefix", tail}}},
    };
    for (const Request& r : requests) {
      const Evaluation e = Explain(*policy, r);
      if (!has_deny) Check(e.decision != Decision::kExplicitDeny);
      Check((e.decision == Decision::kImplicitDeny) == e.statement.empty());
    }
  }
  // The matcher itself, on the input split in two.
  const size_t half = size / 2;
  (void)WildcardMatch(text.substr(0, half), text.substr(half), true);
  (void)WildcardMatch(text.substr(0, half), text.substr(half), false);
  return 0;
}
