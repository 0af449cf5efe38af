#include "rules/http_method.h"

#include <string>

#include "gtest/gtest.h"

namespace latchkey::policy {
namespace {

TEST(HttpMethodTest, RequestMethods) {
  for (const char* ok :
       {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
        "CONNECT", "PURGE", "M-SEARCH", "MKCOL", "X_1.2~"}) {
    EXPECT_TRUE(ValidateRequestMethod(ok).ok()) << ok;
  }
  for (const char* bad :
       {"", "get", "Get", "gET", "*", "GET ", " GET", "GE T", "GET\r\n",
        "GET\t", "GE:T", "G/T", "GÉT", "GET\x7f"}) {
    absl::Status s = ValidateRequestMethod(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateRequestMethod(std::string(33, 'A')).ok());
  EXPECT_TRUE(ValidateRequestMethod(std::string(32, 'A')).ok());
  EXPECT_FALSE(ValidateRequestMethod(std::string("GE\0T", 4)).ok());
  // The message tells the model the exact spelling to use.
  EXPECT_NE(ValidateRequestMethod("get").message().find("\"GET\""),
            absl::string_view::npos);
}

TEST(HttpMethodTest, RuleMethodsAreUpperCased) {
  EXPECT_EQ(NormalizeRuleMethod("get").value_or(""), "GET");
  EXPECT_EQ(NormalizeRuleMethod("Delete").value_or(""), "DELETE");
  EXPECT_EQ(NormalizeRuleMethod("*").value_or(""), "*");
  EXPECT_EQ(NormalizeRuleMethod("m-search").value_or(""), "M-SEARCH");
  for (const char* bad :
       {"", " ", "GET POST", "GET,POST", "GE*", "**", "G\nT"}) {
    EXPECT_FALSE(NormalizeRuleMethod(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace latchkey::policy
