// Every auth scheme against a real loopback upstream that verifies the
// signature or token the way the real service does
// (tests/upstream/auth_upstream.py), over HTTP and over HTTPS with a CA this
// test generates. The vault side is real: VaultCore on SQLite, the egress
// service and UpstreamClient (libcurl).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/origin.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"
#include "vault/address_guard.h"
#include "vault/egress_service.h"
#include "vault/secret_store.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"

namespace latchkey::vault {
namespace {

constexpr char kHmacKey[] = "hmac-key-0123456789abcdef";
constexpr char kAwsSecretKey[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kSessionToken[] = "FQoGZXIvYXdzSESSIONTOKEN0123456789";
constexpr char kConsumerSecret[] = "kd94hf93k423kf44";
constexpr char kTokenSecret[] = "pfkkdhi9sl3r4s00";
constexpr char kClientSecret[] = "client-secret-0123456789";
constexpr char kRefreshToken[] = "refresh-token-0123456789";
constexpr char kRotatingRefreshToken[] = "rotating-refresh-token-0123456789";
constexpr char kServiceAccount[] = "reader@project-1.iam.gserviceaccount.com";
constexpr char kPrivateKeyId[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kSubject[] = "alice@example.com";

std::string Slurp(const std::string& path) {
  return testing::ReadFileOrEmpty(path);
}

bool Shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

class AuthUpstreamTest : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    char templ[] = "/tmp/lk-auth-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = new std::string(templ);
    const std::string& d = *dir_;
    // A test CA, a server certificate for 127.0.0.1 signed by it, and the
    // GitHub App's RSA key pair (PKCS#1 PEM, as GitHub issues it).
    ASSERT_TRUE(Shell(absl::StrCat(
        "cd ", d,
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
        "-out ca.crt -days 1 -subj /CN=latchkey-test-ca "
        "&& openssl req -newkey rsa:2048 -nodes -keyout server.key "
        "-out server.csr -subj /CN=127.0.0.1 "
        "&& printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext "
        "&& openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
        "-CAcreateserial -out server.crt -days 1 -extfile san.ext "
        "&& openssl genrsa -traditional -out app.pem 2048 "
        "&& openssl rsa -in app.pem -pubout -out app.pub "
        // A Google service account's key: PKCS#8, as in its JSON key file.
        "&& openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
        "-out sa.pem && openssl pkey -in sa.pem -pubout -out sa.pub "
        "&& openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
        "-out other.pem")));
    nlohmann::json config = {
        {"hmac", {{"key", kHmacKey}, {"key_id", "key-1"}}},
        {"aws",
         {{"access_key_id", "AKIDEXAMPLE"},
          {"secret_access_key", kAwsSecretKey},
          {"session_token", kSessionToken}}},
        {"oauth1",
         {{"consumer_key", "dpf43f3p2l4k3l03"},
          {"token", "nnch734d00sl2jdk"},
          {"consumer_secret", kConsumerSecret},
          {"token_secret", kTokenSecret}}},
        {"oauth2",
         {{"client_id", "agent-client"},
          {"client_secret", kClientSecret},
          {"refresh_token", kRefreshToken},
          {"rotating_refresh_token", kRotatingRefreshToken},
          {"scope", "read write"}}},
        {"google",
         {{"client_email", kServiceAccount},
          {"private_key_id", kPrivateKeyId},
          {"subject", kSubject},
          {"scope", "read write"},
          {"public_key", Slurp(d + "/sa.pub")}}},
        {"github",
         {{"app_id", "12345"},
          {"installation_id", "678"},
          {"public_key", Slurp(d + "/app.pub")}}},
    };
    std::ofstream(d + "/config.json") << config.dump();
    const std::string script =
        absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"),
                     "/tests/upstream/auth_upstream.py");
    for (bool tls : {false, true}) {
      const std::string port_file = d + (tls ? "/https.port" : "/http.port");
      testing::ChildProcess::Options options;
      options.argv = {"/usr/bin/python3", script,        "--config",
                      d + "/config.json", "--port-file", port_file};
      if (tls) {
        options.argv.insert(options.argv.end(), {"--cert", d + "/server.crt",
                                                 "--key", d + "/server.key"});
      }
      options.log_path = port_file + ".log";
      auto child = testing::ChildProcess::Start(options);
      ASSERT_TRUE(child.ok()) << child.status();
      (tls ? https_ : http_) = child->release();
      std::string port;
      for (int i = 0; i < 200 && port.empty(); ++i) {
        absl::SleepFor(absl::Milliseconds(25));
        port = Slurp(port_file);
      }
      ASSERT_FALSE(port.empty()) << Slurp(options.log_path);
      (tls ? https_origin_ : http_origin_) = new std::string(
          absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port));
    }
  }
  static void TearDownTestSuite() {
    delete http_;
    delete https_;
    if (dir_ != nullptr) std::system(("rm -rf " + *dir_).c_str());
  }

