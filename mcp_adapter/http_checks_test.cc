#include "mcp_adapter/http_checks.h"

#include "gtest/gtest.h"

namespace latchkey::mcp {
namespace {

TEST(ParseLoopbackAddress, AcceptsLoopbackHosts) {
  auto v4 = ParseLoopbackAddress("127.0.0.1:8765");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8765);
  auto v6 = ParseLoopbackAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  auto name = ParseLoopbackAddress("LocalHost:9000");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->host, "127.0.0.1");
}

TEST(ParseLoopbackAddress, RefusesOtherHostsWithAClearMessage) {
  for (const char* text :
       {"0.0.0.0:8765", "192.168.1.5:80", "example.com:80", "[::]:80",
        "127.0.0.2:80", "localhost.evil.com:80"}) {
    auto parsed = ParseLoopbackAddress(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.status().message().find("only listens on loopback"),
              std::string::npos)
        << parsed.status();
  }
}

TEST(ParseLoopbackAddress, RefusesMalformedAddresses) {
  for (const char* text :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:+80", "::1:80", "[::1]80", "[::1"}) {
    auto parsed = ParseLoopbackAddress(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(IsLoopbackOrigin, AcceptsOnlyLoopbackOrigins) {
  EXPECT_TRUE(IsLoopbackOrigin("http://127.0.0.1:8765"));
  EXPECT_TRUE(IsLoopbackOrigin("http://localhost"));
  EXPECT_TRUE(IsLoopbackOrigin("https://[::1]:443"));
  EXPECT_FALSE(IsLoopbackOrigin("http://evil.example:8765"));
  EXPECT_FALSE(IsLoopbackOrigin("http://localhost.evil.example"));
  EXPECT_FALSE(IsLoopbackOrigin("http://127.0.0.1.nip.io"));
  EXPECT_FALSE(IsLoopbackOrigin("null"));
  EXPECT_FALSE(IsLoopbackOrigin("file://"));
  EXPECT_FALSE(IsLoopbackOrigin("http://127.0.0.1:notaport"));
}

TEST(IsLoopbackHost, AcceptsOnlyLoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1:8765"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:80"));
  EXPECT_FALSE(IsLoopbackHost("rebound.example:8765"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(BearerMatches, ComparesTheWholeToken) {
  const std::string token = "0123456789abcdef0123";
  EXPECT_TRUE(BearerMatches("Bearer " + token, token));
  EXPECT_TRUE(BearerMatches("bearer " + token, token));
  EXPECT_FALSE(BearerMatches("Bearer " + token.substr(1), token));
  EXPECT_FALSE(BearerMatches("Bearer " + token + "x", token));
  EXPECT_FALSE(BearerMatches("Basic " + token, token));
  EXPECT_FALSE(BearerMatches(token, token));
  EXPECT_FALSE(BearerMatches("", token));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
}

TEST(AcceptsMediaType, ReadsListsParametersAndWildcards) {
  EXPECT_TRUE(AcceptsMediaType("application/json, text/event-stream",
                               "text/event-stream"));
  EXPECT_TRUE(AcceptsMediaType("application/json;q=0.9", "application/json"));
  EXPECT_TRUE(AcceptsMediaType("*/*", "application/json"));
  EXPECT_TRUE(AcceptsMediaType("text/*", "text/event-stream"));
  EXPECT_FALSE(AcceptsMediaType("application/json", "text/event-stream"));
  EXPECT_FALSE(AcceptsMediaType("", "application/json"));
}

}  // namespace
}  // namespace latchkey::mcp
