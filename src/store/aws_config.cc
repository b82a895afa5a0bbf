#include "store/aws_config.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace tradelake {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsTrue(std::string_view v) { return Lower(Trim(v)) == "true"; }

// Where a profile's settings live; either map may be null (no such section).
struct ProfileView {
  const std::map<std::string, std::string>* credentials = nullptr;  // credentials file
  const std::map<std::string, std::string>* config = nullptr;       // config file

  std::optional<std::string> ConfigValue(const std::string& key) const {
    if (config == nullptr) return std::nullopt;
    auto it = config->find(key);
    if (it == config->end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> AnyValue(const std::string& key) const {
    if (credentials != nullptr) {
      auto it = credentials->find(key);
      if (it != credentials->end() && !it->second.empty()) return it->second;
    }
    return ConfigValue(key);
  }
};

std::string HomeDir(const EnvLookup& env) {
  if (auto home = env("HOME")) return *home;
  // No HOME (daemons, cron): ask the password database, as Python's expanduser does.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr) {
    return found->pw_dir;
  }
  return "";
}

std::string ExpandHome(std::string path, const EnvLookup& env) {
  if (path == "~" || path.starts_with("~/")) return HomeDir(env) + path.substr(1);
  return path;
}

// Reads `path`; nullopt when it does not exist (a missing file has no profiles).
Result<std::optional<std::string>> ReadOptionalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return std::optional<std::string>();
    return IOError(
        fmt::format("cannot read AWS configuration file {}: {}", path, std::strerror(err)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IOError(fmt::format("cannot read AWS configuration file {}", path));
  return std::optional<std::string>(text.str());
}

Result<IniSections> LoadIni(const std::string& path) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, ReadOptionalFile(path));
  if (!text) return IniSections{};
  return ParseAwsIni(*text, path);
}

Result<std::string> NormalizeEndpoint(std::string_view url, std::string_view origin) {
  std::string u(Trim(url));
  const std::string lower = Lower(u);
  if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
    return InvalidArgument(fmt::format(
        "{}: endpoint URL \"{}\" must start with http:// or https:// (e.g. http://127.0.0.1:5000)",
        origin, u));
  }
  while (u.ends_with('/')) u.pop_back();
  const size_t host_start = u.find("://") + 3;
  if (u.find_first_of("/?#", host_start) != std::string::npos) {
    return InvalidArgument(fmt::format(
        "{}: endpoint URL \"{}\" has a path or query; give only scheme, host and port", origin, u));
  }
  if (host_start == u.size())
    return InvalidArgument(fmt::format("{}: endpoint URL \"{}\" has no host", origin, u));
  return u;
}

Status ValidateRegion(std::string_view region, std::string_view origin) {
  if (region.empty()) return InvalidArgument(fmt::format("{}: empty AWS region", origin));
  for (const char c : region) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return InvalidArgument(
          fmt::format("{}: AWS region \"{}\" is not a region name like us-east-1", origin, region));
    }
  }
  return Status::OK();
}

// The credential providers botocore would try that tradelake does not
// implement; a profile using one gets an error instead of a silent fallback.
Status UnsupportedProvider(const ProfileView& profile, const std::string& profile_name,
                           std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    if (profile.AnyValue(std::string(key))) {
      return FailedPrecondition(fmt::format(
          "AWS profile {} gets its credentials through {}, which tradelake does not support; "
          "export plain credentials instead, e.g. eval \"$(aws configure export-credentials "
          "--profile {} --format env)\"",
          profile_name, key, profile_name));
    }
  }
  return Status::OK();
}