  void SetUp() override {
    char templ[] = "/tmp/lk-authv-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    state_ = templ;
    auto store = OpenSqliteSecretStore(state_);
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCoreOptions options;
    options.scrypt = {1024, 8, 1};
    options.background_rewrap = false;
    core_ = std::make_unique<VaultCore>(std::move(*store), options);
    auto init = core_->Init(v1::InitRequest());
    ASSERT_TRUE(init.ok()) << init.status();
    for (int i : {0, 1, 2}) {
      v1::UnsealRequest unseal;
      unseal.set_key(init->unseal_keys(i));
      ASSERT_TRUE(core_->Unseal(unseal).ok());
    }
    shares_.assign(init->unseal_keys().begin(), init->unseal_keys().end());
    egress_ = std::make_unique<EgressService>(core_.get(), &client_, nullptr);
  }
  void TearDown() override {
    egress_.reset();
    core_.reset();
    std::system(("rm -rf " + state_).c_str());
  }

  bool tls() const { return GetParam(); }
  const std::string& origin() const {
    return tls() ? *https_origin_ : *http_origin_;
  }

  absl::Status Put(const std::string& id, const std::string& value,
                   const v1::AuthScheme& auth, bool with_ca = true) {
    v1::PutSecretRequest put;
    put.set_id(id);
    put.set_value(value);
    *put.mutable_auth() = auth;
    put.add_origins(origin());
    // The checking upstream is on loopback: mark it internal, as an
    // operator must for any non-public upstream.
    put.add_internal_origins(origin());
    if (tls() && with_ca) put.set_ca_bundle_pem(Slurp(*dir_ + "/ca.crt"));
    return core_->PutSecret(put).status();
  }

  absl::StatusOr<v1::VaultExecuteResponse> Execute(const std::string& id,
                                                   const std::string& method,
                                                   const std::string& path,
                                                   const std::string& body = "",
                                                   uint32_t max_redirects = 0) {
    v1::VaultExecuteRequest request;
    request.mutable_limits()->set_max_redirects(max_redirects);
    // The capability's rules, which every redirect hop is checked against.
    v1::Rule* rule = request.mutable_rules()->add_rules();
    rule->set_effect(v1::Rule::ALLOW);
    rule->add_methods("*");
    rule->set_path("/**");
    request.set_request_id("r1");
    request.set_secret_id(id);
    request.set_origin(origin());
    request.set_method(method);
    request.set_path(path);
    v1::QueryParam* param = request.add_query();
    param->set_name("q");
    param->set_value("a b/c");
    if (!body.empty()) {
      v1::Header* header = request.add_headers();
      header->set_name("Content-Type");
      header->set_value("application/x-www-form-urlencoded");
      request.set_body(body);
    }
    return egress_->ExecuteChecked(request);
  }

