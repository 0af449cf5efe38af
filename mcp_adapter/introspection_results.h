// Arguments and CallToolResults of the introspection tools: whoami,
// explain_access and test_capability. Only the fields named here are
// copied from the broker's replies, so a field added to a proto later
// cannot leak into what a model sees; no token, secret or full session id
// is ever among them.
#ifndef LATCHKEY_MCP_ADAPTER_INTROSPECTION_RESULTS_H_
#define LATCHKEY_MCP_ADAPTER_INTROSPECTION_RESULTS_H_

#include "absl/status/statusor.h"
#include "mcp_adapter/json_util.h"
#include "proto/broker.pb.h"

namespace latchkey::mcp {

// ParseExplainArguments reads {capability, method, path, reason?}.
absl::StatusOr<v1::ExplainRequest> ParseExplainArguments(const Json& args);
// ParseTestArguments reads {capability, approval_id?}.
absl::StatusOr<v1::TestCapabilityRequest> ParseTestArguments(const Json& args);

OJson WhoAmIResult(const v1::WhoAmIResponse& response, bool with_structured);
OJson ExplainResult(const v1::ExplainResponse& response,
                    const v1::ExplainRequest& request, bool with_structured);
// TestResult is isError when the test was denied or authentication failed.
OJson TestResult(const v1::TestCapabilityResponse& response,
                 absl::string_view capability, bool with_structured);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_INTROSPECTION_RESULTS_H_
