#include "mcp_adapter/mcp_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/refusal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"
#include "mcp_adapter/json_util.h"

namespace latchkey::mcp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'700'000'000;

absl::Time Now() { return absl::FromUnixSeconds(kNow); }

std::string Request(const Json& id, absl::string_view method,
                    Json params = Json()) {
  Json request{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) request["params"] = std::move(params);
  return request.dump();
}

std::string ToolCall(const Json& id, absl::string_view name, Json arguments) {
  return Request(id, "tools/call",
                 Json{{"name", name}, {"arguments", std::move(arguments)}});
}

v1::ExecuteResponse Allowed(int status, absl::string_view content_type,
                            absl::string_view body) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_ALLOW);
  response.set_request_id("req-1");
  response.set_rule("rules[0] ALLOW GET /repos/**");
  v1::HttpResponse* http = response.mutable_response();
  http->set_status(status);
  if (!content_type.empty()) {
    v1::Header* header = http->add_headers();
    header->set_name("Content-Type");
    header->set_value(std::string(content_type));
  }
  http->set_body(std::string(body));
  return response;
}

v1::ExecuteResponse Denied(v1::ReasonCode code) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_DENY);
  response.set_request_id("req-deny");
  v1::Denial* denial = response.mutable_denial();
  denial->set_code(code);
  denial->set_message("A deny rule matched DELETE on this path.");
  denial->set_next_step("Use GET, or ask an operator to change the policy.");
  denial->set_rule("rules[1] DENY DELETE /repos/**");
  return response;
}

Json ExecuteArgs() {
  return Json{{"capability", "github"},
              {"method", "get"},
              {"path", "/repos/octo/hello/issues"},
              {"query", {{"state", "open"}}},
              {"headers", {{"Accept", "application/json"}}}};
}

class McpServerTest : public ::testing::Test {
 protected:
  McpServerTest() { Rebuild(16); }

  void Rebuild(size_t max_in_flight) {
    McpServerOptions options;
    options.broker_socket = "/run/latchkey/broker.sock";
    options.clock = Now;
    options.max_tool_calls_in_flight = max_in_flight;
    options.notify = [this](std::string line) {
      std::lock_guard<std::mutex> lock(notes_mu_);
      notes_.push_back(std::move(line));
    };
    server_ = std::make_unique<McpServer>(&broker_, std::move(options));
  }

  // Send returns the parsed response, or null when there is none.
  Json Send(absl::string_view line) {
    std::optional<std::string> response = server_->HandleLine(line);
    if (!response.has_value()) return Json();
    EXPECT_EQ(response->find('\n'), std::string::npos) << *response;
    std::optional<Json> parsed = ParseBounded(*response, 1000);
    EXPECT_TRUE(parsed.has_value()) << *response;
    return parsed.value_or(Json());
  }

  Json Initialize(absl::string_view version = "2025-11-25") {
    Json result = Send(
        Request(0, "initialize",
                Json{{"protocolVersion", version},
                     {"capabilities", Json::object()},
                     {"clientInfo", {{"name", "test"}, {"version", "1"}}}}));
    Send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    return result;
  }

  Json CallTool(absl::string_view name, Json arguments) {
    Json response = Send(ToolCall(7, name, std::move(arguments)));
    EXPECT_TRUE(response.contains("result")) << response.dump();
    return response.value("result", Json());
  }

  static int ErrorCode(const Json& response) {
    if (!response.contains("error")) return 0;
    return response["error"]["code"].get<int>();
  }

  std::vector<std::string> Notes() {
    std::lock_guard<std::mutex> lock(notes_mu_);
    return notes_;
  }

  FakeBrokerClient broker_;
  std::mutex notes_mu_;
  std::vector<std::string> notes_;
  std::unique_ptr<McpServer> server_;
};

// --- initialize -----------------------------------------------------------

TEST_F(McpServerTest, InitializeEchoesEverySupportedVersion) {
  for (const char* version :
       {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}) {
    Rebuild(16);
    Json response = Initialize(version);
    ASSERT_TRUE(response.contains("result")) << response.dump();
    EXPECT_EQ(response["id"], 0);
    EXPECT_EQ(response["jsonrpc"], "2.0");
    EXPECT_EQ(response["result"]["protocolVersion"], version);
  }
}

TEST_F(McpServerTest, InitializeUnknownVersionAnswersNewest) {
  for (const char* version : {"1999-01-01", "2026-01-01", "", "1.0.0"}) {
    Rebuild(16);
    Json response = Initialize(version);
    EXPECT_EQ(response["result"]["protocolVersion"], "2025-11-25") << version;
  }
}

TEST_F(McpServerTest, InitializeResultDescribesServer) {
  Json result = Initialize()["result"];
  EXPECT_EQ(result["capabilities"]["tools"]["listChanged"], true);
  EXPECT_TRUE(result["capabilities"]["logging"].is_object());
  EXPECT_FALSE(result["capabilities"].contains("resources"));
  EXPECT_EQ(result["serverInfo"]["name"], "latchkey-mcp");
  EXPECT_EQ(result["serverInfo"]["version"], kServerVersion);
  std::string instructions = result["instructions"];
  EXPECT_THAT(instructions, HasSubstr("Latchkey"));
  EXPECT_THAT(instructions, HasSubstr("list_capabilities first"));
}

TEST_F(McpServerTest, InitializeNeedsProtocolVersion) {
  EXPECT_EQ(ErrorCode(Send(Request(1, "initialize", Json::object()))), -32602);
  EXPECT_EQ(ErrorCode(Send(
                Request(2, "initialize", Json{{"protocolVersion", 20250618}}))),
            -32602);
  // A failed initialize leaves the server uninitialized.
  EXPECT_EQ(ErrorCode(Send(Request(3, "tools/list"))), -32600);
  EXPECT_TRUE(Initialize().contains("result"));
}

