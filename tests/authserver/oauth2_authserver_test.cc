// The vault's oauth2 scheme against a real authorization server (issue
// #18): oidc-provider (authserver.mjs, pinned by package-lock.json) on
// loopback HTTPS with a certificate from a CA this test makes (the vault
// trusts it through the secret's ca_bundle_pem), the real in-process vault
// (VaultCore on SQLite, EgressService, UpstreamClient on libcurl) and
// capture_upstream.py as the resource server, which records the headers it
// received. The bearer the resource saw is judged by the authorization server
// itself, through its introspection endpoint (RFC 7662), called with curl:
// nothing here shares code with the vault's token client.
//
// node_modules is not a Bazel input: `./dev.sh test` runs
// `npm ci --prefix tests/authserver`. The test finds it next to the real
// package.json its runfiles symlink points to, or at
// $LATCHKEY_AUTHSERVER_DIR.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"
#include "tests/run_command.h"
#include "vault/egress_service.h"
#include "vault/secret_store.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"

namespace latchkey::vault {
namespace {

using nlohmann::json;

std::string Slurp(const std::string& path) {
  return testing::ReadFileOrEmpty(path);
}

std::string RunfilePath(const std::string& relative) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/",
                      relative);
}

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return "";
  return resolved;
}

// FindProgram looks `name` up in $PATH (the children get a clean
// environment, so they are started by absolute path).
std::string FindProgram(const std::string& name) {
  const char* path = getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// WaitForFile returns the file's contents once it is non-empty, or "" at
// the deadline.
std::string WaitForFile(const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string text = Slurp(path);
  while (text.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    text = Slurp(path);
  }
  return text;
}

std::vector<json> JsonLines(const std::string& path) {
  std::vector<json> out;
  for (absl::string_view line :
       absl::StrSplit(Slurp(path), '\n', absl::SkipEmpty())) {
    out.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return out;
}

class OAuth2AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-as-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    // A test CA and the authorization server's certificate for 127.0.0.1.
    testing::CommandResult certs = testing::RunCommand(
        {"/bin/sh", "-c",
         absl::StrCat(
             "cd ", dir_,
             " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
             "-out ca.crt -days 1 -subj /CN=latchkey-test-ca "
             "&& openssl req -newkey rsa:2048 -nodes -keyout as.key "
             "-out as.csr -subj /CN=127.0.0.1 "
             "&& printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext "
             "&& openssl x509 -req -in as.csr -CA ca.crt -CAkey ca.key "
             "-CAcreateserial -out as.crt -days 1 -extfile san.ext")},
        "", absl::Seconds(30));
    ASSERT_EQ(certs.exit_code, 0) << certs.err;
    ca_pem_ = Slurp(dir_ + "/ca.crt");
    ASSERT_FALSE(ca_pem_.empty());
    StartAuthServer();
    if (HasFatalFailure()) return;
    StartResourceServer();
    if (HasFatalFailure()) return;
    OpenVault();
  }

  void TearDown() override {
    egress_.reset();
    core_.reset();
    if (authserver_ != nullptr) authserver_->Stop(SIGTERM, absl::Seconds(5));
    if (resource_ != nullptr) resource_->Stop(SIGTERM, absl::Seconds(5));
    authserver_.reset();
    resource_.reset();
    if (!HasFailure()) {
      std::system(("rm -rf " + dir_).c_str());
    } else {
      std::cerr << "logs kept in " << dir_ << "\n";
    }
  }

  void StartAuthServer() {
    const std::string package_json =
        RunfilePath("tests/authserver/package.json");
    const char* override_dir = getenv("LATCHKEY_AUTHSERVER_DIR");
    std::string package_dir = override_dir != nullptr ? override_dir : "";
    if (package_dir.empty()) {
      const std::string real = RealPath(package_json);
      package_dir = real.substr(0, real.rfind('/'));
    }
    ASSERT_FALSE(
        Slurp(package_dir + "/node_modules/oidc-provider/package.json").empty())
        << package_dir << "/node_modules is missing; run\n"
        << "  npm ci --prefix tests/authserver   (./dev.sh test does it)";
    ASSERT_EQ(Slurp(package_dir + "/package-lock.json"),
              Slurp(RunfilePath("tests/authserver/package-lock.json")))
        << package_dir << " is not this test's package directory";
    const std::string node = FindProgram("node");
    ASSERT_FALSE(node.empty()) << "node is not installed (./dev.sh test)";

    const std::string port_file = dir_ + "/as.port";
    secrets_file_ = dir_ + "/as.secrets.json";
    token_log_ = dir_ + "/as.tokens.jsonl";
    testing::ChildProcess::Options options;
    // Run from the package directory so its imports resolve in the
    // node_modules next to it.
    options.argv = {node,
                    package_dir + "/authserver.mjs",
                    "--port-file",
                    port_file,
                    "--secrets-file",
                    secrets_file_,
                    "--token-log",
                    token_log_,
                    "--tls-cert",
                    dir_ + "/as.crt",
                    "--tls-key",
                    dir_ + "/as.key"};
    options.log_path = dir_ + "/authserver.log";
    auto child = testing::ChildProcess::Start(options);
    ASSERT_TRUE(child.ok()) << child.status();
    authserver_ = std::move(*child);
    const std::string port = WaitForFile(port_file, absl::Seconds(20));
    ASSERT_FALSE(port.empty()) << Slurp(options.log_path);
    as_origin_ = absl::StrCat("https://127.0.0.1:", port);
    secrets_ = json::parse(Slurp(secrets_file_), nullptr, false);
    ASSERT_TRUE(secrets_.is_object()) << Slurp(secrets_file_);
  }

  void StartResourceServer() {
    capture_ = dir_ + "/capture.jsonl";
    const std::string port_file = dir_ + "/rs.port";
    testing::ChildProcess::Options options;
    options.argv = {
        "/usr/bin/python3", RunfilePath("tests/verifier/capture_upstream.py"),
        "--port-file",      port_file,
        "--record",         capture_};
    options.log_path = dir_ + "/resource.log";
    auto child = testing::ChildProcess::Start(options);
    ASSERT_TRUE(child.ok()) << child.status();
    resource_ = std::move(*child);
    const std::string port = WaitForFile(port_file, absl::Seconds(10));
    ASSERT_FALSE(port.empty()) << Slurp(options.log_path);
    rs_origin_ = absl::StrCat("http://127.0.0.1:", port);
  }

  // OpenVault opens (or reopens, after a restart) the vault on the SQLite
  // store in dir_.
  void OpenVault() {
    egress_.reset();
    core_.reset();
    auto store = OpenSqliteSecretStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCoreOptions core_options;
    core_options.scrypt = {1024, 8, 1};
    core_options.background_rewrap = false;
    core_ = std::make_unique<VaultCore>(std::move(*store), core_options);
    if (unseal_keys_.empty()) {
      auto init = core_->Init(v1::InitRequest());
      ASSERT_TRUE(init.ok()) << init.status();
      unseal_keys_.assign(init->unseal_keys().begin(),
                          init->unseal_keys().end());
    }
    for (int i : {0, 1, 2}) {
      v1::UnsealRequest unseal;
      unseal.set_key(unseal_keys_[i]);
      ASSERT_TRUE(core_->Unseal(unseal).ok());
    }
    egress_ = std::make_unique<EgressService>(core_.get(), &client_, nullptr);
  }

  std::string ClientSecret(const std::string& client) const {
    return secrets_["clients"][client].get<std::string>();
  }

  // PutOAuth2 stores an oauth2 secret for `client` whose token endpoint is
  // the authorization server; both loopback origins are bound and marked
  // internal, as an operator must for non-public upstreams.
  void PutOAuth2(const std::string& id, const v1::OAuth2Auth& oauth2,
                 const json& value) {
    v1::PutSecretRequest put;
    put.set_id(id);
    put.set_value(value.dump());
    *put.mutable_auth()->mutable_oauth2() = oauth2;
    for (const std::string& origin : {rs_origin_, as_origin_}) {
      put.add_origins(origin);
      put.add_internal_origins(origin);
    }
    put.set_ca_bundle_pem(ca_pem_);
    auto stored = core_->PutSecret(put);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }

  v1::OAuth2Auth Config(const std::string& client, const std::string& grant,
                        const std::string& client_auth) const {
    v1::OAuth2Auth oauth2;
    oauth2.set_token_url(as_origin_ + "/token");
    oauth2.set_client_id(client);
    oauth2.set_grant(grant);
    oauth2.set_client_auth(client_auth);
    return oauth2;
  }

  absl::StatusOr<v1::VaultExecuteResponse> Execute(const std::string& id) {
    v1::VaultExecuteRequest request;
    request.mutable_limits()->set_max_redirects(0);
    v1::Rule* rule = request.mutable_rules()->add_rules();
    rule->set_effect(v1::Rule::ALLOW);
    rule->add_methods("*");
    rule->set_path("/**");
    request.set_request_id(absl::StrCat("as-", ++request_seq_));
    request.set_secret_id(id);
    request.set_origin(rs_origin_);
    request.set_method("GET");
    request.set_path("/v1/items");
    return egress_->ExecuteChecked(request);
  }

  // ExecuteOk runs one request and returns the bearer token the resource
  // server received with it ("" after a test failure).
  std::string ExecuteOk(const std::string& id) {
    const size_t before = JsonLines(capture_).size();
    auto reply = Execute(id);
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return "";
    EXPECT_EQ(reply->upstream_error(), "");
    EXPECT_EQ(reply->refusal_message(), "");
    EXPECT_EQ(reply->response().status(), 200);
    std::vector<json> records = JsonLines(capture_);
    EXPECT_EQ(records.size(), before + 1) << "one request reaches the resource";
    if (records.size() != before + 1) return "";
    std::vector<std::string> bearers;
    for (const json& header : records.back()["headers"]) {
      if (absl::EqualsIgnoreCase(header[0].get<std::string>(),
                                 "Authorization")) {
        bearers.push_back(header[1].get<std::string>());
      }
    }
    EXPECT_EQ(bearers.size(), 1u);
    if (bearers.size() != 1 || !absl::StartsWith(bearers[0], "Bearer ")) {
      ADD_FAILURE() << "no bearer token reached the resource";
      return "";
    }
    return bearers[0].substr(strlen("Bearer "));
  }

  // PostForm posts a form to the authorization server with curl, as
  // `client` (client_secret_basic), and returns the HTTP status and body.
  std::pair<int, json> PostForm(const std::string& path,
                                const std::string& client,
                                const std::vector<std::string>& fields) {
    // curl trusts only the test CA; -w appends the status on its own line.
    std::vector<std::string> argv = {"/usr/bin/curl",
                                     "-sS",
                                     "--max-time",
                                     "10",
                                     "--cacert",
                                     dir_ + "/ca.crt",
                                     "-w",
                                     "\n%{http_code}",
                                     "-u",
                                     client + ":" + ClientSecret(client)};
    for (const std::string& field : fields) {
      argv.push_back("--data-urlencode");
      argv.push_back(field);
    }
    argv.push_back(as_origin_ + path);
    testing::CommandResult result =
        testing::RunCommand(argv, "", absl::Seconds(15));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const size_t newline = result.out.rfind('\n');
    if (newline == std::string::npos) return {0, json()};
    return {std::atoi(result.out.c_str() + newline + 1),
            json::parse(result.out.substr(0, newline), nullptr, false)};
  }

  // Introspect asks the authorization server about `token` (RFC 7662),
  // authenticated as the resource server's own client.
  json Introspect(const std::string& token) {
    auto [status, answer] =
        PostForm("/token/introspection", "introspector", {"token=" + token});
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(answer.is_object()) << answer.dump();
    return answer;
  }

  // TokenRequests counts the authorization server's token requests for
  // `client` with `grant_type`, and with `status` unless it is 0.
  int TokenRequests(const std::string& client, const std::string& grant_type,
                    int status = 0) {
    int count = 0;
    for (const json& line : JsonLines(token_log_)) {
      if (line.value("client_id", json()) == client &&
          line.value("grant_type", json()) == grant_type &&
          (status == 0 || line.value("status", 0) == status)) {
        ++count;
      }
    }
    return count;
  }

  std::string dir_;
  std::string ca_pem_;
  std::string as_origin_, rs_origin_;
  std::string capture_, secrets_file_, token_log_;
  json secrets_;
  std::vector<std::string> unseal_keys_;
  std::unique_ptr<testing::ChildProcess> authserver_, resource_;
  UpstreamClient client_;
  std::unique_ptr<VaultCore> core_;
  std::unique_ptr<EgressService> egress_;
  int request_seq_ = 0;
};

