// The ObjectStore contract (object_store.h), one typed suite run against every
// backend: a local folder, memory, and S3 (S3Store on a local moto_server).
// Arrow's GenericFileSystemTest does the same for its file systems.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "support/moto_server.h"
#include "store/object_store.h"
#include "store/s3_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

// Each backend: Make() returns a fresh, empty store or fails the test.
struct LocalFolder {
  static constexpr bool kAtomicCreateOnly = true;
  static constexpr uint64_t kMultipartThreshold = 0;  // not applicable
  static void Make(std::unique_ptr<ObjectStore>* out) {
    static std::atomic<int> n{0};
    const fs::path dir =
        fs::temp_directory_path() /
        ("tradelake-conformance-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    auto store = OpenLocalStore(dir.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    *out = std::move(store).value();
  }
  static void Cleanup(ObjectStore* store) {
    std::error_code ec;
    fs::remove_all(store->Describe().substr(7), ec);
  }
};

struct Memory {
  static constexpr bool kAtomicCreateOnly = true;
  static constexpr uint64_t kMultipartThreshold = 0;
  static void Make(std::unique_ptr<ObjectStore>* out) { *out = NewMemoryStore(); }
  static void Cleanup(ObjectStore*) {}
};

struct S3OnMoto {
  // moto checks If-None-Match, then writes: racing writers can both win
  // there (real S3 has exactly one winner). See s3_store.h.
  static constexpr bool kAtomicCreateOnly = false;
  // Small parts keep the multipart path fast (the shared moto accepts them).
  static constexpr uint64_t kMultipartThreshold = 256 << 10;
  static void Make(std::unique_ptr<ObjectStore>* out) {
    TL_REQUIRE_SHARED_MOTO(moto);
    const std::string bucket = UniqueBucketName("conformance");
    Status created = CreateBucket(moto->ClientConfig(), bucket);
    ASSERT_TRUE(created.ok()) << created.ToString() << "\nmoto log:\n" << moto->LogTail();
    S3StoreOptions options;
    options.bucket = bucket;
    options.prefix = "lake/v1";
    options.aws = moto->ClientConfig();
    options.multipart_threshold = kMultipartThreshold;
    options.part_size = 64 << 10;
    options.list_page_size = 50;  // List() must follow continuation tokens to pass
    auto store = OpenS3Store(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    *out = std::move(store).value();
  }
  static void Cleanup(ObjectStore*) {}  // the bucket dies with the shared moto
};

template <typename Backend>
class ObjectStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override { Backend::Make(&store_); }
  void TearDown() override {
    if (store_) Backend::Cleanup(store_.get());
  }

  void PutOk(std::string_view key, std::string_view data, WriteMode mode = WriteMode::kOverwrite) {
    Status s = store_->Put(key, data, mode);
    ASSERT_TRUE(s.ok()) << "Put " << key << ": " << s.ToString();
  }
  std::string GetOk(std::string_view key) {
    auto got = store_->Get(key);
    EXPECT_TRUE(got.ok()) << "Get " << key << ": " << got.status().ToString();
    return got.ok() ? *got : "<error>";
  }
  std::vector<std::string> ListKeys(std::string_view prefix) {
    auto listed = store_->List(prefix);
    EXPECT_TRUE(listed.ok()) << "List " << prefix << ": " << listed.status().ToString();
    std::vector<std::string> keys;
    if (listed.ok()) {
      for (const auto& info : *listed) keys.push_back(info.key);
    }
    return keys;
  }

  std::unique_ptr<ObjectStore> store_;
};

using Backends = ::testing::Types<LocalFolder, Memory, S3OnMoto>;
TYPED_TEST_SUITE(ObjectStoreConformance, Backends);

std::string AllByteValues(size_t repeat) {
  std::string out;
  for (size_t r = 0; r < repeat; ++r) {
    for (int b = 0; b < 256; ++b) out += static_cast<char>(b);
  }
  return out;
}

// Deterministic, incompressible-looking bytes.
std::string PseudoRandomBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 56);
  }
  return out;
}

TYPED_TEST(ObjectStoreConformance, BinaryBytesRoundTripExactly) {
  const std::string data = AllByteValues(3);
  this->PutOk("bronze/source=coinbase/x.bin", data);
  EXPECT_EQ(this->GetOk("bronze/source=coinbase/x.bin"), data);
  auto head = this->store_->Head("bronze/source=coinbase/x.bin");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->key, "bronze/source=coinbase/x.bin");
  EXPECT_EQ(head->size, static_cast<int64_t>(data.size()));
}

