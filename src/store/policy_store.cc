#include "store/policy_store.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/text.h"

namespace tradelake {
namespace {

// A list prefix is a key cut anywhere: "" and "silver/" are fine, but it must
// not smuggle in what ValidateKey refuses ("silver/../bronze/"). Appending one
// character turns every legitimate prefix into a valid key and leaves the
// invalid ones invalid.
Status ValidateListPrefix(std::string_view prefix) {
  if (prefix.empty()) return Status::OK();
  if (!ValidateKey(std::string(prefix) + "x").ok()) {
    return InvalidArgument(
        fmt::format("invalid list prefix {}: it must be the start of a valid object key",
                    QuoteForMessage(prefix)));
  }
  return Status::OK();
}

}  // namespace

Status ValidateLakeLocation(const LakeLocation& lake) {
  const auto& b = lake.bucket;
  bool bucket_ok = b.size() >= 3 && b.size() <= 63;
  for (const char c : b)
    bucket_ok =
        bucket_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
  if (!bucket_ok) {
    return InvalidArgument(
        fmt::format("lake bucket {} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-'); "
                    "for a folder lake use a name such as \"local\"",
                    QuoteForMessage(b)));
  }
  const auto& p = lake.prefix;
  bool prefix_ok = ValidateKey(p).ok();
  for (const char c : p) prefix_ok = prefix_ok && c != '*' && c != '?' && c != '$' && c != '"';
  if (!prefix_ok) {
    return InvalidArgument(
        fmt::format("lake prefix {} must be a non-empty key without leading or trailing '/', "
                    "'*', '?', '$' or '\"' (s3://bucket/<prefix>/)",
                    QuoteForMessage(p)));
  }
  return Status::OK();
}

PolicyVariables LakePolicyVariables(const LakeLocation& lake) {
  return {{"LakeBucket", lake.bucket}, {"LakePrefix", lake.prefix}};
}

Result<RolePolicy> LoadRolePolicy(const std::string& policies_dir, std::string_view role,
                                  const LakeLocation& lake) {
  bool role_ok = !role.empty();
  for (const char c : role)
    role_ok = role_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  if (!role_ok) {
    return InvalidArgument(
        fmt::format("role {} must be lower-case letters, digits, '_' or '-' (it names "
                    "policies/<role>.json)",
                    QuoteForMessage(role)));
  }
  RETURN_IF_ERROR(ValidateLakeLocation(lake));
  const std::string path =
      (std::filesystem::path(policies_dir) / (std::string(role) + ".json")).string();
  ASSIGN_OR_RETURN(Policy policy, LoadPolicyFile(path, LakePolicyVariables(lake)));
  return RolePolicy{std::string(role), path, std::move(policy)};
}

Result<std::unique_ptr<PolicyEnforcingStore>> PolicyEnforcingStore::Wrap(ObjectStore* base,
                                                                         RolePolicy role,
                                                                         LakeLocation lake) {
  RETURN_IF_ERROR(ValidateLakeLocation(lake));
  return std::unique_ptr<PolicyEnforcingStore>(
      new PolicyEnforcingStore(nullptr, base, std::move(role), std::move(lake)));
}

Result<std::unique_ptr<PolicyEnforcingStore>> PolicyEnforcingStore::Wrap(
    std::unique_ptr<ObjectStore> base, RolePolicy role, LakeLocation lake) {
  RETURN_IF_ERROR(ValidateLakeLocation(lake));
  ObjectStore* raw = base.get();
  return std::unique_ptr<PolicyEnforcingStore>(
      new PolicyEnforcingStore(std::move(base), raw, std::move(role), std::move(lake)));
}

Request PolicyEnforcingStore::ObjectRequest(std::string_view action, std::string_view key) const {
  return Request{std::string(action),
                 fmt::format("arn:aws:s3:::{}/{}/{}", lake_.bucket, lake_.prefix, key),
                 {}};
}

Request PolicyEnforcingStore::ListRequest(std::string_view prefix) const {
  return Request{"s3:ListBucket",
                 fmt::format("arn:aws:s3:::{}", lake_.bucket),
                 {{"s3:prefix", fmt::format("{}/{}", lake_.prefix, prefix)}}};
}

Status PolicyEnforcingStore::Authorize(const Request& request) const {
  const Evaluation e = Explain(role_.policy, request);
  if (e.decision == Decision::kAllow) return Status::OK();
  std::string what = fmt::format("{} on {}", request.action, request.resource);
  if (auto it = request.context.find("s3:prefix"); it != request.context.end()) {
    what += fmt::format(" with s3:prefix {}", QuoteForMessage(it->second));
  }
  const std::string why = e.decision == Decision::kExplicitDeny
                              ? fmt::format("explicitly denied by statement {}", e.statement)
                              : std::string("no statement allows it");
  return PermissionDenied(fmt::format("AccessDenied: role {} may not {} ({}: {})", role_.role, what,
                                      role_.source, why));
}

Status PolicyEnforcingStore::AuthorizeObject(std::string_view action, std::string_view key) const {
  RETURN_IF_ERROR(ValidateKey(key));
  return Authorize(ObjectRequest(action, key));
}

Status PolicyEnforcingStore::Put(std::string_view key, std::string_view data, WriteMode mode) {
  RETURN_IF_ERROR(AuthorizeObject("s3:PutObject", key));
  return base_->Put(key, data, mode);
}

Result<std::string> PolicyEnforcingStore::Get(std::string_view key) {
  RETURN_IF_ERROR(AuthorizeObject("s3:GetObject", key));
  return base_->Get(key);
}

Result<ObjectInfo> PolicyEnforcingStore::Head(std::string_view key) {
  RETURN_IF_ERROR(AuthorizeObject("s3:GetObject", key));
  return base_->Head(key);
}

Result<std::vector<ObjectInfo>> PolicyEnforcingStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(ValidateListPrefix(prefix));
  RETURN_IF_ERROR(Authorize(ListRequest(prefix)));
  return base_->List(prefix);
}

Status PolicyEnforcingStore::Delete(std::string_view key) {
  RETURN_IF_ERROR(AuthorizeObject("s3:DeleteObject", key));
  return base_->Delete(key);
}

std::string PolicyEnforcingStore::Describe() const {
  return fmt::format("policy(role {}, {}, s3://{}/{} -> {})", role_.role, role_.source,
                     lake_.bucket, lake_.prefix, base_->Describe());
}

std::optional<std::string> PolicyEnforcingStore::LocalPath(std::string_view key) const {
  if (!AuthorizeObject("s3:GetObject", key).ok()) return std::nullopt;
  return base_->LocalPath(key);
}

std::optional<std::string> PolicyEnforcingStore::WritablePath(std::string_view key) const {
  if (!AuthorizeObject("s3:PutObject", key).ok()) return std::nullopt;
  return base_->WritablePath(key);
}

}  // namespace tradelake
