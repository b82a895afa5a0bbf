// PolicyEnforcingStore: an ObjectStore wrapper that authorizes every
// operation against a role's IAM policy document (policies/<role>.json)
// before forwarding it, so a local-folder lake obeys the same least-privilege
// documents a deployment attaches to real IAM roles (DESIGN.md, "Roles").
//
// Each operation is mapped to the request S3 itself would authorize:
//   Get(key), Head(key)  -> s3:GetObject    on arn:aws:s3:::<bucket>/<prefix>/<key>
//                           (S3 authorizes HeadObject with s3:GetObject)
//   Put(key, ...)        -> s3:PutObject    on arn:aws:s3:::<bucket>/<prefix>/<key>
//   Delete(key)          -> s3:DeleteObject on arn:aws:s3:::<bucket>/<prefix>/<key>
//   List(p)              -> s3:ListBucket   on arn:aws:s3:::<bucket>
//                           with context s3:prefix = "<prefix>/<p>"
//   LocalPath(key)       -> s3:GetObject; nullopt when denied, so callers fall
//                           back to Get/Put and get the real error there
// A denied operation fails with PermissionDenied naming the role, action,
// resource and document, e.g.
//   AccessDenied: role etl may not s3:PutObject on arn:aws:s3:::b/p/bronze/x
//   (policies/etl.json: explicitly denied by statement BronzeIsImmutable)
// and never reaches the base store. Keys (and list prefixes) are validated
// first, so a key such as "silver/../bronze/x" is InvalidArgument, never an
// authorized path out of a prefix.
//
// For a folder lake, bucket and prefix are configured names (e.g. "local" and
// "lake"): the documents only ever see ARNs.
//
// Thread-safe when the base store is: the policy is immutable after Open.
#pragma once

#include <memory>
#include <string>

#include "store/object_store.h"
#include "store/policy.h"

namespace tradelake {

// Where the lake lives in S3 terms: s3://<bucket>/<prefix>/.
struct LakeLocation {
  std::string bucket;  // S3 bucket name rules: 3-63 of [a-z0-9.-]
  std::string prefix;  // non-empty, no leading/trailing '/', a valid key ("data/lake" is fine)
};

// The substitutions a policies/*.json document needs:
// {"LakeBucket": bucket, "LakePrefix": prefix}.
PolicyVariables LakePolicyVariables(const LakeLocation& lake);

// A role's parsed policy and where it came from, for messages.
struct RolePolicy {
  std::string role;    // "etl"
  std::string source;  // "policies/etl.json"
  Policy policy;
};

// Loads <policies_dir>/<role>.json for `lake`. InvalidArgument for a role name
// that is not [a-z0-9_-]+ or a malformed lake location, NotFound for a
// missing document, InvalidArgument (with the path) for a malformed one.
Result<RolePolicy> LoadRolePolicy(const std::string& policies_dir, std::string_view role,
                                  const LakeLocation& lake);

class PolicyEnforcingStore final : public ObjectStore {
 public:
  // Wraps `base`, which must outlive the wrapper. InvalidArgument for a
  // malformed lake location.
  static Result<std::unique_ptr<PolicyEnforcingStore>> Wrap(ObjectStore* base, RolePolicy role,
                                                            LakeLocation lake);
  // Same, owning `base`.
  static Result<std::unique_ptr<PolicyEnforcingStore>> Wrap(std::unique_ptr<ObjectStore> base,
                                                            RolePolicy role, LakeLocation lake);

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override;
  Result<std::string> Get(std::string_view key) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  // "policy(role etl, policies/etl.json, s3://b/p -> <base>)"
  std::string Describe() const override;
  std::optional<std::string> LocalPath(std::string_view key) const override;
  // s3:PutObject on key; nullopt when denied.
  std::optional<std::string> WritablePath(std::string_view key) const override;

  // The IAM request an object operation maps to ("s3:GetObject", key).
  Request ObjectRequest(std::string_view action, std::string_view key) const;
  // The IAM request List(prefix) maps to.
  Request ListRequest(std::string_view prefix) const;

  const RolePolicy& role() const { return role_; }

 private:
  PolicyEnforcingStore(std::unique_ptr<ObjectStore> owned, ObjectStore* base, RolePolicy role,
                       LakeLocation lake)
      : owned_(std::move(owned)), base_(base), role_(std::move(role)), lake_(std::move(lake)) {}

  // OK, or PermissionDenied naming action, resource and deciding statement.
  Status Authorize(const Request& request) const;
  Status AuthorizeObject(std::string_view action, std::string_view key) const;

  std::unique_ptr<ObjectStore> owned_;  // null when borrowing
  ObjectStore* base_;
  const RolePolicy role_;
  const LakeLocation lake_;
};

// OK if `lake` is usable to build ARNs, else InvalidArgument naming the fix.
Status ValidateLakeLocation(const LakeLocation& lake);

}  // namespace tradelake
