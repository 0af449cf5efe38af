// JSON-RPC 2.0 framing for MCP: classifies one incoming line and builds
// response lines. MCP narrows JSON-RPC: ids are strings or integers (never
// null), params are objects, and batches are not accepted (removed from
// MCP in 2025-06-18; refused here for every version).
#ifndef LATCHKEY_MCP_ADAPTER_JSONRPC_H_
#define LATCHKEY_MCP_ADAPTER_JSONRPC_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "mcp_adapter/json_util.h"

namespace latchkey::mcp::jsonrpc {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Implementation-defined server error: too many tool calls in flight.
inline constexpr int kServerBusy = -32000;

struct Message {
  enum class Kind { kRequest, kNotification };
  Kind kind = Kind::kRequest;
  // id is a string or an integer for requests, null for notifications.
  Json id;
  std::string method;
  // params is an object (empty when absent or null).
  Json params = Json::object();
};

// Parsed is what one line turned out to be: a message to handle, an error
// line to send back, or nothing at all (a blank line, or a response from
// the client, which this server never asks for).
struct Parsed {
  std::optional<Message> message;
  std::optional<std::string> error_response;
};

Parsed ParseLine(absl::string_view line);

// ResultLine builds {"jsonrpc":"2.0","id":id,"result":result}.
std::string ResultLine(const Json& id, OJson result);

// ErrorLine builds {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}};
// pass Json() (null) as id when the request's id could not be read.
std::string ErrorLine(const Json& id, int code, absl::string_view message,
                      std::optional<OJson> data = std::nullopt);

// NotificationLine builds {"jsonrpc":"2.0","method":method,"params":params}.
std::string NotificationLine(absl::string_view method, OJson params);

// IdKey is a stable map key for a request id: "s:<text>" or "n:<number>",
// so that "1" and 1 stay distinct.
std::string IdKey(const Json& id);

// IsValidId is true for strings and integers that fit in 64 bits.
bool IsValidId(const Json& id);

}  // namespace latchkey::mcp::jsonrpc

#endif  // LATCHKEY_MCP_ADAPTER_JSONRPC_H_
