// The reason gate, the approval gate (pending, approved, denied, timed out,
// replay, queue cap, persistence), the explain trace and test_capability,
// through RequestExecutor with a real ApprovalRegistry on SQLite.
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "broker/approval_registry.h"
#include "broker/request_executor.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

class FakeVault final : public VaultEgressClient {
 public:
  absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest& request) override {
    ++calls;
    last = request;
    v1::VaultExecuteResponse response;
    response.mutable_response()->set_status(status);
    response.mutable_response()->set_body("{\"balance\":\"secret-ish\"}");
    response.mutable_response()->set_upstream_latency_us(1234);
    return response;
  }
  int calls = 0;
  int status = 200;
  v1::VaultExecuteRequest last;
};

class ListAudit final : public AuditRecorder {
 public:
  absl::Status Record(const v1::AuditEvent& event) override {
    events.push_back(event);
    return absl::OkStatus();
  }
  bool Reachable() override { return true; }
  std::vector<v1::AuditEvent> events;
};

class RequestGatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    v1::BrokerConfig config;
    v1::Agent* agent = config.add_agents();
    agent->set_name("bot");
    agent->set_token_sha256(Sha256Hex("token"));
    for (const char* name : {"reasoned", "first", "every", "plain"}) {
      v1::Capability* cap = config.add_capabilities();
      cap->set_name(name);
      cap->set_secret_id("secret");
      cap->set_origin("https://api.example.com");
      cap->add_agents("bot");
      v1::Rule* allow = cap->add_rules();
      allow->set_effect(v1::Rule::ALLOW);
      allow->add_methods("GET");
      allow->set_path("/v1/**");
      v1::Rule* deny = cap->add_rules();
      deny->set_effect(v1::Rule::DENY);
      deny->add_methods("*");
      deny->set_path("/v1/admin/**");
      cap->mutable_approval_timeout()->set_seconds(60);
      cap->mutable_health_request()->set_path("/v1/balance");
    }
    config.mutable_capabilities(0)->set_require_reason(true);
    config.mutable_capabilities(0)->set_max_reason_bytes(20);
    config.mutable_capabilities(1)->set_approval(
        v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION);
    config.mutable_capabilities(2)->set_approval(
        v1::APPROVAL_MODE_EVERY_REQUEST);
    config.mutable_capabilities(3)->clear_health_request();
    state_ = std::make_unique<StateHolder>(*BrokerState::Compile(config));
    sessions_ = std::make_unique<SessionRegistry>([this] { return now_; });
    OpenRegistry();
    bot_ = state_->Get()->FindAgentByToken("token");
    session_ = sessions_
                   ->Open("bot", {"reasoned", "first", "every", "plain"},
                          absl::Hours(1))
                   ->id();
  }
  void TearDown() override {
    executor_.reset();
    approvals_.reset();
    (void)!system(("rm -rf '" + dir_ + "'").c_str());
  }

  // OpenRegistry (re)opens the approvals database, as a restart would.
  void OpenRegistry() {
    executor_.reset();
    approvals_.reset();
    approvals_ = *ApprovalRegistry::Open(dir_ + "/approvals.db",
                                         [this] { return now_; });
    executor_ = std::make_unique<RequestExecutor>(
        state_.get(), sessions_.get(), &vault_, &audit_,
        [this] { return now_; }, nullptr, approvals_.get());
  }

  v1::ExecuteResponse Run(const std::string& capability,
                          const std::string& path = "/v1/x",
                          const std::string& reason = "",
                          const std::string& approval_id = "") {
    v1::ExecuteRequest request;
    request.set_session_id(session_);
    request.set_capability(capability);
    request.set_reason(reason);
    request.set_approval_id(approval_id);
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path(path);
    return executor_->Execute({bot_, 1000}, request);
  }

  v1::Approval Decide(const std::string& id, bool approve) {
    v1::DecideApprovalRequest request;
    request.set_id(id);
    request.set_approve(approve);
    absl::StatusOr<v1::Approval> decided =
        executor_->DecideApproval(request, 4242);
    EXPECT_TRUE(decided.ok()) << decided.status();
    return decided.value_or(v1::Approval());
  }

  std::string dir_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  FakeVault vault_;
  ListAudit audit_;
  std::unique_ptr<StateHolder> state_;
  std::unique_ptr<SessionRegistry> sessions_;
  std::unique_ptr<ApprovalRegistry> approvals_;
  std::unique_ptr<RequestExecutor> executor_;
  const AgentIdentity* bot_ = nullptr;
  std::string session_;
};