  // Verified: the upstream accepted the credential, and what the agent sees
  // carries none of the credential material.
  void ExpectVerified(const absl::StatusOr<v1::VaultExecuteResponse>& reply,
                      const std::vector<std::string>& never_seen) {
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->upstream_error(), "");
    EXPECT_EQ(reply->response().status(), 200) << reply->response().body();
    EXPECT_TRUE(absl::StrContains(reply->response().body(), "verified"));
    EXPECT_GE(reply->response().redactions(), 1u);
    for (const std::string& text : never_seen) {
      EXPECT_FALSE(absl::StrContains(reply->response().body(), text)) << text;
    }
  }

  // Restart stops the vault and starts a new one on the same SQLite file,
  // unsealed again with the same shares: nothing survives in memory.
  void Restart() {
    egress_.reset();
    core_.reset();
    auto store = OpenSqliteSecretStore(state_);
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCoreOptions options;
    options.scrypt = {1024, 8, 1};
    options.background_rewrap = false;
    core_ = std::make_unique<VaultCore>(std::move(*store), options);
    for (int i : {0, 1, 2}) {
      v1::UnsealRequest unseal;
      unseal.set_key(shares_[i]);
      ASSERT_TRUE(core_->Unseal(unseal).ok());
    }
    egress_ = std::make_unique<EgressService>(core_.get(), &client_, nullptr);
  }

  // A Google service-account key file as the console downloads it.
  nlohmann::json ServiceAccountKey(const std::string& pem_file) {
    return {{"type", "service_account"},
            {"project_id", "project-1"},
            {"private_key_id", kPrivateKeyId},
            {"private_key", Slurp(*dir_ + "/" + pem_file)},
            {"client_email", kServiceAccount},
            {"client_id", "112233445566778899"},
            {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
            // Deliberately elsewhere: the vault must use its configured
            // token_url, never the file's.
            {"token_uri", "https://attacker.example.com/token"},
            {"auth_provider_x509_cert_url",
             "https://www.googleapis.com/oauth2/v1/certs"},
            {"client_x509_cert_url",
             "https://www.googleapis.com/robot/v1/metadata/x509/reader"},
            {"universe_domain", "googleapis.com"}};
  }

  nlohmann::json UpstreamJson(const std::string& path) {
    OutgoingRequest get;
    get.method = "GET";
    get.origin = origin();
    get.path = path;
    if (tls()) get.ca_bundle_pem = Slurp(*dir_ + "/ca.crt");
    auto origin_parsed = ParseOrigin(origin());
    if (!origin_parsed.ok()) return nullptr;
    auto pinned = ResolveAndCheck(*origin_parsed, /*allow_internal=*/true);
    if (!pinned.ok()) return nullptr;
    auto result = client_.Perform(get, v1::EgressLimits(), *pinned);
    if (!result.ok()) return nullptr;
    return nlohmann::json::parse(result->body, nullptr, false);
  }

  int IssuedCount(const std::string& kind) {
    OutgoingRequest stats;
    stats.method = "GET";
    stats.origin = origin();
    stats.path = "/stats";
    if (tls()) stats.ca_bundle_pem = Slurp(*dir_ + "/ca.crt");
    auto origin_parsed = ParseOrigin(origin());
    if (!origin_parsed.ok()) return -1;
    auto pinned = ResolveAndCheck(*origin_parsed, /*allow_internal=*/true);
    if (!pinned.ok()) return -1;
    auto result = client_.Perform(stats, v1::EgressLimits(), *pinned);
    if (!result.ok()) return -1;
    auto doc = nlohmann::json::parse(result->body, nullptr, false);
    return doc.is_object() ? doc.value(kind, -1) : -1;
  }

  static std::string* dir_;
  static std::string* http_origin_;
  static std::string* https_origin_;
  static testing::ChildProcess* http_;
  static testing::ChildProcess* https_;
  std::string state_;
  std::vector<std::string> shares_;
  UpstreamClient client_;
  std::unique_ptr<VaultCore> core_;
  std::unique_ptr<EgressService> egress_;
};

std::string* AuthUpstreamTest::dir_ = nullptr;
std::string* AuthUpstreamTest::http_origin_ = nullptr;
std::string* AuthUpstreamTest::https_origin_ = nullptr;
testing::ChildProcess* AuthUpstreamTest::http_ = nullptr;
testing::ChildProcess* AuthUpstreamTest::https_ = nullptr;

