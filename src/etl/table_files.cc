#include "etl/table_files.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include <fmt/format.h>

namespace tradelake {

namespace fs = std::filesystem;

std::string RandomFileTag() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

StagingDir::StagingDir(std::string_view purpose)
    : dir_(fs::temp_directory_path() / fmt::format("tradelake-{}-{}-{}", purpose, ::getpid(), RandomFileTag())) {}

StagingDir::~StagingDir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result<std::string> StagingDir::NewPath() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return IOError(fmt::format("creating {}: {}", dir_.string(), ec.message()));
  return (dir_ / (RandomFileTag() + ".parquet")).string();
}

Result<std::string> ReadLocalBytes(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return IOError(fmt::format("reading {}", path));
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IOError(fmt::format("reading {}", path));
  return bytes;
}

Status WriteLocalBytes(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return IOError(fmt::format("writing {}", path));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return IOError(fmt::format("writing {}", path));
  return Status::OK();
}

}  // namespace tradelake
