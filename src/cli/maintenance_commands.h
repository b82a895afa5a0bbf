// `tradelake vacuum` and `tradelake compact`: occasional maintenance of the
// lake's Delta tables, run as the etl role (etl/vacuum.h, etl/compact.h).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace tradelake {

class MaintenanceCommands {
 public:
  // Registers the subcommands on `app`. *policies_dir (--policies, may be
  // empty) is read when a command runs.
  MaintenanceCommands(CLI::App* app, const std::string* policies_dir);
  ~MaintenanceCommands();
  // The exit code of the command that was parsed, or nullopt if none of these.
  std::optional<int> RunIfParsed();

 private:
  struct Flags;
  std::unique_ptr<Flags> f_;
  const std::string* policies_dir_;
};

}  // namespace tradelake
