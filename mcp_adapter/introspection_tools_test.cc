// whoami, explain_access, test_capability and the approval fields of
// execute, through McpServer with a scripted broker: what reaches the
// broker, and that what reaches the model holds no full session id, token
// or response body.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/mcp_server.h"

namespace latchkey::mcp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFullSession[] = "5e55abcdef0123456789abcdef012345";

class IntrospectionToolsTest : public ::testing::Test {
 protected:
  IntrospectionToolsTest() {
    McpServerOptions options;
    options.broker_socket = "/run/latchkey/broker.sock";
    options.clock = [] { return absl::FromUnixSeconds(1'700'000'000); };
    server_ = std::make_unique<McpServer>(&broker_, std::move(options));
    Send(Json{{"jsonrpc", "2.0"},
              {"id", 0},
              {"method", "initialize"},
              {"params",
               {{"protocolVersion", "2025-11-25"},
                {"capabilities", Json::object()},
                {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
    Send(Json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  }

  Json Send(const Json& message) {
    std::optional<std::string> line = server_->HandleLine(message.dump());
    if (!line.has_value()) return Json();
    return ParseBounded(*line, 1000).value_or(Json());
  }

  // Call returns {result, raw text of the whole response}.
  std::pair<Json, std::string> Call(const std::string& name, Json arguments) {
    Json request{{"jsonrpc", "2.0"},
                 {"id", 7},
                 {"method", "tools/call"},
                 {"params", {{"name", name}, {"arguments", arguments}}}};
    std::optional<std::string> line = server_->HandleLine(request.dump());
    EXPECT_TRUE(line.has_value());
    Json response = ParseBounded(line.value_or("{}"), 1000).value_or(Json());
    EXPECT_TRUE(response.contains("result")) << *line;
    return {response.value("result", Json()), line.value_or("")};
  }

  FakeBrokerClient broker_;
  std::unique_ptr<McpServer> server_;
};

TEST_F(IntrospectionToolsTest, WhoAmIShowsTheBrokersIdentityAndPrefixesOnly) {
  v1::WhoAmIResponse whoami;
  whoami.set_agent("demo-agent");
  whoami.set_peer_uid(1234);
  whoami.set_authenticated_by("agent bearer token");
  v1::Session* session = whoami.add_sessions();
  session->set_id(kFullSession);  // Even if the broker sent a full id.
  session->add_capabilities("github");
  v1::CapabilityAccess* ok = whoami.add_capabilities();
  ok->set_name("github");
  ok->set_usable(true);
  ok->set_require_reason(true);
  ok->set_approval(v1::APPROVAL_MODE_EVERY_REQUEST);
  v1::CapabilityAccess* no = whoami.add_capabilities();
  no->set_name("stripe");
  no->set_code(v1::REASON_AGENT_NOT_ALLOWED);
  no->set_why("not listed");
  no->set_next_step("ask the operator");
  broker_.whoami = whoami;
  auto [result, raw] = Call("whoami", Json::object());
  EXPECT_FALSE(result.value("isError", false));
  const Json& s = result["structuredContent"];
  EXPECT_EQ(s["agent"], "demo-agent");
  EXPECT_EQ(s["peer_uid"], 1234);
  EXPECT_EQ(s["sessions"][0]["session_id_prefix"], "5e55abcd");
  EXPECT_EQ(s["capabilities"][0]["approval"], "every_request");
  EXPECT_EQ(s["capabilities"][0]["requires_reason"], true);
  EXPECT_EQ(s["capabilities"][1]["usable"], false);
  EXPECT_EQ(s["capabilities"][1]["code"], "AGENT_NOT_ALLOWED");
  EXPECT_THAT(raw, Not(HasSubstr(kFullSession)));
  // whoami opens no session of its own.
  EXPECT_TRUE(broker_.open_requests.empty());
  // Arguments are refused: the identity is never taken from the client.
  auto [bad, bad_raw] = Call("whoami", Json{{"agent", "root"}});
  EXPECT_TRUE(bad.value("isError", false));
}

TEST_F(IntrospectionToolsTest, ExplainAccessSendsTheRequestAndShowsTheTrace) {
  v1::ExplainResponse explain;
  explain.set_decision(v1::DECISION_DENY);
  explain.mutable_denial()->set_code(v1::REASON_RULE_DENY);
  explain.mutable_denial()->set_message("a deny rule matched");
  explain.mutable_denial()->set_next_step("use another path");
  explain.set_rule("rules[1] DENY * /admin/**");
  v1::TraceStep* step = explain.add_trace();
  step->set_check("identity");
  step->set_passed(true);
  step->set_detail("agent 'demo-agent'");
  step = explain.add_trace();
  step->set_check("rules");
  step->set_detail("rules[1] DENY * /admin/**: matches");
  step->set_code(v1::REASON_RULE_DENY);
  broker_.explain = explain;
  auto [result, raw] = Call("explain_access", Json{{"capability", "github"},
                                                   {"method", "delete"},
                                                   {"path", "/admin/x"}});
  EXPECT_EQ(broker_.last_explain.method(), "DELETE");
  EXPECT_EQ(broker_.last_explain.path(), "/admin/x");
  EXPECT_TRUE(broker_.last_explain.agent().empty());
  const Json& s = result["structuredContent"];
  EXPECT_EQ(s["decision"], "deny");
  EXPECT_EQ(s["code"], "RULE_DENY");
  EXPECT_EQ(s["next_step"], "use another path");
  EXPECT_EQ(s["trace"][1]["code"], "RULE_DENY");
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("FAIL rules"));
  EXPECT_TRUE(broker_.execute_requests.empty());
  auto [missing, missing_raw] =
      Call("explain_access", Json{{"capability", "github"}});
  EXPECT_TRUE(missing.value("isError", false));
}

TEST_F(IntrospectionToolsTest, TestCapabilityReportsAuthWithoutTheBody) {
  v1::TestCapabilityResponse test;
  test.set_decision(v1::DECISION_ALLOW);
  test.set_method("GET");
  test.set_path("/v1/balance");
  test.set_reachable(true);
  test.set_auth_ok(false);
  test.set_status(401);
  test.set_status_class("4xx");
  test.set_latency_us(2500);
  test.set_request_id("req-9");
  broker_.test = test;
  auto [result, raw] = Call("test_capability", Json{{"capability", "github"}});
  EXPECT_EQ(broker_.last_test.capability(), "github");
  EXPECT_FALSE(broker_.last_test.session_id().empty());
  EXPECT_TRUE(result.value("isError", false));
  const Json& s = result["structuredContent"];
  EXPECT_EQ(s["auth_ok"], false);
  EXPECT_EQ(s["reachable"], true);
  EXPECT_EQ(s["status_class"], "4xx");
  EXPECT_DOUBLE_EQ(s["latency_ms"].get<double>(), 2.5);
  EXPECT_FALSE(s.contains("body"));
}

TEST_F(IntrospectionToolsTest, ExecuteApprovalPendingCarriesTheIdToPoll) {
  v1::ExecuteResponse pending;
  pending.set_decision(v1::DECISION_DENY);
  pending.set_request_id("req-1");
  pending.mutable_denial()->set_code(v1::REASON_APPROVAL_PENDING);
  pending.mutable_denial()->set_message("waits for an operator");
  pending.mutable_approval()->set_id("00aa11bb22cc33dd");
  pending.mutable_approval()->set_state(v1::Approval::PENDING);
  pending.mutable_approval()->mutable_expire_time()->set_seconds(1'700'000'600);
  broker_.executes.push_back(pending);
  auto [result, raw] =
      Call("execute", Json{{"capability", "github"},
                           {"method", "POST"},
                           {"path", "/pay"},
                           {"approval_id", "00aa11bb22cc33dd"}});
  ASSERT_EQ(broker_.execute_requests.size(), 1u);
  EXPECT_EQ(broker_.execute_requests[0].approval_id(), "00aa11bb22cc33dd");
  EXPECT_TRUE(result.value("isError", false));
  const Json& s = result["structuredContent"];
  EXPECT_EQ(s["code"], "APPROVAL_PENDING");
  EXPECT_EQ(s["approval_id"], "00aa11bb22cc33dd");
  EXPECT_EQ(s["approval_state"], "pending");
  EXPECT_EQ(s["approval_expire_time"], "2023-11-14T22:23:20Z");
  EXPECT_THAT(s["next_step"].get<std::string>(), HasSubstr("approval_id"));
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("\"approval_id\": \"00aa11bb22cc33dd\""));
}

}  // namespace
}  // namespace latchkey::mcp
