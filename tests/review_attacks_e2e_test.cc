// The six bypass classes of the outside review (issue 15), replayed end to
// end against the real stack: the four daemons and the loopback echo
// upstream, driven through the agent's path (the broker's Execute RPC, as
// latchkey-mcp calls it, and the MCP `execute` tool itself). Each refused
// request is also checked against the upstream's own record of what it
// received: a refusal that came after a byte went out would still fail.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "tests/audit_query.h"
#include "tests/mcp_test_client.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// The review's rules, on the stack's secret and upstream. review-api may
// follow two redirects so that a redirect hop is checked by the rules;
// review-approval asks an operator for every request.
constexpr char kReviewRules[] =
    "  secret_id: \"demo-token\"\n"
    "  origin: \"@ORIGIN@\"\n"
    "  rules { effect: ALLOW methods: \"GET\" path: \"/v1/**\" }\n"
    "  rules { effect: ALLOW methods: \"POST\" path: \"/v1/items\" }\n"
    "  rules { effect: DENY methods: \"*\" path: \"/v1/admin/**\" }\n"
    "  agents: \"demo-agent\"\n";

std::string ReviewConfig() {
  return absl::StrCat(
      "capabilities {\n  name: \"review-api\"\n"
      "  description: \"The review's rules.\"\n",
      kReviewRules,
      "  limits { total_timeout_ms: 5000 max_redirects: 2 }\n}\n"
      "capabilities {\n  name: \"review-approval\"\n"
      "  description: \"The review's rules, every request approved.\"\n",
      kReviewRules,
      "  approval: APPROVAL_MODE_EVERY_REQUEST\n"
      "  limits { total_timeout_ms: 5000 }\n}\n");
}

std::string CodeName(v1::ReasonCode code) {
  return v1::ReasonCode_Name(code).substr(sizeof("REASON_") - 1);
}

class ReviewAttacksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.extra_config = ReviewConfig();
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    client_ = new McpTestClient(stack_->mcp());
    auto init = client_->Initialize();
    ASSERT_TRUE(init.ok()) << init.status();
    session_ = new std::string(OpenSession());
  }
  static void TearDownTestSuite() {
    delete session_;
    delete client_;
    delete stack_;
  }

  static void Deadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(15));
  }
  static void Authorize(grpc::ClientContext* context) {
    context->AddMetadata("authorization", "Bearer " + stack_->agent_token());
    Deadline(context);
  }
  static std::unique_ptr<v1::Broker::Stub> Broker() {
    return v1::Broker::NewStub(CreateUdsChannel(stack_->run("broker.sock")));
  }

  static std::string OpenSession() {
    grpc::ClientContext context;
    Authorize(&context);
    v1::Session session;
    grpc::Status rpc =
        Broker()->OpenSession(&context, v1::OpenSessionRequest(), &session);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return session.id();
  }

  static v1::HttpRequest Http(const std::string& method,
                              const std::string& path,
                              const Headers& headers = {},
                              const std::string& body = "") {
    v1::HttpRequest http;
    http.set_method(method);
    http.set_path(path);
    for (const auto& [name, value] : headers) {
      v1::Header* header = http.add_headers();
      header->set_name(name);
      header->set_value(value);
    }
    http.set_body(body);
    return http;
  }

  // Execute calls the broker's Execute as latchkey-mcp does; a gRPC error
  // fails the test (refusals are answers, not errors).
  static v1::ExecuteResponse Execute(const std::string& capability,
                                     const v1::HttpRequest& http,
                                     const std::string& approval_id = "",
                                     const std::string* session = nullptr) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::ExecuteRequest request;
    request.set_session_id(session != nullptr ? *session : *session_);
    request.set_capability(capability);
    request.set_approval_id(approval_id);
    *request.mutable_request() = http;
    v1::ExecuteResponse response;
    grpc::Status rpc = Broker()->Execute(&context, request, &response);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return response;
  }

  // McpExecute is the MCP `execute` tool on review-api.
  static json McpExecute(const std::string& method, const std::string& path,
                         const Headers& headers = {}) {
    json args = {
        {"capability", "review-api"}, {"method", method}, {"path", path}};
    if (!headers.empty()) {
      json object = json::object();
      for (const auto& [name, value] : headers) object[name] = value;
      args["headers"] = object;
    }
    auto result = client_->CallTool("execute", args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : json();
  }

  // UpstreamRequests is what the echo upstream received, in order.
  static std::vector<json> UpstreamRequests() {
    std::vector<json> requests;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(stack_->upstream_record_path()), '\n',
                        absl::SkipEmpty())) {
      requests.push_back(json::parse(line));
    }
    return requests;
  }
  static size_t UpstreamHits() { return UpstreamRequests().size(); }
  // UpstreamHitsContaining counts requests whose path, lower-cased,
  // contains `part` (any spelling of /v1/admin).
  static int UpstreamHitsContaining(const std::string& part) {
    int hits = 0;
    for (const json& request : UpstreamRequests()) {
      std::string raw = absl::AsciiStrToLower(request.value("raw_path", ""));
      if (absl::StrContains(raw, part)) ++hits;
    }
    return hits;
  }

  // AuditRecords is every record, through the sink's admin service.
  static std::vector<v1::AuditRecord> AuditRecords() {
    return QueryAuditRecords(stack_->run("audit.sock"));
  }

  static std::vector<v1::AuditRecord> AuditFor(const std::string& request_id) {
    std::vector<v1::AuditRecord> found;
    for (v1::AuditRecord& record : AuditRecords()) {
      if (record.event().request_id() == request_id) found.push_back(record);
    }
    return found;
  }

  // ExpectRefused checks a refusal and that the upstream saw nothing.
  static void ExpectRefused(const v1::ExecuteResponse& response,
                            const std::vector<v1::ReasonCode>& codes,
                            size_t upstream_before) {
    EXPECT_EQ(response.decision(), v1::DECISION_DENY)
        << response.ShortDebugString();
    bool expected = false;
    for (v1::ReasonCode code : codes)
      expected |= response.denial().code() == code;
    EXPECT_TRUE(expected) << CodeName(response.denial().code()) << ": "
                          << response.denial().message();
    EXPECT_EQ(UpstreamHits(), upstream_before)
        << "a refused request reached the upstream";
  }

  static Stack* stack_;
  static McpTestClient* client_;
  static std::string* session_;
};

Stack* ReviewAttacksTest::stack_ = nullptr;
McpTestClient* ReviewAttacksTest::client_ = nullptr;
std::string* ReviewAttacksTest::session_ = nullptr;

// The control: the rules do let the ordinary requests through, so every
// refusal below is the attack's, not a broken capability's.
TEST_F(ReviewAttacksTest, OrdinaryRequestsPass) {
  size_t before = UpstreamHits();
  v1::ExecuteResponse get = Execute("review-api", Http("GET", "/v1/users"));
  EXPECT_EQ(get.decision(), v1::DECISION_ALLOW) << get.ShortDebugString();
  v1::ExecuteResponse post =
      Execute("review-api", Http("POST", "/v1/items", {}, "{\"amount\":5}"));
  EXPECT_EQ(post.decision(), v1::DECISION_ALLOW) << post.ShortDebugString();
  EXPECT_EQ(UpstreamHits(), before + 2);
}

