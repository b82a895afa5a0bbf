#include "etl/lease.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tradelake {
namespace {

struct LeaseRecord {
  std::string owner;
  int64_t epoch = 0;
  TimestampMicros acquired_at = 0;
  TimestampMicros expires_at = 0;
  bool released = false;
};

std::string SerializeLease(const LeaseRecord& r) {
  nlohmann::json j;
  j["owner"] = r.owner;
  j["epoch"] = r.epoch;
  j["acquired_at"] = r.acquired_at;
  j["expires_at"] = r.expires_at;
  j["released"] = r.released;
  // For people looking at the lake; never read back.
  j["acquired"] = FormatRfc3339Micros(r.acquired_at);
  j["expires"] = FormatRfc3339Micros(r.expires_at);
  return j.dump() + "\n";
}

Result<LeaseRecord> ParseLease(std::string_view key, const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&] {
    return DataLoss(fmt::format("ETL lease {} is not a lease object; if no ETL is running, delete it", key));
  };
  if (!j.is_object()) return bad();
  LeaseRecord r;
  const auto owner = j.find("owner");
  const auto epoch = j.find("epoch");
  const auto acquired = j.find("acquired_at");
  const auto expires = j.find("expires_at");
  if (owner == j.end() || !owner->is_string() || epoch == j.end() || !epoch->is_number_integer() ||
      acquired == j.end() || !acquired->is_number_integer() || expires == j.end() ||
      !expires->is_number_integer()) {
    return bad();
  }
  r.owner = owner->get<std::string>();
  r.epoch = epoch->get<int64_t>();
  r.acquired_at = acquired->get<int64_t>();
  r.expires_at = expires->get<int64_t>();
  if (auto rel = j.find("released"); rel != j.end() && rel->is_boolean()) r.released = rel->get<bool>();
  return r;
}

// The epoch of a lease key, or nullopt for anything else under the prefix.
std::optional<int64_t> EpochOf(std::string_view key) {
  if (!key.starts_with(kEtlLeasePrefix)) return std::nullopt;
  std::string_view name = key.substr(kEtlLeasePrefix.size());
  if (name.size() != 25 || !name.ends_with(".json")) return std::nullopt;
  name.remove_suffix(5);
  int64_t epoch = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), epoch);
  if (ec != std::errc() || end != name.data() + name.size() || epoch < 0) return std::nullopt;
  return epoch;
}

// Every lease epoch in the store, ascending.
Result<std::vector<int64_t>> ListEpochs(ObjectStore* store) {
  auto listed = store->List(kEtlLeasePrefix);
  if (!listed.ok()) return listed.status().WithContext("listing the ETL lease");
  std::vector<int64_t> epochs;
  for (const ObjectInfo& o : *listed) {
    if (auto e = EpochOf(o.key)) epochs.push_back(*e);
  }
  std::sort(epochs.begin(), epochs.end());
  return epochs;
}

// The record of `epoch`; nullopt when it was deleted meanwhile.
Result<std::optional<LeaseRecord>> ReadLease(ObjectStore* store, int64_t epoch) {
  const std::string key = EtlLeaseKey(epoch);
  auto text = store->Get(key);
  if (text.status().code() == StatusCode::kNotFound) return std::optional<LeaseRecord>();
  if (!text.ok()) return text.status().WithContext("reading the ETL lease");
  ASSIGN_OR_RETURN(LeaseRecord r, ParseLease(key, *text));
  return std::optional<LeaseRecord>(std::move(r));
}

Status HeldBy(const LeaseRecord& r) {
  return FailedPrecondition(fmt::format(
      "the ETL lease is held by {} until {} (epoch {}, {}): another `tradelake etl`, `compact` or "
      "`vacuum` is working on this lake; try again later (a lease whose process is gone expires by itself)",
      r.owner, FormatRfc3339Micros(r.expires_at), r.epoch, EtlLeaseKey(r.epoch)));
}

constexpr int kAcquireAttempts = 4;

std::string HostName() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof(host), "unknown");
  return host;
}

