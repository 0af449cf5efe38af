// Upstream limits and response policy through the real stack: a slow
// upstream hits the capability's timeout and the agent gets a clear
// UPSTREAM_TIMEOUT (and nothing hangs), a huge one is cut at the size limit
// and marked, Set-Cookie is dropped unless the capability passes it, and an
// upstream that reflects the credential in every encoding shows the agent
// only markers.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "proto/broker.grpc.pb.h"
#include "tests/leak_scan.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

class EgressLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.start_mcp = false;
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    // One capability per limit under test, on the stack's upstream.
    v1::EgressLimits slow;
    slow.set_total_timeout_ms(1000);
    ASSERT_TRUE(Create("slow", slow).ok());
    v1::EgressLimits small;
    small.set_max_response_bytes(4096);
    ASSERT_TRUE(Create("small", small).ok());
    v1::EgressLimits cookies;
    cookies.add_pass_response_headers("set-cookie");
    ASSERT_TRUE(Create("cookies", cookies).ok());
    ASSERT_TRUE(Create("plain", v1::EgressLimits()).ok());
    session_ = new std::string(OpenSession());
  }
  static void TearDownTestSuite() {
    delete session_;
    delete stack_;
  }

  static grpc::Status Create(const std::string& name,
                             const v1::EgressLimits& limits) {
    auto admin =
        v1::BrokerAdmin::NewStub(CreateUdsChannel(stack_->run("admin.sock")));
    grpc::ClientContext context;
    v1::CreateCapabilityRequest request;
    v1::Capability& cap = *request.mutable_capability();
    cap.set_name(name);
    cap.set_description("limits test");
    cap.set_secret_id("demo-token");
    cap.set_origin(stack_->upstream_origin());
    v1::Rule& rule = *cap.add_rules();
    rule.set_effect(v1::Rule::ALLOW);
    rule.add_methods("GET");
    rule.add_methods("POST");
    rule.set_path("/v1/**");
    cap.add_agents("demo-agent");
    *cap.mutable_limits() = limits;
    v1::Capability created;
    return admin->CreateCapability(&context, request, &created);
  }

  static void Authorize(grpc::ClientContext* context) {
    context->AddMetadata("authorization", "Bearer " + stack_->agent_token());
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
  }

  static std::string OpenSession() {
    auto broker =
        v1::Broker::NewStub(CreateUdsChannel(stack_->run("broker.sock")));
    grpc::ClientContext context;
    Authorize(&context);
    v1::Session session;
    grpc::Status rpc =
        broker->OpenSession(&context, v1::OpenSessionRequest(), &session);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return session.id();
  }

  static v1::ExecuteResponse Execute(
      const std::string& capability, const std::string& method,
      const std::string& path,
      std::vector<std::pair<std::string, std::string>> query = {},
      const std::string& body = "") {
    auto broker =
        v1::Broker::NewStub(CreateUdsChannel(stack_->run("broker.sock")));
    grpc::ClientContext context;
    Authorize(&context);
    v1::ExecuteRequest request;
    request.set_session_id(*session_);
    request.set_capability(capability);
    request.mutable_request()->set_method(method);
    request.mutable_request()->set_path(path);
    request.mutable_request()->set_body(body);
    for (auto& [name, value] : query) {
      v1::QueryParam* param = request.mutable_request()->add_query();
      param->set_name(name);
      param->set_value(value);
    }
    v1::ExecuteResponse response;
    grpc::Status rpc = broker->Execute(&context, request, &response);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return response;
  }

  static bool HasHeader(const v1::HttpResponse& response,
                        absl::string_view name) {
    for (const v1::Header& header : response.headers()) {
      if (absl::EqualsIgnoreCase(header.name(), name)) return true;
    }
    return false;
  }

  static Stack* stack_;
  static std::string* session_;
};

Stack* EgressLimitsTest::stack_ = nullptr;
std::string* EgressLimitsTest::session_ = nullptr;

TEST_F(EgressLimitsTest, SlowUpstreamTimesOutWithAClearReason) {
  absl::Time start = absl::Now();
  v1::ExecuteResponse response =
      Execute("slow", "GET", "/v1/slow", {{"ms", "8000"}});
  absl::Duration took = absl::Now() - start;
  ASSERT_EQ(response.decision(), v1::DECISION_DENY);
  EXPECT_EQ(response.denial().code(), v1::REASON_UPSTREAM_TIMEOUT);
  EXPECT_TRUE(absl::StrContains(response.denial().message(),
                                "did not answer within 1000 ms"))
      << response.denial().message();
  EXPECT_FALSE(response.denial().next_step().empty());
  // Bounded: the 1 s limit ends the call long before the upstream's 8 s.
  EXPECT_LT(took, absl::Seconds(7));
  // The same upstream answers in time under the limit.
  EXPECT_EQ(Execute("slow", "GET", "/v1/slow", {{"ms", "10"}}).decision(),
            v1::DECISION_ALLOW);
}

TEST_F(EgressLimitsTest, HugeUpstreamIsCutAtTheLimitAndMarked) {
  v1::ExecuteResponse response =
      Execute("small", "GET", "/v1/huge", {{"bytes", "5000000"}});
  ASSERT_EQ(response.decision(), v1::DECISION_ALLOW)
      << response.denial().message();
  EXPECT_TRUE(response.response().body_truncated());
  EXPECT_EQ(response.response().body().size(), 4096u);
  // Default limit (10 MiB): a 12 MiB answer is cut there, too.
  response = Execute("plain", "GET", "/v1/huge",
                     {{"bytes", std::to_string(12 << 20)}});
  ASSERT_EQ(response.decision(), v1::DECISION_ALLOW)
      << response.denial().message();
  EXPECT_TRUE(response.response().body_truncated());
  EXPECT_EQ(response.response().body().size(), 10u << 20);
  // Under the limit: whole and not marked.
  response = Execute("small", "GET", "/v1/huge", {{"bytes", "4000"}});
  EXPECT_FALSE(response.response().body_truncated());
  EXPECT_EQ(response.response().body().size(), 4000u);
}

TEST_F(EgressLimitsTest, SetCookieIsDroppedUnlessTheCapabilityPassesIt) {
  v1::ExecuteResponse plain = Execute("plain", "GET", "/v1/cookie");
  ASSERT_EQ(plain.decision(), v1::DECISION_ALLOW);
  EXPECT_FALSE(HasHeader(plain.response(), "Set-Cookie"));
  v1::ExecuteResponse passed = Execute("cookies", "GET", "/v1/cookie");
  ASSERT_EQ(passed.decision(), v1::DECISION_ALLOW);
  EXPECT_TRUE(HasHeader(passed.response(), "Set-Cookie"));
}

TEST_F(EgressLimitsTest, EchoInEveryEncodingShowsOnlyMarkers) {
  // The body carries the token too (as an agent could paste it, were it
  // to learn it): the reflection must be scrubbed either way.
  v1::ExecuteResponse response =
      Execute("plain", "POST", "/v1/encoded", {}, "hello");
  ASSERT_EQ(response.decision(), v1::DECISION_ALLOW)
      << response.denial().message();
  std::string seen = response.response().ShortDebugString();
  EXPECT_TRUE(FindForms(seen, SecretForms(Stack::kSecret)).empty()) << seen;
  EXPECT_TRUE(absl::StrContains(seen, "REDACTED")) << seen;
  EXPECT_GE(response.response().redactions(), 7u) << seen;
}

}  // namespace
}  // namespace latchkey::testing
