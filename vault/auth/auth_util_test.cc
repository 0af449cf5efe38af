#include "vault/auth/auth_util.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace latchkey::vault::auth {
namespace {

TEST(AuthUtilTest, PercentEncodingRoundTrips) {
  EXPECT_EQ(PercentEncode("a b+c/~é"), "a%20b%2Bc%2F~%C3%A9");
  EXPECT_EQ(PercentDecode("a%20b+c%2f%zz", false), "a b+c/%zz");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
}

TEST(AuthUtilTest, HostHeaderDropsDefaultPorts) {
  EXPECT_EQ(HostHeader("https://api.example.com:443"), "api.example.com");
  EXPECT_EQ(HostHeader("http://127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(HostHeader("http://[::1]:80"), "[::1]");
  EXPECT_EQ(HostHeader("https://[::1]:8443"), "[::1]:8443");
}

TEST(AuthUtilTest, Base64) {
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  auto decoded = Base64Decode("aGVsbG8=");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->view(), "hello");
  EXPECT_FALSE(Base64Decode("abc").ok());
}

TEST(AuthUtilTest, SecretFieldsNamesFieldsNeverValues) {
  auto fields = SecretFields(
      SecureBuffer::CopyOf(R"({"a": "one", "b": "two"})"), {"a"}, {"b", "c"});
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ((*fields)["a"].view(), "one");
  EXPECT_EQ((*fields)["b"].view(), "two");

  auto missing =
      SecretFields(SecureBuffer::CopyOf(R"({"b": "hunter2"})"), {"a"}, {"b"});
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "'a'"));
  EXPECT_FALSE(absl::StrContains(missing.status().message(), "hunter2"));

  auto unknown = SecretFields(
      SecureBuffer::CopyOf(R"({"a": "x", "typo": "hunter2"})"), {"a"}, {});
  EXPECT_FALSE(unknown.ok());
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "typo"));

  EXPECT_FALSE(SecretFields(SecureBuffer::CopyOf("hunter2"), {"a"}, {}).ok());
  EXPECT_FALSE(
      SecretFields(SecureBuffer::CopyOf(R"({"a": 5})"), {"a"}, {}).ok());
}

}  // namespace
}  // namespace latchkey::vault::auth
