#include "mcp_adapter/client_log.h"

#include <array>
#include <utility>

#include "mcp_adapter/jsonrpc.h"

namespace latchkey::mcp {
namespace {

constexpr std::array<absl::string_view, 8> kNames = {
    "debug", "info",     "notice", "warning",
    "error", "critical", "alert",  "emergency"};

}  // namespace

std::optional<ClientLogLevel> ParseClientLogLevel(absl::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<ClientLogLevel>(i);
  }
  return std::nullopt;
}

absl::string_view ClientLogLevelName(ClientLogLevel level) {
  return kNames[static_cast<size_t>(level)];
}

ClientLog::ClientLog(Sink sink) : sink_(std::move(sink)) {}

void ClientLog::SetLevel(ClientLogLevel level) {
  std::lock_guard<std::mutex> lock(mu_);
  level_ = level;
}

void ClientLog::Send(ClientLogLevel level, OJson data) {
  if (!sink_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (level < level_) return;
  }
  OJson params;
  params["level"] = std::string(ClientLogLevelName(level));
  params["logger"] = "latchkey";
  params["data"] = std::move(data);
  sink_(jsonrpc::NotificationLine("notifications/message", std::move(params)));
}

}  // namespace latchkey::mcp
