// auth_bench: the per-request cost of each auth scheme's Apply, in process,
// on the same request (GET, 3 query parameters, 2 headers, 200-byte body),
// including the ResponseScrubber it fills (as the egress path does). Bearer
// is the baseline; each line gives ns/op and the ratio to bearer in the
// same run. OAuth2 and GitHub App are measured on the cached-token path
// (what every request but one an hour pays); the GitHub App JWT signing
// (RS256, 2048-bit key) paid on each refresh is measured separately.
// Building the request itself is inside the loop for every scheme alike,
// so the ratios slightly understate the differences.
// Run: bazel run -c opt //bench:auth_bench [-- --seconds=1]
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "vault/auth/github_app.h"
#include "vault/auth/token_cache.h"
#include "vault/auth_scheme.h"

ABSL_FLAG(double, seconds, 1.0, "measuring time per scheme");

namespace lk = latchkey;
namespace v1 = latchkey::v1;
using lk::SecureBuffer;
using lk::vault::AuthContext;
using lk::vault::OutgoingRequest;
using lk::vault::ResponseScrubber;

namespace {

// Template is the measured request; `form` gives it a form body instead of
// JSON (Kraken signs form bodies only).
OutgoingRequest Template(bool form) {
  OutgoingRequest request;
  request.method = "POST";
  request.origin = "https://api.example.com:443";
  request.path = "/v1/orders/search";
  request.query = {{"limit", "50"}, {"cursor", "abc def"}, {"sort", "-ts"}};
  request.headers = {{"Content-Type", form ? "application/x-www-form-urlencoded"
                                           : "application/json"},
                     {"Accept", "application/json"}};
  request.body = form ? "pair=XBTUSD&" + std::string(188, 'x') + "=1"
                      : std::string(200, 'x');
  return request;
}

// Measure runs `op` for about `seconds` and returns ns per call.
double Measure(const std::function<void()>& op, double seconds) {
  for (int i = 0; i < 100; ++i) op();  // warm up
  int64_t n = 0;
  absl::Time start = absl::Now();
  absl::Time end = start + absl::Seconds(seconds);
  absl::Time now = start;
  while (now < end) {
    for (int i = 0; i < 100; ++i) op();
    n += 100;
    now = absl::Now();
  }
  return absl::ToDoubleNanoseconds(now - start) / static_cast<double>(n);
}

std::string RsaPem() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

struct Case {
  std::string name;
  v1::AuthScheme config;
  std::string secret;
  bool form = false;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const std::string pem = RsaPem();

