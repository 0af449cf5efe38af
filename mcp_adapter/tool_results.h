// Builds tools/call results (CallToolResult) from broker answers: a text
// content item a model reads, plus structuredContent matching the tool's
// outputSchema when the negotiated protocol has it.
#ifndef LATCHKEY_MCP_ADAPTER_TOOL_RESULTS_H_
#define LATCHKEY_MCP_ADAPTER_TOOL_RESULTS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/reason_text.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/session_keeper.h"
#include "proto/broker.pb.h"

namespace latchkey::mcp {

// ToolResult assembles {content:[{type:text,text}], structuredContent?,
// isError?}; `structured` is dropped when `with_structured` is false.
OJson ToolResult(std::string text, std::optional<OJson> structured,
                 bool is_error, bool with_structured);

// CapabilitiesResult lists capabilities. Only the fields of CapabilityInfo
// named here are copied, so a field added to the proto later cannot leak.
OJson CapabilitiesResult(const v1::ListCapabilitiesResponse& response,
                         bool with_structured);

// ExecuteResult reports an allowed request (status, headers, body) or a
// denial (isError, code, message, next_step, rule).
OJson ExecuteResult(const v1::ExecuteResponse& response,
                    absl::string_view capability, bool with_structured);

// SessionResult describes the session (id prefix only).
OJson SessionResult(const SessionInfo& session, absl::Time now,
                    bool with_structured);

// InvalidArgumentsResult is the isError result for bad tool arguments.
OJson InvalidArgumentsResult(absl::string_view tool, absl::string_view message);

// BrokerErrorResult is the isError result when the broker could not be
// asked (unreachable, token refused, timeout...).
OJson BrokerErrorResult(const absl::Status& status,
                        absl::string_view broker_socket);

// ReasonName and NextStep come from common/reason_text.h.
using latchkey::NextStep;
using latchkey::ReasonName;

// ApprovalModeName: "none", "first_request_of_session", "every_request".
const char* ApprovalModeName(v1::ApprovalMode mode);

// FormatTime is RFC 3339 UTC with seconds, e.g. "2025-01-02T03:04:05Z".
std::string Rfc3339(absl::Time time);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_TOOL_RESULTS_H_
