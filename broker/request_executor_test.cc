#include "broker/request_executor.h"

#include <atomic>
#include <thread>
#include <vector>

#include "broker/test_doubles.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

using test_doubles::RecordingAudit;

// A test double of the vault (the audit one is in test_doubles.h).
class RecordingVault final : public VaultEgressClient {
 public:
  absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest& request) override {
    calls++;
    last = request;
    if (!fail.ok()) return fail;
    v1::VaultExecuteResponse response;
    response.mutable_response()->set_status(200);
    response.mutable_response()->set_body("{\"ok\":true}");
    return response;
  }
  std::atomic<int> calls{0};
  v1::VaultExecuteRequest last;
  absl::Status fail;
};

class RequestExecutorTest
    : public test_doubles::ExecutorFixture<RecordingVault> {
 protected:
  void SetUp() override {
    v1::BrokerConfig config = test_doubles::BotApiConfig("GET", "/v1/**");
    v1::Agent* other = config.add_agents();
    other->set_name("other");
    other->set_token_sha256(Sha256Hex("other-token"));
    v1::Rule* deny = config.mutable_capabilities(0)->add_rules();
    deny->set_effect(v1::Rule::DENY);
    deny->add_methods("*");
    deny->set_path("/v1/admin/**");
    StartExecutor(config);
  }

  v1::ExecuteResponse Run(const std::string& method, const std::string& path,
                          const AgentIdentity* agent = nullptr,
                          const std::string& capability = "api") {
    v1::ExecuteRequest request;
    request.set_session_id(session_);
    request.set_capability(capability);
    request.mutable_request()->set_method(method);
    request.mutable_request()->set_path(path);
    return executor_->Execute({agent ? agent : bot_, 1000}, request);
  }
};

