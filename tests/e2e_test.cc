// End to end: the four real daemons plus a real HTTP upstream on loopback,
// driven through latchkey-mcp over stdio as an agent client would.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/broker.grpc.pb.h"
#include "tests/leak_scan.h"
#include "tests/mcp_test_client.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = Stack::Start(StackOptions());
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    client_ = new McpTestClient(stack_->mcp());
    auto init = client_->Initialize();
    ASSERT_TRUE(init.ok()) << init.status();
  }
  static void TearDownTestSuite() {
    delete client_;
    delete stack_;
  }

  static json Execute(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    json args = {
        {"capability", "demo-api"}, {"method", method}, {"path", path}};
    if (!body.empty()) args["body"] = body;
    auto result = client_->CallTool("execute", args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : json();
  }

  static std::vector<json> AuditRecords() {
    std::vector<json> records;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(stack_->audit_log_path()), '\n',
                        absl::SkipEmpty())) {
      json record = json::parse(line, nullptr, false);
      if (!record.is_discarded() && record.contains("seq")) {
        records.push_back(record);
      }
    }
    return records;
  }

  static std::vector<json> UpstreamRequests() {
    std::vector<json> requests;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(stack_->upstream_record_path()), '\n',
                        absl::SkipEmpty())) {
      requests.push_back(json::parse(line));
    }
    return requests;
  }

  static Stack* stack_;
  static McpTestClient* client_;
};

Stack* EndToEndTest::stack_ = nullptr;
McpTestClient* EndToEndTest::client_ = nullptr;

TEST_F(EndToEndTest, ToolsAreListed) {
  auto tools = client_->Call("tools/list", json::object());
  ASSERT_TRUE(tools.ok());
  std::string text = (*tools)["result"].dump();
  EXPECT_TRUE(absl::StrContains(text, "\"execute\""));
  EXPECT_TRUE(absl::StrContains(text, "\"list_capabilities\""));
}

TEST_F(EndToEndTest, ListCapabilitiesShowsNoSecretId) {
  auto result = client_->CallTool("list_capabilities", json::object());
  ASSERT_TRUE(result.ok()) << result.status();
  std::string text = result->dump();
  EXPECT_TRUE(absl::StrContains(text, "demo-api"));
  EXPECT_FALSE(absl::StrContains(text, "demo-token")) << text;
}

TEST_F(EndToEndTest, AllowedCallInjectsTokenAndScrubsIt) {
  size_t audit_before = AuditRecords().size();
  json result = Execute("POST", "/v1/hello", "{\"msg\":\"hi\"}");
  ASSERT_FALSE(result.value("isError", false)) << result.dump();
  const json& structured = result["structuredContent"];
  EXPECT_EQ(structured["status"], 200);
  // The upstream echoes the request, Authorization included: the agent
  // sees the marker, never the token.
  std::string seen = result.dump();
  EXPECT_TRUE(absl::StrContains(seen, "REDACTED")) << seen;
  EXPECT_TRUE(FindForms(seen, SecretForms(Stack::kSecret)).empty()) << seen;

  std::vector<json> upstream = UpstreamRequests();
  ASSERT_FALSE(upstream.empty());
  const json& last = upstream.back();
  EXPECT_EQ(last["path"], "/v1/hello");
  EXPECT_EQ(last["method"], "POST");
  EXPECT_EQ(last["headers"]["Authorization"],
            std::string("Bearer ") + Stack::kSecret);
  EXPECT_EQ(last["body"], "{\"msg\":\"hi\"}");

  // The intent, durable before anything was sent, then the outcome.
  std::vector<json> audit = AuditRecords();
  ASSERT_EQ(audit.size(), audit_before + 2);
  const json& intent = audit[audit.size() - 2];
  EXPECT_EQ(intent["source"], "intent");
  EXPECT_EQ(intent["path"], "/v1/hello");
  EXPECT_EQ(intent["request_id"], audit.back()["request_id"]);
  const json& record = audit.back();
  EXPECT_EQ(record["decision"], "allow");
  EXPECT_EQ(record["capability"], "demo-api");
  EXPECT_EQ(record["agent"], "demo-agent");
  EXPECT_EQ(record["method"], "POST");
  EXPECT_EQ(record["path"], "/v1/hello");
  EXPECT_EQ(record["upstream_status"], 200);
  EXPECT_GT(record["latency_us"].get<int64_t>(), 0);
}

