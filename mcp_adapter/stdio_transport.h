// StdioTransport runs the MCP stdio transport: newline-delimited JSON-RPC
// on the input fd, one response line per request on the output. The
// reader loop answers everything but tools/call itself; each tools/call
// runs on its own worker thread, so ping and notifications/cancelled are
// served while calls are in flight.
//
// Shutdown: on EOF, in-flight calls are allowed to finish (each is bounded
// by its broker deadline) and their responses are written; on a stop
// signal or a closed output, in-flight calls are cancelled first.
#ifndef LATCHKEY_MCP_ADAPTER_STDIO_TRANSPORT_H_
#define LATCHKEY_MCP_ADAPTER_STDIO_TRANSPORT_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/limits.h"
#include "mcp_adapter/call_workers.h"
#include "mcp_adapter/line_writer.h"
#include "mcp_adapter/mcp_server.h"

namespace latchkey::mcp {

struct StdioTransportOptions {
  int in_fd = 0;
  // stop_fd (optional) ends the loop when readable, e.g. a signalfd.
  int stop_fd = -1;
  size_t max_line_bytes = kMaxMcpLineBytes;
  // intercept (optional) may take a line away from the server: when it
  // returns a dispatch, that is used instead (the stateless 2026-07-28
  // requests, stateless.h).
  std::function<std::optional<McpServer::Dispatch>(absl::string_view line)>
      intercept;
};

class StdioTransport {
 public:
  enum class Exit { kEof, kStopped, kOutputClosed, kInputError };
  // ExitReason names `exit` for the adapter's "stopped" log line.
  static const char* ExitReason(Exit exit);

  // `server` and `writer` must outlive the transport.
  StdioTransport(McpServer* server, LineWriter* writer,
                 StdioTransportOptions options);
  ~StdioTransport();

  // Run serves until EOF, a stop, or a closed output.
  Exit Run();

 private:
  void Spawn(std::function<std::optional<std::string>()> work);
  // DrainWorkers waits for every worker; false if a stop fd fired first.
  bool DrainWorkers(const std::vector<int>& stop_fds);

  McpServer* const server_;
  LineWriter* const writer_;
  const StdioTransportOptions options_;
  CallWorkers workers_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_STDIO_TRANSPORT_H_
