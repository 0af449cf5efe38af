// HttpTransport on a real loopback socket, driven by a raw HTTP/1.1 client
// (so status lines, headers and SSE framing are checked byte for byte),
// with a scripted broker behind the MCP server.
#include "mcp_adapter/http_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"
#include "nlohmann/json.hpp"

namespace latchkey::mcp {
namespace {

constexpr char kToken[] = "test-bearer-token-0123456789";

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // Lower-case names.
  std::string body;                            // De-chunked.
};

// Dechunk undoes Transfer-Encoding: chunked (enough for these replies).
std::string Dechunk(absl::string_view raw) {
  std::string out;
  while (!raw.empty()) {
    size_t eol = raw.find("\r\n");
    if (eol == absl::string_view::npos) break;
    size_t size = 0;
    if (!absl::SimpleHexAtoi(raw.substr(0, eol), &size)) break;
    raw.remove_prefix(eol + 2);
    if (size == 0 || raw.size() < size) break;
    out.append(raw.data(), size);
    raw.remove_prefix(std::min(raw.size(), size + 2));
  }
  return out;
}

// RawClient is one TCP connection to the transport.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{10, 0};  // Bounds every read: a hung server fails.
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address),
                           sizeof(address)) == 0;
  }
  ~RawClient() { ::close(fd_); }

  bool Send(absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // ReadUntil reads until `needle` is in what was received (or EOF, or
  // 10 s). Returns everything received so far.
  std::string ReadUntil(absl::string_view needle) {
    char buffer[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!absl::StrContains(received_, needle) &&
           std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      received_.append(buffer, static_cast<size_t>(n));
    }
    return received_;
  }
  std::string ReadAll() { return ReadUntil("\x01never\x02"); }

  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

HttpReply ParseReply(const std::string& raw) {
  HttpReply reply;
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return reply;
  std::vector<std::string> lines =
      absl::StrSplit(raw.substr(0, head_end), "\r\n");
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() >= 2) (void)absl::SimpleAtoi(status[1], &reply.status);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    reply.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  std::string body = raw.substr(head_end + 4);
  reply.body =
      reply.headers["transfer-encoding"] == "chunked" ? Dechunk(body) : body;
  return reply;
}

std::string Request(absl::string_view method, absl::string_view body,
                    const std::map<std::string, std::string>& headers) {
  std::string text = absl::StrCat(method, " /mcp HTTP/1.1\r\n");
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&text, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&text, "Connection: close\r\nContent-Length: ", body.size(),
                  "\r\n\r\n", body);
  return text;
}

class HttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(HttpTransportOptions()); }
  void TearDown() override { StopServer(); }

  void Start(HttpTransportOptions options) {
    options.address = {"127.0.0.1", 0};
    options.token = kToken;
    options.keep_alive = absl::Seconds(1);
    transport_ = std::make_unique<HttpTransport>(
        [this](std::function<void(std::string)> notify) {
          McpServerOptions server_options;
          server_options.broker_socket = "/test/broker.sock";
          server_options.notify = std::move(notify);
          return std::make_unique<McpServer>(&broker_,
                                             std::move(server_options));
        },
        std::move(options));
    auto port = transport_->Bind();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    thread_ = std::thread([this] { transport_->Run(); });
  }

  void StopServer() {
    if (transport_ == nullptr) return;
    transport_->Stop();
    thread_.join();
    transport_.reset();
  }

  std::map<std::string, std::string> Headers(const std::string& session = "") {
    std::map<std::string, std::string> headers = {
        {"Host", absl::StrCat("127.0.0.1:", port_)},
        {"Authorization", absl::StrCat("Bearer ", kToken)},
        {"Content-Type", "application/json"},
        {"Accept", "application/json, text/event-stream"}};
    if (!session.empty()) headers["Mcp-Session-Id"] = session;
    return headers;
  }

  HttpReply Send(absl::string_view method, absl::string_view body,
                 const std::map<std::string, std::string>& headers) {
    RawClient client(port_);
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(Request(method, body, headers)));
    return ParseReply(client.ReadAll());
  }

  std::string Initialize() {
    HttpReply reply = Send("POST", kInitialize, Headers());
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.headers["mcp-session-id"];
  }

  static constexpr char kInitialize[] =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)"
      R"("protocolVersion":"2025-11-25","capabilities":{},)"
      R"("clientInfo":{"name":"raw","version":"1"}}})";

  FakeBrokerClient broker_;
  std::unique_ptr<HttpTransport> transport_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpTransportTest, RefusesRequestsWithoutTheBearerToken) {
  auto headers = Headers();
  headers.erase("Authorization");
  HttpReply missing = Send("POST", kInitialize, headers);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers["www-authenticate"],
            "Bearer realm=\"latchkey-mcp\"");
  EXPECT_TRUE(absl::StrContains(missing.body, "Authorization: Bearer"));
  headers["Authorization"] = "Bearer wrong-token-0123456789abc";
  HttpReply wrong = Send("POST", kInitialize, headers);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_FALSE(absl::StrContains(wrong.body, "wrong-token"));
  EXPECT_EQ(transport_->session_count(), 0u);
  // GET and DELETE are guarded as well.
  EXPECT_EQ(Send("GET", "", headers).status, 401);
  EXPECT_EQ(Send("DELETE", "", headers).status, 401);
}