// Static keys from one section; nullopt when the section has no access key.
Result<std::optional<sigv4::Credentials>> KeysFromSection(
    const std::map<std::string, std::string>* section, std::string_view where) {
  if (section == nullptr) return std::optional<sigv4::Credentials>();
  auto get = [&](const char* key) -> std::string {
    auto it = section->find(key);
    return it == section->end() ? "" : it->second;
  };
  std::string id = get("aws_access_key_id");
  std::string secret = get("aws_secret_access_key");
  if (id.empty() && secret.empty()) return std::optional<sigv4::Credentials>();
  if (id.empty() || secret.empty()) {
    return FailedPrecondition(
        fmt::format("{} has {} but not {}; set both", where,
                    id.empty() ? "aws_secret_access_key" : "aws_access_key_id",
                    id.empty() ? "aws_access_key_id" : "aws_secret_access_key"));
  }
  sigv4::Credentials creds{std::move(id), std::move(secret), std::nullopt};
  if (std::string token = get("aws_session_token"); !token.empty())
    creds.session_token = std::move(token);
  return std::optional<sigv4::Credentials>(std::move(creds));
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

std::string_view S3AddressingStyleName(S3AddressingStyle style) {
  switch (style) {
    case S3AddressingStyle::kAuto:
      return "auto";
    case S3AddressingStyle::kPath:
      return "path";
    case S3AddressingStyle::kVirtual:
      return "virtual";
  }
  return "auto";
}

Result<S3AddressingStyle> ParseS3AddressingStyle(std::string_view text, std::string_view origin) {
  const std::string v = Lower(Trim(text));
  if (v == "auto") return S3AddressingStyle::kAuto;
  if (v == "path") return S3AddressingStyle::kPath;
  if (v == "virtual") return S3AddressingStyle::kVirtual;
  return InvalidArgument(fmt::format(
      "{}: S3 addressing style \"{}\" is not one of auto, path, virtual", origin, text));
}

Result<IniSections> ParseAwsIni(std::string_view text, std::string_view origin) {
  IniSections sections;
  std::map<std::string, std::string>* current = nullptr;
  std::string last_option;      // the option an indented line continues
  bool last_was_empty = false;  // "s3 =" with no value: indented lines are nested settings
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') continue;
    const bool indented = std::isspace(static_cast<unsigned char>(line.front())) != 0;
    auto bad = [&](std::string_view why) {
      return InvalidArgument(fmt::format("{} line {}: {} (\"{}\")", origin, line_no, why, trimmed));
    };
    if (indented && current != nullptr && !last_option.empty()) {
      if (last_was_empty) {
        const size_t eq = trimmed.find_first_of("=:");
        if (eq == std::string_view::npos) return bad("nested setting without '='");
        const std::string key = Lower(Trim(trimmed.substr(0, eq)));
        if (key.empty()) return bad("nested setting without a name");
        std::string nested = last_option;
        nested.append(".").append(key);
        (*current)[nested] = std::string(Trim(trimmed.substr(eq + 1)));
      } else {
        (*current)[last_option] += "\n" + std::string(trimmed);
      }
      continue;
    }
    if (trimmed.front() == '[') {
      if (trimmed.back() != ']') return bad("section header without ']'");
      // Collapse "profile   prod" to "profile prod", as botocore splits on whitespace.
      std::string name;
      std::istringstream words{std::string(trimmed.substr(1, trimmed.size() - 2))};
      for (std::string w; words >> w;) name += (name.empty() ? "" : " ") + w;
      if (name.empty()) return bad("empty section name");
      current = &sections[name];
      last_option.clear();
      continue;
    }
    if (current == nullptr) return bad("setting before the first [section]");
    const size_t eq = trimmed.find_first_of("=:");
    if (eq == std::string_view::npos) return bad("expected \"name = value\"");
    const std::string key = Lower(Trim(trimmed.substr(0, eq)));
    if (key.empty()) return bad("setting without a name");
    const std::string value(Trim(trimmed.substr(eq + 1)));
    (*current)[key] = value;
    last_option = key;
    last_was_empty = value.empty();
  }
  return sections;
}

