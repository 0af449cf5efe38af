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

TEST(HeaderPolicyTest, FamiliesAreRefusedInEverySpelling) {
  for (const char* name : {"X-HTTP-Method-Override",
                           "x_http_method_override",
                           "X-HTTP-Method",
                           "X-Method-Override",
                           "X-Original-URL",
                           "X-Rewrite-URL",
                           "X-Forwarded-Host",
                           "x_forwarded_for",
                           "Forwarded",
                           "X-Real-IP",
                           "True-Client-IP",
                           "Via",
                           "Accept-Encoding",
                           "accept_encoding",
                           "Range",
                           "If-Range",
                           "X-Latchkey-Reason",
                           "Max-Forwards",
                           "X-Amz-Date",
                           "Cookie2",
                           "X-Host"}) {
    absl::Status status = Check(name, "x");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(status.message().find(name), std::string::npos) << status;
  }
}

TEST(HeaderPolicyTest, RangesOnlyStreamedAndOptedIn) {
  google::protobuf::RepeatedPtrField<v1::Header> headers;
  v1::Header* range = headers.Add();
  range->set_name("Range");
  range->set_value("bytes=0-9");
  v1::RequestRules rules;
  EXPECT_FALSE(CheckAgentHeaders(headers, rules, /*streamed=*/true).ok());
  rules.set_allow_ranges(true);
  EXPECT_FALSE(CheckAgentHeaders(headers, rules, /*streamed=*/false).ok());
  EXPECT_TRUE(CheckAgentHeaders(headers, rules, /*streamed=*/true).ok());
}

TEST(HeaderPolicyTest, ValuesHttpWouldChangeAreRefused) {
  // Surrounding whitespace is dropped by HTTP, so it is not what was judged.
  EXPECT_FALSE(Check("X-A", " a").ok());
  EXPECT_FALSE(Check("X-A", "a\t").ok());
  EXPECT_FALSE(Check("X-A", "   ").ok());
  EXPECT_FALSE(Check("X-A", "a\x01b").ok());
  EXPECT_FALSE(Check("X-A", "a\x7f").ok());
  EXPECT_TRUE(Check("X-A", "a\tb c").ok());
  EXPECT_TRUE(Check("X-A", "").ok());
}

TEST(HeaderPolicyTest, DuplicatesAndAllowList) {
  google::protobuf::RepeatedPtrField<v1::Header> headers;
  headers.Add()->set_name("X-Trace");
  headers.Add()->set_name("x_trace");
  EXPECT_FALSE(CheckAgentHeaders(headers).ok());
  headers.RemoveLast();
  v1::RequestRules rules;
  rules.add_allowed_request_headers("Accept");
  EXPECT_FALSE(CheckAgentHeaders(headers, rules, false).ok());
  rules.add_allowed_request_headers("x-trace");
  EXPECT_TRUE(CheckAgentHeaders(headers, rules, false).ok());
}

TEST(HeaderPolicyTest, DroppedResponseHeaders) {
  EXPECT_TRUE(IsDroppedResponseHeader("Set-Cookie"));
  EXPECT_TRUE(IsDroppedResponseHeader("set-cookie"));
  EXPECT_TRUE(IsDroppedResponseHeader("Transfer-Encoding"));
  EXPECT_FALSE(IsDroppedResponseHeader("Content-Type"));
}

}  // namespace
}  // namespace latchkey