// client_credentials with either client authentication method: the bearer
// the resource received is active at the authorization server, issued to
// that client with the scopes asked for, and one token serves several
// calls.
TEST_F(OAuth2AuthServerTest, ClientCredentialsBothClientAuthMethods) {
  for (const auto& [client, method] :
       std::vector<std::pair<std::string, std::string>>{{"cc-basic", "basic"},
                                                        {"cc-post", "post"}}) {
    SCOPED_TRACE(client);
    v1::OAuth2Auth oauth2 = Config(client, "client_credentials", method);
    oauth2.add_scopes("api:read");
    oauth2.add_scopes("api:write");
    PutOAuth2(client, oauth2, {{"client_secret", ClientSecret(client)}});

    const std::string first = ExecuteOk(client);
    ASSERT_FALSE(first.empty());
    for (int i = 0; i < 2; ++i) EXPECT_EQ(ExecuteOk(client), first);
    // Cached: three calls, one token request, which succeeded, made with
    // the configured client authentication method.
    EXPECT_EQ(TokenRequests(client, "client_credentials"), 1);
    EXPECT_EQ(TokenRequests(client, "client_credentials", 200), 1);
    std::vector<json> requests = JsonLines(token_log_);
    ASSERT_FALSE(requests.empty());
    EXPECT_EQ(requests.back().value("client_auth", ""),
              "client_secret_" + method)
        << requests.back().dump();

    json answer = Introspect(first);
    EXPECT_EQ(answer.value("active", false), true) << answer.dump();
    EXPECT_EQ(answer.value("client_id", ""), client) << answer.dump();
    EXPECT_EQ(answer.value("scope", ""), "api:read api:write") << answer.dump();
    EXPECT_EQ(answer.value("iss", ""), as_origin_) << answer.dump();
  }
  // The judge can say no: a made-up token is not active.
  EXPECT_EQ(Introspect("not-a-token-0123456789").value("active", true), false);
}

