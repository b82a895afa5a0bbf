// AwsConfig: credentials, region and S3 endpoint, resolved the way the AWS CLI
// (botocore) resolves them, so `aws s3 ls` and tradelake agree on who they are
// and where the lake is.
//
// Resolution order (the first source that has a value wins):
//   profile      AwsConfigOptions::profile (like `aws --profile`), AWS_PROFILE,
//                "default". A profile named explicitly (not "default" by
//                default) must exist in one of the two files.
//   credentials  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN,
//                   or the legacy AWS_SECURITY_TOKEN); skipped when
//                   AwsConfigOptions::profile is set, as `aws --profile` does
//                2. the profile's section in the shared credentials file
//                   (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials):
//                   "[name]"; keys aws_access_key_id, aws_secret_access_key,
//                   aws_session_token
//                3. the profile's section in the config file (AWS_CONFIG_FILE,
//                   default ~/.aws/config): "[default]" or "[profile name]"
//                Not supported: role_arn/source_profile, credential_process,
//                SSO, web identity, container and EC2 instance credentials. A
//                profile that relies on one of them fails with an error saying
//                so and how to export plain credentials instead.
//   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`,
//                else "us-east-1"
//   endpoint     AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's nested
//                `s3 = / endpoint_url = ...`, the profile's `endpoint_url`,
//                the `[services <name>]` section the profile names (its s3
//                endpoint_url); AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or
//                the profile's ignore_configured_endpoint_urls) turns them all
//                off. Empty means AWS itself: https://s3.<region>.amazonaws.com
//   addressing   TRADELAKE_S3_ADDRESSING (path|virtual|auto), the profile's
//                nested `s3 = / addressing_style = ...`, else auto: virtual-
//                hosted for AWS, path-style for a custom endpoint (MinIO, moto,
//                ...). See EffectiveAddressingStyle() for the per-bucket rule.
//
// Files follow botocore's INI dialect: '#' and ';' start a comment line (not
// an inline comment: a secret may hold '#'), option names are lower-cased,
// values trimmed, an indented line continues the previous value or, after
// "s3 =" with no value, defines nested settings. "~" in a path is $HOME.
//
// The environment is injected (EnvLookup) so tests never depend on the real
// one; ProcessEnv() reads the process environment.
//
// Thread-safety: every function is thread-safe given a thread-safe EnvLookup
// (ProcessEnv() is, as long as nobody calls setenv concurrently).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/sigv4.h"

namespace tradelake {

// Returns the value of an environment variable, nullopt when unset. An empty
// value counts as unset (as botocore does for AWS_* variables).
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (std::getenv).
EnvLookup ProcessEnv();
// A fixed environment, for tests.
EnvLookup MapEnv(std::map<std::string, std::string, std::less<>> vars);

enum class S3AddressingStyle {
  kAuto,     // virtual-hosted on AWS, path-style on a custom endpoint
  kPath,     // https://host/bucket/key
  kVirtual,  // https://bucket.host/key
};

// "auto", "path", "virtual".
std::string_view S3AddressingStyleName(S3AddressingStyle style);
// Parses "auto" | "path" | "virtual" (case-insensitive); InvalidArgument
// otherwise, naming `origin` (where the text came from).
Result<S3AddressingStyle> ParseS3AddressingStyle(std::string_view text, std::string_view origin);

struct AwsConfig {
  sigv4::Credentials credentials;
  // Where the credentials came from, for error messages and fix hints:
  // "environment (AWS_ACCESS_KEY_ID)", "/home/u/.aws/credentials [profile prod]".
  std::string credentials_source;
  std::string profile = "default";
  std::string region = "us-east-1";
  // "http(s)://host[:port]" without a trailing '/', or empty for AWS.
  std::string endpoint_url;
  S3AddressingStyle addressing_style = S3AddressingStyle::kAuto;
};

struct AwsConfigOptions {
  // An explicit profile, as with `aws --profile`: wins over AWS_PROFILE and
  // makes the environment credentials be ignored.
  std::optional<std::string> profile;
  // When false, missing credentials are not an error (the result has empty
  // credentials), e.g. to print the resolved region and endpoint.
  bool require_credentials = true;
};

// Resolves the configuration as described at the top of this file.
// Errors:
//   FailedPrecondition  no credentials anywhere (the message lists every place
//                       looked, e.g. "environment (AWS_ACCESS_KEY_ID/
//                       AWS_SECRET_ACCESS_KEY), /root/.aws/credentials
//                       [default], /root/.aws/config [default]") or only half
//                       of a key pair; a profile needing an unsupported
//                       credential provider
//   NotFound            an explicitly chosen profile (option or AWS_PROFILE)
//                       that neither file defines
//   InvalidArgument     a malformed file (with path and line), endpoint URL or
//                       addressing style
//   IOError             a config file exists but cannot be read
// A missing file is not an error: it simply has no profiles.
Result<AwsConfig> ResolveAwsConfig(const EnvLookup& env, const AwsConfigOptions& options = {});

// The endpoint requests go to: config.endpoint_url, or
// "https://s3.<region>.amazonaws.com" when empty.
std::string EffectiveS3Endpoint(const AwsConfig& config);

// kPath or kVirtual for requests on `bucket`: an explicit style is kept; auto
// picks virtual-hosted for AWS endpoints unless the bucket name cannot be a
// DNS label under TLS (dots, upper case), and path-style for custom endpoints.
S3AddressingStyle EffectiveAddressingStyle(const AwsConfig& config, std::string_view bucket);

// An INI file as botocore reads it: section -> option -> value; a nested
// block ("s3 =" followed by indented "key = value" lines) is stored as
// "s3.key". Exposed for tests. InvalidArgument naming `origin` and the line
// for text that is not INI.
using IniSections = std::map<std::string, std::map<std::string, std::string>>;
Result<IniSections> ParseAwsIni(std::string_view text, std::string_view origin);

}  // namespace tradelake
