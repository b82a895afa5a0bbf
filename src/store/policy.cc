#include "store/policy.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/text.h"

namespace tradelake {
namespace {

namespace dom = simdjson::dom;

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// The fields of a JSON object by name, refusing duplicates: simdjson's DOM
// keeps both copies of a doubled key, and which one IAM would honour is not
// something a policy author should have to guess.
Result<std::map<std::string_view, dom::element>> Fields(dom::object object,
                                                        std::string_view where) {
  std::map<std::string_view, dom::element> fields;
  for (dom::key_value_pair field : object) {
    if (!fields.emplace(field.key, field.value).second) {
      return InvalidArgument(
          fmt::format("{}: duplicate field {}", where, QuoteForMessage(field.key)));
    }
  }
  return fields;
}

// A JSON string, or (for Condition values, which IAM also accepts unquoted)
// a boolean or integer in its JSON spelling.
Result<std::string> ScalarText(dom::element value, std::string_view where, bool allow_non_string) {
  switch (value.type()) {
    case dom::element_type::STRING:
      return std::string(value.get_string().value_unsafe());
    case dom::element_type::BOOL:
      if (allow_non_string) return std::string(value.get_bool().value_unsafe() ? "true" : "false");
      break;
    case dom::element_type::INT64:
      if (allow_non_string) return std::to_string(value.get_int64().value_unsafe());
      break;
    case dom::element_type::UINT64:
      if (allow_non_string) return std::to_string(value.get_uint64().value_unsafe());
      break;
    default:
      break;
  }
  return InvalidArgument(
      fmt::format("{} must be a string{}", where, allow_non_string ? ", boolean or integer" : ""));
}

// A string or a non-empty array of strings.
Result<std::vector<std::string>> StringOrList(dom::element value, std::string_view where,
                                              bool allow_non_string) {
  std::vector<std::string> out;
  if (value.type() != dom::element_type::ARRAY) {
    ASSIGN_OR_RETURN(std::string s, ScalarText(value, where, allow_non_string));
    out.push_back(std::move(s));
    return out;
  }
  // Bind the array first: iterating a temporary simdjson_result would leave
  // the range-for holding a reference into a destroyed object.
  const dom::array items = value.get_array().value_unsafe();
  size_t i = 0;
  for (dom::element item : items) {
    ASSIGN_OR_RETURN(std::string s,
                     ScalarText(item, fmt::format("{}[{}]", where, i), allow_non_string));
    out.push_back(std::move(s));
    ++i;
  }
  if (out.empty()) return InvalidArgument(fmt::format("{} is an empty list", where));
  return out;
}

Status CheckNoVariable(std::string_view value, std::string_view where) {
  if (value.find("${") != std::string_view::npos) {
    return InvalidArgument(
        fmt::format("{} {} holds an unresolved policy variable; substitute "
                    "${{LakeBucket}}/${{LakePrefix}} first "
                    "(SubstitutePolicyVariables), IAM's own variables are not supported",
                    where, QuoteForMessage(value)));
  }
  return Status::OK();
}

Status CheckAction(std::string_view action, std::string_view where) {
  if (action == "*") return Status::OK();
  const size_t colon = action.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == action.size() ||
      action.find(':', colon + 1) != std::string_view::npos) {
    return InvalidArgument(fmt::format("{} {} is not of the form \"<service>:<action>\" or \"*\"",
                                       where, QuoteForMessage(action)));
  }
  for (const char c : action.substr(0, colon)) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgument(
          fmt::format("{} {} has an invalid service prefix", where, QuoteForMessage(action)));
    }
  }
  return Status::OK();
}

Status CheckResource(std::string_view resource, std::string_view where) {
  if (resource == "*") return Status::OK();
  // arn:partition:service:region:account:resource -- five colons at least.
  size_t colons = 0;
  for (const char c : resource) colons += c == ':' ? 1 : 0;
  if (!resource.starts_with("arn:") || colons < 5) {
    return InvalidArgument(
        fmt::format("{} {} is neither an ARN (arn:partition:service:region:account:resource) "
                    "nor \"*\"",
                    where, QuoteForMessage(resource)));
  }
  return CheckNoVariable(resource, where);
}