TEST_F(McpServerTest, SecondInitializeIsRefused) {
  Initialize();
  Json again =
      Send(Request(9, "initialize", Json{{"protocolVersion", "2025-06-18"}}));
  EXPECT_EQ(ErrorCode(again), -32600);
  EXPECT_EQ(again["id"], 9);
}

TEST_F(McpServerTest, RequestsBeforeInitializeAreRefusedButPingWorks) {
  Json ping = Send(Request("p", "ping"));
  EXPECT_EQ(ping["id"], "p");
  EXPECT_EQ(ping["result"], Json::object());
  for (const char* method : {"tools/list", "tools/call", "logging/setLevel",
                             "resources/list", "nope"}) {
    Json response = Send(Request(4, method, Json::object()));
    EXPECT_EQ(ErrorCode(response), -32600) << method;
    EXPECT_EQ(response["id"], 4);
    EXPECT_THAT(response["error"]["message"].get<std::string>(),
                HasSubstr("not initialized"));
  }
  // Notifications before initialize are silently accepted.
  EXPECT_TRUE(Send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")
                  .is_null());
  EXPECT_TRUE(broker_.execute_requests.empty());
}

// --- tools/list -----------------------------------------------------------

TEST_F(McpServerTest, ToolsListHasSchemasForEveryTool) {
  Initialize("2025-11-25");
  Json response = Send(Request(2, "tools/list"));
  Json tools = response["result"]["tools"];
  ASSERT_EQ(tools.size(), 6u);
  std::vector<std::string> names;
  for (const Json& tool : tools) {
    names.push_back(tool["name"]);
    EXPECT_GT(tool["description"].get<std::string>().size(), 100u);
    EXPECT_EQ(tool["inputSchema"]["type"], "object") << tool.dump();
    EXPECT_EQ(tool["outputSchema"]["type"], "object") << tool.dump();
    EXPECT_TRUE(tool["outputSchema"]["properties"].is_object());
    EXPECT_TRUE(tool["annotations"].is_object());
    EXPECT_TRUE(tool["title"].is_string());
  }
  EXPECT_THAT(names, ::testing::ElementsAre(
                         "list_capabilities", "execute", "session_status",
                         "whoami", "explain_access", "test_capability"));
  Json execute = tools[1];
  EXPECT_EQ(execute["inputSchema"]["required"],
            Json({"capability", "method", "path"}));
  for (const char* property :
       {"capability", "method", "path", "query", "headers", "body"}) {
    EXPECT_TRUE(execute["inputSchema"]["properties"].contains(property))
        << property;
  }
  EXPECT_EQ(execute["inputSchema"]["properties"]["query"]
                   ["additionalProperties"]["type"],
            "string");
  EXPECT_EQ(execute["outputSchema"]["anyOf"].size(), 2u);
  EXPECT_THAT(execute["description"].get<std::string>(), HasSubstr("denied"));
  EXPECT_EQ(tools[0]["inputSchema"]["additionalProperties"], false);
}

TEST_F(McpServerTest, ToolsListForOldClientsHasNoOutputSchema) {
  Initialize("2024-11-05");
  Json tools = Send(Request(2, "tools/list"))["result"]["tools"];
  ASSERT_EQ(tools.size(), 6u);
  for (const Json& tool : tools) {
    EXPECT_TRUE(tool.contains("inputSchema"));
    EXPECT_FALSE(tool.contains("outputSchema"));
    EXPECT_FALSE(tool.contains("annotations"));
    EXPECT_FALSE(tool.contains("title"));
  }
  Rebuild(16);
  Initialize("2025-03-26");
  tools = Send(Request(2, "tools/list"))["result"]["tools"];
  EXPECT_TRUE(tools[1].contains("annotations"));
  EXPECT_FALSE(tools[1].contains("outputSchema"));
}

// --- execute --------------------------------------------------------------

TEST_F(McpServerTest, ExecuteAllowedJsonBodyIsStructured) {
  Initialize();
  broker_.executes.push_back(Allowed(200, "application/json; charset=utf-8",
                                     R"({"b":[1,2],"a":"x"})"));
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_FALSE(result.value("isError", false)) << result.dump();
  Json structured = result["structuredContent"];
  EXPECT_EQ(structured["denied"], false);
  EXPECT_EQ(structured["status"], 200);
  ASSERT_TRUE(structured["body"].is_object()) << structured.dump();
  EXPECT_EQ(structured["body"]["a"], "x");
  EXPECT_EQ(structured["body"]["b"], Json({1, 2}));
  EXPECT_EQ(structured["body_encoding"], "json");
  EXPECT_EQ(structured["body_truncated"], false);
  EXPECT_EQ(structured["request_id"], "req-1");
  EXPECT_EQ(structured["headers"]["content-type"],
            "application/json; charset=utf-8");
  ASSERT_EQ(result["content"].size(), 1u);
  EXPECT_EQ(result["content"][0]["type"], "text");
  std::string text = result["content"][0]["text"];
  EXPECT_THAT(text, HasSubstr("HTTP 200"));
  EXPECT_THAT(text, HasSubstr(R"({"b":[1,2],"a":"x"})"));

  // What went to the broker.
  ASSERT_EQ(broker_.execute_requests.size(), 1u);
  const v1::ExecuteRequest& sent = broker_.execute_requests[0];
  EXPECT_EQ(sent.session_id().substr(0, 4), "5e55");
  EXPECT_EQ(sent.capability(), "github");
  EXPECT_EQ(sent.request().method(), "GET");
  EXPECT_EQ(sent.request().path(), "/repos/octo/hello/issues");
  ASSERT_EQ(sent.request().query_size(), 1);
  EXPECT_EQ(sent.request().query(0).name(), "state");
  EXPECT_EQ(sent.request().query(0).value(), "open");
  ASSERT_EQ(sent.request().headers_size(), 1);
  EXPECT_EQ(sent.request().headers(0).name(), "Accept");
  // One session, opened lazily for all capabilities with the default TTL.
  ASSERT_EQ(broker_.open_requests.size(), 1u);
  EXPECT_EQ(broker_.open_requests[0].capabilities_size(), 0);
  EXPECT_FALSE(broker_.open_requests[0].has_ttl());
}

