#include "rules/header_policy.h"

#include "gtest/gtest.h"

namespace latchkey {
namespace {

absl::Status Check(const std::string& name, const std::string& value) {
  google::protobuf::RepeatedPtrField<v1::Header> headers;
  v1::Header* header = headers.Add();
  header->set_name(name);
  header->set_value(value);
  return CheckAgentHeaders(headers);
}

TEST(HeaderPolicyTest, OrdinaryHeadersPass) {
  EXPECT_TRUE(Check("Accept", "application/json").ok());
  EXPECT_TRUE(Check("X-GitHub-Api-Version", "2022-11-28").ok());
  EXPECT_TRUE(Check("Content-Type", "text/plain; charset=utf-8").ok());
}

TEST(HeaderPolicyTest, CredentialAndRoutingHeadersRefused) {
  for (const char* name :
       {"Authorization", "authorization", "AUTHORIZATION", "Cookie", "Host",
        "Proxy-Authorization", "Proxy-Foo", "Connection", "Transfer-Encoding",
        "Content-Length", "TE", "Upgrade", "X-Forwarded-For"}) {
    absl::Status status = Check(name, "x");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
  }
}

TEST(HeaderPolicyTest, InjectionRefused) {
  EXPECT_FALSE(Check("X-A", "a\r\nAuthorization: Bearer x").ok());
  EXPECT_FALSE(Check("X-A", std::string("a\0b", 3)).ok());
  EXPECT_FALSE(Check("X-A\r\nHost", "x").ok());
  EXPECT_FALSE(Check("X A", "x").ok());
  EXPECT_FALSE(Check("X:A", "x").ok());
  EXPECT_FALSE(Check("", "x").ok());
  EXPECT_FALSE(Check("X-\xc3\xa4", "x").ok());
  EXPECT_FALSE(Check("X-A", std::string(9000, 'a')).ok());
}

TEST(HeaderPolicyTest, DroppedResponseHeaders) {
  EXPECT_TRUE(IsDroppedResponseHeader("Set-Cookie"));
  EXPECT_TRUE(IsDroppedResponseHeader("set-cookie"));
  EXPECT_TRUE(IsDroppedResponseHeader("Transfer-Encoding"));
  EXPECT_FALSE(IsDroppedResponseHeader("Content-Type"));
}

}  // namespace
}  // namespace latchkey