struct OperatorName {
  std::string_view name;
  ConditionOperator op;
};
constexpr OperatorName kOperators[] = {
    {"StringEquals", ConditionOperator::kStringEquals},
    {"StringNotEquals", ConditionOperator::kStringNotEquals},
    {"StringEqualsIgnoreCase", ConditionOperator::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", ConditionOperator::kStringNotEqualsIgnoreCase},
    {"StringLike", ConditionOperator::kStringLike},
    {"StringNotLike", ConditionOperator::kStringNotLike},
    {"Null", ConditionOperator::kNull},
};

Status ParseConditions(dom::element value, const std::string& where,
                       std::vector<PolicyCondition>* out) {
  dom::object operators;
  if (value.get_object().get(operators) != simdjson::SUCCESS) {
    return InvalidArgument(
        fmt::format("{}: Condition must be an object of operator -> {{key: values}}", where));
  }
  ASSIGN_OR_RETURN(auto by_operator, Fields(operators, where + ": Condition"));
  for (const auto& [name, keys_value] : by_operator) {
    std::string_view base = name;
    bool if_exists = false;
    if (base.ends_with("IfExists")) {
      base.remove_suffix(std::string_view("IfExists").size());
      if_exists = true;
    }
    const OperatorName* found = nullptr;
    for (const OperatorName& candidate : kOperators) {
      if (candidate.name == base) found = &candidate;
    }
    if (found == nullptr || (if_exists && found->op == ConditionOperator::kNull)) {
      return InvalidArgument(
          fmt::format("{}: unsupported condition operator {}; tradelake evaluates StringEquals, "
                      "StringNotEquals, "
                      "StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, "
                      "StringNotLike (each also ...IfExists) "
                      "and Null",
                      where, QuoteForMessage(name)));
    }
    const std::string op_where = fmt::format("{}: Condition.{}", where, name);
    dom::object keys;
    if (keys_value.get_object().get(keys) != simdjson::SUCCESS) {
      return InvalidArgument(
          fmt::format("{} must be an object of condition key -> values", op_where));
    }
    ASSIGN_OR_RETURN(auto by_key, Fields(keys, op_where));
    if (by_key.empty()) return InvalidArgument(fmt::format("{} names no condition key", op_where));
    std::set<std::string> seen_keys;
    for (const auto& [key, values] : by_key) {
      const std::string key_where = fmt::format("{}[{}]", op_where, QuoteForMessage(key));
      if (key.empty()) return InvalidArgument(fmt::format("{}: empty condition key", op_where));
      PolicyCondition c;
      c.op = found->op;
      c.if_exists = if_exists;
      c.key = AsciiLower(key);
      // "s3:prefix" and "S3:Prefix" are the same key to IAM, so a block with
      // both is as doubled as one with the same spelling twice.
      if (!seen_keys.insert(c.key).second) {
        return InvalidArgument(
            fmt::format("{}: condition key {} appears twice (keys are case-insensitive)", op_where,
                        QuoteForMessage(key)));
      }
      ASSIGN_OR_RETURN(c.values, StringOrList(values, key_where, /*allow_non_string=*/true));
      for (const std::string& v : c.values) {
        RETURN_IF_ERROR(CheckNoVariable(v, key_where));
        if (c.op == ConditionOperator::kNull && v != "true" && v != "false") {
          return InvalidArgument(fmt::format("{}: Null takes \"true\" or \"false\", not {}",
                                             key_where, QuoteForMessage(v)));
        }
      }
      out->push_back(std::move(c));
    }
  }
  return Status::OK();
}

bool IsValidSid(std::string_view sid) {
  for (const char c : sid) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Result<PolicyStatement> ParseStatement(dom::element value, size_t index) {
  PolicyStatement st;
  std::string where = fmt::format("Statement[{}]", index);
  dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return InvalidArgument(fmt::format("{} must be an object", where));
  }
  ASSIGN_OR_RETURN(auto fields, Fields(object, where));
  st.label = where;
  if (auto it = fields.find("Sid"); it != fields.end()) {
    ASSIGN_OR_RETURN(st.sid, ScalarText(it->second, where + ": Sid", false));
    if (!IsValidSid(st.sid)) {
      return InvalidArgument(fmt::format("{}: Sid {} may hold only ASCII letters and digits", where,
                                         QuoteForMessage(st.sid)));
    }
    if (!st.sid.empty()) {
      where = fmt::format("Statement[{}] (Sid \"{}\")", index, st.sid);
      st.label = st.sid;
    }
  }
  for (const auto& [name, unused] : fields) {
    (void)unused;
    static constexpr std::string_view kKnown[] = {
        "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"};
    if (name == "Principal" || name == "NotPrincipal") {
      return InvalidArgument(
          fmt::format("{}: {} belongs in resource-based policies; an identity policy (a role's) "
                      "must not have one",
                      where, name));
    }
    bool known = false;
    for (std::string_view k : kKnown) known = known || k == name;
    if (!known)
      return InvalidArgument(fmt::format("{}: unknown field {}", where, QuoteForMessage(name)));
  }

  auto effect = fields.find("Effect");
  if (effect == fields.end()) return InvalidArgument(fmt::format("{}: missing Effect", where));
  ASSIGN_OR_RETURN(std::string effect_text, ScalarText(effect->second, where + ": Effect", false));
  if (effect_text == "Allow") {
    st.deny = false;
  } else if (effect_text == "Deny") {
    st.deny = true;
  } else {
    return InvalidArgument(fmt::format("{}: unknown Effect {}; expected \"Allow\" or \"Deny\"",
                                       where, QuoteForMessage(effect_text)));
  }

  // Exactly one of a pair (Action/NotAction, Resource/NotResource).
  auto one_of = [&](std::string_view yes, std::string_view no,
                    bool* negated) -> Result<dom::element> {
    auto a = fields.find(yes);
    auto b = fields.find(no);
    if (a != fields.end() && b != fields.end()) {
      return InvalidArgument(fmt::format("{}: has both {} and {}; use one", where, yes, no));
    }
    if (a == fields.end() && b == fields.end()) {
      return InvalidArgument(fmt::format("{}: missing {} (or {})", where, yes, no));
    }
    *negated = a == fields.end();
    return *negated ? b->second : a->second;
  };

  ASSIGN_OR_RETURN(dom::element actions, one_of("Action", "NotAction", &st.not_action));
  const std::string action_where = where + ": " + (st.not_action ? "NotAction" : "Action");
  ASSIGN_OR_RETURN(st.actions, StringOrList(actions, action_where, false));
  for (const std::string& a : st.actions) RETURN_IF_ERROR(CheckAction(a, action_where));

  ASSIGN_OR_RETURN(dom::element resources, one_of("Resource", "NotResource", &st.not_resource));
  const std::string resource_where = where + ": " + (st.not_resource ? "NotResource" : "Resource");
  ASSIGN_OR_RETURN(st.resources, StringOrList(resources, resource_where, false));
  for (const std::string& r : st.resources) RETURN_IF_ERROR(CheckResource(r, resource_where));

  if (auto it = fields.find("Condition"); it != fields.end()) {
    RETURN_IF_ERROR(ParseConditions(it->second, where, &st.conditions));
  }
  return st;
}

bool MatchesAny(const std::vector<std::string>& patterns, std::string_view text, bool ignore_case) {
  for (const std::string& p : patterns) {
    if (WildcardMatch(p, text, ignore_case)) return true;
  }
  return false;
}

bool ValueMatches(ConditionOperator op, std::string_view pattern, std::string_view value) {
  switch (op) {
    case ConditionOperator::kStringEquals:
    case ConditionOperator::kStringNotEquals:
      return pattern == value;
    case ConditionOperator::kStringEqualsIgnoreCase:
    case ConditionOperator::kStringNotEqualsIgnoreCase:
      return EqualsIgnoreCase(pattern, value);
    case ConditionOperator::kStringLike:
    case ConditionOperator::kStringNotLike:
      return WildcardMatch(pattern, value, /*ignore_case=*/false);
    case ConditionOperator::kNull:
      return false;  // handled by the caller
  }
  return false;
}

bool IsNegated(ConditionOperator op) {
  return op == ConditionOperator::kStringNotEquals ||
         op == ConditionOperator::kStringNotEqualsIgnoreCase ||
         op == ConditionOperator::kStringNotLike;
}

bool ConditionHolds(const PolicyCondition& c, const std::map<std::string, std::string>& context) {
  const std::string* value = nullptr;
  for (const auto& [key, v] : context) {
    if (EqualsIgnoreCase(key, c.key)) {
      value = &v;
      break;
    }
  }
  if (c.op == ConditionOperator::kNull) {
    // {"Null": {"k": "true"}} asks "is k absent?"; values are ORed.
    for (const std::string& want : c.values) {
      if ((want == "true") == (value == nullptr)) return true;
    }
    return false;
  }
  if (value == nullptr) return c.if_exists || IsNegated(c.op);
  bool any = false;
  for (const std::string& pattern : c.values) any = any || ValueMatches(c.op, pattern, *value);
  return IsNegated(c.op) ? !any : any;
}

bool Applies(const PolicyStatement& st, const Request& request) {
  if (MatchesAny(st.actions, request.action, /*ignore_case=*/true) == st.not_action) return false;
  if (MatchesAny(st.resources, request.resource, /*ignore_case=*/false) == st.not_resource)
    return false;
  for (const PolicyCondition& c : st.conditions) {
    if (!ConditionHolds(c, request.context)) return false;
  }
  return true;
}

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  // Greedy match with backtracking to the last '*': O(|pattern| * |text|) at
  // worst, linear for the patterns policies use.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_t = 0;
  auto same = [&](char a, char b) { return ignore_case ? AsciiLower(a) == AsciiLower(b) : a == b; };
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<std::string> SubstitutePolicyVariables(std::string_view text, const PolicyVariables& vars) {
  for (const auto& [name, value] : vars) {
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\' || c == '*' || c == '?' || c == '$' || u < 0x20 || u == 0x7f) {
        return InvalidArgument(
            fmt::format("policy variable ${{{}}} = {} holds a character ('\"', '\\', '*', "
                        "'?', '$' or a control character) that would change the policy",
                        name, QuoteForMessage(value)));
      }
    }
  }
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("${", pos);
    if (open == std::string_view::npos) break;
    const size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument(fmt::format("policy has an unterminated \"${{\" at offset {}", open));
    }
    const std::string_view name = text.substr(open + 2, close - open - 2);
    auto it = vars.find(name);
    if (it == vars.end()) {
      std::string known;
      for (const auto& [n, unused] : vars) known += (known.empty() ? "" : ", ") + n;
      return InvalidArgument(fmt::format("policy uses unknown placeholder {}; known: {}",
                                         QuoteForMessage(text.substr(open, close + 1 - open)),
                                         known.empty() ? "none" : known));
    }
    out.append(text.substr(pos, open - pos));
    out.append(it->second);
    pos = close + 1;
  }
  out.append(text.substr(pos));
  return out;
}

