// Runs the real latchkey-broker binary: revocations and admin-created
// agents survive a restart; Apply with an invalid file changes nothing;
// SIGHUP reloads --config. The audit sink is an in-process fake (it only
// acknowledges), the vault is absent (allowed requests end as
// VAULT_UNAVAILABLE, which is enough to tell "not revoked").
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/uds_server.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "tests/process.h"

namespace latchkey::broker {
namespace {

using ::latchkey::testing::ChildProcess;
using ::latchkey::testing::WaitForSocket;

class AckingAudit final : public v1::AuditAppend::Service {
 public:
  grpc::Status Append(grpc::ServerContext*, const v1::AppendRequest*,
                      v1::AppendResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status AppendBatch(grpc::ServerContext*, const v1::AppendBatchRequest*,
                           v1::AppendBatchResponse*) override {
    return grpc::Status::OK;
  }
};

std::string ConfigText(const std::string& extra = "") {
  return absl::StrCat(
      "agents { name: \"bot\" token_sha256: \"", Sha256Hex("tok-bot"),
      "\" }\n"
      "capabilities {\n"
      "  name: \"api\"\n"
      "  secret_id: \"s\"\n"
      "  origin: \"https://api.example.com\"\n"
      "  agents: \"bot\"\n"
      "  rules { effect: ALLOW methods: \"GET\" path: \"/**\" }\n"
      "}\n",
      extra);
}

class BrokerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lk-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/broker.textproto") << ConfigText();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ + "/audit.sock",
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&audit_);
    audit_server_ = builder.BuildAndStart();
    ASSERT_NE(audit_server_, nullptr);
    StartBroker();
  }
  void TearDown() override {
    broker_.reset();
    if (audit_server_) audit_server_->Shutdown();
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)system(cmd.c_str());
  }
  void StartBroker() {
    absl::StatusOr<std::unique_ptr<ChildProcess>> broker = ChildProcess::Start(
        {{"broker/latchkey-broker", "--socket=" + dir_ + "/broker.sock",
          "--admin_socket=" + dir_ + "/admin.sock",
          "--vault_socket=" + dir_ + "/vault.sock",
          "--audit_socket=" + dir_ + "/audit.sock",
          "--config=" + dir_ + "/broker.textproto",
          "--state_dir=" + dir_ + "/state", "--vault_timeout_s=2"},
         {},
         dir_ + "/broker.log",
         false});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    ASSERT_TRUE(WaitForSocket(dir_ + "/broker.sock", absl::Seconds(20)).ok())
        << testing::ReadFileOrEmpty(dir_ + "/broker.log");
    ASSERT_TRUE(WaitForSocket(dir_ + "/admin.sock", absl::Seconds(20)).ok());
    admin_ = v1::BrokerAdmin::NewStub(CreateUdsChannel(dir_ + "/admin.sock"));
    agent_ = v1::Broker::NewStub(CreateUdsChannel(dir_ + "/broker.sock"));
  }
  void RestartBroker() {
    broker_->Stop(SIGTERM);
    broker_.reset();
    StartBroker();
  }
  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    if (!token.empty())
      context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }
  absl::StatusOr<std::string> Open(const std::string& token) {
    v1::OpenSessionRequest request;
    v1::Session session;
    grpc::Status status =
        agent_->OpenSession(Context(token).get(), request, &session);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return session.id();
  }
  v1::ReasonCode Execute(const std::string& token, const std::string& id) {
    v1::ExecuteRequest request;
    request.set_session_id(id);
    request.set_capability("api");
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path("/x");
    v1::ExecuteResponse response;
    grpc::Status status =
        agent_->Execute(Context(token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.denial().code();
  }
  std::string ConfigNow() {
    v1::GetConfigResponse response;
    EXPECT_TRUE(
        admin_->GetConfig(Context().get(), v1::GetConfigRequest(), &response)
            .ok());
    return response.config_text();
  }

  std::string dir_;
  AckingAudit audit_;
  std::unique_ptr<grpc::Server> audit_server_;
  std::unique_ptr<ChildProcess> broker_;
  std::unique_ptr<v1::BrokerAdmin::Stub> admin_;
  std::unique_ptr<v1::Broker::Stub> agent_;
};

TEST_F(BrokerProcessTest, RevocationsAndAdminAgentsSurviveARestart) {
  v1::CreateAgentRequest create;
  create.set_name("helper");
  create.add_capabilities("api");
  v1::CreateAgentResponse created;
  ASSERT_TRUE(admin_->CreateAgent(Context().get(), create, &created).ok());
  const std::string helper = created.token();

  absl::StatusOr<std::string> revoked = Open(helper);
  absl::StatusOr<std::string> bot_session = Open("tok-bot");
  absl::StatusOr<std::string> kept = Open(helper);
  ASSERT_TRUE(revoked.ok() && bot_session.ok() && kept.ok());

  v1::RevokeSessionRequest revoke;
  revoke.set_id(*revoked);
  v1::RevokeSessionResponse revoke_response;
  ASSERT_TRUE(
      admin_->RevokeSession(Context().get(), revoke, &revoke_response).ok());
  EXPECT_TRUE(revoke_response.revoked());
  v1::RevokeAgentRequest revoke_agent;
  revoke_agent.set_name("bot");
  v1::RevokeResponse revoke_agent_response;
  ASSERT_TRUE(
      admin_->RevokeAgent(Context().get(), revoke_agent, &revoke_agent_response)
          .ok());
  EXPECT_EQ(revoke_agent_response.sessions_revoked(), 1u);
  EXPECT_EQ(Execute(helper, *revoked), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Execute("tok-bot", *bot_session), v1::REASON_SESSION_REVOKED);

  RestartBroker();

  EXPECT_EQ(Execute(helper, *revoked), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Execute("tok-bot", *bot_session), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Open("tok-bot").status().code(),
            absl::StatusCode::kPermissionDenied);
  // The admin-created agent and its untouched session are still good: the
  // request gets as far as the (absent) vault.
  EXPECT_EQ(Execute(helper, *kept), v1::REASON_VAULT_UNAVAILABLE);
  EXPECT_TRUE(Open(helper).ok());

  v1::ListSessionsResponse sessions;
  ASSERT_TRUE(
      admin_
          ->ListSessions(Context().get(), v1::ListSessionsRequest(), &sessions)
          .ok());
  int checked = 0;
  for (const v1::Session& s : sessions.sessions()) {
    if (s.id() == *revoked) {
      EXPECT_EQ(s.revoked_by(), "session");
      ++checked;
    }
    if (s.id() == *bot_session) {
      EXPECT_EQ(s.revoked_by(), "agent:bot");
      ++checked;
    }
    if (s.id() == *kept) {
      EXPECT_FALSE(s.revoked());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3);
  v1::ListRevocationsResponse revocations;
  ASSERT_TRUE(admin_
                  ->ListRevocations(Context().get(),
                                    v1::ListRevocationsRequest(), &revocations)
                  .ok());
  ASSERT_EQ(revocations.revocations_size(), 1);
  EXPECT_EQ(revocations.revocations(0).name(), "bot");
  EXPECT_TRUE(revocations.revocations(0).active());
}

TEST_F(BrokerProcessTest, InvalidApplyChangesNothingAndSighupReloads) {
  std::string before = ConfigNow();
  ASSERT_FALSE(before.empty());
  v1::ApplyRequest apply;
  apply.set_config_text(ConfigText(
      "capabilities {\n  name: \"docs\"\n  secret_id: \"d\"\n"
      "  origin: \"https://docs.example\"\n  agents: \"nobody\"\n}\n"));
  v1::ApplyResponse applied;
  grpc::Status status = admin_->Apply(Context().get(), apply, &applied);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "line 13"))
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(),
                                "capabilities[1] (docs).agents"))
      << status.error_message();
  EXPECT_EQ(ConfigNow(), before);

  // Revoking a name that does not exist is an error, not a silent no-op.
  v1::RevokeAgentRequest typo;
  typo.set_name("b0t");
  v1::RevokeResponse revoke_response;
  EXPECT_EQ(
      admin_->RevokeAgent(Context().get(), typo, &revoke_response).error_code(),
      grpc::StatusCode::NOT_FOUND);

  // Dry run of a valid file: a diff, no change.
  apply.set_config_text(
      ConfigText("capabilities { name: \"docs\" secret_id: \"d\" "
                 "origin: \"https://docs.example\" }\n"));
  apply.set_dry_run(true);
  ASSERT_TRUE(admin_->Apply(Context().get(), apply, &applied).ok());
  ASSERT_EQ(applied.capabilities_added_size(), 1);
  EXPECT_FALSE(applied.applied());
  EXPECT_EQ(ConfigNow(), before);

  // SIGHUP re-reads --config.
  std::ofstream(dir_ + "/broker.textproto", std::ios::trunc) << ConfigText(
      "capabilities { name: \"files\" secret_id: \"f\" "
      "origin: \"https://files.example\" }\n");
  ASSERT_EQ(kill(broker_->pid(), SIGHUP), 0);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!absl::StrContains(ConfigNow(), "files") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(absl::StrContains(ConfigNow(), "files"));
  // An invalid file on SIGHUP changes nothing.
  std::string good = ConfigNow();
  std::ofstream(dir_ + "/broker.textproto", std::ios::trunc)
      << "capabilities { name: \"broken\" }";
  ASSERT_EQ(kill(broker_->pid(), SIGHUP), 0);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ConfigNow(), good);
  EXPECT_TRUE(broker_->Running());
}

}  // namespace
}  // namespace latchkey::broker