TEST_F(HttpTransportTest, RefusesForeignOriginsAndHosts) {
  auto headers = Headers();
  headers["Origin"] = "http://evil.example";
  HttpReply origin = Send("POST", kInitialize, headers);
  EXPECT_EQ(origin.status, 403);
  EXPECT_TRUE(absl::StrContains(origin.body, "Origin")) << origin.body;
  headers["Origin"] = absl::StrCat("http://localhost:", port_);
  EXPECT_EQ(Send("POST", kInitialize, headers).status, 200);
  headers = Headers();
  headers["Host"] = absl::StrCat("rebound.example:", port_);
  EXPECT_EQ(Send("POST", kInitialize, headers).status, 403);
}

TEST_F(HttpTransportTest, RefusesOversizedBodies) {
  StopServer();
  HttpTransportOptions options;
  options.max_body_bytes = 1024;
  Start(options);
  std::string big = absl::StrCat(
      R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")",
      std::string(2000, 'x'), R"("}})");
  HttpReply reply = Send("POST", big, Headers());
  EXPECT_EQ(reply.status, 413);
  EXPECT_TRUE(absl::StrContains(reply.body, "at most 1024 bytes"))
      << reply.body;
}

TEST_F(HttpTransportTest, RefusesWrongMediaTypesAndMethods) {
  auto headers = Headers();
  headers["Content-Type"] = "text/plain";
  EXPECT_EQ(Send("POST", kInitialize, headers).status, 415);
  headers = Headers();
  headers["Accept"] = "application/json";
  EXPECT_EQ(Send("POST", kInitialize, headers).status, 406);
  HttpReply put = Send("PUT", kInitialize, Headers());
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.headers["allow"], "GET, POST, DELETE");
  HttpReply batch =
      Send("POST", absl::StrCat("[", kInitialize, "]"), Headers());
  EXPECT_EQ(batch.status, 400);
  EXPECT_TRUE(absl::StrContains(batch.body, "-32600")) << batch.body;
  HttpReply garbage = Send("POST", "{not json", Headers());
  EXPECT_EQ(garbage.status, 400);
  EXPECT_TRUE(absl::StrContains(garbage.body, "-32700")) << garbage.body;
}

