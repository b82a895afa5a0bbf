// `tradelake lambda` and `tradelake cost`: tradelake on AWS.
//
//   tradelake lambda [--lake s3://b/p] [--products A,B] [--exchange-url URL]
//                    [--ingest-margin 20s] [--etl-min-time 15s] [--etl-margin 5s]
//       the custom runtime of the Lambda function (provided.al2023, started
//       by the package's `bootstrap`): serves events from the Runtime API at
//       $AWS_LAMBDA_RUNTIME_API until Lambda ends the sandbox (lambda/step.h).
//       Every flag also comes from an environment variable (TRADELAKE_LAKE,
//       TRADELAKE_PRODUCTS, ...), which is how the CloudFormation template
//       configures it. A configuration error is reported to
//       POST /runtime/init/error and exits 1.
//   tradelake cost --products 10 [--trades-per-day N] [--months M] ...
//       the monthly estimate of a deployment next to the original serverless
//       design (lambda/cost.h).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace tradelake {

class LambdaCommands {
 public:
  // Registers the subcommands on `app`. *policies_dir (--policies, may be
  // empty) is read when a command runs.
  LambdaCommands(CLI::App* app, const std::string* policies_dir);
  ~LambdaCommands();
  // The exit code of the command that was parsed, or nullopt if none of these.
  std::optional<int> RunIfParsed();

 private:
  struct Flags;
  std::unique_ptr<Flags> f_;
  const std::string* policies_dir_;
};

}  // namespace tradelake
