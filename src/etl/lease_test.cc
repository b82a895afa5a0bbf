#include "etl/lease.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "store/lake.h"
#include "store/policy_store.h"

namespace tradelake {
namespace {

constexpr TimestampMicros kT0 = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z
constexpr int64_t kTtl = 5 * kMicrosPerMinute;

// A clock tests move by hand; shared by every contender of a test.
struct FakeClock {
  std::atomic<TimestampMicros> now{kT0};
  std::function<TimestampMicros()> fn() {
    return [this] { return now.load(); };
  }
};

LeaseOptions Options(FakeClock* clock, std::string owner) {
  LeaseOptions o;
  o.ttl_micros = kTtl;
  o.owner = std::move(owner);
  o.clock = clock->fn();
  return o;
}

// Forwards to a base store; runs `hook` once just before the first
// create-only Put of a lease object, to interleave a rival exactly there.
class InterleavingStore final : public ObjectStore {
 public:
  InterleavingStore(ObjectStore* base, std::function<void()> hook) : base_(base), hook_(std::move(hook)) {}
  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    if (hook_ && mode == WriteMode::kCreateOnly && key.starts_with(kEtlLeasePrefix)) {
      auto hook = std::move(hook_);
      hook_ = nullptr;
      hook();
    }
    return base_->Put(key, data, mode);
  }
  Result<std::string> Get(std::string_view key) override { return base_->Get(key); }
  Result<ObjectInfo> Head(std::string_view key) override { return base_->Head(key); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override { return base_->List(prefix); }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  std::string Describe() const override { return "interleaving(" + base_->Describe() + ")"; }

 private:
  ObjectStore* base_;
  std::function<void()> hook_;
};

TEST(EtlLease, OfTwoContendersOneWinsAndTheOtherIsToldWhoHoldsItUntilWhen) {
  auto store = NewMemoryStore();
  FakeClock clock;
  auto a = EtlLease::Acquire(store.get(), Options(&clock, "host-a:1:aa"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ((*a)->epoch(), 1);
  EXPECT_EQ((*a)->expires_at(), kT0 + kTtl);

  clock.now += kMicrosPerMinute;
  auto b = EtlLease::Acquire(store.get(), Options(&clock, "host-b:2:bb"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(b.status().message().find("held by host-a:1:aa"), std::string::npos) << b.status().ToString();
  EXPECT_NE(b.status().message().find("until 2024-05-01T00:05:00.000000Z"), std::string::npos)
      << b.status().ToString();
  EXPECT_TRUE((*a)->CheckHeld().ok());
}

TEST(EtlLease, AnExpiredLeaseIsTakenOverByExactlyOneOfTwoRacingTakers) {
  auto base = NewMemoryStore();
  FakeClock clock;
  // The process "dies" without releasing: its lease object is kept aside
  // until the end of the test (its destructor would release it; by then a
  // newer epoch exists, so it leaves the store alone).
  std::unique_ptr<EtlLease> dead_holder;
  {
    auto dead = EtlLease::Acquire(base.get(), Options(&clock, "dead:1:00"));
    ASSERT_TRUE(dead.ok());
    dead_holder = std::move(*dead);
  }
  clock.now += kTtl + 1;

  // Taker A has read the expired epoch 1 and is about to create epoch 2;
  // exactly then taker B does the same.
  Result<std::unique_ptr<EtlLease>> b = FailedPrecondition("not run");
  InterleavingStore racing(base.get(), [&] { b = EtlLease::Acquire(base.get(), Options(&clock, "taker-b")); });
  auto a = EtlLease::Acquire(&racing, Options(&clock, "taker-a"));

  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->epoch(), 2);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(a.status().message().find("held by taker-b"), std::string::npos) << a.status().ToString();
  EXPECT_TRUE((*b)->CheckHeld().ok());
}

TEST(EtlLease, ManyThreadsRacingForAnExpiredLeaseYieldOneHolder) {
  auto store = NewMemoryStore();
  FakeClock clock;
  std::unique_ptr<EtlLease> dead_holder;  // a process that died holding the lease (see above)
  {
    auto dead = EtlLease::Acquire(store.get(), Options(&clock, "dead"));
    ASSERT_TRUE(dead.ok());
    dead_holder = std::move(*dead);
  }
  clock.now += kTtl + 1;
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<EtlLease>> winners(kThreads);
  std::vector<StatusCode> codes(kThreads, StatusCode::kOk);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = EtlLease::Acquire(store.get(), Options(&clock, "t" + std::to_string(i)));
      if (r.ok()) {
        winners[static_cast<size_t>(i)] = std::move(r).value();
      } else {
        codes[static_cast<size_t>(i)] = r.status().code();
      }
    });
  }
  for (auto& t : threads) t.join();
  int held = 0;
  for (int i = 0; i < kThreads; ++i) {
    if (winners[static_cast<size_t>(i)]) {
      ++held;
      EXPECT_TRUE(winners[static_cast<size_t>(i)]->CheckHeld().ok());
    } else {
      EXPECT_EQ(codes[static_cast<size_t>(i)], StatusCode::kFailedPrecondition);
    }
  }
  EXPECT_EQ(held, 1);
}

TEST(EtlLease, RenewExtendsTheLeaseSoItIsNotTakenOver) {
  auto store = NewMemoryStore();
  FakeClock clock;
  auto a = EtlLease::Acquire(store.get(), Options(&clock, "a"));
  ASSERT_TRUE(a.ok());
  clock.now += 4 * kMicrosPerMinute;
  ASSERT_TRUE((*a)->Renew().ok());
  EXPECT_EQ((*a)->expires_at(), kT0 + 4 * kMicrosPerMinute + kTtl);

  clock.now += 2 * kMicrosPerMinute;  // past the first expiry, within the renewed one
  auto b = EtlLease::Acquire(store.get(), Options(&clock, "b"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(b.status().message().find("until 2024-05-01T00:09:00.000000Z"), std::string::npos)
      << b.status().ToString();
  EXPECT_TRUE((*a)->CheckHeld().ok());
}

TEST(EtlLease, AHolderThatDidNotRenewInTimeLosesTheLeaseAndKnowsIt) {
  auto store = NewMemoryStore();
  FakeClock clock;
  auto a = EtlLease::Acquire(store.get(), Options(&clock, "a"));
  ASSERT_TRUE(a.ok());
  clock.now += kTtl;
  EXPECT_EQ((*a)->CheckHeld().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*a)->Renew().code(), StatusCode::kFailedPrecondition);
  auto b = EtlLease::Acquire(store.get(), Options(&clock, "b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->epoch(), 2);
  // Even if a's clock were behind, a newer epoch tells it the lease is gone.
  clock.now -= kMicrosPerMinute;
  Status lost = (*a)->CheckHeld();
  EXPECT_EQ(lost.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lost.message().find("taken over by b"), std::string::npos) << lost.ToString();
  // Old epochs are cleaned up by the new holder.
  EXPECT_EQ(store->Head(EtlLeaseKey(1)).status().code(), StatusCode::kNotFound);
}

TEST(EtlLease, ReleaseLetsTheNextOneInAtOnce) {
  auto store = NewMemoryStore();
  FakeClock clock;
  {
    auto a = EtlLease::Acquire(store.get(), Options(&clock, "a"));
    ASSERT_TRUE(a.ok());
  }  // released by the destructor
  auto b = EtlLease::Acquire(store.get(), Options(&clock, "b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->epoch(), 2);  // epochs only grow
  ASSERT_TRUE((*b)->Release().ok());
  EXPECT_EQ((*b)->CheckHeld().code(), StatusCode::kFailedPrecondition);
  auto c = EtlLease::Acquire(store.get(), Options(&clock, "c"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto listed = store->List(kEtlLeasePrefix);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, EtlLeaseKey(3));
}

TEST(EtlLease, DefaultOwnersAreDistinctAndTheDefaultClockWorks) {
  EXPECT_NE(DefaultLeaseOwner(), DefaultLeaseOwner());
  auto store = NewMemoryStore();
  auto a = EtlLease::Acquire(store.get(), LeaseOptions{});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE((*a)->owner().empty());
  EXPECT_TRUE((*a)->CheckHeld().ok());
  auto b = EtlLease::Acquire(store.get(), LeaseOptions{});
  EXPECT_EQ(b.status().code(), StatusCode::kFailedPrecondition);
}

TEST(EtlLease, AnUnreadableLeaseObjectIsDataLossWithTheFix) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Put(EtlLeaseKey(4), "garbage", WriteMode::kCreateOnly).ok());
  FakeClock clock;
  auto a = EtlLease::Acquire(store.get(), Options(&clock, "a"));
  ASSERT_EQ(a.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(a.status().message().find(EtlLeaseKey(4)), std::string::npos);
}

TEST(EtlLease, TheEtlRoleMayHoldTheLeaseAndTheAnalystRoleMayNot) {
  auto base = NewMemoryStore();
  const LakeLocation lake{"local", "lake"};
  auto wrap = [&](std::string_view role) {
    auto policy = RolePolicyFor(role, lake, "");
    EXPECT_TRUE(policy.ok()) << policy.status().ToString();
    auto store = PolicyEnforcingStore::Wrap(base.get(), std::move(policy).value(), lake);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  };
  FakeClock clock;
  auto etl = wrap("etl");
  {
    auto a = EtlLease::Acquire(etl.get(), Options(&clock, "etl-a"));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE((*a)->Renew().ok());
    ASSERT_TRUE((*a)->CheckHeld().ok());
    ASSERT_TRUE((*a)->Release().ok());
  }
  auto again = EtlLease::Acquire(etl.get(), Options(&clock, "etl-b"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();  // deletes epoch 1 too

  auto analyst = wrap("analyst");
  auto denied = EtlLease::Acquire(analyst.get(), Options(&clock, "analyst"));
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied) << denied.status().ToString();
}

TEST(EtlLease, ZeroTtlIsInvalid) {
  auto store = NewMemoryStore();
  LeaseOptions o;
  o.ttl_micros = 0;
  EXPECT_EQ(EtlLease::Acquire(store.get(), o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tradelake