TEST_F(HttpTransportTest, InitializeOpensASessionThatLaterRequestsMustName) {
  std::string session = Initialize();
  EXPECT_EQ(session.size(), 32u);
  EXPECT_EQ(transport_->session_count(), 1u);
  const char* list = R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})";
  EXPECT_EQ(Send("POST", list, Headers()).status, 400);
  EXPECT_EQ(Send("POST", list, Headers(std::string(32, '0'))).status, 404);
  auto bad_version = Headers(session);
  bad_version["MCP-Protocol-Version"] = "1999-01-01";
  EXPECT_EQ(Send("POST", list, bad_version).status, 400);
  auto good_version = Headers(session);
  good_version["MCP-Protocol-Version"] = "2025-11-25";
  HttpReply tools = Send("POST", list, good_version);
  EXPECT_EQ(tools.status, 200);
  EXPECT_EQ(tools.headers["content-type"], "application/json");
  auto parsed = nlohmann::json::parse(tools.body);
  EXPECT_EQ(parsed["id"], 2);
  EXPECT_FALSE(parsed["result"]["tools"].empty());
  // A notification is accepted without a body.
  HttpReply note =
      Send("POST", R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
           Headers(session));
  EXPECT_EQ(note.status, 202);
  EXPECT_TRUE(note.body.empty());
  // DELETE ends the session; it is then unknown.
  EXPECT_EQ(Send("DELETE", "", Headers(session)).status, 200);
  EXPECT_EQ(transport_->session_count(), 0u);
  EXPECT_EQ(Send("POST", list, Headers(session)).status, 404);
  EXPECT_EQ(Send("DELETE", "", Headers(session)).status, 404);
}

TEST_F(HttpTransportTest, EachInitializeIsItsOwnSession) {
  std::string first = Initialize();
  std::string second = Initialize();
  EXPECT_NE(first, second);
  EXPECT_EQ(transport_->session_count(), 2u);
}

TEST_F(HttpTransportTest, ToolCallAnswersOnAnEventStreamWithProgress) {
  std::string session = Initialize();
  HttpReply reply = Send(
      "POST",
      R"({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{)"
      R"("name":"list_capabilities","arguments":{},)"
      R"("_meta":{"progressToken":7}}})",
      Headers(session));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-type"], "text/event-stream");
  std::vector<std::string> events =
      absl::StrSplit(reply.body, absl::ByString("\n\n"), absl::SkipEmpty());
  ASSERT_EQ(events.size(), 2u) << reply.body;
  for (const std::string& event : events) {
    ASSERT_TRUE(absl::StartsWith(event, "event: message\ndata: {")) << event;
  }
  auto progress = nlohmann::json::parse(events[0].substr(21));
  EXPECT_EQ(progress["method"], "notifications/progress");
  EXPECT_EQ(progress["params"]["progressToken"], 7);
  auto response = nlohmann::json::parse(events[1].substr(21));
  EXPECT_EQ(response["id"], "c1");
  EXPECT_TRUE(response.contains("result")) << events[1];
}

TEST_F(HttpTransportTest, GetStreamCarriesSessionNotifications) {
  std::string session = Initialize();
  ASSERT_EQ(Send("POST",
                 R"({"jsonrpc":"2.0","id":2,"method":"logging/setLevel",)"
                 R"("params":{"level":"info"}})",
                 Headers(session))
                .status,
            200);
  auto get_headers = Headers(session);
  get_headers["Accept"] = "text/event-stream";
  RawClient listener(port_);
  ASSERT_TRUE(listener.Send(Request("GET", "", get_headers)));
  // The stream answers with its headers and then waits; the first
  // keep-alive comment (1 s here) shows it open.
  std::string head = listener.ReadUntil(": keep-alive");
  ASSERT_TRUE(absl::StartsWith(head, "HTTP/1.1 200")) << head;
  EXPECT_TRUE(absl::StrContains(head, "text/event-stream")) << head;
  // A second GET stream on the same session is refused.
  EXPECT_EQ(Send("GET", "", get_headers).status, 409);
  // A tool call opens the broker session: its log message goes to the
  // GET stream (the call itself carries no progress token).
  HttpReply call =
      Send("POST",
           R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{)"
           R"("name":"session_status","arguments":{}}})",
           Headers(session));
  EXPECT_EQ(call.status, 200);
  EXPECT_FALSE(absl::StrContains(call.body, "notifications/message"));
  std::string stream = listener.ReadUntil("session_opened");
  EXPECT_TRUE(
      absl::StrContains(stream,
                        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                        "\"notifications/message\""))
      << stream;
  // DELETE ends the session and its stream.
  EXPECT_EQ(Send("DELETE", "", Headers(session)).status, 200);
  std::string rest = listener.ReadAll();
  EXPECT_TRUE(absl::EndsWith(rest, "0\r\n\r\n")) << rest;
}

TEST_F(HttpTransportTest, GetWithoutEventStreamAcceptIsRefused) {
  std::string session = Initialize();
  auto headers = Headers(session);
  headers["Accept"] = "application/json";
  EXPECT_EQ(Send("GET", "", headers).status, 406);
}