TEST_F(McpServerTest, ExecuteBodyEncodings) {
  Initialize();
  // JSON content type but not JSON: text.
  broker_.executes.push_back(Allowed(200, "application/json", "{not json"));
  // Vendor +json type.
  broker_.executes.push_back(
      Allowed(201, "application/vnd.github+json", "[1,2,3]"));
  // Plain text.
  broker_.executes.push_back(Allowed(404, "text/plain", "Not Found"));
  // Binary.
  broker_.executes.push_back(
      Allowed(200, "application/octet-stream", std::string("\xff\x00\x01", 3)));
  Json body1 = CallTool("execute", ExecuteArgs())["structuredContent"];
  EXPECT_EQ(body1["body"], "{not json");
  EXPECT_EQ(body1["body_encoding"], "text");
  Json body2 = CallTool("execute", ExecuteArgs())["structuredContent"];
  EXPECT_EQ(body2["body"], Json({1, 2, 3}));
  Json result3 = CallTool("execute", ExecuteArgs());
  // An upstream 404 is still an allowed request: not a tool error.
  EXPECT_FALSE(result3.value("isError", false));
  EXPECT_EQ(result3["structuredContent"]["status"], 404);
  EXPECT_EQ(result3["structuredContent"]["body"], "Not Found");
  Json body4 = CallTool("execute", ExecuteArgs())["structuredContent"];
  EXPECT_EQ(body4["body_encoding"], "base64");
  EXPECT_EQ(body4["body"], "/wAB");
}

TEST_F(McpServerTest, ExecuteDeepJsonBodyStaysText) {
  Initialize();
  std::string deep(1000, '[');
  deep += std::string(1000, ']');
  broker_.executes.push_back(Allowed(200, "application/json", deep));
  Json structured = CallTool("execute", ExecuteArgs())["structuredContent"];
  EXPECT_EQ(structured["body_encoding"], "text");
  EXPECT_TRUE(structured["body"].is_string());
}

TEST_F(McpServerTest, ExecuteDeniedIsToolErrorWithCode) {
  Initialize();
  v1::ExecuteResponse denied = Denied(v1::REASON_RULE_DENY);
  broker_.executes.push_back(denied);
  Json args = ExecuteArgs();
  args["method"] = "DELETE";
  Json result = CallTool("execute", args);
  EXPECT_EQ(result["isError"], true);
  Json structured = result["structuredContent"];
  EXPECT_EQ(structured["denied"], true);
  EXPECT_EQ(structured["code"], "RULE_DENY");
  EXPECT_EQ(structured["message"], "A deny rule matched DELETE on this path.");
  EXPECT_EQ(structured["next_step"],
            "Use GET, or ask an operator to change the policy.");
  EXPECT_EQ(structured["rule"], "rules[1] DENY DELETE /repos/**");
  EXPECT_EQ(structured["request_id"], "req-deny");
  std::string text = result["content"][0]["text"];
  EXPECT_THAT(text, HasSubstr("RULE_DENY"));
  EXPECT_THAT(text, HasSubstr("Use GET"));
  EXPECT_THAT(text, Not(HasSubstr("REASON_")));
}

TEST_F(McpServerTest, RateLimitedDenialCarriesRetryAfter) {
  Initialize();
  v1::ExecuteResponse denied = Denied(v1::REASON_RATE_LIMITED);
  denied.mutable_denial()->mutable_retry_after()->set_seconds(12);
  broker_.executes.push_back(denied);
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_EQ(result["structuredContent"]["code"], "RATE_LIMITED");
  EXPECT_EQ(result["structuredContent"]["retry_after_seconds"], 12.0);
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("Retry after: 12 s"));
}

TEST_F(McpServerTest, DenialWithoutNextStepStillSaysWhatToDo) {
  Initialize();
  v1::ExecuteResponse denied = Denied(v1::REASON_CAPABILITY_NOT_FOUND);
  denied.mutable_denial()->clear_next_step();
  broker_.executes.push_back(denied);
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_THAT(result["structuredContent"]["next_step"].get<std::string>(),
              HasSubstr("list_capabilities"));
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("What to do: Call list_capabilities"));
}

TEST_F(McpServerTest, OldClientsGetTextOnly) {
  Initialize("2025-03-26");
  broker_.executes.push_back(Allowed(200, "application/json", R"({"a":1})"));
  broker_.executes.push_back(Denied(v1::REASON_NO_RULE_MATCHED));
  Json allowed = CallTool("execute", ExecuteArgs());
  EXPECT_FALSE(allowed.contains("structuredContent"));
  EXPECT_THAT(allowed["content"][0]["text"].get<std::string>(),
              HasSubstr(R"({"a":1})"));
  Json denied = CallTool("execute", ExecuteArgs());
  EXPECT_FALSE(denied.contains("structuredContent"));
  EXPECT_EQ(denied["isError"], true);
  EXPECT_THAT(denied["content"][0]["text"].get<std::string>(),
              HasSubstr("NO_RULE_MATCHED"));
}

