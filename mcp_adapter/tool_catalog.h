// The tools latchkey-mcp offers, as tools/list describes them: names,
// descriptions written for a model, input and output JSON Schemas.
#ifndef LATCHKEY_MCP_ADAPTER_TOOL_CATALOG_H_
#define LATCHKEY_MCP_ADAPTER_TOOL_CATALOG_H_

#include "absl/strings/string_view.h"
#include "mcp_adapter/json_util.h"

namespace latchkey::mcp {

inline constexpr absl::string_view kListCapabilitiesTool = "list_capabilities";
inline constexpr absl::string_view kExecuteTool = "execute";
inline constexpr absl::string_view kSessionStatusTool = "session_status";
inline constexpr absl::string_view kWhoAmITool = "whoami";
inline constexpr absl::string_view kExplainAccessTool = "explain_access";
inline constexpr absl::string_view kTestCapabilityTool = "test_capability";

// KnownToolNames lists every tool, for "unknown tool" messages.
absl::string_view KnownToolNames();

bool IsKnownTool(absl::string_view name);

// ToolList is the tools/list result for the negotiated protocol `version`
// (outputSchema and title from 2025-06-18, annotations from 2025-03-26).
OJson ToolList(absl::string_view version);

// Instructions is the initialize result's `instructions` text.
absl::string_view Instructions();

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_TOOL_CATALOG_H_
