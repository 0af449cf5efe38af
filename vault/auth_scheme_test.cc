#include "vault/auth_scheme.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

constexpr char kSecret[] = "sk_test_0123456789abcdef";

struct Applied {
  absl::Status status;
  OutgoingRequest request;
  ResponseScrubber scrubber;
};

std::unique_ptr<Applied> Apply(const v1::AuthScheme& config,
                               OutgoingRequest request = {}) {
  auto applied = std::make_unique<Applied>();
  applied->request = std::move(request);
  auto scheme = MakeAuthScheme(config);
  if (!scheme.ok()) {
    applied->status = scheme.status();
    return applied;
  }
  applied->status = (*scheme)->Apply(SecureBuffer::CopyOf(kSecret),
                                     &applied->request, &applied->scrubber);
  return applied;
}

std::string OnlyHeader(const Applied& applied, const std::string& name) {
  EXPECT_EQ(applied.request.credential_headers.size(), 1u);
  EXPECT_EQ(applied.request.credential_headers[0].first, name);
  return std::string(applied.request.credential_headers[0].second.view());
}

TEST(AuthSchemeTest, BearerIsTheDefault) {
  auto applied = Apply(v1::AuthScheme());
  ASSERT_TRUE(applied->status.ok());
  EXPECT_EQ(OnlyHeader(*applied, "Authorization"),
            std::string("Bearer ") + kSecret);
  std::string echo = std::string("got Bearer ") + kSecret;
  EXPECT_GE(applied->scrubber.Scrub(&echo), 1u);
  EXPECT_FALSE(absl::StrContains(echo, kSecret));
}

TEST(AuthSchemeTest, HeaderTemplate) {
  v1::AuthScheme config;
  config.mutable_header()->set_name("Authorization");
  config.mutable_header()->set_value_template("token {secret}");
  auto applied = Apply(config);
  ASSERT_TRUE(applied->status.ok());
  EXPECT_EQ(OnlyHeader(*applied, "Authorization"),
            std::string("token ") + kSecret);

  config.mutable_header()->set_name("X-API-Key");
  config.mutable_header()->clear_value_template();
  applied = Apply(config);
  ASSERT_TRUE(applied->status.ok());
  EXPECT_EQ(OnlyHeader(*applied, "X-API-Key"), kSecret);
}

TEST(AuthSchemeTest, BasicEncodesUserAndSecretAndScrubsTheEncoding) {
  v1::AuthScheme config;
  config.mutable_basic()->set_username("api");
  auto applied = Apply(config);
  ASSERT_TRUE(applied->status.ok());
  std::string encoded = absl::Base64Escape(std::string("api:") + kSecret);
  EXPECT_EQ(OnlyHeader(*applied, "Authorization"), "Basic " + encoded);
  std::string echo = "header was Basic " + encoded;
  applied->scrubber.Scrub(&echo);
  EXPECT_FALSE(absl::StrContains(echo, encoded));
}

TEST(AuthSchemeTest, QueryParameter) {
  v1::AuthScheme config;
  config.mutable_query_param()->set_name("api_key");
  auto applied = Apply(config);
  ASSERT_TRUE(applied->status.ok());
  ASSERT_EQ(applied->request.credential_query.size(), 1u);
  EXPECT_EQ(applied->request.credential_query[0].first, "api_key");
  EXPECT_EQ(applied->request.credential_query[0].second.view(), kSecret);
}

TEST(AuthSchemeTest, AgentCannotCollideWithTheCredential) {
  v1::AuthScheme header;
  header.mutable_header()->set_name("X-API-Key");
  OutgoingRequest request;
  request.headers.emplace_back("x-api-key", "mine");
  EXPECT_EQ(Apply(header, std::move(request))->status.code(),
            absl::StatusCode::kInvalidArgument);

  v1::AuthScheme query;
  query.mutable_query_param()->set_name("api_key");
  OutgoingRequest with_query;
  with_query.query.emplace_back("api_key", "mine");
  EXPECT_EQ(Apply(query, std::move(with_query))->status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AuthSchemeTest, InvalidConfigurationsAreRefused) {
  v1::AuthScheme config;
  config.mutable_header()->set_name("X-Key");
  config.mutable_header()->set_value_template("no placeholder");
  EXPECT_FALSE(MakeAuthScheme(config).ok());
  config.mutable_header()->set_value_template("{secret}{secret}");
  EXPECT_FALSE(MakeAuthScheme(config).ok());
  config.mutable_header()->set_name("Bad Header");
  config.mutable_header()->set_value_template("{secret}");
  EXPECT_FALSE(MakeAuthScheme(config).ok());
  config.mutable_basic()->set_username("a:b");
  EXPECT_FALSE(MakeAuthScheme(config).ok());
  config.mutable_query_param()->set_name("");
  EXPECT_FALSE(MakeAuthScheme(config).ok());
}

}  // namespace
}  // namespace latchkey::vault
