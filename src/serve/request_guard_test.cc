#include "serve/request_guard.h"

#include <gtest/gtest.h>

namespace tradelake {
namespace {

RequestGuardOptions Loopback() {
  auto g = MakeRequestGuard("127.0.0.1", "", /*open_mode=*/true);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return *g;
}

TEST(RequestGuard, HostNamesLoseTheirPortAndBrackets) {
  EXPECT_EQ(HostNameOf("127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(HostNameOf("[::1]:8080"), "::1");
  EXPECT_EQ(HostNameOf("LocalHost."), "localhost");
  EXPECT_EQ(HostNameOf(" evil.example:80 "), "evil.example");
}

TEST(RequestGuard, LoopbackNamesPassAReboundDnsNameDoesNot) {
  const RequestGuardOptions g = Loopback();
  for (const char* ok : {"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost", "LOCALHOST:1"}) {
    EXPECT_TRUE(CheckHost(g, ok).ok()) << ok;
  }
  for (const char* bad : {"evil.example", "evil.example:8080", "127.0.0.1.evil.example:8080", "", "127.0.0.2:8080",
                          "localhost.evil.example"}) {
    Status s = CheckHost(g, bad);
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << bad;
  }
  EXPECT_NE(CheckHost(g, "evil.example:8080").message().find("--public-url"), std::string::npos);
}

TEST(RequestGuard, PublicUrlAddsItsHostAndOrigin) {
  auto g = MakeRequestGuard("0.0.0.0", "https://Lake.Example.com/tradelake/", /*open_mode=*/false);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(g->check_host);
  EXPECT_TRUE(CheckHost(*g, "lake.example.com").ok());
  EXPECT_FALSE(CheckHost(*g, "other.example.com").ok());
  // Behind the proxy the Host may be the upstream's; the page's origin is the public one.
  EXPECT_TRUE(CheckSameOrigin(*g, "127.0.0.1:8080", "https://lake.example.com", "same-origin").ok());
  EXPECT_FALSE(CheckSameOrigin(*g, "127.0.0.1:8080", "https://evil.example", "").ok());
  for (const char* bad : {"ftp://x", "lake.example.com", "https://", "https://u@evil/"}) {
    EXPECT_EQ(MakeRequestGuard("127.0.0.1", bad, true).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RequestGuard, TokenServerOnAWildcardAddressCannotKnowItsNames) {
  auto g = MakeRequestGuard("0.0.0.0", "", /*open_mode=*/false);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->check_host);
  EXPECT_TRUE(CheckHost(*g, "10.1.2.3:8080").ok());
  auto specific = MakeRequestGuard("10.1.2.3", "", /*open_mode=*/false);
  ASSERT_TRUE(specific.ok());
  EXPECT_TRUE(CheckHost(*specific, "10.1.2.3:8080").ok());
  EXPECT_FALSE(CheckHost(*specific, "evil.example:8080").ok());
}

TEST(RequestGuard, CrossSiteBrowserRequestsAreRefusedOthersPass) {
  const RequestGuardOptions g = Loopback();
  const std::string host = "127.0.0.1:8080";
  // curl, scripts: no Origin, no Sec-Fetch-Site.
  EXPECT_TRUE(CheckSameOrigin(g, host, "", "").ok());
  // The dashboard itself.
  EXPECT_TRUE(CheckSameOrigin(g, host, "http://127.0.0.1:8080", "same-origin").ok());
  EXPECT_TRUE(CheckSameOrigin(g, host, "", "none").ok());
  // Another page, another port of the same host, a sandboxed frame.
  EXPECT_FALSE(CheckSameOrigin(g, host, "http://127.0.0.1:9999", "same-site").ok());
  EXPECT_FALSE(CheckSameOrigin(g, host, "https://evil.example", "cross-site").ok());
  EXPECT_FALSE(CheckSameOrigin(g, host, "https://evil.example", "").ok());
  EXPECT_FALSE(CheckSameOrigin(g, host, "null", "").ok());
  EXPECT_FALSE(CheckSameOrigin(g, host, "", "cross-site").ok());
  EXPECT_FALSE(CheckSameOrigin(g, host, "http://127.0.0.1:8080.evil.example", "").ok());
  EXPECT_EQ(CheckSameOrigin(g, host, "https://evil.example", "cross-site").code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace tradelake
