// HttpTransport serves MCP over Streamable HTTP (revisions 2025-03-26 to
// 2025-11-25) on one loopback endpoint, /mcp, with cpp-httplib:
//
//   POST   /mcp  one JSON-RPC message. initialize opens a session (its id
//                comes back in Mcp-Session-Id); every later request must
//                carry that header. Requests are answered with
//                application/json, except tools/call, which is answered
//                with a text/event-stream carrying its progress and log
//                notifications and then its response. Notifications and
//                responses from the client get 202 Accepted.
//   GET    /mcp  the session's standalone SSE stream (log messages,
//                notifications/tools/list_changed); one per session.
//   DELETE /mcp  ends the session (its tool calls are cancelled).
//
// Requests of the stateless revision 2026-07-28 (params._meta carries the
// protocol version; see stateless.h) need no session: they are served by
// one shared StatelessServer, the MCP-Protocol-Version, Mcp-Method and
// Mcp-Name headers must agree with the body when present (400, -32020),
// and GET with MCP-Protocol-Version 2026-07-28 is 405 (that revision has
// no standalone stream).
//
// Every request must carry "Authorization: Bearer <token>" (401 otherwise)
// and, when it has an Origin or Host header, a loopback one (403: a web
// page the user visits must not drive the agent's credentials through a
// rebound DNS name). Bodies above max_body_bytes get 413.
#ifndef LATCHKEY_MCP_ADAPTER_HTTP_TRANSPORT_H_
#define LATCHKEY_MCP_ADAPTER_HTTP_TRANSPORT_H_

#include <atomic>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/limits.h"
#include "mcp_adapter/call_workers.h"
#include "mcp_adapter/http_checks.h"
#include "mcp_adapter/http_session.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/stateless.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace latchkey::mcp {

inline constexpr char kMcpPath[] = "/mcp";
inline constexpr char kSessionHeader[] = "Mcp-Session-Id";
inline constexpr char kProtocolVersionHeader[] = "MCP-Protocol-Version";

struct HttpTransportOptions {
  LoopbackAddress address;
  // The bearer token clients must present. Not logged, not echoed.
  std::string token;
  size_t max_body_bytes = kMaxMcpLineBytes;
  // Sessions kept at once; when full, the least recently used session with
  // no tool call in flight is closed to make room.
  size_t max_sessions = 64;
  // Open GET streams at once (each holds one HTTP thread).
  size_t max_listen_streams = 8;
  // HTTP worker threads (each open SSE stream holds one).
  size_t threads = 32;
  // An idle SSE stream gets a comment this often, so a client that went
  // away is noticed.
  absl::Duration keep_alive = absl::Seconds(15);
};

class HttpTransport {
 public:
  HttpTransport(McpServerFactory factory, HttpTransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Bind opens the listening socket; returns the port (useful with port 0).
  absl::StatusOr<int> Bind();
  // Run serves until Stop (call Bind first).
  void Run();
  // Stop ends Run; safe from any thread.
  void Stop();

  size_t session_count() const;

 private:
  bool Admit(const httplib::Request& request, httplib::Response& response);
  void HandlePost(const httplib::Request& request, httplib::Response& response);
  void HandleGet(const httplib::Request& request, httplib::Response& response);
  void HandleDelete(const httplib::Request& request,
                    httplib::Response& response);
  // FindSession answers 400/404 itself and returns null when the request
  // names no live session.
  std::shared_ptr<HttpSession> FindSession(const httplib::Request& request,
                                           httplib::Response& response);
  void HandleStateless(const httplib::Request& request,
                       httplib::Response& response, const Json& message);
  // Respond sends what `dispatch` holds: JSON, 202, or (deferred work) an
  // SSE stream fed by a worker thread through `session`.
  void Respond(httplib::Response& response,
               const std::shared_ptr<HttpSession>& session,
               McpServer::Dispatch dispatch, const Json& message);
  std::shared_ptr<HttpSession> NewSession();
  bool AddSession(std::shared_ptr<HttpSession> session);
  // StreamEvents makes `response` an SSE stream fed by `stream`.
  void StreamEvents(httplib::Response& response,
                    std::shared_ptr<SseStream> stream,
                    std::function<void()> on_end);

  const McpServerFactory factory_;
  const HttpTransportOptions options_;
  std::unique_ptr<httplib::Server> http_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<HttpSession>> sessions_;
  std::atomic<size_t> listen_streams_{0};
  // The 2026-07-28 requests' server and the router of their streams.
  std::shared_ptr<HttpSession> stateless_session_;
  std::unique_ptr<StatelessServer> stateless_;
  // Run/Stop handshake: Stop may come before Run has started listening.
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> run_entered_{false};
  std::atomic<bool> run_finished_{false};

  // Deferred calls (tools/call) run here; declared last so that it is
  // destroyed first, after the destructor has waited for every call.
  CallWorkers workers_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_HTTP_TRANSPORT_H_