TEST_P(AuthUpstreamTest, HmacSigning) {
  v1::AuthScheme auth;
  auth.mutable_hmac()->set_signature_header("X-Signature");
  auth.mutable_hmac()->set_timestamp_header("X-Timestamp");
  auth.mutable_hmac()->set_key_id("key-1");
  auth.mutable_hmac()->set_key_id_header("X-Api-Key");
  ASSERT_TRUE(Put("exchange", kHmacKey, auth).ok());
  auto reply = Execute("exchange", "POST", "/hmac/orders", "size=1&px=2");
  ExpectVerified(reply, {kHmacKey});
  EXPECT_FALSE(
      absl::StrContains(reply->response().body(), "\"signature\": \"0"));

  // The verifier can fail: the wrong key is refused upstream.
  ASSERT_TRUE(Put("exchange", "some-other-key-0123456789", auth).ok());
  reply = Execute("exchange", "GET", "/hmac/orders");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->response().status(), 401);
}

// A same-origin redirect is signed again for its own path: the upstream
// checks the HMAC over the path it redirected to.
TEST_P(AuthUpstreamTest, RedirectHopIsSignedAgain) {
  v1::AuthScheme auth;
  auth.mutable_hmac()->set_signature_header("X-Signature");
  auth.mutable_hmac()->set_timestamp_header("X-Timestamp");
  auth.mutable_hmac()->set_key_id("key-1");
  auth.mutable_hmac()->set_key_id_header("X-Api-Key");
  ASSERT_TRUE(Put("exchange", kHmacKey, auth).ok());
  auto reply = Execute("exchange", "GET", "/moved/orders", "",
                       /*max_redirects=*/1);
  ExpectVerified(reply, {kHmacKey});
  ASSERT_EQ(reply->redirects_size(), 1);
  EXPECT_EQ(reply->redirects(0), "GET /hmac/orders");
}

TEST_P(AuthUpstreamTest, AwsSigV4WithSessionToken) {
  v1::AuthScheme auth;
  auth.mutable_aws_sigv4()->set_region("us-east-1");
  auth.mutable_aws_sigv4()->set_service("execute-api");
  nlohmann::json secret = {{"access_key_id", "AKIDEXAMPLE"},
                           {"secret_access_key", kAwsSecretKey},
                           {"session_token", kSessionToken}};
  ASSERT_TRUE(Put("aws", secret.dump(), auth).ok());
  ExpectVerified(Execute("aws", "GET", "/aws/prod/items"),
                 {kAwsSecretKey, kSessionToken, "Signature="});
  ExpectVerified(Execute("aws", "POST", "/aws/prod/items", "name=x%20y"),
                 {kAwsSecretKey, kSessionToken});

  // A malformed multi-part secret is refused at PutSecret, naming the
  // field and never the value.
  absl::Status bad = Put("aws", R"({"access_key_id": "AKID"})", auth);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.message(), "secret_access_key")) << bad;
}

TEST_P(AuthUpstreamTest, OAuth1) {
  v1::AuthScheme auth;
  auth.mutable_oauth1()->set_consumer_key("dpf43f3p2l4k3l03");
  auth.mutable_oauth1()->set_token("nnch734d00sl2jdk");
  auth.mutable_oauth1()->set_realm("Photos");
  nlohmann::json secret = {{"consumer_secret", kConsumerSecret},
                           {"token_secret", kTokenSecret}};
  ASSERT_TRUE(Put("photos", secret.dump(), auth).ok());
  ExpectVerified(Execute("photos", "GET", "/oauth1/photos"),
                 {kConsumerSecret, kTokenSecret});
  ExpectVerified(Execute("photos", "POST", "/oauth1/photos", "c2&a3=2+q"),
                 {kConsumerSecret, kTokenSecret});
}