TEST_F(McpServerTest, InvalidExecuteArgumentsAreToolErrors) {
  Initialize();
  struct Case {
    const char* name;
    Json arguments;
    const char* mentions;
  };
  Json base = ExecuteArgs();
  auto with = [&base](const char* key, Json value) {
    Json copy = base;
    copy[key] = std::move(value);
    return copy;
  };
  auto without = [&base](const char* key) {
    Json copy = base;
    copy.erase(key);
    return copy;
  };
  std::vector<Case> cases = {
      {"missing capability", without("capability"), "capability"},
      {"empty capability", with("capability", ""), "capability"},
      {"numeric capability", with("capability", 3), "capability"},
      {"missing method", without("method"), "method"},
      {"non-string method", with("method", Json::array({"GET"})), "method"},
      {"missing path", without("path"), "path"},
      {"relative path", with("path", "repos/x"), "start with"},
      {"absolute URL", with("path", "https://evil.example/x"), "start with"},
      {"query in path", with("path", "/x?a=1"), "query"},
      {"query not object", with("query", "a=1"), "query"},
      {"query number value", with("query", Json{{"per_page", 5}}), "string"},
      {"headers array", with("headers", Json::array()), "headers"},
      {"header null value", with("headers", Json{{"X-A", nullptr}}), "string"},
      {"body object", with("body", Json{{"a", 1}}), "serialize"},
      {"reason number", with("reason", 1), "reason"},
      {"unknown key", with("url", "https://x"), "Unknown argument"},
      {"no arguments", Json::object(), "capability"},
  };
  for (const Case& c : cases) {
    Json result = CallTool("execute", c.arguments);
    EXPECT_EQ(result["isError"], true) << c.name;
    EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
                HasSubstr(c.mentions))
        << c.name;
  }
  // Arguments omitted entirely: same as {}.
  Json response = Send(Request(8, "tools/call", Json{{"name", "execute"}}));
  EXPECT_EQ(response["result"]["isError"], true);
  EXPECT_TRUE(broker_.execute_requests.empty());
  EXPECT_TRUE(broker_.open_requests.empty());
}

TEST_F(McpServerTest, NoArgumentToolsRefuseArguments) {
  Initialize();
  Json result = CallTool("list_capabilities", Json{{"x", 1}});
  EXPECT_EQ(result["isError"], true);
  EXPECT_EQ(broker_.list_calls, 0);
}

// --- broker failures ------------------------------------------------------

TEST_F(McpServerTest, BrokerUnavailableIsReported) {
  Initialize();
  broker_.capabilities.push_back(absl::UnavailableError("connect failed"));
  Json result = CallTool("list_capabilities", Json::object());
  EXPECT_EQ(result["isError"], true);
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("Latchkey broker is not reachable at "
                        "/run/latchkey/broker.sock; ask the operator to "
                        "start it"));
  // And the client hears about it (errors pass the default level).
  std::vector<std::string> notes = Notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("notifications/message"));
  EXPECT_THAT(notes[0], HasSubstr("UNAVAILABLE"));
}

TEST_F(McpServerTest, TokenRefusedIsReported) {
  Initialize();
  broker_.sessions.push_back(absl::UnauthenticatedError("bad token"));
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_EQ(result["isError"], true);
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("the agent token was refused (revoked or wrong)"));
  EXPECT_TRUE(broker_.execute_requests.empty());
}

TEST_F(McpServerTest, EachBrokerRefusalIsReportedForWhatItIs) {
  Initialize();
  struct Case {
    Refusal why;
    absl::StatusCode code;
    const char* says;
  };
  for (const Case& c : {
           Case{Refusal::kRevoked, absl::StatusCode::kPermissionDenied,
                "access was revoked by an operator"},
           Case{Refusal::kPeerNotAllowed, absl::StatusCode::kPermissionDenied,
                "this user may not connect"},
           Case{Refusal::kAgentNotAllowed, absl::StatusCode::kPermissionDenied,
                "this agent may not use the capabilities"},
           Case{Refusal::kAgentUnknown, absl::StatusCode::kUnauthenticated,
                "the agent token was refused"},
           Case{Refusal::kPeerUnverified, absl::StatusCode::kUnauthenticated,
                "could not verify this process's connection"},
       }) {
    SCOPED_TRACE(std::string(RefusalTag(c.why)));
    broker_.sessions.push_back(Refuse(c.code, c.why, "the broker's words"));
    Json result = CallTool("execute", ExecuteArgs());
    EXPECT_EQ(result["isError"], true);
    std::string text = result["content"][0]["text"];
    EXPECT_THAT(text, HasSubstr(c.says));
    EXPECT_THAT(text, HasSubstr(RefusalTag(c.why)));
    EXPECT_THAT(text, HasSubstr("the broker's words"));
    if (c.why != Refusal::kPeerNotAllowed) {
      EXPECT_THAT(text, Not(HasSubstr("may not connect")));
    }
  }
  EXPECT_TRUE(broker_.execute_requests.empty());
}

TEST_F(McpServerTest, UntaggedPermissionDeniedIsNotGuessedAt) {
  Initialize();
  broker_.sessions.push_back(absl::PermissionDeniedError("nope"));
  Json result = CallTool("execute", ExecuteArgs());
  std::string text = result["content"][0]["text"];
  EXPECT_THAT(text, HasSubstr("nope"));
  EXPECT_THAT(text, Not(HasSubstr("may not connect")));
}

TEST_F(McpServerTest, DeadlineExceededWarnsAboutSideEffects) {
  Initialize();
  broker_.executes.push_back(absl::DeadlineExceededError("slow"));
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_EQ(result["isError"], true);
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("may or may not"));
}

// --- sessions -------------------------------------------------------------

TEST_F(McpServerTest, ExpiredSessionIsReopenedAndRetriedOnce) {
  Initialize();
  broker_.executes.push_back(Denied(v1::REASON_SESSION_EXPIRED));
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_FALSE(result.value("isError", false)) << result.dump();
  ASSERT_EQ(broker_.execute_requests.size(), 2u);
  EXPECT_NE(broker_.execute_requests[0].session_id(),
            broker_.execute_requests[1].session_id());
  EXPECT_EQ(broker_.open_requests.size(), 2u);
}

TEST_F(McpServerTest, RevokedSessionIsReportedNotReplaced) {
  Initialize();
  broker_.executes.push_back(Denied(v1::REASON_SESSION_REVOKED));
  broker_.executes.push_back(Denied(v1::REASON_SESSION_REVOKED));
  Json result = CallTool("execute", ExecuteArgs());
  EXPECT_EQ(result["isError"], true);
  EXPECT_EQ(result["structuredContent"]["code"], "SESSION_REVOKED");
  Json status = CallTool("session_status", Json::object());
  EXPECT_EQ(status["structuredContent"]["revoked"], true);
  EXPECT_EQ(status["isError"], true);
  CallTool("execute", ExecuteArgs());
  EXPECT_EQ(broker_.open_requests.size(), 1u);
  ASSERT_EQ(broker_.execute_requests.size(), 2u);
  EXPECT_EQ(broker_.execute_requests[0].session_id(),
            broker_.execute_requests[1].session_id());
}