TEST_F(RequestGatesTest, MissingReasonIsRequiredAndRecordedWhenGiven) {
  v1::ExecuteResponse missing = Run("reasoned");
  EXPECT_EQ(missing.denial().code(), v1::REASON_REASON_REQUIRED);
  EXPECT_FALSE(missing.denial().next_step().empty());
  EXPECT_EQ(Run("reasoned", "/v1/x", "   ").denial().code(),
            v1::REASON_REASON_REQUIRED);
  EXPECT_EQ(vault_.calls, 0);
  v1::ExecuteResponse given = Run("reasoned", "/v1/x", "triage bug 12");
  EXPECT_EQ(given.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(audit_.events.back().agent_reason(), "triage bug 12");
  // A reason never turns a rule denial into an allow.
  EXPECT_EQ(Run("reasoned", "/v1/admin/x", "please").denial().code(),
            v1::REASON_RULE_DENY);
  // A rule denial outranks a missing reason.
  EXPECT_EQ(Run("reasoned", "/v1/admin/x").denial().code(),
            v1::REASON_RULE_DENY);
}

TEST_F(RequestGatesTest, TooLongReasonIsInvalidAndNamesTheLimit) {
  v1::ExecuteResponse response = Run("reasoned", "/v1/x", std::string(21, 'r'));
  EXPECT_EQ(response.denial().code(), v1::REASON_INVALID_REQUEST);
  EXPECT_NE(response.denial().message().find("at most 20 bytes"),
            std::string::npos)
      << response.denial().message();
  // Capabilities without their own limit use kMaxReasonBytes.
  EXPECT_EQ(Run("plain", "/v1/x", std::string(kMaxReasonBytes + 1, 'r'))
                .denial()
                .code(),
            v1::REASON_INVALID_REQUEST);
  EXPECT_EQ(Run("plain", "/v1/x", std::string(kMaxReasonBytes, 'r')).decision(),
            v1::DECISION_ALLOW);
  EXPECT_EQ(vault_.calls, 1);
}

TEST_F(RequestGatesTest, FirstRequestOfSessionWaitsThenTheSessionPasses) {
  v1::ExecuteResponse pending = Run("first", "/v1/x", "look at balance");
  ASSERT_EQ(pending.denial().code(), v1::REASON_APPROVAL_PENDING);
  const std::string id = pending.approval().id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(pending.approval().state(), v1::Approval::PENDING);
  EXPECT_EQ(pending.approval().session_id(), session_.substr(0, 8));
  EXPECT_EQ(audit_.events.back().approval_id(), id);
  EXPECT_EQ(audit_.events.back().reason_code(), v1::REASON_APPROVAL_PENDING);
  // Asking again without the id finds the same pending approval.
  EXPECT_EQ(Run("first").approval().id(), id);
  EXPECT_EQ(Run("first", "/v1/x", "", id).denial().code(),
            v1::REASON_APPROVAL_PENDING);
  EXPECT_EQ(vault_.calls, 0);

  v1::Approval approved = Decide(id, true);
  EXPECT_EQ(approved.state(), v1::Approval::APPROVED);
  EXPECT_EQ(approved.operator_uid(), 4242u);
  const v1::AuditEvent& decision = audit_.events.back();
  EXPECT_EQ(decision.source(), "operator");
  EXPECT_EQ(decision.operator_uid(), 4242u);
  EXPECT_EQ(decision.approval_id(), id);
  EXPECT_EQ(decision.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(decision.agent_reason(), "look at balance");

  EXPECT_EQ(Run("first", "/v1/x", "", id).decision(), v1::DECISION_ALLOW);
  // The rest of the session passes without an id, another path too.
  EXPECT_EQ(Run("first", "/v1/y").decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(vault_.calls, 2);
  // Deciding twice is refused and changes nothing.
  v1::DecideApprovalRequest again;
  again.set_id(id);
  EXPECT_EQ(executor_->DecideApproval(again, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A new session of the same agent waits again.
  session_ = sessions_->Open("bot", {"first"}, absl::Hours(1))->id();
  EXPECT_EQ(Run("first").denial().code(), v1::REASON_APPROVAL_PENDING);
}

TEST_F(RequestGatesTest, EveryRequestApprovalIsBoundAndUsedOnce) {
  v1::ExecuteResponse pending = Run("every", "/v1/pay");
  ASSERT_EQ(pending.denial().code(), v1::REASON_APPROVAL_PENDING);
  const std::string id = pending.approval().id();
  Decide(id, true);
  // Another path cannot use it.
  EXPECT_EQ(Run("every", "/v1/other", "", id).denial().code(),
            v1::REASON_APPROVAL_NOT_FOUND);
  v1::ExecuteResponse used = Run("every", "/v1/pay", "", id);
  EXPECT_EQ(used.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(used.approval().state(), v1::Approval::USED);
  EXPECT_EQ(vault_.calls, 1);
  // Replaying the id is refused.
  EXPECT_EQ(Run("every", "/v1/pay", "", id).denial().code(),
            v1::REASON_APPROVAL_NOT_FOUND);
  // Without an id, the same request waits again under a new approval.
  v1::ExecuteResponse again = Run("every", "/v1/pay");
  EXPECT_EQ(again.denial().code(), v1::REASON_APPROVAL_PENDING);
  EXPECT_NE(again.approval().id(), id);
  EXPECT_EQ(vault_.calls, 1);
}

TEST_F(RequestGatesTest, DeniedApprovalIsAuditedWithTheOperatorsUid) {
  const std::string id = Run("every").approval().id();
  v1::Approval denied = Decide(id, false);
  EXPECT_EQ(denied.state(), v1::Approval::DENIED);
  EXPECT_EQ(audit_.events.back().reason_code(), v1::REASON_APPROVAL_DENIED);
  EXPECT_EQ(audit_.events.back().operator_uid(), 4242u);
  v1::ExecuteResponse polled = Run("every", "/v1/x", "", id);
  EXPECT_EQ(polled.denial().code(), v1::REASON_APPROVAL_DENIED);
  EXPECT_EQ(polled.approval().state(), v1::Approval::DENIED);
  EXPECT_EQ(vault_.calls, 0);
}

TEST_F(RequestGatesTest, PendingApprovalTimesOutOnceAndIsAudited) {
  const std::string id = Run("every").approval().id();
  now_ += absl::Seconds(61);
  size_t before = audit_.events.size();
  v1::ListApprovalsResponse list = executor_->ListApprovals({});
  ASSERT_EQ(list.approvals_size(), 1);
  EXPECT_EQ(list.approvals(0).state(), v1::Approval::TIMED_OUT);
  ASSERT_EQ(audit_.events.size(), before + 1);
  EXPECT_EQ(audit_.events.back().reason_code(), v1::REASON_APPROVAL_TIMED_OUT);
  EXPECT_EQ(audit_.events.back().approval_id(), id);
  // Polling says so; it is audited as that request's decision only.
  EXPECT_EQ(Run("every", "/v1/x", "", id).denial().code(),
            v1::REASON_APPROVAL_TIMED_OUT);
  EXPECT_EQ(audit_.events.size(), before + 2);
  v1::DecideApprovalRequest late;
  late.set_id(id);
  late.set_approve(true);
  EXPECT_EQ(executor_->DecideApproval(late, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RequestGatesTest, PendingApprovalsSurviveARestart) {
  const std::string id = Run("every").approval().id();
  OpenRegistry();
  v1::ListApprovalsRequest pending_only;
  pending_only.set_pending_only(true);
  v1::ListApprovalsResponse list = executor_->ListApprovals(pending_only);
  ASSERT_EQ(list.approvals_size(), 1);
  EXPECT_EQ(list.approvals(0).id(), id);
  Decide(id, true);
  OpenRegistry();
  EXPECT_EQ(Run("every", "/v1/x", "", id).decision(), v1::DECISION_ALLOW);
}

TEST_F(RequestGatesTest, PendingApprovalsPerAgentAreCapped) {
  for (size_t i = 0; i < kMaxPendingApprovalsPerAgent; ++i) {
    ASSERT_EQ(Run("every", "/v1/p" + std::to_string(i)).denial().code(),
              v1::REASON_APPROVAL_PENDING);
  }
  v1::ExecuteResponse full = Run("every", "/v1/one-more");
  EXPECT_EQ(full.denial().code(), v1::REASON_APPROVAL_QUEUE_FULL);
  EXPECT_EQ(executor_->ListApprovals({}).approvals_size(),
            static_cast<int>(kMaxPendingApprovalsPerAgent));
}

TEST_F(RequestGatesTest, ForeignApprovalIdIsNotFound) {
  const std::string id = Run("first").approval().id();
  Decide(id, true);
  // Another session cannot ride on this session's approval.
  session_ = sessions_->Open("bot", {"first"}, absl::Hours(1))->id();
  EXPECT_EQ(Run("first", "/v1/x", "", id).denial().code(),
            v1::REASON_APPROVAL_NOT_FOUND);
  EXPECT_EQ(Run("first", "/v1/x", "", "nonsense").denial().code(),
            v1::REASON_APPROVAL_NOT_FOUND);
}

TEST_F(RequestGatesTest, ExplainTracesEveryCheckAndEachRule) {
  v1::ExplainRequest request;
  request.set_capability("reasoned");
  request.set_method("GET");
  request.set_path("/v1/x");
  request.set_session_id(session_);
  request.set_agent("ignored-by-ExplainFor");
  v1::ExplainResponse missing = executor_->ExplainFor(bot_, request);
  EXPECT_EQ(missing.denial().code(), v1::REASON_REASON_REQUIRED);
  ASSERT_GE(missing.trace_size(), 7);
  EXPECT_EQ(missing.trace(0).check(), "identity");
  EXPECT_NE(missing.trace(0).detail().find("'bot'"), std::string::npos);
  const v1::TraceStep& rules = missing.trace(missing.trace_size() - 2);
  EXPECT_EQ(rules.check(), "rules");
  EXPECT_NE(rules.detail().find("rules[0] ALLOW GET /v1/**: matches"),
            std::string::npos)
      << rules.detail();
  EXPECT_NE(rules.detail().find("rules[1] DENY * /v1/admin/**: no match"),
            std::string::npos)
      << rules.detail();
  EXPECT_FALSE(missing.trace().rbegin()->passed());

  request.set_reason("ok");
  v1::ExplainResponse allowed = executor_->ExplainFor(bot_, request);
  EXPECT_EQ(allowed.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(allowed.trace().rbegin()->check(), "rate_limit");

  request.set_capability("first");
  EXPECT_EQ(executor_->ExplainFor(bot_, request).denial().code(),
            v1::REASON_APPROVAL_PENDING);
  EXPECT_EQ(executor_->ExplainFor(nullptr, request).denial().code(),
            v1::REASON_UNAUTHENTICATED);
  // Explain never executes, audits or creates an approval.
  EXPECT_EQ(vault_.calls, 0);
  EXPECT_TRUE(audit_.events.empty());
  EXPECT_EQ(executor_->ListApprovals({}).approvals_size(), 0);
}

TEST_F(RequestGatesTest, TestCapabilitySendsTheHealthRequestWithoutBody) {
  v1::TestCapabilityRequest request;
  request.set_session_id(session_);
  request.set_capability("reasoned");
  v1::TestCapabilityResponse ok = executor_->TestCapability({bot_, 1}, request);
  EXPECT_EQ(ok.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(vault_.last.path(), "/v1/balance");
  EXPECT_EQ(vault_.last.method(), "GET");
  EXPECT_TRUE(ok.reachable());
  EXPECT_TRUE(ok.auth_ok());
  EXPECT_EQ(ok.status_class(), "2xx");
  EXPECT_EQ(ok.latency_us(), 1234);
  EXPECT_EQ(ok.DebugString().find("secret-ish"), std::string::npos);
  ASSERT_EQ(audit_.events.size(), 2u);  // intent, outcome
  // Cut to the capability's 20-byte reason limit.
  EXPECT_EQ(audit_.events[1].agent_reason(), "test_capability: hea");

  vault_.status = 401;
  v1::TestCapabilityResponse refused =
      executor_->TestCapability({bot_, 1}, request);
  EXPECT_TRUE(refused.reachable());
  EXPECT_FALSE(refused.auth_ok());
  EXPECT_EQ(refused.status_class(), "4xx");

  request.set_capability("plain");
  v1::TestCapabilityResponse none =
      executor_->TestCapability({bot_, 1}, request);
  EXPECT_EQ(none.denial().code(), v1::REASON_INVALID_REQUEST);
  request.set_capability("missing");
  EXPECT_EQ(executor_->TestCapability({bot_, 1}, request).denial().code(),
            v1::REASON_CAPABILITY_NOT_FOUND);
  EXPECT_EQ(vault_.calls, 2);
}

}  // namespace
}  // namespace latchkey::broker
