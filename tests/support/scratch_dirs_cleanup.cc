// Removes the folders tests registered with RemoveAtExitIfPassed
// (support/scratch_dirs.h) when the test binary ends: those made while a
// test that passed ran, not those of a test that failed (each named on
// stderr). A folder is removed at the end of the binary, not of its test,
// because a folder made by one test may be shared by the next (a static
// lake built on first use, as tests/sql_e2e_test.cc does).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <vector>

#include "support/scratch_dirs.h"

namespace tradelake::test {
namespace {

class RemoveScratchDirs : public ::testing::EmptyTestEventListener {
 public:
  // Folders registered since the last test ended were made by this one (or
  // by its suite's setup).
  void OnTestEnd(const ::testing::TestInfo& info) override { Decide(info.result()->Failed()); }

  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    Decide(unit.ad_hoc_test_result().Failed());  // made outside any test
    const char* keep_all = std::getenv("TRADELAKE_KEEP_TEST_DIRS");
    const bool keep_every = keep_all != nullptr && std::strcmp(keep_all, "1") == 0;
    ScratchDirs& s = TheScratchDirs();
    const std::lock_guard<std::mutex> lock(s.mu);
    // A folder made again under the same name by a later test is kept if
    // either test failed.
    std::set<std::filesystem::path> kept;
    for (size_t i = 0; i < s.dirs.size(); ++i) {
      if (keep_[i] || keep_every) kept.insert(s.dirs[i]);
    }
    std::set<std::filesystem::path> done;
    for (const auto& dir : s.dirs) {
      std::error_code ec;
      if (!done.insert(dir).second || !std::filesystem::exists(dir, ec)) continue;  // removed by its test
      if (kept.count(dir) != 0) {
        std::cerr << "kept " << dir.string()
                  << (keep_every ? " (TRADELAKE_KEEP_TEST_DIRS=1)" : " (a test that made it failed)") << "\n";
        continue;
      }
      std::filesystem::remove_all(dir, ec);
      if (ec) std::cerr << "could not remove " << dir.string() << ": " << ec.message() << "\n";
    }
  }

 private:
  void Decide(bool failed) {
    ScratchDirs& s = TheScratchDirs();
    const std::lock_guard<std::mutex> lock(s.mu);
    keep_.resize(s.dirs.size(), failed);
  }

  std::vector<bool> keep_;  // one per folder registered so far, decided when its test ended
};

[[maybe_unused]] const bool kInstalled = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new RemoveScratchDirs);  // NOLINT(cppcoreguidelines-owning-memory)
  return true;
}();

}  // namespace
}  // namespace tradelake::test