// 1. Identifiers: a 64-byte limit that cut "é" in half made the record
// unparsable, so the refusal went unrecorded. Now any identifier not of
// the one shape is refused whole, before anything, and still recorded.
TEST_F(ReviewAttacksTest, MalformedIdentifiersAreRefusedAndRecorded) {
  const std::string cut_utf8 = std::string(63, 'a') + "\xc3\xa9";  // é
  struct Case {
    std::string label, approval_id, session_id;
  };
  const std::string& good = *session_;
  const std::vector<Case> cases = {
      {"approval_id of 63 bytes + \u00e9", cut_utf8, good},
      {"approval_id of 65 ASCII bytes", std::string(65, 'b'), good},
      {"approval_id with a space", "00aa 11bb", good},
      {"approval_id with a newline", "00aa11bb\n", good},
      {"session_id + \u00e9", "", good + "\xc3\xa9"},
      {"session_id of 63 bytes + \u00e9", "", cut_utf8},
      {"session_id with a quote and a newline", "", good + "\"\n"},
      {"session_id with a slash", "", "../" + good},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    size_t before = UpstreamHits();
    v1::ExecuteResponse response =
        Execute("review-api", Http("POST", "/v1/items", {}, "{\"amount\":5}"),
                c.approval_id, &c.session_id);
    ExpectRefused(response, {v1::REASON_INVALID_REQUEST}, before);
    ASSERT_FALSE(response.request_id().empty());
    std::vector<v1::AuditRecord> records = AuditFor(response.request_id());
    ASSERT_EQ(records.size(), 1u) << "the refusal has no audit record";
    const v1::AuditEvent& event = records[0].event();
    EXPECT_EQ(event.decision(), v1::DECISION_DENY);
    EXPECT_EQ(event.reason_code(), v1::REASON_INVALID_REQUEST);
    // Recorded escaped, as printable ASCII, never cut inside a character.
    for (const std::string* field :
         {&event.approval_id(), &event.session_id()}) {
      for (char ch : *field) {
        EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << *field;
      }
    }
  }
  // The log still parses and verifies line by line after those records.
  for (absl::string_view line :
       absl::StrSplit(ReadFileOrEmpty(stack_->audit_log_path()), '\n',
                      absl::SkipEmpty())) {
    EXPECT_FALSE(json::parse(line, nullptr, false).is_discarded()) << line;
  }
  {
    auto admin =
        v1::AuditAdmin::NewStub(CreateUdsChannel(stack_->run("audit.sock")));
    grpc::ClientContext context;
    Deadline(&context);
    v1::VerifyResponse verify;
    grpc::Status rpc = admin->Verify(&context, v1::VerifyRequest(), &verify);
    ASSERT_TRUE(rpc.ok()) << rpc.error_message();
    EXPECT_TRUE(verify.ok()) << verify.ShortDebugString();
  }
  // The same through MCP: the adapter passes the id on, the broker refuses.
  size_t before = UpstreamHits();
  auto result = client_->CallTool("execute", {{"capability", "review-api"},
                                              {"method", "POST"},
                                              {"path", "/v1/items"},
                                              {"body", "{\"amount\":5}"},
                                              {"approval_id", cut_utf8}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->value("isError", false)) << result->dump();
  EXPECT_EQ(UpstreamHits(), before);
}

// 2. Content coding: a gzip answer hid a reflected credential from the
// scrubber. The agent may not choose a coding; the vault asks for identity.
TEST_F(ReviewAttacksTest, AgentMayNotChooseTheContentCoding) {
  for (const auto& header : Headers{{"Accept-Encoding", "gzip"},
                                    {"accept-encoding", "gzip, deflate, br"},
                                    {"ACCEPT-ENCODING", "identity"},
                                    {"Accept_Encoding", "br"}}) {
    SCOPED_TRACE(header.first + ": " + header.second);
    size_t before = UpstreamHits();
    ExpectRefused(Execute("review-api", Http("GET", "/v1/users", {header})),
                  {v1::REASON_INVALID_REQUEST}, before);
  }
  size_t before = UpstreamHits();
  json mcp = McpExecute("GET", "/v1/users", {{"Accept-Encoding", "gzip"}});
  EXPECT_TRUE(mcp.value("isError", false)) << mcp.dump();
  EXPECT_EQ(mcp["structuredContent"].value("code", ""), "INVALID_REQUEST");
  EXPECT_EQ(UpstreamHits(), before);

  // Without the agent's header the upstream is asked for identity.
  v1::ExecuteResponse plain = Execute("review-api", Http("GET", "/v1/coding"));
  ASSERT_EQ(plain.decision(), v1::DECISION_ALLOW) << plain.ShortDebugString();
  std::vector<json> seen = UpstreamRequests();
  ASSERT_EQ(seen.size(), before + 1);
  EXPECT_EQ(seen.back()["path"], "/v1/coding");
  std::string coding;
  for (const auto& [name, value] : seen.back()["headers"].items()) {
    if (absl::EqualsIgnoreCase(name, "accept-encoding")) {
      coding = value.get<std::string>();
    }
  }
  EXPECT_EQ(coding, "identity") << seen.back().dump();
}

// 3. Ranges: slices of a reflected credential are each scrubbed alone and
// stitched together by the agent. Execute never takes a range.
TEST_F(ReviewAttacksTest, RangeHeadersAreRefused) {
  for (const auto& header :
       Headers{{"Range", "bytes=0-7"},
               {"range", "bytes=8-"},
               {"If-Range", "\"etag\""},
               {"Request-Range", "bytes=0-7"},
               {"if_range", "Wed, 21 Oct 2015 07:28:00 GMT"}}) {
    SCOPED_TRACE(header.first);
    size_t before = UpstreamHits();
    ExpectRefused(Execute("review-api", Http("GET", "/v1/file", {header})),
                  {v1::REASON_INVALID_REQUEST}, before);
  }
  size_t before = UpstreamHits();
  json mcp = McpExecute("GET", "/v1/file", {{"Range", "bytes=0-3"}});
  EXPECT_TRUE(mcp.value("isError", false)) << mcp.dump();
  EXPECT_EQ(UpstreamHits(), before);
}

// 4. Path parameters and the equivalences of real servers: each spelling
// reaches /v1/admin/** on some upstream, so each is refused as such.
TEST_F(ReviewAttacksTest, AdminPathSpellingsAreRefused) {
  const std::vector<std::string> paths = {
      // (An encoded ';' is no path parameter: "/v1/admin%3Bx" is the
      // segment "admin;x" on every server, not /v1/admin.)
      "/v1/admin;x=1/users", "/v1/ADMIN/users",         "/v1/admin.json",
      "/v1/admin./users",    "/v1/%EF%BD%81dmin/users", "/v1/%252e%252e/admin",
      "/v1/Admin/users",     "/v1/admin%2fusers",       "/v1/%61dmin/users",
      "/v1/admin/",          "/v1//admin/users",        "/v1/./admin/users",
      "/v1/admin;/users",    "/v1/admin%20/users",
  };
  const int admin_before = UpstreamHitsContaining("admin");
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    size_t before = UpstreamHits();
    ExpectRefused(Execute("review-api", Http("GET", path)),
                  {v1::REASON_PATH_REJECTED, v1::REASON_RULE_DENY}, before);
  }
  // A few again through MCP, the agent's own tool.
  for (const char* path :
       {"/v1/admin;x=1/users", "/v1/ADMIN/users", "/v1/%EF%BD%81dmin/users"}) {
    SCOPED_TRACE(std::string("mcp ") + path);
    size_t before = UpstreamHits();
    json result = McpExecute("GET", path);
    EXPECT_TRUE(result.value("isError", false)) << result.dump();
    std::string code = result["structuredContent"].value("code", "");
    EXPECT_TRUE(code == "PATH_REJECTED" || code == "RULE_DENY") << code;
    EXPECT_EQ(UpstreamHits(), before);
  }
  EXPECT_EQ(UpstreamHitsContaining("admin"), admin_before);
  EXPECT_EQ(UpstreamHitsContaining("%ef%bd%81dmin"), 0);
}