TEST_F(EndToEndTest, RequestOutsideTheRulesIsDeniedAndAudited) {
  size_t upstream_before = UpstreamRequests().size();
  size_t audit_before = AuditRecords().size();
  for (const auto& [method, path, code] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"DELETE", "/v1/hello", "NO_RULE_MATCHED"},
           {"GET", "/v1/admin/users", "RULE_DENY"},
           {"GET", "/v1/../admin", "NO_RULE_MATCHED"},
           {"GET", "/v1/../../etc/passwd", "PATH_REJECTED"},
           {"GET", "/v1/%2e%2e/v1/admin/x", "RULE_DENY"},
       }) {
    json result = Execute(method, path);
    EXPECT_TRUE(result.value("isError", false)) << path << result.dump();
    EXPECT_EQ(result["structuredContent"]["code"], code) << path;
    EXPECT_FALSE(result["structuredContent"].value("next_step", "").empty());
  }
  EXPECT_EQ(UpstreamRequests().size(), upstream_before)
      << "a denied request reached the upstream";
  std::vector<json> audit = AuditRecords();
  ASSERT_EQ(audit.size(), audit_before + 5);
  EXPECT_EQ(audit.back()["decision"], "deny");
  EXPECT_EQ(audit.back()["reason_code"], "RULE_DENY");
}

TEST_F(EndToEndTest, UnknownCapabilityIsDenied) {
  auto result = client_->CallTool(
      "execute", {{"capability", "nope"}, {"method", "GET"}, {"path", "/"}});
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->value("isError", false));
  EXPECT_EQ((*result)["structuredContent"]["code"], "CAPABILITY_NOT_FOUND");
}

TEST_F(EndToEndTest, SealedVaultRefusesThenRecovers) {
  ASSERT_TRUE(stack_->SealVault().ok());
  json sealed = Execute("GET", "/v1/sealed");
  EXPECT_TRUE(sealed.value("isError", false));
  EXPECT_EQ(sealed["structuredContent"]["code"], "VAULT_SEALED");
  ASSERT_TRUE(stack_->UnsealVault().ok());
  json again = Execute("GET", "/v1/unsealed");
  EXPECT_FALSE(again.value("isError", false)) << again.dump();
  // Seal and unseal are audited by the vault, with the operator's uid.
  bool saw_seal = false, saw_unseal = false;
  for (const json& record : AuditRecords()) {
    if (record.value("source", "") != "vault") continue;
    saw_seal |= record.value("method", "") == "Seal";
    saw_unseal |= record.value("method", "") == "Unseal" &&
                  record.value("decision", "") == "allow";
  }
  EXPECT_TRUE(saw_seal);
  EXPECT_TRUE(saw_unseal);
}

TEST_F(EndToEndTest, AuditSinkDownMeansRefusal) {
  stack_->StopAudit();
  size_t upstream_before = UpstreamRequests().size();
  json refused = Execute("GET", "/v1/while-audit-down");
  EXPECT_TRUE(refused.value("isError", false));
  EXPECT_EQ(refused["structuredContent"]["code"], "AUDIT_UNAVAILABLE");
  EXPECT_EQ(UpstreamRequests().size(), upstream_before);
  ASSERT_TRUE(stack_->StartAudit().ok());
  // The broker reconnects to the restarted sink on its own.
  json result;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    result = Execute("GET", "/v1/after-audit-back");
  } while (result.value("isError", false) && absl::Now() < deadline);
  EXPECT_FALSE(result.value("isError", false)) << result.dump();
}

