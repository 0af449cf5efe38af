// ClientLog sends MCP log notifications (notifications/message) to the
// client at or above the level the client chose with logging/setLevel.
// Nothing secret goes in: session ids appear as 8-character prefixes, and
// the token never.
#ifndef LATCHKEY_MCP_ADAPTER_CLIENT_LOG_H_
#define LATCHKEY_MCP_ADAPTER_CLIENT_LOG_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "mcp_adapter/json_util.h"

namespace latchkey::mcp {

// RFC 5424 severities, as MCP names them, least severe first.
enum class ClientLogLevel {
  kDebug,
  kInfo,
  kNotice,
  kWarning,
  kError,
  kCritical,
  kAlert,
  kEmergency
};

std::optional<ClientLogLevel> ParseClientLogLevel(absl::string_view name);
absl::string_view ClientLogLevelName(ClientLogLevel level);

class ClientLog {
 public:
  using Sink = std::function<void(std::string line)>;

  // `sink` writes one line to the client; null drops everything.
  explicit ClientLog(Sink sink);

  // Until the client sets a level, warnings and worse are sent.
  void SetLevel(ClientLogLevel level);

  void Send(ClientLogLevel level, OJson data);

 private:
  const Sink sink_;
  std::mutex mu_;
  ClientLogLevel level_ = ClientLogLevel::kWarning;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_CLIENT_LOG_H_