// A wrong client secret: the authorization server refuses it, the agent
// gets the vault's clear upstream error with the OAuth error code and no
// secret, and nothing reaches the resource.
TEST_F(OAuth2AuthServerTest, WrongClientSecretIsAClearUpstreamError) {
  const std::string wrong = "lkWrongClientSecret0123456789abcdef";
  PutOAuth2("wrong", Config("cc-basic", "client_credentials", "basic"),
            {{"client_secret", wrong}});
  const size_t before = JsonLines(capture_).size();
  auto reply = Execute("wrong");
  ASSERT_TRUE(reply.ok()) << reply.status();
  const std::string& error = reply->upstream_error();
  EXPECT_TRUE(absl::StrContains(error, "HTTP 401")) << error;
  EXPECT_TRUE(absl::StrContains(error, "invalid_client")) << error;
  EXPECT_FALSE(absl::StrContains(error, wrong)) << error;
  EXPECT_FALSE(absl::StrContains(error, ClientSecret("cc-basic"))) << error;
  EXPECT_EQ(reply->response().body(), "");
  EXPECT_EQ(JsonLines(capture_).size(), before);
  EXPECT_EQ(TokenRequests("cc-basic", "client_credentials", 401), 1);
}

// The refresh_token grant with the refresh token the authorization server
// minted at start: the access token it answers is active for that client.
TEST_F(OAuth2AuthServerTest, RefreshTokenGrant) {
  const std::string refresh_token = secrets_["refresh_tokens"]["rt-client"];
  PutOAuth2("rt", Config("rt-client", "refresh_token", "basic"),
            {{"client_secret", ClientSecret("rt-client")},
             {"refresh_token", refresh_token}});
  const std::string bearer = ExecuteOk("rt");
  ASSERT_FALSE(bearer.empty());
  EXPECT_NE(bearer, refresh_token);
  EXPECT_EQ(ExecuteOk("rt"), bearer);  // cached
  EXPECT_EQ(TokenRequests("rt-client", "refresh_token", 200), 1);
  EXPECT_EQ(TokenRequests("rt-client", "refresh_token"), 1);

  json answer = Introspect(bearer);
  EXPECT_EQ(answer.value("active", false), true) << answer.dump();
  EXPECT_EQ(answer.value("client_id", ""), "rt-client") << answer.dump();
  EXPECT_EQ(answer.value("sub", ""), "svc-account") << answer.dump();
  EXPECT_TRUE(absl::StrContains(answer.value("scope", ""), "api:read"))
      << answer.dump();
}

