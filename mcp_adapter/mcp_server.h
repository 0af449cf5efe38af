// McpServer is latchkey-mcp's protocol core: one JSON-RPC line in, at most
// one response line out. It holds no secret; tools are forwarded to the
// broker. The stdio transport feeds it lines; tests call HandleLine.
//
// Protocol decisions (see also jsonrpc.h):
// - Before a successful initialize, only initialize and ping are served;
//   any other request gets -32600 "server not initialized" (MCP defines
//   no code for this; -32002 is MCP's "resource not found", so the
//   generic JSON-RPC invalid-request code is used). A second initialize is
//   -32600 too.
// - Unknown methods are -32601; unknown tools and malformed tools/call
//   params are -32602; bad tool arguments are isError tool results.
// - tools/call runs as deferred work (on a worker thread in the stdio
//   transport), can be cancelled with notifications/cancelled, and gets no
//   response once cancelled.
// - When tools/call carries params._meta.progressToken (a string or an
//   integer), one notifications/progress (progress 0 of 1) is sent when the
//   call is handed to the broker; the response itself marks completion.
//   No terminal "1 of 1" is sent: written right before the response, it
//   races it in the official TypeScript SDK (v1.x dispatches notifications
//   a microtask later than responses, so it finds its token retired and
//   reports "progress notification for an unknown token" as a protocol
//   error; modelcontextprotocol/typescript-sdk#2580).
// - notifications/tools/list_changed is sent when the adapter learns that
//   what the agent may use changed: its session was revoked (learned from
//   the broker's SESSION_REVOKED answer; the adapter does not poll), or a
//   re-opened session covers other capabilities than the one before. The
//   tool set stays the same; the notification tells the client to re-read
//   tools and the model to call list_capabilities again.
#ifndef LATCHKEY_MCP_ADAPTER_MCP_SERVER_H_
#define LATCHKEY_MCP_ADAPTER_MCP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "mcp_adapter/broker_client.h"
#include "mcp_adapter/cancellation.h"
#include "mcp_adapter/client_log.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/jsonrpc.h"
#include "mcp_adapter/session_keeper.h"
#include "mcp_adapter/tool_runner.h"

namespace latchkey::mcp {

inline constexpr char kServerName[] = "latchkey-mcp";
inline constexpr char kServerVersion[] = "0.1.0";

struct McpServerOptions {
  // broker_socket is named in "broker not reachable" results.
  std::string broker_socket;
  // notify writes one server-to-client notification line (log messages,
  // progress); it may be called from any thread. Null drops them.
  std::function<void(std::string line)> notify;
  // max_tool_calls_in_flight bounds concurrent tools/call; more are
  // answered with -32000 "server busy".
  size_t max_tool_calls_in_flight = 16;
  SessionKeeper::Clock clock = absl::Now;
};

class McpServer {
 public:
  // `broker` must outlive the server.
  McpServer(BrokerClient* broker, McpServerOptions options);
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  // Dispatch is the outcome of accepting one line: a response ready now,
  // or work to run (possibly on another thread) that produces the
  // response, or neither (notifications, blank lines).
  struct Dispatch {
    std::optional<std::string> response;
    std::function<std::optional<std::string>()> deferred;
  };

  // Accept handles everything but tools/call at once. Thread-safe.
  Dispatch Accept(absl::string_view line);

  // HandleLine is Accept with the deferred work run inline.
  std::optional<std::string> HandleLine(absl::string_view line);

  // CancelAll cancels every tool call in flight (shutdown).
  void CancelAll();

  size_t tool_calls_in_flight() const;

 private:
  using Message = jsonrpc::Message;

  std::optional<std::string> HandleNotification(const Message& message);
  // OnSessionEvent reports session changes to the client (SessionKeeper
  // observer).
  void OnSessionEvent(SessionEvent event, const SessionInfo& session);
  std::string Initialize(const Message& message);
  std::string SetLogLevel(const Message& message);
  Dispatch CallTool(const Message& message);
  // RunTool is the deferred part of tools/call.
  // `progress_token` is null when the client asked for no progress.
  std::optional<std::string> RunTool(const Json& id, const std::string& key,
                                     const std::string& name,
                                     const Json& arguments,
                                     bool with_structured,
                                     const Json& progress_token,
                                     std::shared_ptr<Cancellation> cancel);
  // SendProgress sends notifications/progress for `token` (if not null).
  void SendProgress(const Json& token, int progress, std::string message);

  const McpServerOptions options_;
  ClientLog client_log_;
  SessionKeeper sessions_;
  ToolRunner runner_;

  mutable std::mutex mu_;
  bool initialized_ = false;  // initialize answered.
  std::string version_;       // Negotiated protocol revision.
  // In-flight tools/call, by jsonrpc::IdKey.
  std::map<std::string, std::shared_ptr<Cancellation>> in_flight_;
  // Capabilities of the last session opened (sorted), to notice changes.
  std::optional<std::vector<std::string>> session_capabilities_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_MCP_SERVER_H_