TEST_F(RequestExecutorTest, AllowedRequestGoesToVaultWithNormalizedPath) {
  v1::ExecuteResponse response = Run("GET", "/v1/./items//1");
  EXPECT_EQ(response.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(response.response().status(), 200);
  EXPECT_EQ(vault_.last.path(), "/v1/items/1");
  EXPECT_EQ(vault_.last.secret_id(), "secret");
  EXPECT_EQ(vault_.last.origin(), "https://api.example.com:443");
  // The intent, durable before the vault was called, then the outcome.
  ASSERT_EQ(audit_.events.size(), 2u);
  EXPECT_EQ(audit_.events[0].source(), "intent");
  EXPECT_EQ(audit_.events[0].path(), "/v1/items/1");
  EXPECT_EQ(audit_.events[0].upstream_status(), 0);
  EXPECT_EQ(audit_.events[1].source(), "broker");
  EXPECT_EQ(audit_.events[1].request_id(), audit_.events[0].request_id());
  EXPECT_EQ(audit_.events[1].decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(audit_.events[1].upstream_status(), 200);
  EXPECT_EQ(audit_.events[1].agent(), "bot");
  EXPECT_EQ(audit_.events[1].path(), "/v1/items/1");
  // The vault gets the capability's rules to check every redirect hop.
  EXPECT_GT(vault_.last.rules().rules_size(), 0);
}

TEST_F(RequestExecutorTest, NothingReachesTheVaultWithoutADurableIntent) {
  audit_.fail = absl::UnavailableError("sink down");
  v1::ExecuteResponse response = Run("GET", "/v1/items/1");
  EXPECT_EQ(response.decision(), v1::DECISION_DENY);
  EXPECT_EQ(response.denial().code(), v1::REASON_AUDIT_UNAVAILABLE);
  EXPECT_EQ(vault_.last.path(), "");
}

TEST_F(RequestExecutorTest, EveryDenialIsAuditedOnceAndNeverExecuted) {
  struct Case {
    std::string method, path, capability;
    const AgentIdentity* agent;
    v1::ReasonCode code;
  };
  const AgentIdentity* other = state_->Get()->FindAgentByToken("other-token");
  std::vector<Case> cases = {
      {"GET", "/v1/admin/x", "api", nullptr, v1::REASON_RULE_DENY},
      {"DELETE", "/v1/x", "api", nullptr, v1::REASON_NO_RULE_MATCHED},
      {"GET", "/v1/../../x", "api", nullptr, v1::REASON_PATH_REJECTED},
      {"GET", "/v1/../x", "api", nullptr, v1::REASON_NO_RULE_MATCHED},
      {"GET", "/v1/x", "nope", nullptr, v1::REASON_CAPABILITY_NOT_FOUND},
      {"GET", "/v1/x", "api", other, v1::REASON_AGENT_NOT_ALLOWED},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    v1::ExecuteResponse response = Run(c.method, c.path, c.agent, c.capability);
    EXPECT_EQ(response.decision(), v1::DECISION_DENY) << c.path;
    EXPECT_EQ(response.denial().code(), c.code) << c.path;
    EXPECT_FALSE(response.denial().next_step().empty());
    ASSERT_EQ(audit_.events.size(), i + 1);
    EXPECT_EQ(audit_.events.back().reason_code(), c.code);
  }
  EXPECT_EQ(vault_.calls.load(), 0);
}

TEST_F(RequestExecutorTest, UnauthenticatedCallerIsDenied) {
  v1::ExecuteRequest request;
  request.set_capability("api");
  v1::ExecuteResponse response = executor_->Execute({nullptr, 1000}, request);
  EXPECT_EQ(response.denial().code(), v1::REASON_UNAUTHENTICATED);
  EXPECT_EQ(audit_.events.size(), 1u);
}

TEST_F(RequestExecutorTest, SessionExpiresWithTheClock) {
  EXPECT_EQ(Run("GET", "/v1/x").decision(), v1::DECISION_ALLOW);
  now_ += absl::Minutes(5);
  EXPECT_EQ(Run("GET", "/v1/x").denial().code(), v1::REASON_SESSION_EXPIRED);
}

TEST_F(RequestExecutorTest, RevokedSessionIsDenied) {
  ASSERT_TRUE(*sessions_->Revoke(session_));
  EXPECT_EQ(Run("GET", "/v1/x").denial().code(), v1::REASON_SESSION_REVOKED);
  EXPECT_FALSE(*sessions_->Revoke(session_));
}

TEST_F(RequestExecutorTest, VaultErrorsBecomeReasons) {
  vault_.fail = absl::FailedPreconditionError("vault is sealed");
  EXPECT_EQ(Run("GET", "/v1/x").denial().code(), v1::REASON_VAULT_SEALED);
  vault_.fail = absl::UnavailableError("connect failed");
  EXPECT_EQ(Run("GET", "/v1/x").denial().code(), v1::REASON_VAULT_UNAVAILABLE);
  vault_.fail = absl::PermissionDeniedError("not bound");
  EXPECT_EQ(Run("GET", "/v1/x").denial().code(), v1::REASON_ORIGIN_REFUSED);
}

TEST_F(RequestExecutorTest, AuditFailureRefusesAndWithholdsTheResponse) {
  audit_.fail = absl::UnavailableError("disk full");
  v1::ExecuteResponse response = Run("GET", "/v1/x");
  EXPECT_EQ(response.decision(), v1::DECISION_DENY);
  EXPECT_EQ(response.denial().code(), v1::REASON_AUDIT_UNAVAILABLE);
  EXPECT_FALSE(response.has_response());
}

TEST_F(RequestExecutorTest, UnreachableAuditRefusesBeforeExecuting) {
  audit_.reachable = false;
  EXPECT_EQ(Run("GET", "/v1/x").denial().code(), v1::REASON_AUDIT_UNAVAILABLE);
  EXPECT_EQ(vault_.calls.load(), 0);
}

TEST_F(RequestExecutorTest, CredentialHeadersAreRefused) {
  v1::ExecuteRequest request;
  request.set_session_id(session_);
  request.set_capability("api");
  request.mutable_request()->set_method("GET");
  request.mutable_request()->set_path("/v1/x");
  v1::Header* header = request.mutable_request()->add_headers();
  header->set_name("Authorization");
  header->set_value("Bearer mine");
  v1::ExecuteResponse response = executor_->Execute({bot_, 1000}, request);
  EXPECT_EQ(response.denial().code(), v1::REASON_INVALID_REQUEST);
  EXPECT_EQ(vault_.calls.load(), 0);
}

TEST_F(RequestExecutorTest, ExplainExecutesNothing) {
  v1::ExplainRequest request;
  request.set_agent("bot");
  request.set_capability("api");
  request.set_method("GET");
  request.set_path("/v1/admin/../admin/x");
  v1::ExplainResponse response = executor_->Explain(request);
  EXPECT_EQ(response.decision(), v1::DECISION_DENY);
  EXPECT_EQ(response.denial().code(), v1::REASON_RULE_DENY);
  EXPECT_EQ(response.normalized_path(), "/v1/admin/x");
  EXPECT_EQ(vault_.calls.load(), 0);
  EXPECT_TRUE(audit_.events.empty());
}

TEST_F(RequestExecutorTest, RateLimitNamesTheLimitAndRetryAfter) {
  v1::BrokerConfig config;
  v1::Agent* agent = config.add_agents();
  agent->set_name("bot");
  agent->set_token_sha256(Sha256Hex("token"));
  agent->mutable_session_rate_limit()->set_requests_per_minute(600);
  agent->mutable_session_rate_limit()->set_burst(5);
  v1::Capability* cap = config.add_capabilities();
  cap->set_name("api");
  cap->set_secret_id("secret");
  cap->set_origin("https://api.example.com");
  cap->add_agents("bot");
  cap->mutable_rate_limit()->set_requests_per_minute(120);
  cap->mutable_rate_limit()->set_burst(2);
  v1::Rule* allow = cap->add_rules();
  allow->set_effect(v1::Rule::ALLOW);
  allow->add_methods("GET");
  allow->set_path("/**");
  state_->Set(*BrokerState::Compile(config));
  bot_ = state_->Get()->FindAgentByToken("token");
  RateLimiter limiter([this] { return now_; });
  RequestExecutor executor(
      state_.get(), sessions_.get(), &vault_, &audit_, [this] { return now_; },
      &limiter);
  v1::ExecuteRequest request;
  request.set_session_id(session_);
  request.set_capability("api");
  request.mutable_request()->set_method("GET");
  request.mutable_request()->set_path("/x");
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
  v1::ExecuteResponse limited = executor.Execute({bot_, 1}, request);
  ASSERT_EQ(limited.decision(), v1::DECISION_DENY);
  EXPECT_EQ(limited.denial().code(), v1::REASON_RATE_LIMITED);
  EXPECT_NE(limited.denial().message().find("capability 'api' rate limit"),
            std::string::npos)
      << limited.denial().message();
  EXPECT_EQ(limited.denial().retry_after().seconds(), 0);
  EXPECT_EQ(limited.denial().retry_after().nanos(), 500'000'000);
  EXPECT_EQ(vault_.calls.load(), 2);
  EXPECT_EQ(audit_.events.back().reason_code(), v1::REASON_RATE_LIMITED);
  // Denied requests take no tokens: after the refill, one more passes.
  now_ += absl::Milliseconds(500);
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
  // A policy denial never consumes a token either.
  request.mutable_request()->set_method("DELETE");
  now_ += absl::Seconds(1);
  EXPECT_EQ(executor.Execute({bot_, 1}, request).denial().code(),
            v1::REASON_NO_RULE_MATCHED);
  request.mutable_request()->set_method("GET");
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
  // Per session: only the session is limited now (burst 1).
  agent->mutable_session_rate_limit()->set_burst(1);
  cap->clear_rate_limit();
  state_->Set(*BrokerState::Compile(config));
  bot_ = state_->Get()->FindAgentByToken("token");
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
  v1::ExecuteResponse session_limited = executor.Execute({bot_, 1}, request);
  EXPECT_EQ(session_limited.denial().code(), v1::REASON_RATE_LIMITED);
  EXPECT_NE(session_limited.denial().rule().find("session rate limit"),
            std::string::npos)
      << session_limited.denial().rule();
  EXPECT_EQ(session_limited.denial().retry_after().nanos(), 100'000'000);
  // Another session of the same agent has a bucket of its own.
  request.set_session_id(
      sessions_->Open("bot", {"api"}, absl::Minutes(5))->id());
  EXPECT_EQ(executor.Execute({bot_, 1}, request).decision(),
            v1::DECISION_ALLOW);
}

TEST_F(RequestExecutorTest, RevokedSessionOutranksOtherReasons) {
  ASSERT_TRUE(*sessions_->Revoke(session_));
  EXPECT_EQ(Run("DELETE", "/nope").denial().code(), v1::REASON_SESSION_REVOKED);
}

// Explain runs the same pipeline as Execute, so the two agree on every
// request Explain can describe.
TEST_F(RequestExecutorTest, ExplainAndExecuteAgree) {
  struct Case {
    std::string capability, method, path;
  } cases[] = {
      {"api", "GET", "/v1/items"},
      {"api", "GET", "/v1/admin/x"},
      {"api", "GET", "/v1/ADMIN/x"},
      {"api", "GET", "/v1/admin;x=1/users"},
      {"api", "POST", "/v1/items"},
      {"api", "get", "/v1/items"},
      {"nope", "GET", "/v1/items"},
      {std::string(63, 'a') + "\xc3\xa9", "GET", "/v1/items"},
  };
  for (const Case& c : cases) {
    v1::ExplainRequest explain;
    explain.set_capability(c.capability);
    explain.set_method(c.method);
    explain.set_path(c.path);
    explain.set_session_id(session_);
    v1::ExplainResponse explained = executor_->ExplainFor(bot_, explain);
    v1::ExecuteResponse executed = Run(c.method, c.path, nullptr, c.capability);
    EXPECT_EQ(explained.decision(), executed.decision()) << c.path;
    EXPECT_EQ(explained.denial().code(), executed.denial().code())
        << c.capability << " " << c.method << " " << c.path;
  }
}

TEST_F(RequestExecutorTest, ExplainReportsStandingRevocations) {
  ASSERT_TRUE(sessions_->RevokeCapability("api").ok());
  v1::ExplainRequest request;
  request.set_agent("bot");
  request.set_capability("api");
  request.set_method("GET");
  request.set_path("/v1/x");
  EXPECT_EQ(executor_->Explain(request).denial().code(),
            v1::REASON_SESSION_REVOKED);
}

}  // namespace
}  // namespace latchkey::broker
