// IAM identity-policy documents: parsing and evaluation.
//
// tradelake keeps one IAM policy document per role in policies/<role>.json and
// enforces it itself on every storage operation (see policy_store.h), so the
// documents a deployment attaches to real IAM roles are the ones tested here.
//
// Evaluation follows IAM's rules for a single identity policy:
//   - default deny: a request no statement allows is denied (kImplicitDeny);
//   - an applicable Deny statement wins over any Allow (kExplicitDeny);
//   - a statement applies when its Action (or NotAction), its Resource (or
//     NotResource) and every condition in its Condition block match;
//   - actions match case-insensitively ("s3:getobject" == "s3:GetObject"),
//     resources case-sensitively; both accept the wildcards '*' (any run of
//     characters, '/' and ':' included) and '?' (exactly one character);
//   - Condition: operators are ANDed, keys within an operator are ANDed, the
//     values of one key are ORed. Condition keys are case-insensitive,
//     context values case-sensitive (except the *IgnoreCase operators).
//
// Supported condition operators (anything else fails ParsePolicy, it is
// never silently ignored): StringEquals, StringNotEquals,
// StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
// StringNotLike, each also with the IfExists suffix, and Null.
// A key missing from the request context makes the condition, as IAM
// documents under "Condition operators":
//   - false for the positive operators (StringEquals, StringLike, ...);
//   - true for the negated ones (StringNotEquals, StringNotLike, ...): "the
//     key is not present" is read as "the value does not match";
//   - true for any ...IfExists operator;
//   - for Null: true when the value is "true", false when "false".
// A negated operator with several values is true when the context value
// matches none of them (IAM's "NOR").
//
// Policy variables: ${Name} placeholders (the documents use ${LakeBucket} and
// ${LakePrefix}) are tradelake's, not IAM's, and are replaced in the document
// text by SubstitutePolicyVariables() before parsing. ParsePolicy() refuses a
// Resource or Condition value that still holds "${", because this evaluator
// does not resolve IAM's own variables (${aws:username}, ...).
//
// Every function here is pure and thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tradelake {

enum class ConditionOperator {
  kStringEquals,
  kStringNotEquals,
  kStringEqualsIgnoreCase,
  kStringNotEqualsIgnoreCase,
  kStringLike,
  kStringNotLike,
  kNull,
};

struct PolicyCondition {
  ConditionOperator op = ConditionOperator::kStringEquals;
  bool if_exists = false;           // the operator had the IfExists suffix
  std::string key;                  // lower-cased: keys are case-insensitive
  std::vector<std::string> values;  // at least one
};

struct PolicyStatement {
  std::string sid;  // may be empty
  bool deny = false;
  bool not_action = false;  // `actions` came from NotAction
  std::vector<std::string> actions;
  bool not_resource = false;  // `resources` came from NotResource
  std::vector<std::string> resources;
  std::vector<PolicyCondition> conditions;

  // Sid, or "Statement[<index>]" when it has none; for messages.
  std::string label;
};

struct Policy {
  std::string version;  // "2012-10-17", "2008-10-17", or empty when absent
  std::vector<PolicyStatement> statements;
};

// The placeholder values, by name without "${}": {"LakeBucket", "my-bucket"}.
using PolicyVariables = std::map<std::string, std::string, std::less<>>;

// Returns `text` with every "${Name}" replaced by vars[Name]. Fails with
// InvalidArgument naming the placeholder when a name is not in `vars` (a
// typo must not produce a policy that quietly matches nothing), or when a
// value holds a character that would change the document's meaning once
// pasted into its JSON text ('"', '\', control characters) or its patterns
// ('*', '?', '$').
Result<std::string> SubstitutePolicyVariables(std::string_view text, const PolicyVariables& vars);

// Parses an identity-policy document. Fails with InvalidArgument saying what
// is wrong and where ("Statement[1] (Sid \"ReadGold\"): unknown Effect
// \"allow\"; expected \"Allow\" or \"Deny\""): bad JSON, unknown or duplicate
// fields, a missing or doubled Action/NotAction or Resource/NotResource, an
// empty list, a Principal (identity policies have none), an action not of the
// form "service:action" or "*", a resource neither an ARN nor "*", a
// duplicate Sid, an unsupported condition operator or an unresolved ${...}.
Result<Policy> ParsePolicy(std::string_view json);

// Reads the file at `path`, substitutes `vars` and parses it; errors carry
// the path.
Result<Policy> LoadPolicyFile(const std::string& path, const PolicyVariables& vars);

// One request to authorize, as IAM sees it.
struct Request {
  std::string action;    // "s3:GetObject"
  std::string resource;  // "arn:aws:s3:::bucket/prefix/bronze/x"
  // Condition keys of the request ("s3:prefix" -> "prefix/bronze/"); key
  // case does not matter. A key that is absent is "not present" to IAM.
  std::map<std::string, std::string> context;
};

enum class Decision { kAllow, kExplicitDeny, kImplicitDeny };

// "Allow", "ExplicitDeny", "ImplicitDeny".
std::string_view DecisionName(Decision decision);

struct Evaluation {
  Decision decision = Decision::kImplicitDeny;
  // The deciding statement's label: the denying one for kExplicitDeny, the
  // first allowing one for kAllow; empty for kImplicitDeny.
  std::string statement;
};

// The decision of `policy` on `request`, with the statement that made it.
Evaluation Explain(const Policy& policy, const Request& request);

inline Decision Evaluate(const Policy& policy, const Request& request) {
  return Explain(policy, request).decision;
}

// IAM wildcard match: '*' matches any run of characters (including none),
// '?' exactly one; every other character matches itself, ASCII letters
// case-insensitively when `ignore_case`. Exposed for tests.
bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case);

}  // namespace tradelake