TYPED_TEST(ObjectStoreConformance, EmptyObjectExistsWithSizeZero) {
  this->PutOk("e/empty", "");
  EXPECT_EQ(this->GetOk("e/empty"), "");
  auto head = this->store_->Head("e/empty");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 0);
  EXPECT_EQ(this->ListKeys("e/"), std::vector<std::string>{"e/empty"});
  EXPECT_EQ(this->store_->Put("e/empty", "x", WriteMode::kCreateOnly).code(),
            StatusCode::kAlreadyExists);
}

TYPED_TEST(ObjectStoreConformance, OverwriteReplacesTheWholeObject) {
  this->PutOk("o/k", "a much longer first version");
  this->PutOk("o/k", "short");
  EXPECT_EQ(this->GetOk("o/k"), "short");
  EXPECT_EQ(this->store_->Head("o/k")->size, 5);
}

TYPED_TEST(ObjectStoreConformance, CreateOnlyFailsWithAlreadyExistsAndKeepsTheOriginal) {
  this->PutOk("c/k", "first", WriteMode::kCreateOnly);
  Status again = this->store_->Put("c/k", "second", WriteMode::kCreateOnly);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_NE(again.message().find("c/k"), std::string::npos) << again.ToString();
  EXPECT_EQ(this->GetOk("c/k"), "first");
}

TYPED_TEST(ObjectStoreConformance, MissingKeysAreNotFoundAndDeletingThemSucceeds) {
  auto got = this->store_->Get("no/such/key");
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("no/such/key"), std::string::npos)
      << got.status().ToString();
  EXPECT_EQ(this->store_->Head("no/such/key").status().code(), StatusCode::kNotFound);
  Status del = this->store_->Delete("no/such/key");
  EXPECT_TRUE(del.ok()) << del.ToString();
}

TYPED_TEST(ObjectStoreConformance, DeleteRemovesOnlyThatObject) {
  this->PutOk("d/1", "x");
  this->PutOk("d/2", "y");
  ASSERT_TRUE(this->store_->Delete("d/1").ok());
  EXPECT_EQ(this->store_->Get("d/1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->ListKeys("d/"), std::vector<std::string>{"d/2"});
}

TYPED_TEST(ObjectStoreConformance, ListIsSortedByteWiseAndHonoursThePrefix) {
  // Written out of order; byte order puts 'B' before 'a' and UTF-8 after ASCII.
  for (const char* k : {"a/é", "a/b/2", "a/B", "a/b/10", "ab/z", "a/a", "b/1", "a/b/1"})
    this->PutOk(k, k);
  EXPECT_EQ(this->ListKeys("a/"),
            (std::vector<std::string>{"a/B", "a/a", "a/b/1", "a/b/10", "a/b/2", "a/é"}));
  EXPECT_EQ(this->ListKeys("a/b/1"), (std::vector<std::string>{"a/b/1", "a/b/10"}));
  EXPECT_EQ(this->ListKeys("a").size(), 7u);  // a partial segment matches "ab/" too
  EXPECT_EQ(this->ListKeys("").size(), 8u);
  EXPECT_TRUE(this->ListKeys("zzz/").empty());
  auto sizes = this->store_->List("b/");
  ASSERT_TRUE(sizes.ok());
  ASSERT_EQ(sizes->size(), 1u);
  EXPECT_EQ((*sizes)[0].size, 3);
}

TYPED_TEST(ObjectStoreConformance, ListReturnsEveryKeyOfABigFolder) {
  std::set<std::string> written;
  for (int i = 0; i < 130; ++i) {
    const std::string key = "many/" + std::to_string(i * 7919 % 1000);
    this->PutOk(key, "v");
    written.insert(key);
  }
  const std::vector<std::string> listed = this->ListKeys("many/");
  EXPECT_EQ(listed, std::vector<std::string>(written.begin(), written.end()));
}

TYPED_TEST(ObjectStoreConformance, KeysWithSpacesPercentPlusEqualsAndUnicodeRoundTrip) {
  const std::vector<std::string> keys = {"prix/é ü+%=x.bin",
                                         "a b/c d",
                                         "pct/%20literal%2F",
                                         "eq=1/k=v&w=x",
                                         "plus+/+lead",
                                         "xml/<tag>&\"q\"'",
                                         "punct/!$'()*,;:@~[]{}^`|",
                                         "uni/日本語/ファイル.parquet",
                                         "trail /space ",
                                         "tab-less/#hash?q"};
  for (size_t i = 0; i < keys.size(); ++i) this->PutOk(keys[i], "value " + std::to_string(i));
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(this->GetOk(keys[i]), "value " + std::to_string(i)) << keys[i];
    auto head = this->store_->Head(keys[i]);
    EXPECT_TRUE(head.ok()) << keys[i] << ": " << head.status().ToString();
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(this->ListKeys(""), sorted);
  EXPECT_EQ(this->ListKeys("prix/é "), std::vector<std::string>{"prix/é ü+%=x.bin"});
  EXPECT_EQ(this->ListKeys("eq=1/k="), std::vector<std::string>{"eq=1/k=v&w=x"});
  ASSERT_TRUE(this->store_->Delete("prix/é ü+%=x.bin").ok());
  EXPECT_EQ(this->store_->Get("prix/é ü+%=x.bin").status().code(), StatusCode::kNotFound);
}

TYPED_TEST(ObjectStoreConformance, InvalidKeysAreRejectedBeforeAnythingHappens) {
  for (const char* k :
       {"", "/abs", "a/../b", "..", "a//b", "a/./b", "dir/", "a\\b", "a\nb", "del\x7f"}) {
    EXPECT_EQ(this->store_->Put(k, "x", WriteMode::kOverwrite).code(), StatusCode::kInvalidArgument)
        << k;
    EXPECT_EQ(this->store_->Get(k).status().code(), StatusCode::kInvalidArgument) << k;
    EXPECT_EQ(this->store_->Head(k).status().code(), StatusCode::kInvalidArgument) << k;
    EXPECT_EQ(this->store_->Delete(k).code(), StatusCode::kInvalidArgument) << k;
  }
  EXPECT_TRUE(this->ListKeys("").empty());
}

TYPED_TEST(ObjectStoreConformance, LargeObjectsRoundTrip) {
  // Above the S3 backend's multipart threshold: several parts and a short last one.
  const size_t size = std::max<size_t>(TypeParam::kMultipartThreshold, 256 << 10) * 3 + 12345;
  const std::string data = PseudoRandomBytes(size, 7);
  this->PutOk("big/object.parquet", data);
  const std::string got = this->GetOk("big/object.parquet");
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "content differs";
  EXPECT_EQ(this->store_->Head("big/object.parquet")->size, static_cast<int64_t>(size));
  // Create-only on the large path too.
  EXPECT_EQ(this->store_->Put("big/object.parquet", data, WriteMode::kCreateOnly).code(),
            StatusCode::kAlreadyExists);
  this->PutOk("big/second.parquet", data, WriteMode::kCreateOnly);
  EXPECT_EQ(this->store_->Head("big/second.parquet")->size, static_cast<int64_t>(size));
}

TYPED_TEST(ObjectStoreConformance, ConcurrentPutsFromSeveralThreadsAllLand) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "par/t" + std::to_string(t) + "/" + std::to_string(i);
        if (!this->store_->Put(key, key, WriteMode::kCreateOnly).ok()) ++failures;
        if (!this->store_->Put("par/shared", "writer " + std::to_string(t), WriteMode::kOverwrite)
                 .ok())
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto keys = this->ListKeys("par/t");
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& k : keys) EXPECT_EQ(this->GetOk(k), k);
  // Last writer wins, whole: the shared object is one writer's value, never a mix.
  const std::string shared = this->GetOk("par/shared");
  EXPECT_TRUE(shared.starts_with("writer ") && shared.size() == 8) << shared;
}

