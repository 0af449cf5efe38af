// The stateless MCP revision 2026-07-28 (SEP-2575), served next to the
// handshake revisions on the same transports.
//
// A 2026-07-28 request has no initialize before it: its params._meta
// carries "io.modelcontextprotocol/protocolVersion" (which selects this
// path) and "io.modelcontextprotocol/clientCapabilities" (required, an
// object). Implemented here:
// - server/discover: supportedVersions (2026-07-28 and every handshake
//   revision, which initialize still serves), capabilities, serverInfo,
//   instructions, resultType "complete";
// - tools/list and tools/call, answered as in 2025-11-25 (the newest
//   handshake revision, whose tool shapes 2026-07-28 keeps) plus
//   resultType "complete";
// - initialize, ping and logging/setLevel, which 2026-07-28 removes, are
//   -32601 for a request that carries the 2026-07-28 _meta;
// - a _meta protocol version other than 2026-07-28 is -32022
//   (UnsupportedProtocolVersionError) with data.supported/requested, and a
//   missing clientCapabilities is -32602.
// Not implemented: ttlMs/cacheScope caching hints (optional), and the
// 2026-07-28 extensions (tasks, elicitation handles, MRTR).
#ifndef LATCHKEY_MCP_ADAPTER_STATELESS_H_
#define LATCHKEY_MCP_ADAPTER_STATELESS_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/mcp_server.h"

namespace latchkey::mcp {

inline constexpr char kStatelessVersion[] = "2026-07-28";
inline constexpr char kMetaProtocolVersion[] =
    "io.modelcontextprotocol/protocolVersion";
inline constexpr char kMetaClientCapabilities[] =
    "io.modelcontextprotocol/clientCapabilities";
// Error codes of 2026-07-28 (renumbered in the final specification).
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// MetaProtocolVersion returns params._meta's protocol version when
// `message` is a request or notification that carries one (the mark of a
// stateless request); nullopt otherwise.
std::optional<std::string> MetaProtocolVersion(const Json& message);

class StatelessServer {
 public:
  // `server` (not owned, must outlive this) serves the tools; it is put
  // through a handshake at 2025-11-25 once, here, and used for nothing else.
  explicit StatelessServer(McpServer* server);

  // Accept serves one stateless message (MetaProtocolVersion is set).
  McpServer::Dispatch Accept(absl::string_view line, const Json& message);

 private:
  McpServer* const server_;
};

// StatelessInterceptor adapts `server` to StdioTransportOptions::intercept:
// it takes the lines that carry a 2026-07-28 _meta and leaves the rest.
std::function<std::optional<McpServer::Dispatch>(absl::string_view line)>
StatelessInterceptor(StatelessServer* server);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_STATELESS_H_