int CountNotes(const std::vector<std::string>& notes,
               const std::string& method) {
  int count = 0;
  for (const std::string& line : notes) {
    Json note = Json::parse(line);
    if (note["method"] == method) {
      EXPECT_FALSE(note.contains("id")) << line;
      ++count;
    }
  }
  return count;
}

TEST_F(McpServerTest, RevocationSendsToolsListChangedOnce) {
  Initialize();
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  broker_.executes.push_back(Denied(v1::REASON_SESSION_REVOKED));
  broker_.executes.push_back(Denied(v1::REASON_SESSION_REVOKED));
  CallTool("execute", ExecuteArgs());
  EXPECT_EQ(CountNotes(Notes(), "notifications/tools/list_changed"), 0);
  CallTool("execute", ExecuteArgs());
  EXPECT_EQ(CountNotes(Notes(), "notifications/tools/list_changed"), 1);
  CallTool("execute", ExecuteArgs());
  EXPECT_EQ(CountNotes(Notes(), "notifications/tools/list_changed"), 1);
}

TEST_F(McpServerTest, ReopenedSessionWithOtherCapabilitiesSendsListChanged) {
  Initialize();
  v1::Session first;
  first.set_id("5e551001aabbccddeeff00112233445566");
  first.add_capabilities("github");
  first.mutable_expire_time()->set_seconds(kNow + 3600);
  v1::Session same = first;
  same.set_id("5e551002aabbccddeeff00112233445566");
  v1::Session wider = first;
  wider.set_id("5e551003aabbccddeeff00112233445566");
  wider.add_capabilities("stripe");
  broker_.sessions = {first, same, wider};
  broker_.executes.push_back(Denied(v1::REASON_SESSION_EXPIRED));
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  broker_.executes.push_back(Denied(v1::REASON_SESSION_EXPIRED));
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  // first -> same: the same capabilities, nothing to announce.
  CallTool("execute", ExecuteArgs());
  EXPECT_EQ(CountNotes(Notes(), "notifications/tools/list_changed"), 0);
  // same -> wider: announced.
  CallTool("execute", ExecuteArgs());
  EXPECT_EQ(CountNotes(Notes(), "notifications/tools/list_changed"), 1);
  EXPECT_EQ(broker_.open_requests.size(), 3u);
}

TEST_F(McpServerTest, SessionStatusShowsOnlyIdPrefix) {
  Initialize();
  Json result = CallTool("session_status", Json::object());
  EXPECT_FALSE(result.value("isError", false));
  Json structured = result["structuredContent"];
  EXPECT_EQ(structured["session_id_prefix"], "5e551001");
  EXPECT_EQ(structured["expires_in_seconds"], 3600);
  EXPECT_EQ(structured["expire_time"], "2023-11-14T23:13:20Z");
  EXPECT_EQ(structured["capabilities"], Json({"github"}));
  EXPECT_EQ(structured["revoked"], false);
  EXPECT_THAT(result.dump(), Not(HasSubstr("5e55100112233")));
  // A second call reuses the session.
  CallTool("session_status", Json::object());
  EXPECT_EQ(broker_.open_requests.size(), 1u);
}

TEST_F(McpServerTest, ListCapabilitiesShowsRulesAndNoSecret) {
  Initialize();
  v1::ListCapabilitiesResponse list;
  v1::CapabilityInfo* info = list.add_capabilities();
  info->set_name("github");
  info->set_description("Read issues of octo/hello.");
  info->set_origin("https://api.github.com:443");
  info->mutable_session_expire_time()->set_seconds(kNow + 60);
  v1::Rule* rule = info->add_rules();
  rule->set_effect(v1::Rule::ALLOW);
  rule->add_methods("GET");
  rule->set_path("/repos/octo/hello/**");
  broker_.capabilities.push_back(list);
  Json result = CallTool("list_capabilities", Json::object());
  Json capability = result["structuredContent"]["capabilities"][0];
  EXPECT_EQ(capability["name"], "github");
  EXPECT_EQ(capability["origin"], "https://api.github.com:443");
  EXPECT_EQ(capability["rules"][0]["effect"], "ALLOW");
  EXPECT_EQ(capability["rules"][0]["methods"], Json({"GET"}));
  EXPECT_EQ(capability["rules"][0]["path"], "/repos/octo/hello/**");
  EXPECT_EQ(capability["session_expire_time"], "2023-11-14T22:14:20Z");
  EXPECT_THAT(result.dump(), Not(HasSubstr("secret")));
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("ALLOW GET /repos/octo/hello/**"));
  // Listing does not open a session.
  EXPECT_TRUE(broker_.open_requests.empty());
}

TEST_F(McpServerTest, EmptyCapabilityListSaysWhatToDo) {
  Initialize();
  Json result = CallTool("list_capabilities", Json::object());
  EXPECT_EQ(result["structuredContent"]["capabilities"], Json::array());
  EXPECT_THAT(result["content"][0]["text"].get<std::string>(),
              HasSubstr("operator"));
}

// --- JSON-RPC errors ------------------------------------------------------

TEST_F(McpServerTest, UnknownToolIsInvalidParams) {
  Initialize();
  Json response = Send(ToolCall(5, "delete_everything", Json::object()));
  EXPECT_EQ(ErrorCode(response), -32602);
  EXPECT_EQ(response["id"], 5);
  EXPECT_THAT(response["error"]["message"].get<std::string>(),
              HasSubstr("Unknown tool: delete_everything"));
}

TEST_F(McpServerTest, UnknownMethodIsMethodNotFound) {
  Initialize();
  Json response = Send(Request("abc", "resources/list"));
  EXPECT_EQ(ErrorCode(response), -32601);
  EXPECT_EQ(response["id"], "abc");
}

