#include "mcp_adapter/stateless.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"

namespace latchkey::mcp {
namespace {

class StatelessTest : public ::testing::Test {
 protected:
  StatelessTest() {
    McpServerOptions options;
    options.broker_socket = "/test/broker.sock";
    options.notify = [this](std::string line) { notes_.push_back(line); };
    server_ = std::make_unique<McpServer>(&broker_, std::move(options));
    stateless_ = std::make_unique<StatelessServer>(server_.get());
  }

  static Json Request(Json id, const std::string& method, Json params = {},
                      const std::string& version = kStatelessVersion) {
    if (params.is_null()) params = Json::object();
    params["_meta"][kMetaProtocolVersion] = version;
    params["_meta"][kMetaClientCapabilities] = Json::object();
    return Json{
        {"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  }

  Json Send(const Json& message) {
    McpServer::Dispatch dispatch = stateless_->Accept(message.dump(), message);
    std::optional<std::string> line =
        dispatch.deferred ? dispatch.deferred() : dispatch.response;
    return line.has_value() ? Json::parse(*line) : Json();
  }

  FakeBrokerClient broker_;
  std::vector<std::string> notes_;
  std::unique_ptr<McpServer> server_;
  std::unique_ptr<StatelessServer> stateless_;
};

TEST_F(StatelessTest, MetaProtocolVersionMarksStatelessRequests) {
  EXPECT_EQ(MetaProtocolVersion(Request(1, "tools/list")), kStatelessVersion);
  EXPECT_EQ(MetaProtocolVersion(Json::parse(
                R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})")),
            std::nullopt);
  EXPECT_EQ(
      MetaProtocolVersion(Json::parse(
          R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{}}})")),
      std::nullopt);
}

TEST_F(StatelessTest, DiscoverListsVersionsCapabilitiesAndIdentity) {
  Json answer = Send(Request("d1", "server/discover"));
  ASSERT_TRUE(answer.contains("result")) << answer;
  const Json& result = answer["result"];
  EXPECT_EQ(answer["id"], "d1");
  EXPECT_EQ(result["resultType"], "complete");
  EXPECT_EQ(result["supportedVersions"],
            Json::array({"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26",
                         "2024-11-05"}));
  EXPECT_TRUE(result["capabilities"].contains("tools"));
  EXPECT_EQ(result["serverInfo"]["name"], "latchkey-mcp");
  EXPECT_FALSE(result["instructions"].get<std::string>().empty());
}

TEST_F(StatelessTest, ToolsAreServedWithoutInitializeAndMarkedComplete) {
  Json list = Send(Request(1, "tools/list"));
  ASSERT_TRUE(list.contains("result")) << list;
  EXPECT_EQ(list["id"], 1);
  EXPECT_EQ(list["result"]["resultType"], "complete");
  EXPECT_FALSE(list["result"]["tools"].empty());
  // 2025-11-25 tool shapes: output schemas are there.
  EXPECT_TRUE(list["result"]["tools"][0].contains("outputSchema"));

  Json call = Send(Request(
      7, "tools/call", Json{{"name", "session_status"}, {"arguments", {}}}));
  ASSERT_TRUE(call.contains("result")) << call;
  EXPECT_EQ(call["id"], 7);
  EXPECT_EQ(call["result"]["resultType"], "complete");
  EXPECT_NE(call["result"]["isError"], true) << call;
}

TEST_F(StatelessTest, ConcurrentClientsMayReuseIds) {
  // Two deferred calls with the same client id: both are accepted (each
  // gets an internal id) and both answer with the client's id.
  Json request = Request(1, "tools/call",
                         Json{{"name", "session_status"}, {"arguments", {}}});
  McpServer::Dispatch first = stateless_->Accept(request.dump(), request);
  McpServer::Dispatch second = stateless_->Accept(request.dump(), request);
  ASSERT_TRUE(first.deferred && second.deferred);
  EXPECT_EQ(Json::parse(*first.deferred())["id"], 1);
  EXPECT_EQ(Json::parse(*second.deferred())["id"], 1);
}

TEST_F(StatelessTest, UnsupportedVersionIsMinus32022WithTheSupportedList) {
  Json answer = Send(Request(2, "tools/list", {}, "2099-01-01"));
  ASSERT_TRUE(answer.contains("error")) << answer;
  EXPECT_EQ(answer["error"]["code"], kUnsupportedProtocolVersion);
  EXPECT_EQ(answer["error"]["data"]["supported"], Json::array({"2026-07-28"}));
  EXPECT_EQ(answer["error"]["data"]["requested"], "2099-01-01");
}

TEST_F(StatelessTest, MissingClientCapabilitiesIsInvalidParams) {
  Json request = Request(3, "tools/list");
  request["params"]["_meta"].erase(kMetaClientCapabilities);
  Json answer = Send(request);
  EXPECT_EQ(answer["error"]["code"], -32602) << answer;
}

TEST_F(StatelessTest, HandshakeMethodsAreGoneIn20260728) {
  for (const char* method : {"initialize", "ping", "logging/setLevel"}) {
    Json answer = Send(Request(4, method));
    EXPECT_EQ(answer["error"]["code"], -32601) << method << answer;
  }
}

}  // namespace
}  // namespace latchkey::mcp
