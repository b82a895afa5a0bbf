// `tradelake sql` (one-shot, script from stdin, or the interactive shell)
// and `tradelake catalog list|describe|repair|ddl`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace tradelake {

class SqlCommands {
 public:
  // Registers the subcommands on `app`. *policies_dir (--policies, may be
  // empty) is read when a command runs.
  SqlCommands(CLI::App* app, const std::string* policies_dir);
  ~SqlCommands();
  // The exit code of the command that was parsed, or nullopt if none of these.
  std::optional<int> RunIfParsed();

 private:
  struct Flags;
  std::unique_ptr<Flags> f_;
  const std::string* policies_dir_;
};

}  // namespace tradelake