TYPED_TEST(ObjectStoreConformance, RacingCreateOnlyWritersNeverCorruptTheObject) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<int> won(kThreads, 0);
  std::atomic<int> other_errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Status s = this->store_->Put("race/k", "value of writer " + std::to_string(t),
                                   WriteMode::kCreateOnly);
      if (s.ok()) {
        won[static_cast<size_t>(t)] = 1;
      } else if (s.code() != StatusCode::kAlreadyExists) {
        ++other_errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other_errors.load(), 0);
  int winners = 0;
  for (int w : won) winners += w;
  if (TypeParam::kAtomicCreateOnly) {
    EXPECT_EQ(winners, 1);
  } else {
    EXPECT_GE(winners, 1);
  }
  const std::string value = this->GetOk("race/k");
  bool from_a_winner = false;
  for (int t = 0; t < kThreads; ++t) {
    from_a_winner = from_a_winner || (won[static_cast<size_t>(t)] &&
                                      value == "value of writer " + std::to_string(t));
  }
  EXPECT_TRUE(from_a_winner) << value;
}

TYPED_TEST(ObjectStoreConformance, LocalPathWhenGivenHoldsTheObjectBytes) {
  this->PutOk("lp/file.parquet", "PAR1 bytes");
  const auto path = this->store_->LocalPath("lp/file.parquet");
  if (!path) {
    EXPECT_EQ(this->store_->Describe().find("file://"), std::string::npos)
        << "a folder lake must give local paths";
    return;
  }
  std::ifstream in(*path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "PAR1 bytes");
}

TYPED_TEST(ObjectStoreConformance, DescribeNamesTheBackend) {
  const std::string d = this->store_->Describe();
  EXPECT_TRUE(d.starts_with("file:///") || d == "mem://" || d.starts_with("s3://")) << d;
}

}  // namespace
}  // namespace tradelake
