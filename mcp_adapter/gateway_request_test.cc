#include "mcp_adapter/gateway_request.h"

#include <string>

#include "common/limits.h"
#include "common/refusal.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace latchkey::mcp {
namespace {

std::string HeaderValue(const v1::HttpRequest &request,
                        const std::string &name) {
  for (const auto &header : request.headers()) {
    if (header.name() == name) return header.value();
  }
  return "<absent>";
}

TEST(GatewayRequestTest, SplitsCapabilityPathAndQueryInOrder) {
  auto request = BuildGatewayRequest(
      "get", "/github/repos/o/r.git/info/refs?service=git-upload-pack&a=1&a=2",
      {}, "");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->capability(), "github");
  EXPECT_EQ(request->request().method(), "GET");
  EXPECT_EQ(request->request().path(), "/repos/o/r.git/info/refs");
  ASSERT_EQ(request->request().query_size(), 3);
  EXPECT_EQ(request->request().query(0).name(), "service");
  EXPECT_EQ(request->request().query(0).value(), "git-upload-pack");
  EXPECT_EQ(request->request().query(1).value(), "1");
  EXPECT_EQ(request->request().query(2).value(), "2");
}

TEST(GatewayRequestTest, CapabilityAloneMeansRootPath) {
  auto request = BuildGatewayRequest("GET", "/aws-s3", {}, "");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->capability(), "aws-s3");
  EXPECT_EQ(request->request().path(), "/");
}

TEST(GatewayRequestTest, KeepsPathEscapesDecodesQuery) {
  auto request =
      BuildGatewayRequest("GET", "/c/a%2Fb?prefix=x%2By+z&flag", {}, "");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->request().path(), "/a%2Fb");
  EXPECT_EQ(request->request().query(0).value(), "x+y z");
  EXPECT_EQ(request->request().query(1).name(), "flag");
  EXPECT_EQ(request->request().query(1).value(), "");
}

