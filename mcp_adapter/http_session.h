// HttpSession is one MCP session of the Streamable HTTP transport (one
// Mcp-Session-Id): its own McpServer (so each client negotiates its own
// protocol revision and gets its own broker session), and the SSE streams
// its server-to-client messages travel on.
//
// Where a notification goes (the spec lets the server pick any open
// stream, preferring the one of the request it relates to):
// - notifications/progress: the POST stream of the tools/call that carried
//   that progress token;
// - anything else (log messages, tools/list_changed): the standalone GET
//   stream when the client opened one, else the newest tools/call stream
//   still open (log messages are sent while a call runs), else dropped,
//   since there is no stream left to carry it.
#ifndef LATCHKEY_MCP_ADAPTER_HTTP_SESSION_H_
#define LATCHKEY_MCP_ADAPTER_HTTP_SESSION_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "mcp_adapter/mcp_server.h"
#include "mcp_adapter/sse_stream.h"

namespace latchkey::mcp {

// McpServerFactory builds the McpServer of a new session; `notify` is the
// session's router and must become McpServerOptions::notify.
using McpServerFactory = std::function<std::unique_ptr<McpServer>(
    std::function<void(std::string)> notify)>;

class HttpSession {
 public:
  HttpSession(std::string id, const McpServerFactory& factory);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  const std::string& id() const { return id_; }
  McpServer& server() { return *server_; }

  // OpenCallStream registers the SSE stream of one tools/call POST.
  // `progress_key` is jsonrpc::IdKey of its progress token, or empty.
  std::shared_ptr<SseStream> OpenCallStream(std::string progress_key);
  void CloseCallStream(const SseStream* stream);

  // OpenListenStream opens the standalone GET stream; null when one is
  // already open (the spec allows one per session here).
  std::shared_ptr<SseStream> OpenListenStream();
  void CloseListenStream(const SseStream* stream);

  // Close cancels the session's tool calls and ends all its streams.
  void Close();

  // Touch records use; Idle is true when no tool call is in flight.
  void Touch(absl::Time now);
  absl::Time last_used() const;
  bool Idle() const;

 private:
  void Route(std::string line);

  struct CallStream {
    std::string progress_key;
    std::shared_ptr<SseStream> stream;
  };

  const std::string id_;
  mutable std::mutex mu_;
  std::vector<CallStream> calls_;  // Oldest first.
  std::shared_ptr<SseStream> listen_;
  absl::Time last_used_ = absl::InfinitePast();
  // Last, so it is destroyed first: its notify callback points here.
  std::unique_ptr<McpServer> server_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_HTTP_SESSION_H_
