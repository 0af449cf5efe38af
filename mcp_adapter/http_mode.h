// latchkey-mcp --http: serve the Streamable HTTP transport on loopback
// instead of stdio, until a termination signal.
#ifndef LATCHKEY_MCP_ADAPTER_HTTP_MODE_H_
#define LATCHKEY_MCP_ADAPTER_HTTP_MODE_H_

#include <string>

#include "absl/status/statusor.h"
#include "mcp_adapter/broker_client.h"

namespace latchkey::mcp {

inline constexpr char kHttpTokenEnvVar[] = "LATCHKEY_MCP_HTTP_TOKEN";
// A bearer token shorter than this is too easy to guess.
inline constexpr size_t kMinHttpTokenBytes = 16;

// LoadHttpToken reads LATCHKEY_MCP_HTTP_TOKEN (removing it from the
// environment) or else `token_file` (owner-only, like the agent token
// file). Never argv.
absl::StatusOr<std::string> LoadHttpToken(const std::string& token_file);

struct HttpModeOptions {
  std::string address;  // --http, e.g. "127.0.0.1:8765".
  std::string token;
  std::string broker_socket;
  int stop_fd = -1;  // Readable on SIGTERM/SIGINT.
};

// RunHttpMode serves until stop_fd is readable. Returns the process exit
// code (2 for a refused address, 1 when the port cannot be bound).
int RunHttpMode(BrokerClient* broker, HttpModeOptions options);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_HTTP_MODE_H_