// True for an owner named by DefaultLeaseOwner() on this host whose process
// is gone (e.g. killed with -9): its lease need not be waited out. Owners on
// other hosts, or not in that form, are never judged this way.
bool OwnerProcessIsGone(const std::string& owner) {
  const size_t a = owner.find(':');
  const size_t b = a == std::string::npos ? a : owner.find(':', a + 1);
  if (b == std::string::npos || owner.substr(0, a) != HostName()) return false;
  long pid = 0;
  const auto [end, ec] = std::from_chars(owner.data() + a + 1, owner.data() + b, pid);
  if (ec != std::errc() || end != owner.data() + b || pid <= 0 || pid == ::getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string EtlLeaseKey(int64_t epoch) { return fmt::format("{}{:020d}.json", kEtlLeasePrefix, epoch); }

std::string DefaultLeaseOwner() {
  std::random_device rd;
  const uint64_t r = (uint64_t{rd()} << 32) ^ rd();
  return fmt::format("{}:{}:{:016x}", HostName(), ::getpid(), r);
}

EtlLease::EtlLease(ObjectStore* store, LeaseOptions options, int64_t epoch, TimestampMicros acquired_at,
                   TimestampMicros expires_at)
    : store_(store),
      options_(std::move(options)),
      owner_(options_.owner),
      epoch_(epoch),
      acquired_at_(acquired_at),
      expires_at_(expires_at) {}

TimestampMicros EtlLease::Now() const { return options_.clock(); }

Result<std::unique_ptr<EtlLease>> EtlLease::Acquire(ObjectStore* store, const LeaseOptions& given) {
  if (given.ttl_micros <= 0) return InvalidArgument("the ETL lease needs a ttl > 0");
  LeaseOptions options = given;
  if (options.owner.empty()) options.owner = DefaultLeaseOwner();
  if (!options.clock) options.clock = NowMicros;

  for (int attempt = 0; attempt < kAcquireAttempts; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<int64_t> epochs, ListEpochs(store));
    int64_t next = 1;
    if (!epochs.empty()) {
      next = epochs.back() + 1;
      ASSIGN_OR_RETURN(std::optional<LeaseRecord> newest, ReadLease(store, epochs.back()));
      if (!newest) continue;  // cleaned up by a newer holder meanwhile: look again
      // The same owner may take its own live lease again (a restarted
      // process with a fixed owner name); it still gets a new epoch.
      if (!newest->released && options.clock() < newest->expires_at && newest->owner != options.owner) {
        if (!OwnerProcessIsGone(newest->owner)) return HeldBy(*newest);
        spdlog::info("taking over the ETL lease of {}, a process of this host that is gone", newest->owner);
      }
    }
    LeaseRecord mine;
    mine.owner = options.owner;
    mine.epoch = next;
    mine.acquired_at = options.clock();
    mine.expires_at = mine.acquired_at + options.ttl_micros;
    Status s = store->Put(EtlLeaseKey(next), SerializeLease(mine), WriteMode::kCreateOnly);
    if (s.code() == StatusCode::kAlreadyExists) continue;  // another taker won: report it (or retry)
    RETURN_IF_ERROR(s.WithContext("taking the ETL lease"));
    for (int64_t old : epochs) {
      if (Status d = store->Delete(EtlLeaseKey(old)); !d.ok()) {
        spdlog::warn("could not delete the old ETL lease {}: {}", EtlLeaseKey(old), d.ToString());
      }
    }
    return std::unique_ptr<EtlLease>(
        new EtlLease(store, std::move(options), next, mine.acquired_at, mine.expires_at));
  }
  return FailedPrecondition(
      "could not take the ETL lease: other contenders kept taking it first; try again later");
}

EtlLease::~EtlLease() {
  if (Status s = Release(); !s.ok()) {
    spdlog::warn("releasing the ETL lease {}: {} (it expires by itself at {})", EtlLeaseKey(epoch_),
                 s.ToString(), FormatRfc3339Micros(expires_at_));
  }
}

Status EtlLease::CheckHeld() {
  if (released_) return FailedPrecondition(fmt::format("the ETL lease (epoch {}) was released", epoch_));
  const TimestampMicros now = Now();
  if (now >= expires_at_) {
    return FailedPrecondition(fmt::format("the ETL lease (epoch {}) expired at {}; renew it more often than its ttl",
                                          epoch_, FormatRfc3339Micros(expires_at_)));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> epochs, ListEpochs(store_));
  if (epochs.empty() || epochs.back() < epoch_) {
    return FailedPrecondition(fmt::format("the ETL lease object {} was deleted by someone else", EtlLeaseKey(epoch_)));
  }
  if (epochs.back() > epoch_) {
    auto newer = ReadLease(store_, epochs.back());
    const std::string who = newer.ok() && newer->has_value() ? (*newer)->owner : "another owner";
    return FailedPrecondition(fmt::format("the ETL lease (epoch {}) was taken over by {} (epoch {})", epoch_, who,
                                          epochs.back()));
  }
  return Status::OK();
}

Status EtlLease::Renew() {
  RETURN_IF_ERROR(CheckHeld());
  LeaseRecord mine;
  mine.owner = owner_;
  mine.epoch = epoch_;
  mine.acquired_at = acquired_at_;
  mine.expires_at = Now() + options_.ttl_micros;
  RETURN_IF_ERROR(
      store_->Put(EtlLeaseKey(epoch_), SerializeLease(mine), WriteMode::kOverwrite).WithContext("renewing the ETL lease"));
  expires_at_ = mine.expires_at;
  return Status::OK();
}

Status EtlLease::Release() {
  if (released_) return Status::OK();
  released_ = true;
  // Only our own epoch is touched: if a newer one exists, ours no longer matters.
  ASSIGN_OR_RETURN(std::vector<int64_t> epochs, ListEpochs(store_));
  if (epochs.empty() || epochs.back() != epoch_) return Status::OK();
  LeaseRecord mine;
  mine.owner = owner_;
  mine.epoch = epoch_;
  mine.acquired_at = acquired_at_;
  mine.expires_at = std::min(expires_at_, Now());
  mine.released = true;
  RETURN_IF_ERROR(store_->Put(EtlLeaseKey(epoch_), SerializeLease(mine), WriteMode::kOverwrite)
                      .WithContext("releasing the ETL lease"));
  expires_at_ = mine.expires_at;
  return Status::OK();
}

}  // namespace tradelake
