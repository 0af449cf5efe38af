// What to tell an agent when the broker refused the adapter itself (not a
// request), chosen by the broker's refusal tag (common/refusal.h): the gRPC
// code alone cannot tell "access was revoked" from "this user may not
// connect". The MCP tools and the HTTP gateway both use it.
#ifndef LATCHKEY_MCP_ADAPTER_BROKER_REFUSAL_H_
#define LATCHKEY_MCP_ADAPTER_BROKER_REFUSAL_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace latchkey::mcp {

struct RefusalAdvice {
  std::string tag;        // The broker's tag, e.g. "REVOKED".
  std::string what;       // "access was revoked by an operator".
  std::string next_step;  // What the agent should do, never empty.
  int http_status = 502;  // For the gateway's reply.
};

// AdviceForRefusal returns the advice for a tagged broker refusal, nullopt
// when `status` carries no tag this build knows (the caller then falls
// back to the gRPC code).
std::optional<RefusalAdvice> AdviceForRefusal(const absl::Status& status,
                                              absl::string_view broker_socket);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_BROKER_REFUSAL_H_