TEST_F(McpServerTest, ParseErrorHasNullId) {
  Json response = Send(R"({"jsonrpc":"2.0","id":1,"method":"ping")");
  EXPECT_EQ(ErrorCode(response), -32700);
  EXPECT_TRUE(response["id"].is_null());
  EXPECT_TRUE(response.contains("id"));
}

TEST_F(McpServerTest, BatchIsInvalidRequest) {
  Initialize();
  Json response =
      Send("[" + Request(1, "ping") + "," + Request(2, "ping") + "]");
  EXPECT_EQ(ErrorCode(response), -32600);
  EXPECT_TRUE(response["id"].is_null());
  EXPECT_EQ(ErrorCode(Send("[]")), -32600);
}

TEST_F(McpServerTest, SetLogLevel) {
  Initialize();
  EXPECT_EQ(
      Send(Request(1, "logging/setLevel", Json{{"level", "info"}}))["result"],
      Json::object());
  EXPECT_EQ(ErrorCode(Send(
                Request(2, "logging/setLevel", Json{{"level", "verbose"}}))),
            -32602);
  EXPECT_EQ(ErrorCode(Send(Request(3, "logging/setLevel", Json::object()))),
            -32602);
  // At info, opening a session is reported to the client.
  CallTool("session_status", Json::object());
  std::vector<std::string> notes = Notes();
  ASSERT_EQ(notes.size(), 1u);
  Json note = Json::parse(notes[0]);
  EXPECT_EQ(note["method"], "notifications/message");
  EXPECT_EQ(note["params"]["level"], "info");
  EXPECT_EQ(note["params"]["data"]["event"], "session_opened");
  EXPECT_EQ(note["params"]["data"]["session_id_prefix"], "5e551001");
  EXPECT_FALSE(note.contains("id"));
}

// --- ids and text ---------------------------------------------------------

TEST_F(McpServerTest, IdsAreEchoedExactly) {
  Initialize();
  std::string huge(200'000, 'x');
  EXPECT_EQ(Send(Request(huge, "ping"))["id"], huge);
  EXPECT_EQ(
      Send(R"({"jsonrpc":"2.0","id":9223372036854775807,"method":"ping"})")
          ["id"],
      INT64_MAX);
  EXPECT_EQ(
      Send(R"({"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"})")
          ["id"],
      INT64_MIN);
  std::optional<std::string> raw = server_->HandleLine(
      R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"})");
  ASSERT_TRUE(raw.has_value());
  EXPECT_THAT(*raw, HasSubstr(R"("id":18446744073709551615)"));
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":0,"method":"ping"})")["id"], 0);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":"","method":"ping"})")["id"], "");
  // Beyond 64 bits the id cannot be echoed exactly: refused, id null.
  Json too_big =
      Send(R"({"jsonrpc":"2.0","id":18446744073709551616,"method":"ping"})");
  EXPECT_EQ(ErrorCode(too_big), -32600);
  EXPECT_TRUE(too_big["id"].is_null());
  Json fraction = Send(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})");
  EXPECT_EQ(ErrorCode(fraction), -32600);
}

TEST_F(McpServerTest, UnicodeSurvivesBothWays) {
  Initialize();
  std::string id = "ünïcødé-🔑-\u2028-\"quoted\"-\\";
  Json ping = Send(Request(id, "ping"));
  EXPECT_EQ(ping["id"], id);
  broker_.executes.push_back(
      Allowed(200, "application/json", R"({"title":"日本語 ✓ 🚀"})"));
  Json args = ExecuteArgs();
  args["path"] = "/repos/ü/日本";
  static constexpr char kBody[] = "héllo \0 wörld";
  const std::string body(kBody, sizeof(kBody) - 1);
  args["body"] = body;
  Json result = CallTool("execute", args);
  EXPECT_EQ(result["structuredContent"]["body"]["title"], "日本語 ✓ 🚀");
  EXPECT_EQ(broker_.execute_requests[0].request().path(), "/repos/ü/日本");
  EXPECT_EQ(broker_.execute_requests[0].request().body(), body);
  // Unknown tool names are echoed (cut) safely.
  Json unknown = Send(ToolCall(1, "✗" + std::string(500, 'y'), Json()));
  EXPECT_EQ(ErrorCode(unknown), -32602);
  EXPECT_LT(unknown["error"]["message"].get<std::string>().size(), 300u);
}

// --- robustness -----------------------------------------------------------

struct Adversarial {
  const char* name;
  std::string line;
  // Expected: 0 = no response, 1 = a result, otherwise an error code.
  int expect;
  // Whether the error's id must be null (only checked for errors).
  bool null_id;
};