Result<AwsConfig> ResolveAwsConfig(const EnvLookup& env, const AwsConfigOptions& options) {
  AwsConfig config;
  bool explicit_profile = false;
  if (options.profile && !options.profile->empty()) {
    config.profile = *options.profile;
    explicit_profile = true;
  } else if (auto p = env("AWS_PROFILE")) {
    config.profile = *p;
    explicit_profile = true;
  }

  const std::string credentials_path =
      ExpandHome(env("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env);
  const std::string config_path = ExpandHome(env("AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
  ASSIGN_OR_RETURN(const IniSections credentials_file, LoadIni(credentials_path));
  ASSIGN_OR_RETURN(const IniSections config_file, LoadIni(config_path));

  ProfileView profile;
  if (auto it = credentials_file.find(config.profile); it != credentials_file.end()) {
    profile.credentials = &it->second;
  }
  const std::string config_section =
      config.profile == "default" ? "default" : "profile " + config.profile;
  if (auto it = config_file.find(config_section); it != config_file.end())
    profile.config = &it->second;
  if (explicit_profile && config.profile != "default" && profile.credentials == nullptr &&
      profile.config == nullptr) {
    return NotFound(fmt::format(
        "AWS profile {} is defined neither in {} ([{}]) nor in {} ([profile {}]); check "
        "AWS_PROFILE or run `aws configure --profile {}`",
        config.profile, credentials_path, config.profile, config_path, config.profile,
        config.profile));
  }

  // --- region ---
  std::string region_origin = "AWS_REGION";
  if (auto r = env("AWS_REGION")) {
    config.region = *r;
  } else if (auto dr = env("AWS_DEFAULT_REGION")) {
    config.region = *dr;
    region_origin = "AWS_DEFAULT_REGION";
  } else if (auto pr = profile.ConfigValue("region")) {
    config.region = *pr;
    region_origin = fmt::format("{} [{}] region", config_path, config_section);
  }
  RETURN_IF_ERROR(ValidateRegion(config.region, region_origin));

  // --- endpoint ---
  const bool ignore_endpoints =
      IsTrue(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or("")) ||
      IsTrue(profile.ConfigValue("ignore_configured_endpoint_urls").value_or(""));
  if (!ignore_endpoints) {
    std::optional<std::string> endpoint;
    std::string origin;
    if ((endpoint = env("AWS_ENDPOINT_URL_S3"))) {
      origin = "AWS_ENDPOINT_URL_S3";
    } else if ((endpoint = env("AWS_ENDPOINT_URL"))) {
      origin = "AWS_ENDPOINT_URL";
    } else if ((endpoint = profile.ConfigValue("s3.endpoint_url"))) {
      origin = fmt::format("{} [{}] s3.endpoint_url", config_path, config_section);
    } else if (auto services = profile.ConfigValue("services")) {
      auto it = config_file.find("services " + *services);
      if (it != config_file.end()) {
        if (auto e = it->second.find("s3.endpoint_url");
            e != it->second.end() && !e->second.empty()) {
          endpoint = e->second;
          origin = fmt::format("{} [services {}] s3.endpoint_url", config_path, *services);
        }
      }
    }
    if (!endpoint) {
      if ((endpoint = profile.ConfigValue("endpoint_url"))) {
        origin = fmt::format("{} [{}] endpoint_url", config_path, config_section);
      }
    }
    if (endpoint) {
      ASSIGN_OR_RETURN(config.endpoint_url, NormalizeEndpoint(*endpoint, origin));
    }
  }

  // --- addressing style ---
  if (auto style = env("TRADELAKE_S3_ADDRESSING")) {
    ASSIGN_OR_RETURN(config.addressing_style,
                     ParseS3AddressingStyle(*style, "TRADELAKE_S3_ADDRESSING"));
  } else if (auto pstyle = profile.ConfigValue("s3.addressing_style")) {
    ASSIGN_OR_RETURN(config.addressing_style,
                     ParseS3AddressingStyle(*pstyle, fmt::format("{} [{}] s3.addressing_style",
                                                                 config_path, config_section)));
  }

  // --- credentials ---
  if (!options.profile) {
    auto id = env("AWS_ACCESS_KEY_ID");
    auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (id && secret) {
      config.credentials = {*id, *secret, env("AWS_SESSION_TOKEN")};
      if (!config.credentials.session_token)
        config.credentials.session_token = env("AWS_SECURITY_TOKEN");
      config.credentials_source = "environment (AWS_ACCESS_KEY_ID)";
      return config;
    }
    if (id || secret) {
      return FailedPrecondition(fmt::format("{} is set but {} is not; set both or neither",
                                            id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                                            id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"));
    }
  }
  // botocore's order: assume-role, web identity and SSO come before the
  // credentials file, credential_process after it.
  RETURN_IF_ERROR(
      UnsupportedProvider(profile, config.profile,
                          {"role_arn", "web_identity_token_file", "sso_session", "sso_start_url"}));
  const std::string credentials_where = fmt::format("{} [{}]", credentials_path, config.profile);
  ASSIGN_OR_RETURN(auto from_credentials, KeysFromSection(profile.credentials, credentials_where));
  if (from_credentials) {
    config.credentials = std::move(*from_credentials);
    config.credentials_source = credentials_where;
    return config;
  }
  RETURN_IF_ERROR(UnsupportedProvider(profile, config.profile, {"credential_process"}));
  const std::string config_where = fmt::format("{} [{}]", config_path, config_section);
  ASSIGN_OR_RETURN(auto from_config, KeysFromSection(profile.config, config_where));
  if (from_config) {
    config.credentials = std::move(*from_config);
    config.credentials_source = config_where;
    return config;
  }
  if (!options.require_credentials) return config;

  std::string looked =
      options.profile ? "" : "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), ";
  looked += credentials_where + ", " + config_where;
  std::string also;
  if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI") ||
      env("AWS_WEB_IDENTITY_TOKEN_FILE")) {
    also = " (container and web-identity credentials are not supported)";
  }
  return FailedPrecondition(fmt::format(
      "no AWS credentials found; looked in {}{}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
      "or run `aws configure`",
      looked, also));
}

std::string EffectiveS3Endpoint(const AwsConfig& config) {
  if (!config.endpoint_url.empty()) return config.endpoint_url;
  return fmt::format("https://s3.{}.amazonaws.com", config.region);
}

S3AddressingStyle EffectiveAddressingStyle(const AwsConfig& config, std::string_view bucket) {
  if (config.addressing_style != S3AddressingStyle::kAuto) return config.addressing_style;
  if (!config.endpoint_url.empty()) return S3AddressingStyle::kPath;
  // A bucket name is a DNS label only without dots (TLS wildcard certificates
  // cover one label) and upper case; botocore falls back to path-style too.
  for (const char c : bucket) {
    if (c == '.' || std::isupper(static_cast<unsigned char>(c)) || c == '_')
      return S3AddressingStyle::kPath;
  }
  return S3AddressingStyle::kVirtual;
}

}  // namespace tradelake
