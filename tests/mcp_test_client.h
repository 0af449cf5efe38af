// McpTestClient speaks MCP JSON-RPC to a latchkey-mcp child process over
// its stdin/stdout, exactly as an agent client does.
#ifndef LATCHKEY_TESTS_MCP_TEST_CLIENT_H_
#define LATCHKEY_TESTS_MCP_TEST_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"

namespace latchkey::testing {

class McpTestClient {
 public:
  explicit McpTestClient(ChildProcess* process) : process_(process) {}

  // Call sends a request and returns its response (skipping notifications,
  // which are kept in notifications()). Every raw line read is appended to
  // transcript(), so tests can scan all output.
  absl::StatusOr<nlohmann::json> Call(const std::string& method,
                                      nlohmann::json params,
                                      absl::Duration timeout = absl::Seconds(30));
  absl::Status Notify(const std::string& method, nlohmann::json params);
  // Initialize performs the handshake and sends notifications/initialized.
  absl::StatusOr<nlohmann::json> Initialize(
      const std::string& version = "2025-06-18");
  // CallTool is tools/call; returns the result object.
  absl::StatusOr<nlohmann::json> CallTool(const std::string& name,
                                          nlohmann::json arguments);

  const std::string& transcript() const { return transcript_; }
  const std::vector<nlohmann::json>& notifications() const {
    return notifications_;
  }

 private:
  ChildProcess* process_;
  int next_id_ = 1;
  std::string transcript_;
  std::vector<nlohmann::json> notifications_;
};

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_MCP_TEST_CLIENT_H_
