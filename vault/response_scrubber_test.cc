#include "vault/response_scrubber.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

constexpr char kSecret[] = "ghp_S3cr3t/Token+Value=with spaces";

TEST(ResponseScrubberTest, RemovesEveryEncodedForm) {
  ResponseScrubber scrubber;
  scrubber.AddCredential(kSecret);
  std::string b64 = absl::Base64Escape(kSecret);
  std::string b64url = absl::WebSafeBase64Escape(kSecret);
  std::string hex = HexEncode(kSecret);
  std::string upper_hex = absl::AsciiStrToUpper(hex);
  std::string pct = "ghp_S3cr3t%2FToken%2BValue%3Dwith%20spaces";
  std::string pct_lower = "ghp_S3cr3t%2fToken%2bValue%3dwith%20spaces";
  std::string form = "ghp_S3cr3t%2FToken%2BValue%3Dwith+spaces";
  for (const std::string& form_text : {std::string(kSecret), b64, b64url, hex,
                                       upper_hex, pct, pct_lower, form}) {
    std::string body =
        "{\"echo\":\"" + form_text + "\", \"again\":\"" + form_text + "\"}";
    size_t n = scrubber.Scrub(&body);
    EXPECT_EQ(n, 2u) << form_text;
    EXPECT_FALSE(absl::StrContains(body, form_text)) << form_text;
    EXPECT_TRUE(absl::StrContains(body, kRedactionMarker));
  }
}

TEST(ResponseScrubberTest, LeavesOtherTextAlone) {
  ResponseScrubber scrubber;
  scrubber.AddCredential("abcdefgh12345678");
  std::string body = "nothing to see: abcdefgh1234567 (one short)";
  std::string before = body;
  EXPECT_EQ(scrubber.Scrub(&body), 0u);
  EXPECT_EQ(body, before);
}

TEST(ResponseScrubberTest, WholeHeaderValueAndSecretBothRemoved) {
  ResponseScrubber scrubber;
  scrubber.AddCredential("sk_live_12345678");
  scrubber.AddCredential("Basic " +
                         absl::Base64Escape("user:sk_live_12345678"));
  std::string body =
      "auth=Basic " + absl::Base64Escape("user:sk_live_12345678");
  EXPECT_GE(scrubber.Scrub(&body), 1u);
  EXPECT_FALSE(
      absl::StrContains(body, absl::Base64Escape("user:sk_live_12345678")));
}

TEST(ResponseScrubberTest, AdjacentAndOverlappingOccurrences) {
  ResponseScrubber scrubber;
  scrubber.AddCredential("tokentoken");
  std::string body = "tokentokentokentoken";
  scrubber.Scrub(&body);
  EXPECT_FALSE(absl::StrContains(body, "tokentoken"));
}

}  // namespace
}  // namespace latchkey::vault

namespace latchkey::vault {
namespace {

TEST(ResponseScrubberTest, TruncatedTailDoesNotLeakAPrefix) {
  ResponseScrubber scrubber;
  scrubber.AddCredential("sk_live_abcdefgh");
  std::string body = "{\"token\":\"sk_live_abc";  // cut mid-secret
  EXPECT_EQ(scrubber.ScrubTruncatedTail(&body), 1u);
  EXPECT_FALSE(absl::StrContains(body, "sk_live"));
  std::string clean = "{\"ok\":true}";
  EXPECT_EQ(scrubber.ScrubTruncatedTail(&clean), 0u);
}

}  // namespace
}  // namespace latchkey::vault

namespace latchkey::vault {
namespace {

// A credential echoed inside JSON arrives escaped: a passphrase with '"' or
// '/', a PEM key with line breaks. Each escaped form is removed too.
TEST(ResponseScrubberTest, RemovesJsonEscapedForms) {
  const std::string passphrase = "pa\"ss/ph\\rase-0123";
  const std::string pem =
      "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----";
  ResponseScrubber scrubber;
  scrubber.AddCredential(passphrase);
  scrubber.AddCredential(pem);
  for (
      const std::string& echoed :
      {std::string(R"({"p":"pa\"ss/ph\\rase-0123"})"),
       std::string(R"({"p":"pa\"ss\/ph\\rase-0123"})"),
       std::string(
           R"({"k":"-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"})")}) {
    std::string text = echoed;
    EXPECT_GT(scrubber.Scrub(&text), 0u) << echoed;
    EXPECT_FALSE(absl::StrContains(text, "0123")) << text;
    EXPECT_FALSE(absl::StrContains(text, "MIIEvQIBADANBg")) << text;
  }
}

}  // namespace
}  // namespace latchkey::vault
