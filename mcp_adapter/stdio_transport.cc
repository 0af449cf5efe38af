#include "mcp_adapter/stdio_transport.h"

#include <poll.h>

#include <utility>
#include <vector>

#include "common/log.h"
#include "mcp_adapter/jsonrpc.h"
#include "mcp_adapter/line_reader.h"

namespace latchkey::mcp {

StdioTransport::StdioTransport(McpServer* server, LineWriter* writer,
                               StdioTransportOptions options)
    : server_(server), writer_(writer), options_(options) {}

StdioTransport::~StdioTransport() {
  server_->CancelAll();
  workers_.WaitIdle();
}

void StdioTransport::Spawn(std::function<std::optional<std::string>()> work) {
  LineWriter* writer = writer_;
  workers_.Run([work = std::move(work), writer] {
    std::optional<std::string> response = work();
    if (response.has_value()) writer->Write(*response);
  });
}

bool StdioTransport::DrainWorkers(const std::vector<int>& stop_fds) {
  std::vector<pollfd> fds;
  for (int fd : stop_fds) fds.push_back({fd, POLLIN, 0});
  while (true) {
    if (workers_.Busy() == 0) return true;
    int ready = ::poll(fds.data(), fds.size(), /*timeout_ms=*/20);
    if (ready > 0) return false;
  }
}

const char* StdioTransport::ExitReason(Exit exit) {
  switch (exit) {
    case Exit::kEof:
      return "eof";
    case Exit::kStopped:
      return "signal";
    case Exit::kOutputClosed:
      return "output_closed";
    case Exit::kInputError:
      return "input_error";
  }
  return "unknown";
}

StdioTransport::Exit StdioTransport::Run() {
  std::vector<int> stop_fds = {writer_->closed_fd()};
  if (options_.stop_fd >= 0) stop_fds.push_back(options_.stop_fd);
  LineReader reader(options_.in_fd, options_.max_line_bytes, stop_fds);
  Exit exit = Exit::kEof;
  while (true) {
    LineReader::Result next = reader.Next();
    if (next.status == LineReader::Status::kEof) {
      exit = Exit::kEof;
      break;
    }
    if (next.status == LineReader::Status::kStopped) {
      exit = writer_->closed() ? Exit::kOutputClosed : Exit::kStopped;
      break;
    }
    if (next.status == LineReader::Status::kError) {
      exit = Exit::kInputError;
      break;
    }
    if (next.status == LineReader::Status::kOverlong) {
      LogWarning("line_too_long",
                 {{"limit", std::to_string(options_.max_line_bytes)}});
      writer_->Write(jsonrpc::ErrorLine(
          Json(), jsonrpc::kInvalidRequest,
          "Invalid Request: message longer than the line limit; it was "
          "discarded"));
      continue;
    }
    std::optional<McpServer::Dispatch> intercepted;
    if (options_.intercept) intercepted = options_.intercept(next.line);
    McpServer::Dispatch dispatch = intercepted.has_value()
                                       ? std::move(*intercepted)
                                       : server_->Accept(next.line);
    if (dispatch.response.has_value()) writer_->Write(*dispatch.response);
    if (dispatch.deferred) Spawn(std::move(dispatch.deferred));
  }
  if (exit == Exit::kEof) {
    // Let in-flight calls finish and answer, unless told to stop.
    if (!DrainWorkers(stop_fds)) exit = Exit::kStopped;
  }
  server_->CancelAll();
  workers_.WaitIdle();
  if (writer_->closed() && exit == Exit::kEof) exit = Exit::kOutputClosed;
  return exit;
}

}  // namespace latchkey::mcp
