// ParseExecuteArguments checks the `execute` tool's arguments and builds
// the broker request. Its error messages are written for a model: each one
// says what is wrong and how to fix the call. Policy (which methods, paths
// and headers are allowed) is the broker's job, not this one's.
#ifndef LATCHKEY_MCP_ADAPTER_EXECUTE_ARGS_H_
#define LATCHKEY_MCP_ADAPTER_EXECUTE_ARGS_H_

#include "absl/status/statusor.h"
#include "mcp_adapter/json_util.h"
#include "proto/broker.pb.h"

namespace latchkey::mcp {

// ParseExecuteArguments returns INVALID_ARGUMENT with a model-facing
// message, or the request (without session id).
absl::StatusOr<v1::ExecuteRequest> ParseExecuteArguments(const Json& arguments);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_EXECUTE_ARGS_H_
