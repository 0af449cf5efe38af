#include "vault/auth/oauth1.h"

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kPhotosSecret[] =
    R"({"consumer_secret": "kd94hf93k423kf44",
        "token_secret": "pfkkdhi9sl3r4s00"})";

OutgoingRequest PhotosRequest() {
  OutgoingRequest request;
  request.method = "GET";
  request.origin = "http://photos.example.net:80";
  request.path = "/photos";
  request.query = {{"file", "vacation.jpg"}, {"size", "original"}};
  return request;
}

std::string SignedHeader(const v1::OAuth1Auth& config, OutgoingRequest request,
                         absl::Time now, const std::string& nonce,
                         const std::string& secret = kPhotosSecret) {
  auto scheme = MakeOAuth1(config);
  EXPECT_TRUE(scheme.ok());
  AuthContext context;
  context.now = now;
  context.nonce = nonce;
  ResponseScrubber scrubber;
  absl::Status status = (*scheme)->Apply(SecureBuffer::CopyOf(secret), context,
                                         &request, &scrubber);
  EXPECT_TRUE(status.ok()) << status;
  if (request.credential_headers.size() != 1) return "";
  return std::string(request.credential_headers[0].second.view());
}

v1::OAuth1Auth PhotosConfig() {
  v1::OAuth1Auth config;
  config.set_consumer_key("dpf43f3p2l4k3l03");
  config.set_token("nnch734d00sl2jdk");
  return config;
}

// RFC 5849 section 1.2: the photos request, signed without oauth_version.
TEST(OAuth1Test, Rfc5849Section1_2) {
  v1::OAuth1Auth config = PhotosConfig();
  config.set_realm("Photos");
  config.set_omit_version(true);
  std::string header = SignedHeader(config, PhotosRequest(),
                                    absl::FromUnixSeconds(137131202), "chapoH");
  EXPECT_TRUE(absl::StartsWith(header, "OAuth realm=\"Photos\", "));
  EXPECT_TRUE(absl::StrContains(
      header, "oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\""))
      << header;
}

// OAuth Core 1.0a appendix A.5: the same request with oauth_version=1.0.
TEST(OAuth1Test, OAuthCore1_0aAppendixA5) {
  std::string header =
      SignedHeader(PhotosConfig(), PhotosRequest(),
                   absl::FromUnixSeconds(1191242096), "kllo9940pd9333jh");
  EXPECT_TRUE(absl::StrContains(header, "oauth_version=\"1.0\""));
  EXPECT_TRUE(absl::StrContains(
      header, "oauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\""))
      << header;
}

// RFC 5849 section 3.4.1.1: the base string of a POST with query and form
// body parameters, including encoded and repeated names.
TEST(OAuth1Test, Rfc5849BaseStringExample) {
  OutgoingRequest request;
  request.method = "POST";
  request.origin = "http://example.com:80";
  request.path = "/request";
  request.query = {{"b5", "=%3D"}, {"a3", "a"}, {"c@", ""}, {"a2", "r b"}};
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = "c2&a3=2+q";
  std::string base =
      OAuth1BaseString(request, {{"oauth_consumer_key", "9djdj82h48djs9d2"},
                                 {"oauth_token", "kkk9d7dh3k39sjv7"},
                                 {"oauth_signature_method", "HMAC-SHA1"},
                                 {"oauth_timestamp", "137131201"},
                                 {"oauth_nonce", "7d8f3e4a"}});
  EXPECT_EQ(base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%25"
            "20q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_co"
            "nsumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_"
            "signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oa"
            "uth_token%3Dkkk9d7dh3k39sjv7");
}

TEST(OAuth1Test, RefusesAgentOAuthParamsAndBadSecrets) {
  auto scheme = MakeOAuth1(PhotosConfig());
  ASSERT_TRUE(scheme.ok());
  OutgoingRequest request = PhotosRequest();
  request.query.emplace_back("oauth_signature", "forged");
  ResponseScrubber scrubber;
  EXPECT_EQ(
      (*scheme)
          ->Apply(SecureBuffer::CopyOf(kPhotosSecret), &request, &scrubber)
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(
      (*scheme)->ValidateSecret(SecureBuffer::CopyOf("kd94hf93k423kf44")).ok());
  EXPECT_TRUE(
      (*scheme)->ValidateSecret(SecureBuffer::CopyOf(kPhotosSecret)).ok());
  EXPECT_FALSE(MakeOAuth1(v1::OAuth1Auth()).ok());
}

TEST(OAuth1Test, SecretsAndSignatureAreScrubbed) {
  auto scheme = MakeOAuth1(PhotosConfig());
  ASSERT_TRUE(scheme.ok());
  OutgoingRequest request = PhotosRequest();
  ResponseScrubber scrubber;
  ASSERT_TRUE(
      (*scheme)
          ->Apply(SecureBuffer::CopyOf(kPhotosSecret), &request, &scrubber)
          .ok());
  std::string echo = "kd94hf93k423kf44 and pfkkdhi9sl3r4s00";
  EXPECT_GE(scrubber.Scrub(&echo), 2u);
  EXPECT_FALSE(absl::StrContains(echo, "kd94hf93k423kf44"));
  EXPECT_FALSE(absl::StrContains(echo, "pfkkdhi9sl3r4s00"));
}

}  // namespace
}  // namespace latchkey::vault::auth