std::vector<Adversarial> AdversarialLines() {
  std::string deep(100'000, '[');
  std::string ok_method = R"("method":"ping")";
  return {
      {"empty line", "", 0, false},
      {"whitespace", " \t  ", 0, false},
      {"lone brace", "{", -32700, true},
      {"closing brace", "}", -32700, true},
      {"null", "null", -32600, true},
      {"number", "42", -32600, true},
      {"string", "\"ping\"", -32600, true},
      {"boolean", "true", -32600, true},
      {"empty batch", "[]", -32600, true},
      {"batch", R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", -32600, true},
      {"empty object", "{}", -32600, true},
      {"jsonrpc 1.0", R"({"jsonrpc":"1.0","id":1,"method":"ping"})", -32600,
       false},
      {"jsonrpc number", R"({"jsonrpc":2.0,"id":1,"method":"ping"})", -32600,
       false},
      {"no jsonrpc", R"({"id":1,"method":"ping"})", -32600, false},
      {"null id", R"({"jsonrpc":"2.0","id":null,"method":"ping"})", -32600,
       true},
      {"object id", R"({"jsonrpc":"2.0","id":{},"method":"ping"})", -32600,
       true},
      {"array id", R"({"jsonrpc":"2.0","id":[1],"method":"ping"})", -32600,
       true},
      {"bool id", R"({"jsonrpc":"2.0","id":true,"method":"ping"})", -32600,
       true},
      {"float id", R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", -32600,
       true},
      {"method number", R"({"jsonrpc":"2.0","id":1,"method":5})", -32600,
       false},
      {"no method", R"({"jsonrpc":"2.0","id":1})", -32600, false},
      {"params string",
       R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":"x"})", -32600,
       false},
      {"params array",
       R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]})", -32602,
       false},
      {"unknown method", R"({"jsonrpc":"2.0","id":1,"method":"nope"})", -32601,
       false},
      {"method case", R"({"jsonrpc":"2.0","id":1,"method":"PING"})", -32601,
       false},
      {"call without name",
       R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})", -32602,
       false},
      {"call name number",
       R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1}})",
       -32602, false},
      {"call unknown tool",
       R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm -rf /"}})",
       -32602, false},
      {"call arguments string",
       R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute","arguments":"x"}})",
       -32602, false},
      {"deep nesting", deep, -32700, true},
      {"deep object nesting",
       R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":)" +
           std::string(70, '[') + std::string(70, ']') + "}}",
       -32700, true},
      {"binary garbage", std::string("\x00\x01\x02\xff\xfe garbage", 14),
       -32700, true},
      {"invalid utf8 in string",
       "{\"jsonrpc\":\"2.0\",\"id\":\"\xff\xfe\",\"method\":\"ping\"}", -32700,
       true},
      {"lone surrogate escape",
       R"({"jsonrpc":"2.0","id":"\ud800","method":"ping"})", -32700, true},
      {"trailing garbage", R"({"jsonrpc":"2.0","id":1,"method":"ping"} xyz)",
       -32700, true},
      {"two objects",
       R"({"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"})",
       -32700, true},
      {"unknown notification",
       R"({"jsonrpc":"2.0","method":"notifications/whatever"})", 0, false},
      {"client response", R"({"jsonrpc":"2.0","id":1,"result":{}})", 0, false},
      {"client error response",
       R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}})", 0,
       false},
      {"malformed cancel",
       R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{}}})",
       0, false},
      {"cancel unknown id",
       R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"nope"}})",
       0, false},
      {"notification with array params",
       R"({"jsonrpc":"2.0","method":"notifications/initialized","params":[]})",
       0, false},
      {"second initialize",
       R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})",
       -32600, false},
      {"bad log level",
       R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}})",
       -32602, false},
      {"huge method name",
       R"({"jsonrpc":"2.0","id":1,"method":")" + std::string(1 << 20, 'm') +
           "\"}",
       -32601, false},
      {"number overflow", R"({"jsonrpc":"2.0","id":1e400,"method":"ping"})",
       -32700, true},
      {"null params accepted",
       R"({"jsonrpc":"2.0","id":1,"method":"ping","params":null})", 1, false},
      {"extra members ignored",
       R"({"jsonrpc":"2.0","id":"1","method":"ping","x":[1,{"y":2}]})", 1,
       false},
      {"utf8 bom",
       "\xEF\xBB\xBF"
       R"({"jsonrpc":"2.0","id":1,"method":"ping"})",
       1, false},
      {"crlf leftover", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r",
       1, false},
      {"nul in id escape",
       R"({"jsonrpc":"2.0","id":"a\u0000b","method":"ping"})", 1, false},
  };
}

TEST_F(McpServerTest, AdversarialLinesAreAnsweredAndServingContinues) {
  Initialize();
  std::vector<Adversarial> lines = AdversarialLines();
  ASSERT_GE(lines.size(), 25u);
  int n = 0;
  for (const Adversarial& c : lines) {
    std::optional<std::string> raw = server_->HandleLine(c.line);
    if (c.expect == 0) {
      EXPECT_FALSE(raw.has_value()) << c.name << ": " << raw.value_or("");
    } else {
      ASSERT_TRUE(raw.has_value()) << c.name;
      EXPECT_EQ(raw->find('\n'), std::string::npos) << c.name;
      Json response = Json::parse(*raw);
      EXPECT_EQ(response["jsonrpc"], "2.0") << c.name;
      ASSERT_TRUE(response.contains("id")) << c.name;
      if (c.expect == 1) {
        EXPECT_TRUE(response.contains("result")) << c.name << ": " << *raw;
      } else {
        EXPECT_EQ(ErrorCode(response), c.expect)
            << c.name << ": " << raw->substr(0, 300);
        EXPECT_TRUE(response["error"]["message"].is_string()) << c.name;
        if (c.null_id) {
          EXPECT_TRUE(response["id"].is_null()) << c.name;
        } else {
          EXPECT_FALSE(response["id"].is_null()) << c.name;
        }
      }
    }
    // The server keeps serving.
    std::string id = "after-" + std::to_string(n++);
    Json ping = Send(Request(id, "ping"));
    EXPECT_EQ(ping["id"], id) << "after " << c.name;
    EXPECT_EQ(ping["result"], Json::object()) << "after " << c.name;
  }
  broker_.executes.push_back(Allowed(200, "text/plain", "still here"));
  EXPECT_EQ(CallTool("execute", ExecuteArgs())["structuredContent"]["body"],
            "still here");
}

// --- progress ---------------------------------------------------------------

TEST_F(McpServerTest, ProgressTokenGetsOneStartNotification) {
  Initialize();
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  Json call{{"name", "execute"},
            {"arguments", ExecuteArgs()},
            {"_meta", {{"progressToken", "tok-1"}}}};
  Json response = Send(Request(5, "tools/call", call));
  ASSERT_TRUE(response.contains("result")) << response.dump();
  std::vector<Json> progress;
  for (const std::string& line : Notes()) {
    Json note = Json::parse(line);
    if (note["method"] == "notifications/progress") progress.push_back(note);
  }
  // Only the start: a terminal one would race the response in SDK clients.
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_FALSE(progress[0].contains("id"));
  EXPECT_EQ(progress[0]["params"]["progressToken"], "tok-1");
  EXPECT_EQ(progress[0]["params"]["progress"], 0);
  EXPECT_EQ(progress[0]["params"]["total"], 1);
  EXPECT_THAT(progress[0]["params"]["message"].get<std::string>(),
              HasSubstr("execute"));
}