TEST(GatewayRequestTest, RefusesBrokenEscapesAndMissingCapability) {
  EXPECT_EQ(BuildGatewayRequest("GET", "/c/x?a=%4", {}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildGatewayRequest("GET", "/c/x?a=%zz", {}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildGatewayRequest("GET", "/", {}, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(BuildGatewayRequest("GET", "//x", {}, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(BuildGatewayRequest("GET", "/a%2e/x", {}, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(BuildGatewayRequest("GET", "http://evil/x", {}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GatewayRequestTest, DropsClientCredentialsAndSignatures) {
  HeaderList headers = {
      {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAFAKE/..."},
      {"X-Amz-Date", "20260101T000000Z"},
      {"X-Amz-Security-Token", "fake"},
      {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
      {"Cookie", "a=b"},
      {"Proxy-Authorization", "Basic eA=="},
      {"Connection", "keep-alive"},
      {"Transfer-Encoding", "chunked"},
      {"Content-Length", "5"},
      {"Host", "127.0.0.1:1"},
      {"Accept-Encoding", "gzip"},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"Content-Type", "application/x-git-upload-pack-request"},
      {"Content-Encoding", "gzip"},
      {"X-Latchkey-Reason", "clone the repo"},
  };
  auto request = BuildGatewayRequest("POST", "/c/x", headers, "hello");
  ASSERT_TRUE(request.ok());
  ASSERT_EQ(request->request().headers_size(), 2);
  EXPECT_EQ(HeaderValue(request->request(), "Content-Type"),
            "application/x-git-upload-pack-request");
  EXPECT_EQ(HeaderValue(request->request(), "Content-Encoding"), "gzip");
  EXPECT_EQ(request->reason(), "clone the repo");
  EXPECT_EQ(request->request().body(), "hello");
}

TEST(GatewayRequestTest, RefusesOversizedBody) {
  std::string big(kMaxRequestBodyBytes + 1, 'x');
  EXPECT_EQ(BuildGatewayRequest("POST", "/c/x", {}, big).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GatewayReplyTest, AllowedPassesStatusHeadersBody) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_ALLOW);
  response.set_request_id("r1");
  auto *http = response.mutable_response();
  http->set_status(201);
  http->set_body("payload");
  auto add = [http](const char *name, const char *value) {
    auto *header = http->add_headers();
    header->set_name(name);
    header->set_value(value);
  };
  add("Content-Type", "application/x-git-upload-pack-result");
  add("Content-Length", "7");
  add("Transfer-Encoding", "chunked");
  add("Cache-Control", "no-cache");
  GatewayReply reply = ReplyForExecute(response);
  EXPECT_EQ(reply.status, 201);
  EXPECT_EQ(reply.content_type, "application/x-git-upload-pack-result");
  EXPECT_EQ(reply.body, "payload");
  ASSERT_EQ(reply.headers.size(), 2u);
  EXPECT_EQ(reply.headers[0].first, "Cache-Control");
  EXPECT_EQ(reply.headers[1].first, "X-Latchkey-Request-Id");
}

TEST(GatewayReplyTest, TruncatedBodyIs502NotAShortAnswer) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_ALLOW);
  response.mutable_response()->set_status(200);
  response.mutable_response()->set_body("partial");
  response.mutable_response()->set_body_truncated(true);
  GatewayReply reply = ReplyForExecute(response);
  EXPECT_EQ(reply.status, 502);
  EXPECT_EQ(nlohmann::json::parse(reply.body)["error"], "RESPONSE_TOO_LARGE");
}

TEST(GatewayReplyTest, DenialsMapToStatuses) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_DENY);
  response.set_request_id("r2");
  response.mutable_denial()->set_code(v1::REASON_RULE_DENY);
  response.mutable_denial()->set_message("a deny rule matched");
  response.mutable_denial()->set_rule("rules[1] DENY * /v1/admin/**");
  GatewayReply reply = ReplyForExecute(response);
  EXPECT_EQ(reply.status, 403);
  auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["error"], "RULE_DENY");
  EXPECT_FALSE(body["next_step"].get<std::string>().empty());
  EXPECT_EQ(body["request_id"], "r2");

  response.mutable_denial()->set_code(v1::REASON_RATE_LIMITED);
  response.mutable_denial()->mutable_retry_after()->set_seconds(2);
  response.mutable_denial()->mutable_retry_after()->set_nanos(5);
  reply = ReplyForExecute(response);
  EXPECT_EQ(reply.status, 429);
  bool has_retry_after = false;
  for (const auto &[name, value] : reply.headers) {
    if (name == "Retry-After") {
      has_retry_after = true;
      EXPECT_EQ(value, "3");
    }
  }
  EXPECT_TRUE(has_retry_after);

  EXPECT_EQ(HttpStatusForReason(v1::REASON_VAULT_SEALED, ""), 503);
  EXPECT_EQ(HttpStatusForReason(v1::REASON_CAPABILITY_NOT_FOUND, ""), 404);
  EXPECT_EQ(
      HttpStatusForReason(v1::REASON_UPSTREAM_ERROR, "the upstream failed"),
      502);
  EXPECT_EQ(HttpStatusForReason(v1::REASON_UPSTREAM_ERROR,
                                "the upstream timed out: x"),
            504);
}

TEST(GatewayReplyTest, BrokerFailures) {
  EXPECT_EQ(ReplyForBrokerFailure(absl::UnavailableError("down"), "/s").status,
            503);
  EXPECT_EQ(
      ReplyForBrokerFailure(absl::DeadlineExceededError("slow"), "/s").status,
      504);
  EXPECT_EQ(ReplyForBadRequest(absl::NotFoundError("x")).status, 404);
}

TEST(GatewayReplyTest, BrokerRefusalsSayWhy) {
  GatewayReply revoked = ReplyForBrokerFailure(
      Refuse(absl::StatusCode::kPermissionDenied, Refusal::kRevoked,
             "all access was revoked by an operator"),
      "/s");
  EXPECT_EQ(revoked.status, 403);
  nlohmann::json body = nlohmann::json::parse(revoked.body);
  EXPECT_EQ(body["reason"], "REVOKED");
  EXPECT_NE(body["message"].get<std::string>().find("revoked by an operator"),
            std::string::npos);
  EXPECT_EQ(body["next_step"].get<std::string>().find("agent token"),
            std::string::npos);

  GatewayReply uid = ReplyForBrokerFailure(
      Refuse(absl::StatusCode::kPermissionDenied, Refusal::kPeerNotAllowed,
             "uid 7 may not call"),
      "/s");
  EXPECT_EQ(uid.status, 502);
  body = nlohmann::json::parse(uid.body);
  EXPECT_EQ(body["reason"], "PEER_NOT_ALLOWED");
  EXPECT_NE(
      body["message"].get<std::string>().find("this user may not connect"),
      std::string::npos);
  EXPECT_NE(body["next_step"].get<std::string>().find("--agent_uids"),
            std::string::npos);
}

}  // namespace
}  // namespace latchkey::mcp
