// `tradelake reconcile`: gold.bars_1m against the exchange's 1-minute
// candles (reconcile/reconcile.h), run as the etl role.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace tradelake {

class ReconcileCommand {
 public:
  // Registers the subcommand on `app`. *policies_dir (--policies, may be
  // empty) is read when the command runs.
  ReconcileCommand(CLI::App* app, const std::string* policies_dir);
  ~ReconcileCommand();
  // The exit code if `reconcile` was parsed, else nullopt.
  std::optional<int> RunIfParsed();

 private:
  struct Flags;
  std::unique_ptr<Flags> f_;
  const std::string* policies_dir_;
};

}  // namespace tradelake