TEST_P(AuthUpstreamTest, OAuth2ClientCredentialsIsCachedAndDroppedOnSeal) {
  v1::AuthScheme auth;
  auth.mutable_oauth2()->set_token_url(origin() + "/oauth/token");
  auth.mutable_oauth2()->set_client_id("agent-client");
  auth.mutable_oauth2()->add_scopes("read");
  auth.mutable_oauth2()->add_scopes("write");
  nlohmann::json secret = {{"client_secret", kClientSecret}};
  ASSERT_TRUE(Put("api", secret.dump(), auth).ok());
  const int before = IssuedCount("oauth2");
  for (int i = 0; i < 3; ++i) {
    ExpectVerified(Execute("api", "GET", "/oauth2/items"),
                   {kClientSecret, "oauth2_"});
  }
  EXPECT_EQ(IssuedCount("oauth2"), before + 1);  // one token, cached
  EXPECT_EQ(core_->tokens()->size(), 1u);

  // Seal zeroizes the cached token; after unseal a new one is fetched.
  core_->Seal();
  EXPECT_EQ(core_->tokens()->size(), 0u);
  for (int i : {0, 1, 2}) {
    v1::UnsealRequest unseal;
    unseal.set_key(shares_[i]);
    ASSERT_TRUE(core_->Unseal(unseal).ok());
  }
  ExpectVerified(Execute("api", "GET", "/oauth2/items"), {"oauth2_"});
  EXPECT_EQ(IssuedCount("oauth2"), before + 2);

  // Replacing the secret drops its token too.
  auth.mutable_oauth2()->set_client_auth("post");
  ASSERT_TRUE(Put("api", secret.dump(), auth).ok());
  EXPECT_EQ(core_->tokens()->size(), 0u);
  ExpectVerified(Execute("api", "GET", "/oauth2/items"), {"oauth2_"});
  EXPECT_EQ(IssuedCount("oauth2"), before + 3);
}

TEST_P(AuthUpstreamTest, OAuth2RefreshGrantAndErrors) {
  v1::AuthScheme auth;
  auth.mutable_oauth2()->set_token_url(origin() + "/oauth/token");
  auth.mutable_oauth2()->set_client_id("agent-client");
  auth.mutable_oauth2()->set_grant("refresh_token");
  auth.mutable_oauth2()->add_scopes("read");
  auth.mutable_oauth2()->add_scopes("write");
  nlohmann::json secret = {{"client_secret", kClientSecret},
                           {"refresh_token", kRefreshToken}};
  ASSERT_TRUE(Put("api", secret.dump(), auth).ok());
  ExpectVerified(Execute("api", "GET", "/oauth2/items"),
                 {kClientSecret, kRefreshToken, "oauth2_"});

  // A wrong client secret: the token endpoint's error code, no secret.
  secret["client_secret"] = "wrong-secret-0123456789";
  ASSERT_TRUE(Put("api", secret.dump(), auth).ok());
  // It is reported as an upstream error, like any other upstream failure.
  auto reply = Execute("api", "GET", "/oauth2/items");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(absl::StrContains(reply->upstream_error(), "invalid_client"))
      << reply->upstream_error();
  EXPECT_FALSE(absl::StrContains(reply->upstream_error(), "wrong-secret"));

  // The token endpoint must be one of the secret's origins.
  auth.mutable_oauth2()->set_token_url("https://auth.example.com/oauth/token");
  ASSERT_TRUE(Put("api", secret.dump(), auth).ok());
  EXPECT_EQ(Execute("api", "GET", "/oauth2/items").status().code(),
            absl::StatusCode::kPermissionDenied);
}