TEST_F(EndToEndTest, PeerOutsideAllowListIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch uid";
  // peer_probe switches to uid 65534 (keeping gid 0 so it can reach the
  // 0660 socket) and calls an admin RPC; the broker must refuse by uid.
  // Let group 0 traverse the test directory; the socket itself is 0660.
  ASSERT_EQ(chmod(stack_->dir().c_str(), 0750), 0);
  pid_t pid = fork();
  if (pid == 0) {
    execl("tests/peer_probe", "tests/peer_probe",
          stack_->run("admin.sock").c_str(), "65534", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7) << "7 = PERMISSION_DENIED";
  std::string log = ReadFileOrEmpty(stack_->log_path("broker"));
  EXPECT_TRUE(absl::StrContains(log, "\"uid\":\"65534\"")) << log;
}

// After `revoke all`, an adapter that has no session yet is refused when
// it opens one; the agent must be told that access was revoked, not that
// its user may not connect (both are PERMISSION_DENIED on the wire).
TEST_F(EndToEndTest, RevokeAllIsReportedAsRevoked) {
  auto admin =
      v1::BrokerAdmin::NewStub(CreateUdsChannel(stack_->run("admin.sock")));
  auto admin_call = [](grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
  };
  {
    grpc::ClientContext context;
    admin_call(&context);
    v1::RevokeResponse response;
    grpc::Status revoked =
        admin->RevokeAll(&context, v1::RevokeAllRequest(), &response);
    ASSERT_TRUE(revoked.ok()) << revoked.error_message();
  }
  auto mcp = stack_->StartMcp(stack_->agent_token(), "mcp-revoked");
  ASSERT_TRUE(mcp.ok()) << mcp.status();
  std::unique_ptr<ChildProcess> process = std::move(*mcp);
  McpTestClient fresh(process.get());
  ASSERT_TRUE(fresh.Initialize().ok());
  for (const char* tool : {"session_status", "execute"}) {
    SCOPED_TRACE(tool);
    json args = std::string(tool) == "execute"
                    ? json{{"capability", "demo-api"},
                           {"method", "GET"},
                           {"path", "/v1/after-revoke-all"}}
                    : json::object();
    auto result = fresh.CallTool(tool, args);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->value("isError", false)) << result->dump();
    std::string text = (*result)["content"][0].value("text", "");
    EXPECT_TRUE(absl::StrContains(text, "access was revoked by an operator"))
        << text;
    EXPECT_FALSE(absl::StrContains(text, "may not connect")) << text;
    // The adapter read the broker's tag, not just its message.
    EXPECT_TRUE(absl::StrContains(text, "(REVOKED)")) << text;
  }
  // Lift it, so that the scan below runs on a stack in its usual state.
  grpc::ClientContext context;
  admin_call(&context);
  v1::LiftRevocationRequest lift;
  lift.set_kind(v1::Revocation::ALL);
  v1::LiftRevocationResponse lifted;
  ASSERT_TRUE(admin->LiftRevocation(&context, lift, &lifted).ok());
}

// Runs last (gtest keeps declaration order): scans every output and the
// memory of the processes that must never see the secret.
TEST_F(EndToEndTest, ZZSecretAppearsNowhereOutsideTheVault) {
  std::vector<std::string> forms = SecretForms(Stack::kSecret);
  EXPECT_TRUE(FindForms(client_->transcript(), forms).empty());
  for (const char* daemon : {"broker", "mcp", "audit", "vault"}) {
    EXPECT_TRUE(
        FindForms(ReadFileOrEmpty(stack_->log_path(daemon)), forms).empty())
        << daemon << " log leaks the secret";
  }
  EXPECT_TRUE(
      FindForms(ReadFileOrEmpty(stack_->audit_log_path()), forms).empty());
  for (ChildProcess* process :
       {stack_->broker(), stack_->mcp(), stack_->audit()}) {
    size_t bytes = 0;
    auto found = ScanProcessMemory(process->pid(), forms, &bytes);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_GT(bytes, 1u << 20) << "memory scan read too little";
    EXPECT_TRUE(found->empty())
        << "pid " << process->pid() << " holds " << (*found)[0];
  }
}

}  // namespace
}  // namespace latchkey::testing
