#include "store/open_store.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "store/aws_config.h"
#include "store/s3_store.h"

namespace tradelake {

Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view uri) {
  if (uri == "mem://") return NewMemoryStore();
  if (uri.starts_with("s3://")) {
    ASSIGN_OR_RETURN(S3Uri location, ParseS3Uri(uri));
    S3StoreOptions options;
    options.bucket = std::move(location.bucket);
    options.prefix = std::move(location.prefix);
    auto aws = ResolveAwsConfig(ProcessEnv());
    if (!aws.ok()) return aws.status().WithContext(fmt::format("lake {}", uri));
    options.aws = std::move(*aws);
    return OpenS3Store(options);
  }
  if (uri.find("://") != std::string_view::npos && !uri.starts_with("file://")) {
    return InvalidArgument(fmt::format("lake {}: unknown scheme (use a folder path or file://)", uri));
  }
  if (uri.starts_with("file://")) uri.remove_prefix(7);
  return OpenLocalStore(std::string(uri));
}

}  // namespace tradelake
