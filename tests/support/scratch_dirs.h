// Folders a test makes under the temp directory (/tmp/tradelake-...), to be
// removed when the test binary ends if the test that made them passed, and
// kept, each named on stderr, if it failed, so a failure can be inspected.
// tests/support/scratch_dirs_cleanup.cc (linked into every test binary,
// never into a bench) does the removing; this header needs no GoogleTest,
// so tests/e2e_util.h, which the benches include too, can register.
// TRADELAKE_KEEP_TEST_DIRS=1 keeps every folder.
#pragma once

#include <cstddef>
#include <filesystem>
#include <mutex>
#include <vector>

namespace tradelake::test {

struct ScratchDirs {
  std::mutex mu;
  std::vector<std::filesystem::path> dirs;  // GUARDED_BY(mu), in the order made
};

inline ScratchDirs& TheScratchDirs() {
  static ScratchDirs s;
  return s;
}

// Registers `dir` (made by the running test, or by a fixture or a static
// it builds) for removal at the end of the binary. Any thread may call.
inline void RemoveAtExitIfPassed(const std::filesystem::path& dir) {
  ScratchDirs& s = TheScratchDirs();
  const std::lock_guard<std::mutex> lock(s.mu);
  s.dirs.push_back(dir);
}

}  // namespace tradelake::test
