// The agent token: from the LATCHKEY_AGENT_TOKEN environment variable, or
// else from a token file only its owner can read. Never from argv (other
// users can read any process's command line).
#ifndef LATCHKEY_MCP_ADAPTER_TOKEN_SOURCE_H_
#define LATCHKEY_MCP_ADAPTER_TOKEN_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::mcp {

inline constexpr char kTokenEnvVar[] = "LATCHKEY_AGENT_TOKEN";
// A token file larger than this is not a token.
inline constexpr size_t kMaxTokenBytes = 4096;

struct AgentToken {
  std::string token;
  // source is "env" or the file path, for the log.
  std::string source;
};

// LoadAgentToken reads the environment variable (and removes it from the
// environment, scrubbing its bytes) or, when it is unset or empty,
// `token_file` (if not empty). NOT_FOUND when neither gives a token;
// FAILED_PRECONDITION or INVALID_ARGUMENT when the file or token is
// unacceptable.
absl::StatusOr<AgentToken> LoadAgentToken(const std::string& token_file);

// ReadTokenFile refuses anything but a regular file owned by the caller (or
// root) with no group/other permission bits, then returns its first line,
// trimmed.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// ValidateToken accepts 1..kMaxTokenBytes of printable ASCII without
// spaces (what a gRPC metadata value can carry after "Bearer ").
absl::Status ValidateToken(absl::string_view token);

// ClientTokenSource names where a loopback listener's client token comes
// from, for --http and --gateway alike.
struct ClientTokenSource {
  const char* env_var;       // e.g. "LATCHKEY_MCP_HTTP_TOKEN"
  std::string token_file;    // the --*_token_file flag's value, may be ""
  const char* what;          // "HTTP bearer token", "gateway token"
  const char* missing_hint;  // the whole message when neither is given
  size_t min_bytes;          // shorter tokens are refused
};

// LoadClientToken reads the token from the environment variable (which it
// then wipes and unsets, so children do not inherit it) or from the file,
// and checks its characters and length. Never from argv.
absl::StatusOr<std::string> LoadClientToken(const ClientTokenSource& source);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_TOKEN_SOURCE_H_
