#include "store/lake.h"

#include <fmt/format.h>

#include "core/text.h"
#include "store/open_store.h"
#include "store/policy.h"

namespace tradelake {

Result<LakeLocation> LakeLocationOf(std::string_view uri) {
  if (!uri.starts_with("s3://")) return LakeLocation{"local", "lake"};
  std::string_view rest = uri.substr(5);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) {
    return InvalidArgument(fmt::format("lake {}: name a prefix, e.g. s3://{}/lake; the role policies are scoped "
                                       "to the lake's prefix",
                                       QuoteForMessage(uri), rest));
  }
  return LakeLocation{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
}

Result<RolePolicy> RolePolicyFor(std::string_view role, const LakeLocation& lake, const std::string& policies_dir) {
  if (!policies_dir.empty()) return LoadRolePolicy(policies_dir, role, lake);
  const std::string_view doc = BuiltinPolicyDocument(role);
  if (doc.empty()) return InvalidArgument(fmt::format("unknown role {}", QuoteForMessage(role)));
  RETURN_IF_ERROR(ValidateLakeLocation(lake));
  ASSIGN_OR_RETURN(std::string text, SubstitutePolicyVariables(doc, LakePolicyVariables(lake)));
  ASSIGN_OR_RETURN(Policy policy, ParsePolicy(text));
  return RolePolicy{std::string(role), fmt::format("policies/{}.json (built in)", role), std::move(policy)};
}

Result<std::unique_ptr<ObjectStore>> OpenLakeAs(std::string_view uri, std::string_view role,
                                                const std::string& policies_dir) {
  ASSIGN_OR_RETURN(LakeLocation lake, LakeLocationOf(uri));
  ASSIGN_OR_RETURN(RolePolicy policy, RolePolicyFor(role, lake, policies_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> base, OpenStore(uri));
  ASSIGN_OR_RETURN(auto wrapped, PolicyEnforcingStore::Wrap(std::move(base), std::move(policy), std::move(lake)));
  return std::unique_ptr<ObjectStore>(std::move(wrapped));
}

}  // namespace tradelake