// Refresh-token rotation (the authorization server answers every refresh
// with a new refresh token and consumes the old one; presenting a consumed
// one is refused and revokes the whole grant): two refreshes in a row
// succeed, so the second used the rotated token, and after a restart of
// the vault on the same SQLite store the next refresh succeeds too, so the
// rotated token was persisted. rt-rotate's access tokens live 4 s (the
// vault replaces them after half that), so each call below refreshes.
TEST_F(OAuth2AuthServerTest, RotatedRefreshTokenIsUsedAndSurvivesRestart) {
  const std::string initial = secrets_["refresh_tokens"]["rt-rotate"];
  PutOAuth2("rot", Config("rt-rotate", "refresh_token", "basic"),
            {{"client_secret", ClientSecret("rt-rotate")},
             {"refresh_token", initial}});
  std::vector<std::string> bearers;
  bearers.push_back(ExecuteOk("rot"));
  ASSERT_EQ(TokenRequests("rt-rotate", "refresh_token", 200), 1);
  // The AS consumed the initial refresh token when it rotated it.
  EXPECT_EQ(Introspect(initial).value("active", true), false);

  // Past the cached access token's life: a second refresh, which only the
  // rotated refresh token can make.
  absl::SleepFor(absl::Milliseconds(2500));
  bearers.push_back(ExecuteOk("rot"));
  ASSERT_EQ(TokenRequests("rt-rotate", "refresh_token", 200), 2);

  // A restart drops the vault's memory (the token cache lives in
  // VaultCore): the third refresh uses the rotated token from the store.
  OpenVault();
  ASSERT_FALSE(HasFatalFailure());
  bearers.push_back(ExecuteOk("rot"));
  EXPECT_EQ(TokenRequests("rt-rotate", "refresh_token", 200), 3);
  EXPECT_EQ(TokenRequests("rt-rotate", "refresh_token"), 3)
      << "a refresh was refused: " << Slurp(token_log_);

  for (size_t i = 0; i < bearers.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_FALSE(bearers[i].empty());
    if (i > 0) {
      EXPECT_NE(bearers[i], bearers[i - 1]);
    }
  }
  json last = Introspect(bearers.back());
  EXPECT_EQ(last.value("active", false), true) << last.dump();
  EXPECT_EQ(last.value("client_id", ""), "rt-rotate") << last.dump();

  // The AS refuses the old refresh token (this revokes the grant, so it
  // comes last).
  auto [status, refused] =
      PostForm("/token", "rt-rotate",
               {"grant_type=refresh_token", "refresh_token=" + initial});
  EXPECT_EQ(status, 400) << refused.dump();
  EXPECT_EQ(refused.value("error", ""), "invalid_grant") << refused.dump();
}

}  // namespace
}  // namespace latchkey::vault
