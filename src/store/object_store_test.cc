#include "store/object_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <thread>

#include "store/fault_store.h"
#include "store/object_store_internal.h"
#include "store/open_store.h"
#include "support/scratch_dirs.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

struct LocalBackend {
  static std::unique_ptr<ObjectStore> Make() {
    static int n = 0;
    const fs::path dir = fs::temp_directory_path() /
                         ("tradelake-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    test::RemoveAtExitIfPassed(dir);
    return std::move(OpenLocalStore(dir.string()).value());
  }
};
struct MemoryBackend {
  static std::unique_ptr<ObjectStore> Make() { return NewMemoryStore(); }
};

// One suite, every backend (Arrow's GenericFileSystemTest).
template <typename Backend>
class ObjectStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ObjectStore> store_ = Backend::Make();
};

using Backends = ::testing::Types<LocalBackend, MemoryBackend>;
TYPED_TEST_SUITE(ObjectStoreTest, Backends);

TYPED_TEST(ObjectStoreTest, PutThenGetReturnsTheSameBytes) {
  std::string data("a\0b\nc", 5);
  ASSERT_TRUE(this->store_->Put("bronze/x/1-2.jsonl.zst", data, WriteMode::kOverwrite).ok());
  auto got = this->store_->Get("bronze/x/1-2.jsonl.zst");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data);
  auto head = this->store_->Head("bronze/x/1-2.jsonl.zst");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 5);
}

TYPED_TEST(ObjectStoreTest, CreateOnlyNeverReplacesAnObject) {
  ASSERT_TRUE(this->store_->Put("k/a", "first", WriteMode::kCreateOnly).ok());
  Status s = this->store_->Put("k/a", "second", WriteMode::kCreateOnly);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(*this->store_->Get("k/a"), "first");
  ASSERT_TRUE(this->store_->Put("k/a", "third", WriteMode::kOverwrite).ok());
  EXPECT_EQ(*this->store_->Get("k/a"), "third");
}

TYPED_TEST(ObjectStoreTest, MissingKeysAreNotFound) {
  EXPECT_EQ(this->store_->Get("nope/x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store_->Head("nope/x").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(this->store_->Delete("nope/x").ok());
}

TYPED_TEST(ObjectStoreTest, ListReturnsSortedKeysUnderPrefix) {
  for (const char* k : {"b/2", "a/x/1", "a/x/0", "a/y", "ab/z"}) {
    ASSERT_TRUE(this->store_->Put(k, k, WriteMode::kOverwrite).ok());
  }
  auto all = this->store_->List("a/");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].key, "a/x/0");
  EXPECT_EQ((*all)[1].key, "a/x/1");
  EXPECT_EQ((*all)[2].key, "a/y");
  auto partial = this->store_->List("a");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->size(), 4u);  // a/x/0 a/x/1 a/y ab/z
  auto none = this->store_->List("zzz/");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(ObjectStoreTest, DeleteRemovesTheObject) {
  ASSERT_TRUE(this->store_->Put("d/1", "x", WriteMode::kOverwrite).ok());
  ASSERT_TRUE(this->store_->Delete("d/1").ok());
  EXPECT_EQ(this->store_->Get("d/1").status().code(), StatusCode::kNotFound);
}

TYPED_TEST(ObjectStoreTest, HostileKeysAreRejectedBeforeAnyWrite) {
  for (const char* k : {"", "/etc/passwd", "a/../b", "../x", "a//b", "a/./b", "a/", "a\\b",
                        "a\nb", "a\x01"}) {
    Status s = this->store_->Put(k, "x", WriteMode::kOverwrite);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "key: " << k;
    EXPECT_EQ(this->store_->Get(k).status().code(), StatusCode::kInvalidArgument);
  }
  auto all = this->store_->List("");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TYPED_TEST(ObjectStoreTest, ConcurrentCreateOnlyHasExactlyOneWinner) {
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (this->store_->Put("race/k", std::to_string(i), WriteMode::kCreateOnly).ok()) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST(LocalStore, TemporaryFilesAreInvisibleToList) {
  auto store = LocalBackend::Make();
  ASSERT_TRUE(store->Put("p/real", "x", WriteMode::kOverwrite).ok());
  const std::string root = store->Describe().substr(7);
  {
    std::FILE* f = std::fopen((root + "/p/.tmp-real-abc").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  auto all = store->List("p/");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].key, "p/real");
}

// A list prefix is a folder to walk: one leading out of the lake is refused,
// before anything is walked.
TEST(LocalStore, AListPrefixLeavingTheLakeIsRefused) {
  auto store = LocalBackend::Make();
  ASSERT_TRUE(store->Put("bronze/a/b", "x", WriteMode::kOverwrite).ok());
  for (const char* prefix : {"../", "bronze/../../", "/etc/", "bronze//"}) {
    auto listed = store->List(prefix);
    EXPECT_EQ(listed.status().code(), StatusCode::kInvalidArgument) << prefix;
  }
  auto fine = store->List("bronze/a/");
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_EQ(fine->size(), 1u);
  EXPECT_TRUE(store->List("").ok());
}

// What used to be "chmod a folder read-only and write into it" skipped as
// root (CI runs as root, and root ignores folder permissions). The errno a
// denied or full disk gives is mapped by one function, tested directly; a
// denied write seen by a caller is injected with FaultInjectionStore; and the
// OS error root cannot bypass (a file where a folder must be) is real.
TEST(LocalStore, SystemErrorsMapToCodesACallerCanActOn) {
  using store_internal::ErrnoStatus;
  const Status denied = ErrnoStatus("create", "/lake/x/.tmp-y", EACCES);
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("/lake/x/.tmp-y"), std::string::npos) << denied.ToString();
  EXPECT_EQ(ErrnoStatus("link", "/lake/x", EPERM).code(), StatusCode::kPermissionDenied);
  const Status full = ErrnoStatus("fsync", "/lake/x", ENOSPC);
  EXPECT_EQ(full.code(), StatusCode::kIOError);
  EXPECT_NE(full.message().find("disk holding the lake is full"), std::string::npos) << full.ToString();
  EXPECT_EQ(ErrnoStatus("open", "/lake/x", ENOENT).code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus("read", "/lake/x", EIO).code(), StatusCode::kIOError);
}

TEST(LocalStore, ADeniedWriteLeavesNothingBehind) {
  auto base = LocalBackend::Make();
  FaultInjectionStore store(base.get());
  store.FailPuts("x/", 0, PermissionDenied("create x/y: Permission denied"));
  const Status s = store.Put("x/y", "z", WriteMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(store.injected(), 1);
  auto listed = base->List("x/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(base->Get("x/y").status().code(), StatusCode::kNotFound);
}

TEST(LocalStore, AFileWhereAFolderMustBeGivesAClearError) {
  auto store = LocalBackend::Make();
  ASSERT_TRUE(store->Put("x", "a file", WriteMode::kOverwrite).ok());
  const Status s = store->Put("x/y", "z", WriteMode::kOverwrite);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("/x"), std::string::npos) << s.ToString();
  auto got = store->Get("x");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "a file");
}

TEST(OpenStore, UnknownSchemeIsRejected) {
  EXPECT_EQ(OpenStore("ftp://x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(OpenStore("mem://").ok());
}

}  // namespace
}  // namespace tradelake
