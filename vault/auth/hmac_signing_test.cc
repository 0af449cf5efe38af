#include "vault/auth/hmac_signing.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "gtest/gtest.h"
#include "vault/auth/sent_header_for_test.h"

namespace latchkey::vault::auth {
namespace {

struct Signed {
  absl::Status status;
  OutgoingRequest request;
  ResponseScrubber scrubber;
};

std::unique_ptr<Signed> Sign(const v1::HmacSigningAuth& config,
                             const std::string& secret, absl::Time now,
                             OutgoingRequest request,
                             const std::string& nonce = "") {
  auto out = std::make_unique<Signed>();
  out->request = std::move(request);
  auto scheme = MakeHmacSigning(config);
  if (!scheme.ok()) {
    out->status = scheme.status();
    return out;
  }
  AuthContext context;
  context.now = now;
  context.nonce = nonce;
  out->status = (*scheme)->Apply(SecureBuffer::CopyOf(secret), context,
                                 &out->request, &out->scrubber);
  return out;
}

// Binance's API documentation example (SIGNED endpoint, query string
// signing): HMAC-SHA256 of the query including the timestamp, sent as the
// last query parameter.
TEST(HmacSigningTest, BinanceDocumentedExample) {
  v1::HmacSigningAuth config;
  config.set_canonical_template("{query}");
  config.set_signature_query_param("signature");
  config.set_timestamp_query_param("timestamp");
  config.set_timestamp_unit("ms");
  config.set_key_id(
      "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91"
      "duEh8A");
  config.set_key_id_header("X-MBX-APIKEY");
  OutgoingRequest request;
  request.method = "POST";
  request.origin = "https://api.binance.com:443";
  request.path = "/api/v3/order";
  request.query = {{"symbol", "LTCBTC"},   {"side", "BUY"},   {"type", "LIMIT"},
                   {"timeInForce", "GTC"}, {"quantity", "1"}, {"price", "0.1"},
                   {"recvWindow", "5000"}};
  auto out = Sign(config,
                  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fA"
                  "Tj0j",
                  absl::FromUnixMillis(1499827319559), std::move(request));
  ASSERT_TRUE(out->status.ok()) << out->status;
  ASSERT_EQ(out->request.credential_query.size(), 1u);
  EXPECT_EQ(out->request.credential_query[0].first, "signature");
  EXPECT_EQ(out->request.credential_query[0].second.view(),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
  EXPECT_EQ(out->request.query.back().second, "1499827319559");
  EXPECT_EQ(SentHeader(out->request, "X-MBX-APIKEY"), config.key_id());
}

// A Coinbase-style header signature: base64 key, base64 signature over
// timestamp + method + path + body.
TEST(HmacSigningTest, HeaderSignatureOverTemplate) {
  v1::HmacSigningAuth config;
  config.set_signature_header("CB-ACCESS-SIGN");
  config.set_timestamp_header("CB-ACCESS-TIMESTAMP");
  config.set_key_id("key-1");
  config.set_key_id_header("CB-ACCESS-KEY");
  config.set_encoding("base64");
  config.set_secret_is_base64(true);
  const std::string key = "0123456789abcdef0123456789abcdef";
  OutgoingRequest request;
  request.method = "POST";
  request.origin = "https://api.exchange.test:443";
  request.path = "/orders";
  request.query = {{"a", "b c"}};
  request.body = R"({"size":"1"})";
  auto out = Sign(config, absl::Base64Escape(key),
                  absl::FromUnixSeconds(1700000000), std::move(request));
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_EQ(SentHeader(out->request, "CB-ACCESS-TIMESTAMP"), "1700000000");
  EXPECT_EQ(SentHeader(out->request, "CB-ACCESS-KEY"), "key-1");
  EXPECT_EQ(SentHeader(out->request, "CB-ACCESS-SIGN"),
            absl::Base64Escape(HmacSha256(
                key, R"(1700000000POST/orders?a=b%20c{"size":"1"})")));
  // The stored value, the decoded key and the signature are all scrubbed.
  std::string echo = absl::StrCat("x ", key, " ", absl::Base64Escape(key), " ",
                                  SentHeader(out->request, "CB-ACCESS-SIGN"));
  EXPECT_GE(out->scrubber.Scrub(&echo), 3u);
  EXPECT_FALSE(absl::StrContains(echo, key));
}

TEST(HmacSigningTest, NewlinesNonceAndBodyHash) {
  v1::HmacSigningAuth config;
  config.set_canonical_template(
      "{method}\\n{path}\\n{query}\\n{timestamp}\\n{nonce}\\n{body_sha256}");
  config.set_signature_header("X-Signature");
  config.set_nonce_header("X-Nonce");
  config.set_timestamp_header("X-Timestamp");
  config.set_timestamp_unit("iso8601");
  config.set_algorithm("sha512");
  OutgoingRequest request;
  request.method = "GET";
  request.origin = "http://127.0.0.1:8080";
  request.path = "/v1/x";
  const std::string key = "secret-key-for-hmac-512";
  auto out = Sign(config, key, absl::FromUnixSeconds(1700000000),
                  std::move(request), "n0nce");
  ASSERT_TRUE(out->status.ok()) << out->status;
  EXPECT_EQ(SentHeader(out->request, "X-Timestamp"),
            "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(SentHeader(out->request, "X-Nonce"), "n0nce");
  // HMAC-SHA512 of "GET\n/v1/x\n\n2023-11-14T22:13:20.000Z\nn0nce\n" +
  // sha256("") under the key, computed independently with Python's hmac.
  EXPECT_EQ(SentHeader(out->request, "X-Signature"),
            "37f321b2a0220781f5c51d0623fad43dcdb98e1b3ba0d177087cfe79562578dd"
            "5c99fb5fc41b59861317bff6bd19d3976ebae4f974d0491ba15d7ab0d9399235");
}

TEST(HmacSigningTest, RefusesBadConfigAndCollisions) {
  v1::HmacSigningAuth config;
  EXPECT_FALSE(MakeHmacSigning(config).ok());  // no signature destination
  config.set_signature_header("X-Sig");
  EXPECT_TRUE(MakeHmacSigning(config).ok());
  config.set_canonical_template("{timestamp}{secret}");
  EXPECT_FALSE(MakeHmacSigning(config).ok());
  config.clear_canonical_template();
  config.set_algorithm("md5");
  EXPECT_FALSE(MakeHmacSigning(config).ok());
  config.clear_algorithm();
  config.set_timestamp_header("X Bad");
  EXPECT_FALSE(MakeHmacSigning(config).ok());
  config.set_timestamp_header("X-Ts");

  OutgoingRequest request;
  request.method = "GET";
  request.origin = "http://127.0.0.1:8080";
  request.path = "/";
  request.headers = {{"x-sig", "forged"}};
  auto out = Sign(config, "k", absl::Now(), std::move(request));
  EXPECT_EQ(out->status.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace latchkey::vault::auth