TEST_F(HttpTransportTest, FullTableEvictsTheLeastRecentlyUsedIdleSession) {
  StopServer();
  HttpTransportOptions options;
  options.max_sessions = 2;
  Start(options);
  std::string first = Initialize();
  std::string second = Initialize();
  std::string third = Initialize();
  EXPECT_EQ(transport_->session_count(), 2u);
  const char* ping = R"({"jsonrpc":"2.0","id":9,"method":"ping"})";
  EXPECT_EQ(Send("POST", ping, Headers(first)).status, 404);
  EXPECT_EQ(Send("POST", ping, Headers(second)).status, 200);
  EXPECT_EQ(Send("POST", ping, Headers(third)).status, 200);
}

constexpr char kStatelessMeta[] =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
    R"("io.modelcontextprotocol/clientCapabilities":{}})";

TEST_F(HttpTransportTest, StatelessRequestsNeedNoSession) {
  auto headers = Headers();
  headers["MCP-Protocol-Version"] = "2026-07-28";
  HttpReply discover = Send(
      "POST",
      absl::StrCat(R"({"jsonrpc":"2.0","id":1,"method":"server/discover",)",
                   R"("params":{)", kStatelessMeta, "}}"),
      headers);
  EXPECT_EQ(discover.status, 200) << discover.body;
  EXPECT_EQ(discover.headers.count("mcp-session-id"), 0u);
  auto result = nlohmann::json::parse(discover.body)["result"];
  EXPECT_EQ(result["supportedVersions"][0], "2026-07-28");
  EXPECT_EQ(transport_->session_count(), 0u);

  headers["Mcp-Method"] = "tools/call";
  headers["Mcp-Name"] = "session_status";
  HttpReply call =
      Send("POST",
           absl::StrCat(R"({"jsonrpc":"2.0","id":2,"method":"tools/call",)",
                        R"("params":{"name":"session_status","arguments":{},)",
                        kStatelessMeta, "}}"),
           headers);
  EXPECT_EQ(call.status, 200);
  EXPECT_EQ(call.headers["content-type"], "text/event-stream");
  EXPECT_TRUE(absl::StrContains(call.body, R"("id":2,"result":{)"))
      << call.body;
  EXPECT_TRUE(absl::StrContains(call.body, R"("resultType":"complete")"))
      << call.body;
}

TEST_F(HttpTransportTest, StatelessHeadersMustAgreeWithTheBody) {
  auto headers = Headers();
  headers["MCP-Protocol-Version"] = "2026-07-28";
  headers["Mcp-Method"] = "tools/list";
  HttpReply method = Send(
      "POST",
      absl::StrCat(R"({"jsonrpc":"2.0","id":1,"method":"server/discover",)",
                   R"("params":{)", kStatelessMeta, "}}"),
      headers);
  EXPECT_EQ(method.status, 400);
  EXPECT_TRUE(absl::StrContains(method.body, "-32020")) << method.body;
  headers.erase("Mcp-Method");
  HttpReply version = Send(
      "POST",
      R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{)"
      R"("io.modelcontextprotocol/protocolVersion":"2099-01-01",)"
      R"("io.modelcontextprotocol/clientCapabilities":{}}}})",
      headers);
  EXPECT_EQ(version.status, 400);
  EXPECT_TRUE(absl::StrContains(version.body, "-32020")) << version.body;
  headers.erase("MCP-Protocol-Version");
  HttpReply unsupported = Send(
      "POST",
      R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{)"
      R"("io.modelcontextprotocol/protocolVersion":"2099-01-01",)"
      R"("io.modelcontextprotocol/clientCapabilities":{}}}})",
      headers);
  EXPECT_EQ(unsupported.status, 400);
  EXPECT_TRUE(absl::StrContains(unsupported.body, "-32022"))
      << unsupported.body;
  auto get = Headers();
  get["Accept"] = "text/event-stream";
  get["MCP-Protocol-Version"] = "2026-07-28";
  EXPECT_EQ(Send("GET", "", get).status, 405);
}

}  // namespace
}  // namespace latchkey::mcp
