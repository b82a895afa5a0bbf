// Internals of the local store (store/object_store.cc), exposed for tests.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace tradelake::store_internal {

// The Status for a failed system call `what` on `path` with errno `err`:
// PermissionDenied for EACCES/EPERM, NotFound for ENOENT, IOError otherwise
// (ENOSPC says the disk is full and what to do). The message names the call,
// the path and strerror(err).
Status ErrnoStatus(std::string_view what, const std::string& path, int err);

}  // namespace tradelake::store_internal
