// OpenStore: the object store a lake URI names, whichever backend that is.
// Kept apart from store/object_store.h so the interface does not pull in the
// S3 backend; only the code that opens a lake from a user's URI needs this.
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "store/object_store.h"

namespace tradelake {

// Opens the lake named on a command line: "mem://", a folder path (or
// file:///path), or "s3://bucket/prefix" (the S3 backend, store/s3_store.h,
// with credentials, region and endpoint resolved from the environment and
// ~/.aws as the AWS CLI does, store/aws_config.h; no network access here).
// InvalidArgument for an unknown scheme or a malformed s3:// URI; the
// backend's own error otherwise.
Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view uri);

}  // namespace tradelake
