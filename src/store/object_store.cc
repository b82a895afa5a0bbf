#include "store/object_store.h"
#include "store/object_store_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>


namespace tradelake {

namespace store_internal {

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string msg = fmt::format("{} {}: {}", what, path, std::strerror(err));
  if (err == ENOSPC) return IOError(msg + " (the disk holding the lake is full; free space and rerun)");
  if (err == EACCES || err == EPERM) return PermissionDenied(msg);
  if (err == ENOENT) return NotFound(msg);
  return IOError(msg);
}

}  // namespace store_internal

namespace {

namespace fs = std::filesystem;
using store_internal::ErrnoStatus;

constexpr std::string_view kTempPrefix = ".tmp-";

// Closes a file descriptor when it goes out of scope.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status FsyncDir(const std::string& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open folder", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync folder", dir, errno);
  return Status::OK();
}

// Creates every missing folder of `dir`, fsyncing each parent it changes so
// that a new object's path survives a crash too.
Status MakeDirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::OK();
  RETURN_IF_ERROR(MakeDirs(dir.parent_path()));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("create folder", dir.string(), errno);
  }
  return FsyncDir(dir.parent_path().string());
}

std::string RandomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

bool IsHiddenName(std::string_view name) { return name.starts_with(kTempPrefix); }

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(fs::path root) : root_(std::move(root)) {}

  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const fs::path target = root_ / std::string(key);
    const fs::path dir = target.parent_path();
    RETURN_IF_ERROR(MakeDirs(dir));
    if (mode == WriteMode::kCreateOnly && ::access(target.c_str(), F_OK) == 0) {
      return AlreadyExists(fmt::format("object {} already exists", key));
    }
    const fs::path tmp = dir / fmt::format("{}{}-{}", kTempPrefix, target.filename().string(),
                                           RandomSuffix());
    {
      ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (fd.get() < 0) return ErrnoStatus("create", tmp.string(), errno);
      Status s = WriteAll(fd.get(), data, tmp.string());
      if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoStatus("fsync", tmp.string(), errno);
      if (s.ok() && ::close(fd.release()) != 0) s = ErrnoStatus("close", tmp.string(), errno);
      if (!s.ok()) {
        ::unlink(tmp.c_str());
        return s;
      }
    }
    if (mode == WriteMode::kCreateOnly) {
      // link() fails if the target exists: an atomic create-if-absent.
      const int rc = ::link(tmp.c_str(), target.c_str());
      const int err = errno;
      ::unlink(tmp.c_str());
      if (rc != 0) {
        if (err == EEXIST) return AlreadyExists(fmt::format("object {} already exists", key));
        return ErrnoStatus("link", target.string(), err);
      }
    } else if (::rename(tmp.c_str(), target.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return ErrnoStatus("rename", target.string(), err);
    }
    return FsyncDir(dir.string());
  }

  Result<std::string> Get(std::string_view key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const fs::path path = root_ / std::string(key);
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) return NotFound(fmt::format("object {} not found in {}", key, Describe()));
      return ErrnoStatus("open", path.string(), errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path.string(), errno);
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::read(fd.get(), data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("read", path.string(), errno);
      if (n == 0) break;
      off += static_cast<size_t>(n);
    }
    data.resize(off);
    return data;
  }

  Result<ObjectInfo> Head(std::string_view key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const fs::path path = root_ / std::string(key);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return NotFound(fmt::format("object {} not found in {}", key, Describe()));
    }
    return ObjectInfo{std::string(key), static_cast<int64_t>(st.st_size)};
  }

  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    std::vector<ObjectInfo> out;
    // The prefix becomes a folder to walk: never one outside the lake ('..').
    if (!prefix.empty() && !ValidateKey(std::string(prefix) + "x").ok()) {
      return InvalidArgument(fmt::format("invalid list prefix \"{}\": it must be the start of a valid object key", prefix));
    }
    // Walk only below the deepest folder the prefix names.
    const size_t slash = prefix.rfind('/');
    const std::string dir_part = slash == std::string_view::npos ? "" : std::string(prefix.substr(0, slash));
    const fs::path start = dir_part.empty() ? root_ : root_ / dir_part;
    std::error_code ec;
    if (!fs::is_directory(start, ec)) return out;
    fs::recursive_directory_iterator it(start, fs::directory_options::skip_permission_denied, ec);
    if (ec) return ErrnoStatus("list", start.string(), ec.value());
    const std::string root_str = root_.string() + "/";
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return ErrnoStatus("list", start.string(), ec.value());
      if (!it->is_regular_file(ec)) continue;
      const std::string name = it->path().filename().string();
      if (IsHiddenName(name)) continue;
      std::string key = it->path().string().substr(root_str.size());
      if (!key.starts_with(prefix)) continue;
      out.push_back({std::move(key), static_cast<int64_t>(it->file_size(ec))});
    }
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Status Delete(std::string_view key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const fs::path path = root_ / std::string(key);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("delete", path.string(), errno);
    return Status::OK();
  }

  std::string Describe() const override { return "file://" + root_.string(); }

  std::optional<std::string> LocalPath(std::string_view key) const override {
    if (!ValidateKey(key).ok()) return std::nullopt;
    return (root_ / std::string(key)).string();
  }

 private:
  static Status WriteAll(int fd, std::string_view data, const std::string& path) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("write", path, errno);
      off += static_cast<size_t>(n);
    }
    return Status::OK();
  }

  const fs::path root_;
};

