// ToolRunner runs one tools/call: checks the arguments, asks the broker
// (through the SessionKeeper for execute) and builds the CallToolResult.
// Broker failures and bad arguments become isError results; only a
// cancelled call returns an error status (and gets no response).
#ifndef LATCHKEY_MCP_ADAPTER_TOOL_RUNNER_H_
#define LATCHKEY_MCP_ADAPTER_TOOL_RUNNER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mcp_adapter/broker_client.h"
#include "mcp_adapter/cancellation.h"
#include "mcp_adapter/client_log.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/session_keeper.h"

namespace latchkey::mcp {

class ToolRunner {
 public:
  // Every pointer must outlive the runner. `broker_socket` is named in
  // "not reachable" messages.
  ToolRunner(BrokerClient* broker, SessionKeeper* sessions, ClientLog* log,
             std::string broker_socket, SessionKeeper::Clock clock);

  // Call runs tool `name` (one IsKnownTool accepts) with `arguments` (a
  // JSON object). Returns CANCELLED when `cancel` fired.
  absl::StatusOr<OJson> Call(absl::string_view name, const Json& arguments,
                             bool with_structured, Cancellation* cancel);

 private:
  absl::StatusOr<OJson> ListCapabilities(bool with_structured,
                                         Cancellation* cancel);
  absl::StatusOr<OJson> Execute(const Json& arguments, bool with_structured,
                                Cancellation* cancel);
  absl::StatusOr<OJson> SessionStatus(bool with_structured,
                                      Cancellation* cancel);
  absl::StatusOr<OJson> WhoAmI(bool with_structured, Cancellation* cancel);
  absl::StatusOr<OJson> ExplainAccess(const Json& arguments,
                                      bool with_structured,
                                      Cancellation* cancel);
  absl::StatusOr<OJson> TestCapability(const Json& arguments,
                                       bool with_structured,
                                       Cancellation* cancel);
  // BrokerFailure logs `status` and turns it into a result (or returns it
  // when it is CANCELLED).
  absl::StatusOr<OJson> BrokerFailure(absl::string_view tool,
                                      const absl::Status& status);

  BrokerClient* const broker_;
  SessionKeeper* const sessions_;
  ClientLog* const log_;
  const std::string broker_socket_;
  const SessionKeeper::Clock clock_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_TOOL_RUNNER_H_