  std::vector<Case> cases;
  cases.push_back({"bearer", v1::AuthScheme(), "sk_live_0123456789abcdef0123"});
  {
    v1::AuthScheme c;
    c.mutable_header()->set_name("X-API-Key");
    cases.push_back({"header", c, "sk_live_0123456789abcdef0123"});
  }
  {
    v1::AuthScheme c;
    c.mutable_basic()->set_username("user");
    cases.push_back({"basic", c, "sk_live_0123456789abcdef0123"});
  }
  {
    v1::AuthScheme c;
    c.mutable_query_param()->set_name("api_key");
    cases.push_back({"query_param", c, "sk_live_0123456789abcdef0123"});
  }
  {
    v1::AuthScheme c;
    c.mutable_hmac()->set_signature_header("X-Signature");
    c.mutable_hmac()->set_timestamp_header("X-Timestamp");
    c.mutable_hmac()->set_key_id("key-1");
    c.mutable_hmac()->set_key_id_header("X-Api-Key");
    cases.push_back({"hmac", c, "hmac-key-0123456789abcdef0123"});
  }
  {
    v1::AuthScheme c;
    c.mutable_aws_sigv4()->set_region("us-east-1");
    c.mutable_aws_sigv4()->set_service("execute-api");
    cases.push_back(
        {"aws_sigv4", c,
         R"({"access_key_id":"AKIDEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})"});
  }
  {
    // OKX: HMAC over timestamp, method, path, query and body, with the
    // passphrase as a second part of a multi-part secret.
    v1::AuthScheme c;
    c.mutable_hmac()->set_canonical_template(
        "{timestamp}{method}{path_query}{body}");
    c.mutable_hmac()->set_signature_header("OK-ACCESS-SIGN");
    c.mutable_hmac()->set_encoding("base64");
    c.set_secret_field("secret_key");
    c.add_secret_headers()->set_name("OK-ACCESS-PASSPHRASE");
    c.mutable_secret_headers(0)->set_field("passphrase");
    cases.push_back(
        {"hmac multi-part (okx)", c,
         R"({"secret_key":"hmac-key-0123456789abcdef0123","passphrase":"pass-0123"})"});
  }
  {
    v1::AuthScheme c;
    c.mutable_aws_sigv4()->set_region("us-east-1");
    c.mutable_aws_sigv4()->set_service("s3");
    cases.push_back(
        {"aws_sigv4 s3", c,
         R"({"access_key_id":"AKIDEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})"});
  }
  {
    v1::AuthScheme c;
    c.mutable_kraken()->set_key_id("public-key-1");
    cases.push_back({"kraken", c,
                     "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRz"
                     "BHCd3pd5nE9qa99HAZtuZuj6F1huXg==",
                     true});
  }
  {
    v1::AuthScheme c;
    c.mutable_oauth1()->set_consumer_key("dpf43f3p2l4k3l03");
    c.mutable_oauth1()->set_token("nnch734d00sl2jdk");
    cases.push_back(
        {"oauth1", c,
         R"({"consumer_secret":"kd94hf93k423kf44","token_secret":"pfkkdhi9sl3r4s00"})"});
  }
  {
    v1::AuthScheme c;
    c.mutable_oauth2()->set_token_url("https://api.example.com/oauth/token");
    c.mutable_oauth2()->set_client_id("client");
    cases.push_back({"oauth2 (cached)", c,
                     R"({"client_secret":"client-secret-0123456789"})"});
  }
  {
    v1::AuthScheme c;
    c.mutable_github_app()->set_app_id("1");
    c.mutable_github_app()->set_installation_id("2");
    c.mutable_github_app()->set_api_origin("https://api.example.com");
    cases.push_back({"github_app (cached)", c, pem});
  }

  // The token schemes find their token cached: the fetcher is never called
  // after the first request (it answers with a fixed one-hour token).
  lk::vault::TokenCache tokens;
  AuthContext context;
  context.tokens = &tokens;
  context.cache_key = "bench@1";
  context.bound_origins = {"https://api.example.com:443"};
  context.fetch =
      [](const OutgoingRequest&) -> absl::StatusOr<lk::vault::TokenResponse> {
    return lk::vault::TokenResponse{
        200,
        R"({"access_token":"tok_0123456789abcdef","token":"ghs_0123456789abcdef","expires_in":3600})"};
  };

  double bearer_ns = 0;
  std::printf("%-22s %12s %10s\n", "scheme", "ns/op", "x bearer");
  for (const Case& c : cases) {
    auto scheme = lk::vault::MakeAuthScheme(c.config);
    if (!scheme.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(),
                   scheme.status().ToString().c_str());
      return 1;
    }
    SecureBuffer secret = SecureBuffer::CopyOf(c.secret);
    tokens.Clear();
    context.cache_key = "bench@" + c.name;
    bool failed = false;
    double ns = Measure(
        [&] {
          OutgoingRequest request = Template(c.form);
          ResponseScrubber scrubber;
          context.now = absl::Now();
          if (!(*scheme)->Apply(secret, context, &request, &scrubber).ok()) {
            failed = true;
          }
        },
        seconds);
    if (failed) {
      std::fprintf(stderr, "%s: Apply failed\n", c.name.c_str());
      return 1;
    }
    if (bearer_ns == 0) bearer_ns = ns;
    std::printf("%-22s %12.0f %10.2f\n", c.name.c_str(), ns, ns / bearer_ns);
  }
  SecureBuffer key = SecureBuffer::CopyOf(pem);
  double jwt_ns = Measure(
      [&] { (void)lk::vault::auth::GitHubAppJwt(key, "1", absl::Now()); },
      seconds);
  std::printf("%-22s %12.0f %10.2f  (once per token refresh)\n",
              "github_app JWT RS256", jwt_ns, jwt_ns / bearer_ns);
  return 0;
}
