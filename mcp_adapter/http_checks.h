// Pure checks of the Streamable HTTP transport, kept apart from the server
// so each can be tested on its own: the listen address (loopback only), the
// Origin/Host headers (DNS-rebinding protection), the bearer token, and the
// Accept header.
#ifndef LATCHKEY_MCP_ADAPTER_HTTP_CHECKS_H_
#define LATCHKEY_MCP_ADAPTER_HTTP_CHECKS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::mcp {

struct LoopbackAddress {
  std::string host;  // "127.0.0.1", "::1" (no brackets) or "localhost".
  int port = 0;      // 0: any free port.
};

// ParseLoopbackAddress accepts "127.0.0.1:PORT", "[::1]:PORT" and
// "localhost:PORT" (localhost is bound as 127.0.0.1). Anything else is
// INVALID_ARGUMENT: the adapter holds an agent's authority and must not be
// reachable from another machine.
absl::StatusOr<LoopbackAddress> ParseLoopbackAddress(absl::string_view text);

// IsLoopbackOrigin is true for an Origin of the form
// "http(s)://{127.0.0.1,localhost,[::1]}[:port]". A browser page on any
// other site (including a DNS name rebound to 127.0.0.1) sends its own
// origin, which this refuses.
bool IsLoopbackOrigin(absl::string_view origin);

// IsLoopbackHost is the same check for a Host header ("host[:port]").
bool IsLoopbackHost(absl::string_view host);

// BearerMatches compares "Bearer <token>" with `token` in constant time
// (the scheme is case-insensitive, RFC 7235).
bool BearerMatches(absl::string_view authorization, absl::string_view token);

// AcceptsMediaType is true when the Accept header lists `type` (or */*,
// or type/*). An empty header accepts nothing.
bool AcceptsMediaType(absl::string_view accept, absl::string_view type);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_HTTP_CHECKS_H_
