// The adapter's two HTTP front ends (--http for MCP, --gateway for
// command-line tools) are configured the same way: a loopback HOST:PORT and
// a token their clients must present. LoadListenerFlags checks both, in the
// one order that matters, so main() does not spell it out twice.
#ifndef LATCHKEY_MCP_ADAPTER_LISTENER_FLAGS_H_
#define LATCHKEY_MCP_ADAPTER_LISTENER_FLAGS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mcp_adapter/http_checks.h"

namespace latchkey::mcp {

struct ListenerFlags {
  LoopbackAddress address;
  std::string token;
};

// LoadListenerFlags parses `address_text` (loopback only, see
// ParseLoopbackAddress) and then calls `load_token`. The address comes
// first: a public address is refused whatever else is set, and no token is
// read for it. On failure `*failed_event` is the log event to report:
// "bad_<kind>_address" or "no_<kind>_token".
absl::StatusOr<ListenerFlags> LoadListenerFlags(
    absl::string_view kind, absl::string_view address_text,
    const std::function<absl::StatusOr<std::string>()>& load_token,
    std::string* failed_event);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_LISTENER_FLAGS_H_
