#include "vault/auth/multi_part_secret.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "vault/auth/sent_header_for_test.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault {
namespace {

// Datadog: the API key through the header scheme, the application key as a
// second part.
v1::AuthScheme Datadog() {
  v1::AuthScheme config;
  config.mutable_header()->set_name("DD-API-KEY");
  config.set_secret_field("api_key");
  v1::SecretHeader* app = config.add_secret_headers();
  app->set_name("DD-APPLICATION-KEY");
  app->set_field("application_key");
  return config;
}

TEST(MultiPartSecretTest, EachPartGoesToItsHeaderAndIsScrubbed) {
  auto scheme = MakeAuthScheme(Datadog());
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  const SecureBuffer secret = SecureBuffer::CopyOf(
      R"({"api_key": "api-0123456789", "application_key": "app-9876543210"})");
  EXPECT_TRUE((*scheme)->ValidateSecret(secret).ok());
  OutgoingRequest request;
  request.method = "GET";
  request.path = "/api/v1/monitor";
  ResponseScrubber scrubber;
  ASSERT_TRUE((*scheme)->Apply(secret, &request, &scrubber).ok());
  EXPECT_EQ(SentHeader(request, "DD-API-KEY"), "api-0123456789");
  EXPECT_EQ(SentHeader(request, "DD-APPLICATION-KEY"), "app-9876543210");
  std::string echoed = "keys api-0123456789 and app-9876543210";
  scrubber.Scrub(&echoed);
  EXPECT_FALSE(absl::StrContains(echoed, "api-0123456789")) << echoed;
  EXPECT_FALSE(absl::StrContains(echoed, "app-9876543210")) << echoed;
}

TEST(MultiPartSecretTest, SigningSchemeSignsWithItsPartOnly) {
  // OKX: HMAC over the request with the secret key; the passphrase is a
  // header of its own.
  v1::AuthScheme config;
  v1::HmacSigningAuth* hmac = config.mutable_hmac();
  hmac->set_canonical_template("{timestamp}{method}{path_query}{body}");
  hmac->set_signature_header("OK-ACCESS-SIGN");
  hmac->set_encoding("base64");
  config.set_secret_field("secret_key");
  v1::SecretHeader* pass = config.add_secret_headers();
  pass->set_name("OK-ACCESS-PASSPHRASE");
  pass->set_field("passphrase");
  auto multi = MakeAuthScheme(config);
  ASSERT_TRUE(multi.ok()) << multi.status();
  config.clear_secret_field();
  config.clear_secret_headers();
  auto plain = MakeAuthScheme(config);
  ASSERT_TRUE(plain.ok());

  AuthContext context;
  context.now = absl::FromUnixSeconds(1700000000);
  OutgoingRequest a, b;
  a.method = b.method = "GET";
  a.path = b.path = "/api/v5/account/balance";
  ResponseScrubber scrubber;
  ASSERT_TRUE((*multi)
                  ->Apply(SecureBuffer::CopyOf(
                              R"({"secret_key":"s3cr3t","passphrase":"pp"})"),
                          context, &a, &scrubber)
                  .ok());
  ASSERT_TRUE(
      (*plain)
          ->Apply(SecureBuffer::CopyOf("s3cr3t"), context, &b, &scrubber)
          .ok());
  EXPECT_EQ(SentHeader(a, "OK-ACCESS-SIGN"), SentHeader(b, "OK-ACCESS-SIGN"));
  EXPECT_EQ(SentHeader(a, "OK-ACCESS-PASSPHRASE"), "pp");
}

TEST(MultiPartSecretTest, RefusesBadValuesWithoutQuotingThem) {
  auto scheme = MakeAuthScheme(Datadog());
  ASSERT_TRUE(scheme.ok());
  for (const char* bad :
       {"plain-not-json-value", R"({"api_key": "only-one-part-here"})",
        R"({"api_key": "a-part", "application_key": ""})",
        R"({"api_key": "a-part", "application_key": "b", "apikey": "typo"})",
        R"({"api_key": 7, "application_key": "b-part"})"}) {
    absl::Status status = (*scheme)->ValidateSecret(SecureBuffer::CopyOf(bad));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(absl::StrContains(status.message(), "part")) << status;
    OutgoingRequest request;
    ResponseScrubber scrubber;
    EXPECT_EQ(
        (*scheme)->Apply(SecureBuffer::CopyOf(bad), &request, &scrubber).code(),
        absl::StatusCode::kFailedPrecondition)
        << bad;
  }
  // The agent may not send a header that a part fills.
  OutgoingRequest request;
  request.headers = {{"dd-application-key", "agent's own"}};
  ResponseScrubber scrubber;
  EXPECT_EQ((*scheme)
                ->Apply(SecureBuffer::CopyOf(
                            R"({"api_key":"k1","application_key":"k2"})"),
                        &request, &scrubber)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// A part named like the scheme's own header would be sent beside it (two
// DD-API-KEY headers, or a part beside a signature): refused, not sent.
TEST(MultiPartSecretTest, RefusesAPartNamedLikeTheSchemesHeader) {
  v1::AuthScheme config = Datadog();
  config.mutable_secret_headers(0)->set_name("dd-api-key");
  auto scheme = MakeAuthScheme(config);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  const SecureBuffer secret = SecureBuffer::CopyOf(
      R"({"api_key": "api-0123456789", "application_key": "app-9876543210"})");
  OutgoingRequest request;
  request.method = "GET";
  request.path = "/api/v1/monitor";
  ResponseScrubber scrubber;
  absl::Status applied = (*scheme)->Apply(secret, &request, &scrubber);
  EXPECT_EQ(applied.code(), absl::StatusCode::kFailedPrecondition) << applied;
  EXPECT_FALSE(absl::StrContains(applied.message(), "0123456789"));
}

TEST(MultiPartSecretTest, RefusesBadConfigs) {
  v1::AuthScheme no_field = Datadog();
  no_field.clear_secret_field();
  EXPECT_FALSE(MakeAuthScheme(no_field).ok());
  v1::AuthScheme twice = Datadog();
  twice.mutable_secret_headers(0)->set_field("api_key");
  EXPECT_FALSE(MakeAuthScheme(twice).ok());
  v1::AuthScheme bad_template = Datadog();
  bad_template.mutable_secret_headers(0)->set_value_template("no placeholder");
  EXPECT_FALSE(MakeAuthScheme(bad_template).ok());
  v1::AuthScheme bad_name = Datadog();
  bad_name.mutable_secret_headers(0)->set_name("Bad Header");
  EXPECT_FALSE(MakeAuthScheme(bad_name).ok());
  v1::AuthScheme json_scheme;
  json_scheme.mutable_aws_sigv4()->set_region("us-east-1");
  json_scheme.mutable_aws_sigv4()->set_service("s3");
  json_scheme.set_secret_field("secret_access_key");
  absl::Status refused = MakeAuthScheme(json_scheme).status();
  EXPECT_TRUE(absl::StrContains(refused.message(), "aws_sigv4")) << refused;
}

}  // namespace
}  // namespace latchkey::vault