// Google service account (RFC 7523 JWT-bearer): the upstream verifies the
// assertion with PyJWT (signature, kid, iss, aud, scope, sub, lifetime).
TEST_P(AuthUpstreamTest, OAuth2JwtBearerServiceAccount) {
  v1::AuthScheme auth;
  auth.mutable_oauth2()->set_token_url(origin() + "/oauth/token");
  auth.mutable_oauth2()->set_grant("jwt_bearer");
  auth.mutable_oauth2()->add_scopes("read");
  auth.mutable_oauth2()->add_scopes("write");
  auth.mutable_oauth2()->set_subject(kSubject);
  const nlohmann::json key = ServiceAccountKey("sa.pem");
  const std::string pem = key["private_key"];
  // A line from the middle of the PEM body: key material, not its armour.
  const std::string key_line = pem.substr(pem.find('\n', 40) + 1, 60);
  ASSERT_TRUE(Put("drive", key.dump(), auth).ok());
  const int before = IssuedCount("jwt_bearer");
  for (int i = 0; i < 3; ++i) {
    ExpectVerified(Execute("drive", "GET", "/oauth2/files"),
                   {key_line, "oauth2_", "eyJ"});
  }
  EXPECT_EQ(IssuedCount("jwt_bearer"), before + 1);  // cached

  // Pinned to the service account: a configured client_id must be the
  // key's client_email.
  auth.mutable_oauth2()->set_client_id(kServiceAccount);
  ASSERT_TRUE(Put("drive", key.dump(), auth).ok());
  ExpectVerified(Execute("drive", "GET", "/oauth2/files"), {key_line});
  auth.mutable_oauth2()->set_client_id(
      "other@project-1.iam.gserviceaccount.com");
  absl::Status pinned = Put("drive", key.dump(), auth);
  EXPECT_EQ(pinned.code(), absl::StatusCode::kInvalidArgument) << pinned;
  auth.mutable_oauth2()->clear_client_id();

  // The verifier can fail: a different subject, or another key, is refused
  // by the token endpoint (invalid_grant), and no key material is quoted.
  auth.mutable_oauth2()->set_subject("mallory@example.com");
  ASSERT_TRUE(Put("drive", key.dump(), auth).ok());
  auto refused = Execute("drive", "GET", "/oauth2/files");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused->upstream_error(), "invalid_grant"))
      << refused->upstream_error();
  auth.mutable_oauth2()->set_subject(kSubject);
  nlohmann::json other = ServiceAccountKey("other.pem");
  ASSERT_TRUE(Put("drive", other.dump(), auth).ok());
  refused = Execute("drive", "GET", "/oauth2/files");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused->upstream_error(), "invalid_grant"))
      << refused->upstream_error();
  EXPECT_FALSE(absl::StrContains(refused->upstream_error(), "PRIVATE KEY"));

  // Malformed key files are refused at PutSecret, naming fields only.
  nlohmann::json bad = key;
  bad.erase("client_email");
  absl::Status status = Put("drive", bad.dump(), auth);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "client_email")) << status;
  bad = key;
  bad["private_key"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n";
  status = Put("drive", bad.dump(), auth);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(status.message(), "not a key")) << status;
  bad = key;
  bad["type"] = "authorized_user";
  EXPECT_EQ(Put("drive", bad.dump(), auth).code(),
            absl::StatusCode::kInvalidArgument);
  bad = key;
  bad["private_key_typo"] = "x";
  EXPECT_EQ(Put("drive", bad.dump(), auth).code(),
            absl::StatusCode::kInvalidArgument);
  // jwt_bearer needs scopes (they are part of the assertion).
  auth.mutable_oauth2()->clear_scopes();
  EXPECT_EQ(Put("drive", key.dump(), auth).code(),
            absl::StatusCode::kInvalidArgument);
}