// 5. Method override and URL rewrite: the upstream would do another method
// or path than the rules judged. Every spelling of the family is refused.
TEST_F(ReviewAttacksTest, MethodOverrideFamilyIsRefused) {
  const Headers headers = {
      {"X-HTTP-Method-Override", "DELETE"},
      {"X-HTTP-Method", "DELETE"},
      {"X-Method-Override", "DELETE"},
      {"x_http_method_override", "DELETE"},
      {"X-Original-Method", "DELETE"},
      {"X-Original-URL", "/v1/admin/users"},
      {"X-Rewrite-URL", "/v1/admin/users"},
      {"X-Forwarded-For", "127.0.0.1"},
      {"X-Forwarded-Host", "internal.example"},
      {"x_forwarded_prefix", "/v1/admin"},
      {"Forwarded", "for=127.0.0.1"},
  };
  for (const auto& header : headers) {
    SCOPED_TRACE(header.first);
    size_t before = UpstreamHits();
    ExpectRefused(
        Execute("review-api", Http("POST", "/v1/items", {header}, "{}")),
        {v1::REASON_INVALID_REQUEST}, before);
    ExpectRefused(Execute("review-api", Http("GET", "/v1/users", {header})),
                  {v1::REASON_INVALID_REQUEST}, before);
  }
  size_t before = UpstreamHits();
  json mcp =
      McpExecute("GET", "/v1/users", {{"X-HTTP-Method-Override", "DELETE"}});
  EXPECT_TRUE(mcp.value("isError", false)) << mcp.dump();
  EXPECT_EQ(mcp["structuredContent"].value("code", ""), "INVALID_REQUEST");
  EXPECT_EQ(UpstreamHits(), before);
}

