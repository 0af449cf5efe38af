#include "vault/redirect_target.h"

#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

const Origin& Api() {
  static const Origin* origin =
      new Origin(*ParseOrigin("https://api.example.com"));
  return *origin;
}

TEST(RedirectTargetTest, SameOriginIsFollowedWithNormalizedPathAndQuery) {
  absl::StatusOr<RedirectTarget> target = ParseRedirectTarget(
      "https://api.example.com:443/v1/a/../b%7e?page=2&q=a%20b", Api());
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->path, "/v1/b~");
  ASSERT_EQ(target->query.size(), 2u);
  EXPECT_EQ(target->query[1].second, "a b");
}

TEST(RedirectTargetTest, EverythingElseIsRefused) {
  for (const char* url : {
           "https://evil.example.com/v1/x",
           "http://api.example.com/v1/x",             // scheme downgrade
           "https://api.example.com:8443/v1/x",       // other port
           "https://api.example.com@127.0.0.1/v1/x",  // userinfo trick
           "https://user:pw@api.example.com/v1/x",
           "http://169.254.169.254/latest/meta-data/",
           "https://api.example.com.evil.com/v1/x",
           "https://api.example.com/v1/%2f..%2fadmin",  // encoded slash
           "gopher://api.example.com/x",
           "not a url",
       }) {
    absl::StatusOr<RedirectTarget> target = ParseRedirectTarget(url, Api());
    EXPECT_EQ(target.status().code(), absl::StatusCode::kPermissionDenied)
        << url;
    EXPECT_NE(target.status().message().find("never sent to another origin"),
              std::string::npos)
        << target.status();
  }
}

TEST(RedirectTargetTest, StatusesFollowed) {
  for (int s : {301, 302, 303, 307, 308}) EXPECT_TRUE(IsRedirectStatus(s));
  for (int s : {200, 300, 304, 305, 306, 400})
    EXPECT_FALSE(IsRedirectStatus(s));
}

}  // namespace
}  // namespace latchkey::vault
