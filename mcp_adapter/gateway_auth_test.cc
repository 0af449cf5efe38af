#include "mcp_adapter/gateway_auth.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace latchkey::mcp {
namespace {

constexpr char kToken[] = "gw_0123456789abcdef";

TEST(GatewayAuthTest, AcceptsBearerAndBasicPassword) {
  EXPECT_TRUE(GatewayCredentialMatches("Bearer gw_0123456789abcdef", kToken));
  EXPECT_TRUE(GatewayCredentialMatches("bearer gw_0123456789abcdef", kToken));
  EXPECT_TRUE(GatewayCredentialMatches(
      "Basic " + absl::Base64Escape("git:gw_0123456789abcdef"), kToken));
  EXPECT_TRUE(GatewayCredentialMatches(
      "basic " + absl::Base64Escape(":gw_0123456789abcdef"), kToken));
}

TEST(GatewayAuthTest, AcceptsTheTokenAsSigV4AccessKeyId) {
  EXPECT_TRUE(GatewayCredentialMatches(
      "AWS4-HMAC-SHA256 Credential=gw_0123456789abcdef/20260101/us-east-1/"
      "s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00ff",
      kToken));
  EXPECT_FALSE(GatewayCredentialMatches(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/"
      "s3/aws4_request, SignedHeaders=host, Signature=00ff",
      kToken));
  EXPECT_FALSE(GatewayCredentialMatches(
      "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00ff", kToken));
  EXPECT_FALSE(GatewayCredentialMatches(
      "AWS4-HMAC-SHA256 Credential=gw_0123456789abcdefX/2026", kToken));
}

TEST(GatewayAuthTest, RefusesEverythingElse) {
  EXPECT_FALSE(GatewayCredentialMatches("", kToken));
  EXPECT_FALSE(GatewayCredentialMatches("Bearer wrong", kToken));
  EXPECT_FALSE(GatewayCredentialMatches("Bearer gw_0123456789abcdef", ""));
  // The token as the user name, not the password.
  EXPECT_FALSE(GatewayCredentialMatches(
      "Basic " + absl::Base64Escape("gw_0123456789abcdef"), kToken));
  EXPECT_FALSE(GatewayCredentialMatches(
      "Basic " + absl::Base64Escape("gw_0123456789abcdef:x"), kToken));
  EXPECT_FALSE(GatewayCredentialMatches("Basic !!!notbase64", kToken));
  EXPECT_FALSE(GatewayCredentialMatches("Digest gw_0123456789abcdef", kToken));
}

}  // namespace
}  // namespace latchkey::mcp
