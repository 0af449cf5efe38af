#include "vault/auth/aws_sigv4.h"

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace latchkey::vault::auth {
namespace {

// The AWS SigV4 test suite's example credentials and instant
// (2015-08-30T12:36:00Z).
constexpr char kSuiteSecret[] =
    R"({"access_key_id": "AKIDEXAMPLE",
        "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})";
const absl::Time kSuiteTime = absl::FromUnixSeconds(1440938160);

std::string Authorization(const OutgoingRequest& request) {
  for (const auto& [name, value] : request.credential_headers) {
    if (name == "Authorization") return std::string(value.view());
  }
  return "";
}

struct Signed {
  absl::Status status;
  OutgoingRequest request;
  ResponseScrubber scrubber;
};

std::unique_ptr<Signed> Sign(const std::string& service,
                             const std::string& secret, absl::Time now,
                             OutgoingRequest request) {
  v1::AwsSigV4Auth config;
  config.set_region("us-east-1");
  config.set_service(service);
  auto scheme = MakeAwsSigV4(config);
  auto out = std::make_unique<Signed>();
  out->request = std::move(request);
  if (!scheme.ok()) {
    out->status = scheme.status();
    return out;
  }
  AuthContext context;
  context.now = now;
  out->status = (*scheme)->Apply(SecureBuffer::CopyOf(secret), context,
                                 &out->request, &out->scrubber);
  return out;
}

OutgoingRequest SuiteRequest(const std::string& method) {
  OutgoingRequest request;
  request.method = method;
  request.origin = "https://example.amazonaws.com:443";
  request.path = "/";
  return request;
}

std::string SuiteAuthorization(const std::string& signature) {
  return "AWS4-HMAC-SHA256 "
         "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=" +
         signature;
}

TEST(AwsSigV4Test, SuiteGetVanilla) {
  auto out = Sign("service", kSuiteSecret, kSuiteTime, SuiteRequest("GET"));
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_EQ(Authorization(out->request),
            SuiteAuthorization("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956"
                               "d9b8aae1d763fbf31"));
}

TEST(AwsSigV4Test, SuitePostVanilla) {
  auto out = Sign("service", kSuiteSecret, kSuiteTime, SuiteRequest("POST"));
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_EQ(Authorization(out->request),
            SuiteAuthorization("5da7c1a2acd57cee7505fc6676e4e544621c30862966e37"
                               "dddb68e92efbe5d6b"));
}

TEST(AwsSigV4Test, SuiteGetVanillaQueryOrderKeyCase) {
  OutgoingRequest request = SuiteRequest("GET");
  request.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  auto out = Sign("service", kSuiteSecret, kSuiteTime, std::move(request));
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_EQ(Authorization(out->request),
            SuiteAuthorization("b97d918cfa904a5beff61c982a1b6f458b799221646efd9"
                               "9d3219ec94cdf2500"));
}

// Amazon S3 API reference, "Example: GET Object" (first 10 bytes of
// test.txt), which also signs the agent's Range header and S3's
// x-amz-content-sha256.
TEST(AwsSigV4Test, S3GetObjectExample) {
  OutgoingRequest request;
  request.method = "GET";
  request.origin = "https://examplebucket.s3.amazonaws.com:443";
  request.path = "/test.txt";
  request.headers = {{"Range", "bytes=0-9"}};
  auto out = Sign("s3",
                  R"({"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                      "secret_access_key":
                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})",
                  absl::FromUnixSeconds(1369353600), std::move(request));
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_EQ(Authorization(out->request),
            "AWS4-HMAC-SHA256 "
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c"
            "6036bdb41");
}

TEST(AwsSigV4Test, SessionTokenIsSentSignedAndScrubbed) {
  auto out = Sign("service",
                  R"({"access_key_id": "AKIDEXAMPLE",
                      "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                      "session_token": "FQoGZXIvYXdzEXAMPLETOKEN0123456789"})",
                  kSuiteTime, SuiteRequest("GET"));
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_TRUE(absl::StrContains(Authorization(out->request),
                                "SignedHeaders=host;x-amz-date;"
                                "x-amz-security-token,"));
  std::string echo =
      "token FQoGZXIvYXdzEXAMPLETOKEN0123456789 key "
      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  EXPECT_GE(out->scrubber.Scrub(&echo), 2u);
  EXPECT_FALSE(absl::StrContains(echo, "EXAMPLETOKEN"));
  EXPECT_FALSE(absl::StrContains(echo, "EXAMPLEKEY"));
}

TEST(AwsSigV4Test, RefusesBadSecretsAndConfig) {
  auto out =
      Sign("service", "not json at all", kSuiteTime, SuiteRequest("GET"));
  EXPECT_EQ(out->status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(absl::StrContains(out->status.message(), "not json"));
  out = Sign("service", R"({"access_key_id": "AKID", "secret_key": "x"})",
             kSuiteTime, SuiteRequest("GET"));
  EXPECT_EQ(out->status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(out->status.message(), "secret_key"));
  EXPECT_FALSE(MakeAwsSigV4(v1::AwsSigV4Auth()).ok());

  OutgoingRequest agent_auth = SuiteRequest("GET");
  agent_auth.headers = {{"authorization", "mine"}};
  out = Sign("service", kSuiteSecret, kSuiteTime, std::move(agent_auth));
  EXPECT_EQ(out->status.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace latchkey::vault::auth