class MemoryStore final : public ObjectStore {
 public:
  Status Put(std::string_view key, std::string_view data, WriteMode mode) override {
    RETURN_IF_ERROR(ValidateKey(key));
    std::lock_guard lock(mu_);
    auto [it, inserted] = objects_.try_emplace(std::string(key));
    if (!inserted && mode == WriteMode::kCreateOnly) {
      return AlreadyExists(fmt::format("object {} already exists", key));
    }
    it->second.assign(data);
    return Status::OK();
  }

  Result<std::string> Get(std::string_view key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    std::lock_guard lock(mu_);
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return NotFound(fmt::format("object {} not found in mem://", key));
    return it->second;
  }

  Result<ObjectInfo> Head(std::string_view key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    std::lock_guard lock(mu_);
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return NotFound(fmt::format("object {} not found in mem://", key));
    return ObjectInfo{it->first, static_cast<int64_t>(it->second.size())};
  }

  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    std::lock_guard lock(mu_);
    std::vector<ObjectInfo> out;
    for (auto it = objects_.lower_bound(std::string(prefix));
         it != objects_.end() && it->first.starts_with(prefix); ++it) {
      out.push_back({it->first, static_cast<int64_t>(it->second.size())});
    }
    return out;
  }

  Status Delete(std::string_view key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    std::lock_guard lock(mu_);
    objects_.erase(std::string(key));
    return Status::OK();
  }

  std::string Describe() const override { return "mem://"; }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> objects_;  // GUARDED_BY(mu_)
};

}  // namespace

Status ValidateKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("invalid object key \"{}\": {}", key, why));
  };
  if (key.empty()) return bad("empty");
  if (key.front() == '/') return bad("absolute path");
  if (key.back() == '/') return bad("ends with '/'");
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("control character");
    if (c == '\\') return bad("backslash");
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const std::string_view seg = key.substr(start, end - start);
    if (seg.empty()) return bad("empty path segment");
    if (seg == "." || seg == "..") return bad("'.' or '..' segment");
    start = end + 1;
  }
  return Status::OK();
}

Result<std::unique_ptr<ObjectStore>> OpenLocalStore(std::string root) {
  if (root.empty()) return InvalidArgument("empty lake folder");
  std::error_code ec;
  fs::path abs = fs::absolute(root, ec);
  if (ec) return IOError(fmt::format("lake folder {}: {}", root, ec.message()));
  abs = abs.lexically_normal();
  std::string s = abs.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  RETURN_IF_ERROR(MakeDirs(fs::path(s)));
  return std::unique_ptr<ObjectStore>(std::make_unique<LocalStore>(fs::path(s)));
}

std::unique_ptr<ObjectStore> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace tradelake