// 6. Redirect hops: a followed redirect is a new request, judged by the
// same rules before it is sent, never after.
TEST_F(ReviewAttacksTest, RedirectHopsAreJudgedBeforeTheyAreSent) {
  auto redirect = [](const std::string& to) {
    v1::HttpRequest http = Http("GET", "/v1/redirect");
    v1::QueryParam* param = http.add_query();
    param->set_name("to");
    param->set_value(to);
    param = http.add_query();
    param->set_name("status");
    param->set_value("307");
    return http;
  };
  // The control: a hop the rules allow is followed.
  {
    size_t before = UpstreamHits();
    v1::ExecuteResponse followed =
        Execute("review-api", redirect("/v1/landing"));
    ASSERT_EQ(followed.decision(), v1::DECISION_ALLOW)
        << followed.ShortDebugString();
    EXPECT_EQ(followed.response().status(), 200);
    std::vector<json> seen = UpstreamRequests();
    ASSERT_EQ(seen.size(), before + 2);
    EXPECT_EQ(seen.back()["path"], "/v1/landing");
  }
  const int admin_before = UpstreamHitsContaining("admin");
  for (const std::string& to :
       {std::string("/v1/admin/x"), std::string("/v1/ADMIN/x"),
        std::string("/v1/admin;x=1/x"), std::string("/v1/x/../admin/x"),
        stack_->upstream_origin() + "/v1/admin/x"}) {
    SCOPED_TRACE(to);
    size_t before = UpstreamHits();
    v1::ExecuteResponse response = Execute("review-api", redirect(to));
    EXPECT_EQ(response.decision(), v1::DECISION_DENY)
        << response.ShortDebugString();
    EXPECT_EQ(response.denial().code(), v1::REASON_REDIRECT_REFUSED)
        << CodeName(response.denial().code()) << ": "
        << response.denial().message();
    // Only the first hop, /v1/redirect, reached the upstream.
    std::vector<json> seen = UpstreamRequests();
    ASSERT_EQ(seen.size(), before + 1);
    EXPECT_EQ(seen.back()["path"], "/v1/redirect");
  }
  EXPECT_EQ(UpstreamHitsContaining("admin/x"), admin_before);
}

// 7a. Audit before effect: every allowed request has its intent record
// before its outcome record.
TEST_F(ReviewAttacksTest, IntentIsRecordedBeforeTheOutcome) {
  std::vector<std::string> ids;
  for (const v1::HttpRequest& http :
       {Http("GET", "/v1/users"), Http("POST", "/v1/items", {}, "{\"a\":1}"),
        Http("GET", "/v1/items/7")}) {
    v1::ExecuteResponse response = Execute("review-api", http);
    ASSERT_EQ(response.decision(), v1::DECISION_ALLOW)
        << response.ShortDebugString();
    ids.push_back(response.request_id());
  }
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    std::vector<v1::AuditRecord> records = AuditFor(id);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].event().source(), "intent");
    EXPECT_EQ(records[1].event().source(), "broker");
    EXPECT_LT(records[0].sequence(), records[1].sequence());
    EXPECT_EQ(records[1].event().decision(), v1::DECISION_ALLOW);
    EXPECT_EQ(records[1].event().upstream_status(), 200);
  }
}

