// Opening the lake as a role: every command of tradelake works on the lake
// through a PolicyEnforcingStore holding its role's IAM policy (DESIGN.md,
// "Roles"), on every backend, the local folder included:
//
//   ingest, verify              -> ingest   (Bronze + _state/ingest)
//   etl, catalog repair         -> etl      (read Bronze; write Silver, Gold, audit, _catalog, _state/etl)
//   sql, catalog list/describe/ddl, dq, bars -> analyst (read Silver, Gold, audit, _catalog)
//
// The documents are policies/<role>.json, compiled into the binary; a folder
// of edited documents can be given instead (--policies DIR). In ARNs a lake
// s3://bucket/prefix is itself; a folder lake is bucket "local", prefix
// "lake" (documented in policies/README.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/object_store.h"
#include "store/policy_store.h"

namespace tradelake {

// The built-in document of `role` (with ${LakeBucket}/${LakePrefix}
// placeholders), or "" for an unknown role.
std::string_view BuiltinPolicyDocument(std::string_view role);

// Where `uri` lives in IAM terms. "s3://b/p" -> {b, p}; a folder or mem://
// -> {"local", "lake"}. InvalidArgument for "s3://b" without a prefix (the
// policies are scoped to one).
Result<LakeLocation> LakeLocationOf(std::string_view uri);

// The policy of `role` for `lake`: from `policies_dir`/<role>.json if
// policies_dir is not empty, else built in.
Result<RolePolicy> RolePolicyFor(std::string_view role, const LakeLocation& lake,
                                 const std::string& policies_dir);

// OpenStore(uri) wrapped in the role's PolicyEnforcingStore.
Result<std::unique_ptr<ObjectStore>> OpenLakeAs(std::string_view uri, std::string_view role,
                                                const std::string& policies_dir = "");

}  // namespace tradelake
