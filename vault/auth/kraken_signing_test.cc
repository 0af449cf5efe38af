#include "vault/auth/kraken_signing.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "vault/auth/sent_header_for_test.h"

namespace latchkey::vault::auth {
namespace {

// Kraken's published example (docs.kraken.com, "Spot REST API
// authentication"): private key, nonce, payload, path and the API-Sign
// value the documentation gives for them.
constexpr char kDocKey[] =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99H"
    "AZtuZuj6F1huXg==";

absl::Status Sign(OutgoingRequest* request, const std::string& nonce,
                  ResponseScrubber* scrubber) {
  v1::KrakenAuth config;
  config.set_key_id("public-key-1");
  auto scheme = MakeKrakenSigning(config);
  if (!scheme.ok()) return scheme.status();
  AuthContext context;
  context.nonce = nonce;
  return (*scheme)->Apply(SecureBuffer::CopyOf(kDocKey), context, request,
                          scrubber);
}

TEST(KrakenSigningTest, DocumentedExample) {
  OutgoingRequest request;
  request.method = "POST";
  request.path = "/0/private/AddOrder";
  request.body = "ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
  ResponseScrubber scrubber;
  ASSERT_TRUE(Sign(&request, "1616492376594", &scrubber).ok());
  EXPECT_EQ(request.body,
            "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&"
            "type=buy&volume=1.25");
  EXPECT_EQ(SentHeader(request, "API-Sign"),
            "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnR"
            "fp32bAb0nmbRn6H8ndwLUQ==");
  EXPECT_EQ(SentHeader(request, "API-Key"), "public-key-1");
  EXPECT_EQ(SentHeader(request, "Content-Type"),
            "application/x-www-form-urlencoded");
}

TEST(KrakenSigningTest, EmptyBodyCarriesOnlyTheNonce) {
  OutgoingRequest request;
  request.method = "POST";
  request.path = "/0/private/Balance";
  ResponseScrubber scrubber;
  ASSERT_TRUE(Sign(&request, "42", &scrubber).ok());
  EXPECT_EQ(request.body, "nonce=42");
}

TEST(KrakenSigningTest, RefusesWhatItCannotSignHonestly) {
  ResponseScrubber scrubber;
  OutgoingRequest own_nonce;
  own_nonce.method = "POST";
  own_nonce.path = "/0/private/Balance";
  own_nonce.body = "asset=XBT&n%6Fnce=1";
  EXPECT_TRUE(absl::StrContains(Sign(&own_nonce, "", &scrubber).message(),
                                "'nonce' is set by the capability"));
  OutgoingRequest json;
  json.method = "POST";
  json.path = "/0/private/Balance";
  json.headers = {{"Content-Type", "application/json"}};
  json.body = "{}";
  EXPECT_EQ(Sign(&json, "", &scrubber).code(),
            absl::StatusCode::kInvalidArgument);
  OutgoingRequest get;
  get.method = "GET";
  get.path = "/0/public/Time";
  EXPECT_EQ(Sign(&get, "", &scrubber).code(),
            absl::StatusCode::kInvalidArgument);
  v1::KrakenAuth no_key;
  EXPECT_FALSE(MakeKrakenSigning(no_key).ok());
}

TEST(KrakenSigningTest, NoncesOnlyIncrease) {
  uint64_t first = NextKrakenNonce(1000);
  EXPECT_GE(first, 1000u);
  EXPECT_GT(NextKrakenNonce(1000), first);  // same millisecond: still larger
  EXPECT_GT(NextKrakenNonce(5), first);     // a clock step back: still larger
}

}  // namespace
}  // namespace latchkey::vault::auth
