#include "mcp_adapter/jsonrpc.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace latchkey::mcp::jsonrpc {
namespace {

Parsed Error(const Json& id, int code, absl::string_view message) {
  Parsed parsed;
  parsed.error_response = ErrorLine(id, code, message);
  return parsed;
}

}  // namespace

bool IsValidId(const Json& id) {
  // Integers beyond 64 bits parse as floating point and are refused with
  // the fractional numbers: echoing them back would change them.
  return id.is_string() || id.is_number_integer();
}

std::string IdKey(const Json& id) {
  if (id.is_string())
    return absl::StrCat("s:", id.get_ref<const std::string&>());
  return absl::StrCat("n:", id.dump());
}

Parsed ParseLine(absl::string_view line) {
  if (absl::StripAsciiWhitespace(line).empty()) return Parsed{};
  std::optional<Json> value = ParseBounded(line, kMaxMessageDepth);
  if (!value.has_value()) {
    return Error(Json(), kParseError,
                 "Parse error: not a single valid JSON value (UTF-8, nesting "
                 "at most 64 deep)");
  }
  if (value->is_array()) {
    return Error(Json(), kInvalidRequest,
                 "Invalid Request: JSON-RPC batches are not supported; send "
                 "one message per line");
  }
  if (!value->is_object()) {
    return Error(Json(), kInvalidRequest,
                 "Invalid Request: a message must be a JSON object");
  }
  const Json& object = *value;
  auto id_it = object.find("id");
  bool has_id = id_it != object.end();
  if (has_id && !IsValidId(*id_it)) {
    return Error(Json(), kInvalidRequest,
                 "Invalid Request: id must be a string or an integer (MCP "
                 "does not allow null ids)");
  }
  Json id = has_id ? *id_it : Json();
  auto version = object.find("jsonrpc");
  if (version == object.end() || !version->is_string() ||
      version->get_ref<const std::string&>() != "2.0") {
    return Error(id, kInvalidRequest,
                 "Invalid Request: \"jsonrpc\" must be \"2.0\"");
  }
  auto method = object.find("method");
  if (method == object.end()) {
    if (has_id && (object.contains("result") || object.contains("error"))) {
      // A response: this server sends no requests, so there is nothing to
      // match it with. Ignored, like any unexpected response.
      return Parsed{};
    }
    return Error(id, kInvalidRequest, "Invalid Request: \"method\" is missing");
  }
  if (!method->is_string()) {
    return Error(id, kInvalidRequest,
                 "Invalid Request: \"method\" must be a string");
  }
  Message message;
  message.kind =
      has_id ? Message::Kind::kRequest : Message::Kind::kNotification;
  message.id = std::move(id);
  message.method = method->get<std::string>();
  auto params = object.find("params");
  if (params != object.end() && !params->is_null()) {
    if (params->is_object()) {
      message.params = *params;
    } else if (params->is_array()) {
      // Valid JSON-RPC, but every MCP method takes named params.
      if (message.kind == Message::Kind::kNotification) return Parsed{};
      return Error(message.id, kInvalidParams,
                   "Invalid params: MCP params must be an object");
    } else {
      return Error(message.id, kInvalidRequest,
                   "Invalid Request: \"params\" must be an object");
    }
  }
  Parsed parsed;
  parsed.message = std::move(message);
  return parsed;
}

std::string ResultLine(const Json& id, OJson result) {
  OJson line;
  line["jsonrpc"] = "2.0";
  line["id"] = OJson(id);
  line["result"] = std::move(result);
  return DumpLine(line);
}

std::string ErrorLine(const Json& id, int code, absl::string_view message,
                      std::optional<OJson> data) {
  OJson error;
  error["code"] = code;
  error["message"] = std::string(message);
  if (data.has_value()) error["data"] = std::move(*data);
  OJson line;
  line["jsonrpc"] = "2.0";
  line["id"] = OJson(id);
  line["error"] = std::move(error);
  return DumpLine(line);
}

std::string NotificationLine(absl::string_view method, OJson params) {
  OJson line;
  line["jsonrpc"] = "2.0";
  line["method"] = std::string(method);
  line["params"] = std::move(params);
  return DumpLine(line);
}

}  // namespace latchkey::mcp::jsonrpc
