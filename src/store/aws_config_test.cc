#include "store/aws_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tradelake {
namespace {

namespace fs = std::filesystem;

using Env = std::map<std::string, std::string, std::less<>>;

// A fake home folder with optional ~/.aws/credentials and ~/.aws/config.
class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    home_ = fs::temp_directory_path() /
            ("tradelake-awsconfig-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(home_);
    fs::create_directories(home_ / ".aws");
  }
  void TearDown() override { fs::remove_all(home_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(home_ / ".aws" / name) << text;
  }
  std::string Path(const std::string& name) const { return (home_ / ".aws" / name).string(); }

  // An environment with HOME set to the fake home, plus `vars`.
  Env WithHome(Env vars = {}) const {
    vars.emplace("HOME", home_.string());
    return vars;
  }

  Result<AwsConfig> Resolve(Env vars, AwsConfigOptions options = {}) {
    return ResolveAwsConfig(MapEnv(WithHome(std::move(vars))), options);
  }

  fs::path home_;
};

TEST_F(AwsConfigTest, EnvironmentCredentialsWinOverFiles) {
  Write("credentials",
        "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = filesecret\n");
  auto c = Resolve({{"AWS_ACCESS_KEY_ID", "AKIAENV"},
                    {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                    {"AWS_SESSION_TOKEN", "tok"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credentials.access_key_id, "AKIAENV");
  EXPECT_EQ(c->credentials.secret_access_key, "envsecret");
  EXPECT_EQ(c->credentials.session_token, "tok");
  EXPECT_EQ(c->credentials_source, "environment (AWS_ACCESS_KEY_ID)");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->endpoint_url, "");
}

TEST_F(AwsConfigTest, HalfAKeyPairInTheEnvironmentIsAnError) {
  auto c = Resolve({{"AWS_ACCESS_KEY_ID", "AKIAENV"}});
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos)
      << c.status().ToString();
}

TEST_F(AwsConfigTest, DefaultProfileFromTheCredentialsFile) {
  Write("credentials",
        "# comment\n[default]\naws_access_key_id=AKIADEF\naws_secret_access_key = s#cret;x \n"
        "aws_session_token = t1\n\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = "
        "o\n");
  auto c = Resolve({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credentials.access_key_id, "AKIADEF");
  EXPECT_EQ(c->credentials.secret_access_key, "s#cret;x");  // no inline comments, as botocore
  EXPECT_EQ(c->credentials.session_token, "t1");
  EXPECT_EQ(c->credentials_source, Path("credentials") + " [default]");
}

TEST_F(AwsConfigTest, AwsProfileSelectsSectionsInBothFiles) {
  Write("credentials",
        "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = d\n"
        "[prod]\naws_access_key_id = AKIAPROD\naws_secret_access_key = p\n");
  Write("config",
        "[default]\nregion = us-west-2\n[profile prod]\nregion = eu-west-1\n"
        "[prod]\nregion = ap-south-1\n");  // "[prod]" is not a profile in the config file
  auto c = Resolve({{"AWS_PROFILE", "prod"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->profile, "prod");
  EXPECT_EQ(c->credentials.access_key_id, "AKIAPROD");
  EXPECT_EQ(c->region, "eu-west-1");
}

TEST_F(AwsConfigTest, CredentialsMayLiveInTheConfigFile) {
  Write("config",
        "[profile dev]\naws_access_key_id = AKIACFG\naws_secret_access_key = c\nregion = "
        "eu-central-1\n");
  auto c = Resolve({{"AWS_PROFILE", "dev"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credentials.access_key_id, "AKIACFG");
  EXPECT_EQ(c->credentials_source, Path("config") + " [profile dev]");
  EXPECT_EQ(c->region, "eu-central-1");
}

TEST_F(AwsConfigTest, ExplicitProfileOptionIgnoresEnvironmentCredentials) {
  Write("credentials", "[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = c\n");
  auto c = Resolve({{"AWS_ACCESS_KEY_ID", "AKIAENV"}, {"AWS_SECRET_ACCESS_KEY", "e"}},
                   AwsConfigOptions{.profile = "ci"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credentials.access_key_id, "AKIACI");
}

TEST_F(AwsConfigTest, FileLocationsComeFromTheEnvironment) {
  const fs::path other = home_ / "elsewhere";
  fs::create_directories(other);
  std::ofstream(other / "creds")
      << "[default]\naws_access_key_id = AKIAX\naws_secret_access_key = x\n";
  std::ofstream(other / "conf") << "[default]\nregion = sa-east-1\n";
  auto c = Resolve({{"AWS_SHARED_CREDENTIALS_FILE", (other / "creds").string()},
                    {"AWS_CONFIG_FILE", (other / "conf").string()}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->credentials.access_key_id, "AKIAX");
  EXPECT_EQ(c->region, "sa-east-1");
}

TEST_F(AwsConfigTest, MissingCredentialsNameEveryPlaceLooked) {
  auto c = Resolve({});
  ASSERT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  const std::string m = c.status().message();
  EXPECT_NE(m.find("AWS_ACCESS_KEY_ID"), std::string::npos) << m;
  EXPECT_NE(m.find(Path("credentials") + " [default]"), std::string::npos) << m;
  EXPECT_NE(m.find(Path("config") + " [default]"), std::string::npos) << m;
  // Without the requirement the rest of the configuration still resolves.
  AwsConfigOptions relaxed_options;
  relaxed_options.require_credentials = false;
  auto relaxed = Resolve({{"AWS_REGION", "eu-north-1"}}, relaxed_options);
  ASSERT_TRUE(relaxed.ok()) << relaxed.status().ToString();
  EXPECT_EQ(relaxed->region, "eu-north-1");
  EXPECT_TRUE(relaxed->credentials.access_key_id.empty());
}

TEST_F(AwsConfigTest, UnknownExplicitProfileIsNotFound) {
  Write("credentials", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n");
  auto c = Resolve({{"AWS_PROFILE", "nope"}});
  ASSERT_EQ(c.status().code(), StatusCode::kNotFound) << c.status().ToString();
  EXPECT_NE(c.status().message().find("nope"), std::string::npos);
}

TEST_F(AwsConfigTest, RegionOrder) {
  Write("credentials", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n");
  Write("config", "[default]\nregion = eu-west-3\n");
  EXPECT_EQ(Resolve({{"AWS_REGION", "us-west-1"}, {"AWS_DEFAULT_REGION", "us-west-2"}})->region,
            "us-west-1");
  EXPECT_EQ(Resolve({{"AWS_DEFAULT_REGION", "us-west-2"}})->region, "us-west-2");
  EXPECT_EQ(Resolve({})->region, "eu-west-3");
  Write("config", "[default]\n");
  EXPECT_EQ(Resolve({})->region, "us-east-1");
  EXPECT_EQ(Resolve({{"AWS_REGION", "US East"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AwsConfigTest, EndpointOrderAndAddressingStyle) {
  Write("credentials", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n");
  Write("config",
        "[default]\nendpoint_url = http://profile-generic:1\n"
        "s3 =\n  endpoint_url = http://profile-s3:2/\n  addressing_style = virtual\n");
  auto c =
      Resolve({{"AWS_ENDPOINT_URL_S3", "http://env-s3:3/"}, {"AWS_ENDPOINT_URL", "http://env:4"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->endpoint_url, "http://env-s3:3");
  EXPECT_EQ(Resolve({{"AWS_ENDPOINT_URL", "http://env:4"}})->endpoint_url, "http://env:4");
  auto from_profile = Resolve({});
  ASSERT_TRUE(from_profile.ok()) << from_profile.status().ToString();
  EXPECT_EQ(from_profile->endpoint_url, "http://profile-s3:2");
  EXPECT_EQ(from_profile->addressing_style, S3AddressingStyle::kVirtual);
  EXPECT_EQ(Resolve({{"TRADELAKE_S3_ADDRESSING", "path"}})->addressing_style,
            S3AddressingStyle::kPath);
  EXPECT_EQ(Resolve({{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"},
                     {"AWS_ENDPOINT_URL", "http://env:4"}})
                ->endpoint_url,
            "");
  EXPECT_EQ(Resolve({{"TRADELAKE_S3_ADDRESSING", "sideways"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Resolve({{"AWS_ENDPOINT_URL", "localhost:9000"}}).status().code(),
            StatusCode::kInvalidArgument);

  Write("config", "[default]\nendpoint_url = http://profile-generic:1\n");
  EXPECT_EQ(Resolve({})->endpoint_url, "http://profile-generic:1");
}

TEST_F(AwsConfigTest, ServicesSectionProvidesTheS3Endpoint) {
  Write("credentials", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n");
  Write(
      "config",
      "[default]\nservices = local\n[services local]\ns3 =\n  endpoint_url = http://minio:9000\n");
  auto c = Resolve({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->endpoint_url, "http://minio:9000");
}

TEST_F(AwsConfigTest, AutoAddressingIsVirtualOnAwsAndPathElsewhere) {
  AwsConfig aws;
  EXPECT_EQ(EffectiveAddressingStyle(aws, "lake-bucket"), S3AddressingStyle::kVirtual);
  EXPECT_EQ(EffectiveAddressingStyle(aws, "lake.with.dots"), S3AddressingStyle::kPath);
  EXPECT_EQ(EffectiveS3Endpoint(aws), "https://s3.us-east-1.amazonaws.com");
  aws.endpoint_url = "http://127.0.0.1:5000";
  EXPECT_EQ(EffectiveAddressingStyle(aws, "lake-bucket"), S3AddressingStyle::kPath);
  aws.addressing_style = S3AddressingStyle::kVirtual;
  EXPECT_EQ(EffectiveAddressingStyle(aws, "lake-bucket"), S3AddressingStyle::kVirtual);
}

TEST_F(AwsConfigTest, UnsupportedProvidersSayWhatToDoInstead) {
  Write("config",
        "[profile sso]\nsso_session = corp\nregion = us-east-2\n"
        "[profile proc]\ncredential_process = /bin/echo\n");
  auto sso = Resolve({{"AWS_PROFILE", "sso"}});
  ASSERT_EQ(sso.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(sso.status().message().find("sso_session"), std::string::npos)
      << sso.status().ToString();
  EXPECT_NE(sso.status().message().find("export-credentials"), std::string::npos);
  auto proc = Resolve({{"AWS_PROFILE", "proc"}});
  EXPECT_NE(proc.status().message().find("credential_process"), std::string::npos)
      << proc.status().ToString();
}

TEST_F(AwsConfigTest, MalformedFilesNameFileAndLine) {
  Write("credentials", "[default]\naws_access_key_id = A\nthis line is wrong\n");
  auto c = Resolve({});
  ASSERT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(Path("credentials") + " line 3"), std::string::npos)
      << c.status().ToString();
  Write("credentials", "aws_access_key_id = A\n");
  EXPECT_EQ(Resolve({}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AwsConfigTest, PartialKeyPairInAFileIsAnError) {
  Write("credentials", "[default]\naws_access_key_id = AKIAONLY\n");
  auto c = Resolve({});
  ASSERT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("aws_secret_access_key"), std::string::npos)
      << c.status().ToString();
}

TEST(AwsIni, NestedBlocksCrlfAndCase) {
  auto ini = ParseAwsIni(
      "[profile  a]\r\nRegion = x\r\ns3 =\r\n    Addressing_Style = path\r\n"
      "    max_concurrent_requests = 4\r\nnext = y\r\n",
      "test");
  ASSERT_TRUE(ini.ok()) << ini.status().ToString();
  const auto& a = ini->at("profile a");
  EXPECT_EQ(a.at("region"), "x");
  EXPECT_EQ(a.at("s3.addressing_style"), "path");
  EXPECT_EQ(a.at("s3.max_concurrent_requests"), "4");
  EXPECT_EQ(a.at("next"), "y");
}

}  // namespace
}  // namespace tradelake