TEST_F(McpServerTest, ProgressHasNoMessageFor20241105) {
  Initialize("2024-11-05");
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  Json call{{"name", "execute"},
            {"arguments", ExecuteArgs()},
            {"_meta", {{"progressToken", "t"}}}};
  EXPECT_TRUE(Send(Request(5, "tools/call", call)).contains("result"));
  std::vector<std::string> notes = Notes();
  ASSERT_EQ(notes.size(), 1u);
  Json note = Json::parse(notes[0]);
  EXPECT_EQ(note["method"], "notifications/progress");
  EXPECT_FALSE(note["params"].contains("message"));
}

TEST_F(McpServerTest, NoOrInvalidProgressTokenMeansNoProgress) {
  Initialize();
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  broker_.executes.push_back(Allowed(200, "text/plain", "ok"));
  CallTool("execute", ExecuteArgs());
  Json call{{"name", "execute"},
            {"arguments", ExecuteArgs()},
            {"_meta", {{"progressToken", 1.5}}}};
  EXPECT_TRUE(Send(Request(6, "tools/call", call)).contains("result"));
  for (const std::string& line : Notes()) {
    EXPECT_THAT(line, Not(HasSubstr("notifications/progress")));
  }
}

TEST_F(McpServerTest, IntegerProgressTokenIsEchoedWhileTheCallRuns) {
  Initialize();
  std::promise<void> entered;
  broker_.execute_hook = [&entered](const v1::ExecuteRequest&,
                                    Cancellation* cancel) {
    entered.set_value();
    while (!cancel->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  Json call{{"name", "execute"},
            {"arguments", ExecuteArgs()},
            {"_meta", {{"progressToken", 42}}}};
  McpServer::Dispatch dispatch =
      server_->Accept(Request(8, "tools/call", call));
  auto worker = std::async(std::launch::async, dispatch.deferred);
  entered.get_future().wait();
  Send(R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
       R"("params":{"requestId":8}})");
  EXPECT_FALSE(worker.get().has_value());
  std::vector<std::string> notes = Notes();
  ASSERT_EQ(notes.size(), 1u);
  Json note = Json::parse(notes[0]);
  EXPECT_EQ(note["params"]["progressToken"], 42);
  EXPECT_EQ(note["params"]["progress"], 0);
}

// --- concurrency and cancellation -----------------------------------------

TEST_F(McpServerTest, PingIsServedWhileACallIsInFlightAndCancelDropsIt) {
  Initialize();
  std::promise<void> entered;
  broker_.execute_hook = [&entered](const v1::ExecuteRequest&,
                                    Cancellation* cancel) {
    entered.set_value();
    while (!cancel->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  McpServer::Dispatch dispatch =
      server_->Accept(ToolCall("call-1", "execute", ExecuteArgs()));
  ASSERT_TRUE(dispatch.deferred);
  EXPECT_FALSE(dispatch.response.has_value());
  auto worker = std::async(std::launch::async, dispatch.deferred);
  entered.get_future().wait();
  EXPECT_EQ(server_->tool_calls_in_flight(), 1u);
  EXPECT_EQ(Send(Request(99, "ping"))["result"], Json::object());
  // Cancelling a different id does nothing.
  EXPECT_TRUE(Send(R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
                   R"("params":{"requestId":1}})")
                  .is_null());
  EXPECT_EQ(server_->tool_calls_in_flight(), 1u);
  EXPECT_TRUE(Send(R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
                   R"("params":{"requestId":"call-1","reason":"user"}})")
                  .is_null());
  std::optional<std::string> response = worker.get();
  EXPECT_FALSE(response.has_value()) << response.value_or("");
  EXPECT_EQ(server_->tool_calls_in_flight(), 0u);
}

TEST_F(McpServerTest, CancelAllStopsEveryCall) {
  Initialize();
  std::atomic<int> entered{0};
  broker_.execute_hook = [&entered](const v1::ExecuteRequest&,
                                    Cancellation* cancel) {
    ++entered;
    while (!cancel->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  std::vector<std::future<std::optional<std::string>>> workers;
  for (int i = 0; i < 3; ++i) {
    auto dispatch = server_->Accept(ToolCall(i, "execute", ExecuteArgs()));
    workers.push_back(std::async(std::launch::async, dispatch.deferred));
  }
  while (entered < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->CancelAll();
  for (auto& worker : workers) EXPECT_FALSE(worker.get().has_value());
}

TEST_F(McpServerTest, BusyAndDuplicateIds) {
  Rebuild(1);
  Initialize();
  McpServer::Dispatch first =
      server_->Accept(ToolCall(1, "list_capabilities", Json::object()));
  ASSERT_TRUE(first.deferred);
  // Same id while in flight.
  Json duplicate = Json::parse(
      *server_->Accept(ToolCall(1, "list_capabilities", Json::object()))
           .response);
  EXPECT_EQ(ErrorCode(duplicate), -32600);
  // Another id, over the limit.
  Json busy = Json::parse(
      *server_->Accept(ToolCall(2, "list_capabilities", Json::object()))
           .response);
  EXPECT_EQ(ErrorCode(busy), -32000);
  EXPECT_EQ(busy["id"], 2);
  ASSERT_TRUE(first.deferred().has_value());
  // The string id "1" is not the integer 1.
  McpServer::Dispatch second =
      server_->Accept(ToolCall(1, "list_capabilities", Json::object()));
  ASSERT_TRUE(second.deferred);
  McpServer::Dispatch third =
      server_->Accept(ToolCall("1", "list_capabilities", Json::object()));
  EXPECT_EQ(ErrorCode(Json::parse(*third.response)), -32000);
  second.deferred();
}

}  // namespace
}  // namespace latchkey::mcp
