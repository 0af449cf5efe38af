// MCP protocol revisions this server speaks, and what each one allows.
#ifndef LATCHKEY_MCP_ADAPTER_PROTOCOL_VERSION_H_
#define LATCHKEY_MCP_ADAPTER_PROTOCOL_VERSION_H_

#include <array>
#include <string>

#include "absl/strings/string_view.h"

namespace latchkey::mcp {

// Newest first.
inline constexpr std::array<absl::string_view, 4> kSupportedVersions = {
    "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

// NegotiateVersion echoes `requested` when supported, else answers the
// newest supported revision (the client then decides whether to go on).
std::string NegotiateVersion(absl::string_view requested);

// Tool outputSchema, structuredContent and tool titles: 2025-06-18 on.
bool HasStructuredContent(absl::string_view version);

// Tool annotations (readOnlyHint, ...): 2025-03-26 on.
bool HasToolAnnotations(absl::string_view version);

// HasProgressMessage: notifications/progress may carry "message" (from
// 2025-03-26 on).
bool HasProgressMessage(absl::string_view version);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_PROTOCOL_VERSION_H_