Result<Policy> ParsePolicy(std::string_view json) {
  dom::parser parser;
  dom::element doc;
  const simdjson::padded_string padded(json);
  if (auto error = parser.parse(padded).get(doc); error != simdjson::SUCCESS) {
    return InvalidArgument(
        fmt::format("policy is not valid JSON: {}", simdjson::error_message(error)));
  }
  dom::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) {
    return InvalidArgument("policy must be a JSON object with Version and Statement");
  }
  ASSIGN_OR_RETURN(auto fields, Fields(top, "policy"));
  Policy policy;
  for (const auto& [name, value] : fields) {
    if (name == "Version") {
      ASSIGN_OR_RETURN(policy.version, ScalarText(value, "Version", false));
      if (policy.version != "2012-10-17" && policy.version != "2008-10-17") {
        return InvalidArgument(fmt::format("unknown policy Version {}; use \"2012-10-17\"",
                                           QuoteForMessage(policy.version)));
      }
    } else if (name == "Id") {
      ASSIGN_OR_RETURN(std::string unused, ScalarText(value, "Id", false));
      (void)unused;
    } else if (name != "Statement") {
      return InvalidArgument(
          fmt::format("policy: unknown top-level field {}; expected Version, Id, Statement",
                      QuoteForMessage(name)));
    }
  }
  auto statements = fields.find("Statement");
  if (statements == fields.end()) return InvalidArgument("policy: missing Statement");
  if (statements->second.type() == dom::element_type::ARRAY) {
    size_t i = 0;
    const dom::array items = statements->second.get_array().value_unsafe();
    for (dom::element item : items) {
      ASSIGN_OR_RETURN(PolicyStatement st, ParseStatement(item, i++));
      policy.statements.push_back(std::move(st));
    }
    if (policy.statements.empty()) return InvalidArgument("policy: Statement is an empty list");
  } else {
    ASSIGN_OR_RETURN(PolicyStatement st, ParseStatement(statements->second, 0));
    policy.statements.push_back(std::move(st));
  }
  std::set<std::string_view> sids;
  for (const PolicyStatement& st : policy.statements) {
    if (!st.sid.empty() && !sids.insert(st.sid).second) {
      return InvalidArgument(
          fmt::format("policy: Sid \"{}\" is used by two statements; Sids must be unique", st.sid));
    }
  }
  return policy;
}

Result<Policy> LoadPolicyFile(const std::string& path, const PolicyVariables& vars) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("policy file {} cannot be opened", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IOError(fmt::format("reading policy file {}", path));
  auto text = SubstitutePolicyVariables(buf.str(), vars);
  if (!text.ok()) return text.status().WithContext(path);
  auto policy = ParsePolicy(*text);
  if (!policy.ok()) return policy.status().WithContext(path);
  return policy;
}

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "Allow";
    case Decision::kExplicitDeny:
      return "ExplicitDeny";
    case Decision::kImplicitDeny:
      return "ImplicitDeny";
  }
  return "?";
}

Evaluation Explain(const Policy& policy, const Request& request) {
  Evaluation result;
  for (const PolicyStatement& st : policy.statements) {
    if (!Applies(st, request)) continue;
    if (st.deny) return {Decision::kExplicitDeny, st.label};
    if (result.decision != Decision::kAllow) result = {Decision::kAllow, st.label};
  }
  return result;
}

}  // namespace tradelake