// A token endpoint that rotates refresh tokens and refuses a used one: the
// vault sends the newest, also after a restart (it was persisted sealed),
// and never shows it in its logs, errors, answers or store file.
TEST_P(AuthUpstreamTest, OAuth2RotatedRefreshTokenSurvivesRestart) {
  v1::AuthScheme auth;
  auth.mutable_oauth2()->set_token_url(origin() + "/oauth/rotating-token");
  auth.mutable_oauth2()->set_client_id("agent-client");
  auth.mutable_oauth2()->set_grant("refresh_token");
  nlohmann::json secret = {{"client_secret", kClientSecret},
                           {"refresh_token", kRotatingRefreshToken}};
  ASSERT_TRUE(Put("mail", secret.dump(), auth).ok());
  const int rotations = IssuedCount("rotations");
  const int refused = IssuedCount("refused_refresh");
  ::testing::internal::CaptureStderr();
  std::vector<std::string> errors;

  // Two refreshes in a row: the second must send the token the first got.
  ExpectVerified(Execute("mail", "GET", "/oauth2/inbox"),
                 {kRotatingRefreshToken, "oauth2_", "rt_"});
  core_->tokens()->Clear();
  ExpectVerified(Execute("mail", "GET", "/oauth2/inbox"), {"oauth2_", "rt_"});
  EXPECT_EQ(IssuedCount("rotations"), rotations + 2);

  // A new vault process on the same store: only the sealed copy can know
  // the newest refresh token (the original one is refused upstream now).
  Restart();
  auto reply = Execute("mail", "GET", "/oauth2/inbox");
  ExpectVerified(reply, {"oauth2_", "rt_"});
  if (reply.ok()) errors.push_back(reply->upstream_error());
  EXPECT_EQ(IssuedCount("rotations"), rotations + 3);
  EXPECT_EQ(IssuedCount("refused_refresh"), refused);

  // A new version of the secret starts from its own refresh token: the
  // rotated state of the old version is dropped, and the original token,
  // used up, is refused by the upstream.
  ASSERT_TRUE(Put("mail", secret.dump(), auth).ok());
  reply = Execute("mail", "GET", "/oauth2/inbox");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(absl::StrContains(reply->upstream_error(), "invalid_grant"))
      << reply->upstream_error();
  errors.push_back(reply->upstream_error());
  EXPECT_EQ(IssuedCount("refused_refresh"), refused + 1);
  const std::string logs = ::testing::internal::GetCapturedStderr();
  // The capture did see the vault's log lines (so the check below can fail).
  EXPECT_TRUE(absl::StrContains(logs, "secret_stored")) << logs;

  const nlohmann::json rotated = UpstreamJson("/rotated");
  ASSERT_TRUE(rotated.is_object()) << rotated;
  ASSERT_GE(rotated["issued"].size(), 3u);
  const std::string db =
      Slurp(state_ + "/vault.db") + Slurp(state_ + "/vault.db-wal");
  ASSERT_FALSE(db.empty());
  for (const auto& token : rotated["issued"]) {
    const std::string text = token.get<std::string>();
    EXPECT_FALSE(absl::StrContains(logs, text)) << "in the vault's logs";
    EXPECT_FALSE(absl::StrContains(db, text)) << "in clear in vault.db";
    for (const std::string& error : errors) {
      EXPECT_FALSE(absl::StrContains(error, text)) << error;
    }
  }
}

TEST_P(AuthUpstreamTest, GitHubAppInstallationToken) {
  v1::AuthScheme auth;
  auth.mutable_github_app()->set_app_id("12345");
  auth.mutable_github_app()->set_installation_id("678");
  auth.mutable_github_app()->set_api_origin(origin());
  const std::string pem = Slurp(*dir_ + "/app.pem");
  ASSERT_TRUE(Put("gh", pem, auth).ok());
  const int before = IssuedCount("github");
  for (int i = 0; i < 3; ++i) {
    ExpectVerified(Execute("gh", "GET", "/github/repos/o/r"), {"github_"});
  }
  EXPECT_EQ(IssuedCount("github"), before + 1);

  // The wrong app id: GitHub refuses the JWT.
  auth.mutable_github_app()->set_app_id("999");
  ASSERT_TRUE(Put("gh", pem, auth).ok());
  auto refused = Execute("gh", "GET", "/github/repos/o/r");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused->upstream_error(), "HTTP 401"))
      << refused->upstream_error();
  // Not a private key: refused at PutSecret.
  EXPECT_EQ(Put("gh", "not-a-pem-private-key-at-all", auth).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(AuthUpstreamTest, HttpsNeedsTheSecretsCaBundle) {
  if (!tls()) GTEST_SKIP() << "HTTPS only";
  v1::AuthScheme auth;
  auth.mutable_hmac()->set_signature_header("X-Signature");
  auth.mutable_hmac()->set_timestamp_header("X-Timestamp");
  auth.mutable_hmac()->set_key_id("key-1");
  auth.mutable_hmac()->set_key_id_header("X-Api-Key");
  ASSERT_TRUE(Put("exchange", kHmacKey, auth, /*with_ca=*/false).ok());
  auto reply = Execute("exchange", "GET", "/hmac/orders");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_NE(reply->upstream_error(), "");  // the test CA is not trusted
  v1::PutSecretRequest bad;
  bad.set_id("exchange");
  bad.set_value(kHmacKey);
  bad.add_origins(origin());
  bad.add_internal_origins(origin());
  bad.set_ca_bundle_pem(Slurp(*dir_ + "/ca.key"));
  EXPECT_EQ(core_->PutSecret(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(HttpAndHttps, AuthUpstreamTest,
                         ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "https" : "http";
                         });

}  // namespace
}  // namespace latchkey::vault
