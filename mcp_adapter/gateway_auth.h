// The gateway's one credential check: the gateway token, presented either
// as "Authorization: Bearer <token>" (curl -H, git http.extraHeader) or as
// the password of HTTP Basic, any user name (git credential helpers,
// tools that only speak Basic), or as the access key id of an AWS SigV4
// Authorization header (aws CLI/SDKs with AWS_ACCESS_KEY_ID=<token>).
// Compared in constant time.
#ifndef LATCHKEY_MCP_ADAPTER_GATEWAY_AUTH_H_
#define LATCHKEY_MCP_ADAPTER_GATEWAY_AUTH_H_

#include "absl/strings/string_view.h"

namespace latchkey::mcp {

bool GatewayCredentialMatches(absl::string_view authorization,
                              absl::string_view token);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_GATEWAY_AUTH_H_