// 8. Approvals are bound to the whole request: an approval for
// {"amount":5} does not carry {"amount":500000}, and is used once.
TEST_F(ReviewAttacksTest, ApprovalIsBoundToTheRequest) {
  const std::string small = "{\"amount\":5}";
  size_t before = UpstreamHits();
  v1::ExecuteResponse pending =
      Execute("review-approval", Http("POST", "/v1/items", {}, small));
  ExpectRefused(pending, {v1::REASON_APPROVAL_PENDING}, before);
  const std::string id = pending.approval().id();
  ASSERT_FALSE(id.empty()) << pending.ShortDebugString();

  {
    auto admin =
        v1::BrokerAdmin::NewStub(CreateUdsChannel(stack_->run("admin.sock")));
    grpc::ClientContext context;
    Deadline(&context);
    v1::DecideApprovalRequest decide;
    decide.set_id(id);
    decide.set_approve(true);
    v1::Approval approval;
    grpc::Status rpc = admin->DecideApproval(&context, decide, &approval);
    ASSERT_TRUE(rpc.ok()) << rpc.error_message();
    EXPECT_EQ(approval.state(), v1::Approval::APPROVED);
  }

  // Other requests under the same approval id: refused, nothing sent.
  v1::HttpRequest with_query = Http("POST", "/v1/items", {}, small);
  v1::QueryParam* param = with_query.add_query();
  param->set_name("amount");
  param->set_value("500000");
  for (const auto& [label, http] :
       std::vector<std::pair<std::string, v1::HttpRequest>>{
           {"bigger body",
            Http("POST", "/v1/items", {}, "{\"amount\":500000}")},
           {"body with a space",
            Http("POST", "/v1/items", {}, "{\"amount\": 5}")},
           {"added query", with_query},
           {"added header",
            Http("POST", "/v1/items", {{"X-Note", "more"}}, small)},
           {"other method", Http("GET", "/v1/items")},
       }) {
    SCOPED_TRACE(label);
    ExpectRefused(Execute("review-approval", http, id),
                  {v1::REASON_APPROVAL_NOT_FOUND}, before);
  }

  // The exact request passes, once.
  v1::ExecuteResponse approved =
      Execute("review-approval", Http("POST", "/v1/items", {}, small), id);
  ASSERT_EQ(approved.decision(), v1::DECISION_ALLOW)
      << approved.ShortDebugString();
  std::vector<json> seen = UpstreamRequests();
  ASSERT_EQ(seen.size(), before + 1);
  EXPECT_EQ(seen.back()["body"], small);
  v1::ExecuteResponse again =
      Execute("review-approval", Http("POST", "/v1/items", {}, small), id);
  EXPECT_EQ(again.decision(), v1::DECISION_DENY) << again.ShortDebugString();
  EXPECT_EQ(UpstreamHits(), before + 1) << "an approval was used twice";
}

// 7b. With the audit sink down nothing is sent upstream, then or later.
// Last, since it stops the sink (and starts it again). One refused call
// only: each waits out the broker's audit deadline (5 s), and the longer
// the sink is down the longer gRPC's reconnect backoff after its restart.
TEST_F(ReviewAttacksTest, AuditSinkDownMeansNothingIsSent) {
  stack_->StopAudit();
  size_t before = UpstreamHits();
  ExpectRefused(
      Execute("review-api", Http("POST", "/v1/items", {}, "{\"amount\":5}")),
      {v1::REASON_AUDIT_UNAVAILABLE}, before);

  ASSERT_TRUE(stack_->StartAudit().ok());
  v1::ExecuteResponse back;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    back = Execute("review-api", Http("GET", "/v1/after-audit-back"));
    if (back.decision() == v1::DECISION_ALLOW || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(back.decision(), v1::DECISION_ALLOW) << back.ShortDebugString();
  // The refused POST was not sent late either: the only new request the
  // upstream saw is the one allowed after the sink came back.
  std::vector<json> seen = UpstreamRequests();
  ASSERT_EQ(seen.size(), before + 1);
  EXPECT_EQ(seen.back()["path"], "/v1/after-audit-back");
}

}  // namespace
}  // namespace latchkey::testing
