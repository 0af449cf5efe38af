#include "mcp_adapter/mcp_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "mcp_adapter/protocol_version.h"
#include "mcp_adapter/tool_catalog.h"

namespace latchkey::mcp {
namespace {

using jsonrpc::ErrorLine;
using jsonrpc::ResultLine;

// Client-supplied text echoed in an error message is cut to this.
constexpr size_t kMaxEchoBytes = 128;

const char* SessionEventName(SessionEvent event) {
  switch (event) {
    case SessionEvent::kOpened:
      return "session_opened";
    case SessionEvent::kReopened:
      return "session_reopened";
    case SessionEvent::kRevoked:
      return "session_revoked";
  }
  return "session";
}

}  // namespace

McpServer::McpServer(BrokerClient* broker, McpServerOptions options)
    : options_(std::move(options)),
      client_log_(options_.notify),
      sessions_(broker, options_.clock,
                [this](SessionEvent event, const SessionInfo& session) {
                  OnSessionEvent(event, session);
                }),
      runner_(broker, &sessions_, &client_log_, options_.broker_socket,
              options_.clock) {}

void McpServer::OnSessionEvent(SessionEvent event, const SessionInfo& session) {
  client_log_.Send(event == SessionEvent::kRevoked ? ClientLogLevel::kError
                                                   : ClientLogLevel::kInfo,
                   OJson{{"event", SessionEventName(event)},
                         {"session_id_prefix", session.id.substr(0, 8)}});
  bool changed = false;
  if (event == SessionEvent::kRevoked) {
    changed = true;
  } else {
    std::vector<std::string> capabilities = session.capabilities;
    std::sort(capabilities.begin(), capabilities.end());
    std::lock_guard<std::mutex> lock(mu_);
    changed = session_capabilities_.has_value() &&
              *session_capabilities_ != capabilities;
    session_capabilities_ = std::move(capabilities);
  }
  if (changed && options_.notify) {
    LogInfo("tools_list_changed", {{"event", SessionEventName(event)}});
    options_.notify(jsonrpc::NotificationLine(
        "notifications/tools/list_changed", OJson::object()));
  }
}

std::optional<std::string> McpServer::HandleLine(absl::string_view line) {
  Dispatch dispatch = Accept(line);
  if (dispatch.deferred) return dispatch.deferred();
  return dispatch.response;
}

McpServer::Dispatch McpServer::Accept(absl::string_view line) {
  Dispatch dispatch;
  jsonrpc::Parsed parsed = jsonrpc::ParseLine(line);
  if (!parsed.message.has_value()) {
    dispatch.response = std::move(parsed.error_response);
    return dispatch;
  }
  const Message& message = *parsed.message;
  if (message.kind == Message::Kind::kNotification) {
    dispatch.response = HandleNotification(message);
    return dispatch;
  }
  const std::string& method = message.method;
  if (method == "ping") {
    dispatch.response = ResultLine(message.id, OJson::object());
    return dispatch;
  }
  if (method == "initialize") {
    dispatch.response = Initialize(message);
    return dispatch;
  }
  bool initialized;
  std::string version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    initialized = initialized_;
    version = version_;
  }
  if (!initialized) {
    dispatch.response =
        ErrorLine(message.id, jsonrpc::kInvalidRequest,
                  "Server not initialized: send initialize first (only ping is "
                  "allowed before it)");
    return dispatch;
  }
  if (method == "tools/list") {
    // One page holds every tool; a cursor, if any, is ignored.
    dispatch.response = ResultLine(message.id, ToolList(version));
  } else if (method == "tools/call") {
    return CallTool(message);
  } else if (method == "logging/setLevel") {
    dispatch.response = SetLogLevel(message);
  } else {
    dispatch.response =
        ErrorLine(message.id, jsonrpc::kMethodNotFound,
                  absl::StrCat("Method not found: ",
                               TruncateUtf8(method, kMaxEchoBytes)));
  }
  return dispatch;
}

std::optional<std::string> McpServer::HandleNotification(
    const Message& message) {
  // notifications/initialized needs nothing: requests are served as soon
  // as initialize has been answered.
  if (message.method == "notifications/cancelled") {
    auto request_id = message.params.find("requestId");
    if (request_id == message.params.end() ||
        !jsonrpc::IsValidId(*request_id)) {
      return std::nullopt;  // Malformed: ignored, as the spec asks.
    }
    std::shared_ptr<Cancellation> cancel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = in_flight_.find(jsonrpc::IdKey(*request_id));
      if (it != in_flight_.end()) cancel = it->second;
    }
    if (cancel != nullptr) {
      LogInfo("tool_call_cancelled", {{"id", request_id->dump()}});
      cancel->Cancel();
    }
  }
  // Every other notification is ignored; notifications get no response.
  return std::nullopt;
}

std::string McpServer::Initialize(const Message& message) {
  auto requested = message.params.find("protocolVersion");
  if (requested == message.params.end() || !requested->is_string()) {
    return ErrorLine(message.id, jsonrpc::kInvalidParams,
                     "Invalid params: initialize needs \"protocolVersion\" "
                     "(a string)");
  }
  std::string version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (initialized_) {
      return ErrorLine(message.id, jsonrpc::kInvalidRequest,
                       "Invalid Request: already initialized");
    }
    version = NegotiateVersion(requested->get_ref<const std::string&>());
    version_ = version;
    initialized_ = true;
  }
  std::string client = "unknown";
  auto info = message.params.find("clientInfo");
  if (info != message.params.end() && info->is_object()) {
    auto name = info->find("name");
    if (name != info->end() && name->is_string()) {
      client = TruncateUtf8(name->get_ref<const std::string&>(), 64);
    }
  }
  LogInfo("initialized", {{"client", client},
                          {"requested_version",
                           TruncateUtf8(requested->get<std::string>(), 32)},
                          {"protocol_version", version}});
  OJson result;
  result["protocolVersion"] = version;
  result["capabilities"] =
      OJson{{"tools", {{"listChanged", true}}}, {"logging", OJson::object()}};
  result["serverInfo"] =
      OJson{{"name", kServerName}, {"version", kServerVersion}};
  if (HasStructuredContent(version)) {
    result["serverInfo"]["title"] = "Latchkey credential broker";
  }
  result["instructions"] = std::string(Instructions());
  return ResultLine(message.id, std::move(result));
}

std::string McpServer::SetLogLevel(const Message& message) {
  auto level = message.params.find("level");
  std::optional<ClientLogLevel> parsed;
  if (level != message.params.end() && level->is_string()) {
    parsed = ParseClientLogLevel(level->get_ref<const std::string&>());
  }
  if (!parsed.has_value()) {
    return ErrorLine(message.id, jsonrpc::kInvalidParams,
                     "Invalid params: \"level\" must be one of debug, info, "
                     "notice, warning, error, critical, alert, emergency");
  }
  client_log_.SetLevel(*parsed);
  return ResultLine(message.id, OJson::object());
}

McpServer::Dispatch McpServer::CallTool(const Message& message) {
  Dispatch dispatch;
  auto name = message.params.find("name");
  if (name == message.params.end() || !name->is_string()) {
    dispatch.response =
        ErrorLine(message.id, jsonrpc::kInvalidParams,
                  "Invalid params: tools/call needs \"name\" (a string)");
    return dispatch;
  }
  const std::string& tool = name->get_ref<const std::string&>();
  if (!IsKnownTool(tool)) {
    dispatch.response = ErrorLine(
        message.id, jsonrpc::kInvalidParams,
        absl::StrCat("Unknown tool: ", TruncateUtf8(tool, kMaxEchoBytes),
                     " (tools: ", KnownToolNames(), ")"));
    return dispatch;
  }
  Json arguments = Json::object();
  auto args = message.params.find("arguments");
  if (args != message.params.end() && !args->is_null()) {
    if (!args->is_object()) {
      dispatch.response = ErrorLine(
          message.id, jsonrpc::kInvalidParams,
          "Invalid params: tools/call \"arguments\" must be an object");
      return dispatch;
    }
    arguments = *args;
  }
  // A progress token that is neither a string nor an integer is ignored.
  Json progress_token;
  auto meta = message.params.find("_meta");
  if (meta != message.params.end() && meta->is_object()) {
    auto token = meta->find("progressToken");
    if (token != meta->end() && jsonrpc::IsValidId(*token)) {
      progress_token = *token;
    }
  }
  std::string key = jsonrpc::IdKey(message.id);
  auto cancel = std::make_shared<Cancellation>();
  bool with_structured;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_.count(key) > 0) {
      dispatch.response = ErrorLine(
          message.id, jsonrpc::kInvalidRequest,
          "Invalid Request: this id is already used by a call in progress");
      return dispatch;
    }
    if (in_flight_.size() >= options_.max_tool_calls_in_flight) {
      dispatch.response = ErrorLine(
          message.id, jsonrpc::kServerBusy,
          absl::StrCat("Server busy: ", options_.max_tool_calls_in_flight,
                       " tool calls are already in progress; retry when one "
                       "has finished"));
      return dispatch;
    }
    in_flight_[key] = cancel;
    with_structured = HasStructuredContent(version_);
  }
  dispatch.deferred = [this, id = message.id, key, tool,
                       arguments = std::move(arguments), with_structured,
                       progress_token = std::move(progress_token), cancel]() {
    return RunTool(id, key, tool, arguments, with_structured, progress_token,
                   cancel);
  };
  return dispatch;
}

std::optional<std::string> McpServer::RunTool(
    const Json& id, const std::string& key, const std::string& name,
    const Json& arguments, bool with_structured, const Json& progress_token,
    std::shared_ptr<Cancellation> cancel) {
  SendProgress(progress_token, 0,
               absl::StrCat(name, ": sent to the Latchkey broker"));
  absl::StatusOr<OJson> result =
      runner_.Call(name, arguments, with_structured, cancel.get());
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(key);
  }
  // A cancelled request gets no response, even if its answer arrived.
  if (cancel->IsCancelled()) return std::nullopt;
  if (!result.ok()) {
    LogError(
        "tool_call_failed",
        {{"tool", name}, {"message", std::string(result.status().message())}});
    return ErrorLine(
        id, jsonrpc::kInternalError,
        absl::StrCat("Internal error: ", result.status().message()));
  }
  return ResultLine(id, *std::move(result));
}

void McpServer::SendProgress(const Json& token, int progress,
                             std::string message) {
  if (token.is_null() || !options_.notify) return;
  OJson params;
  params["progressToken"] = OJson::parse(token.dump());
  params["progress"] = progress;
  params["total"] = 1;
  bool with_message;
  {
    std::lock_guard<std::mutex> lock(mu_);
    with_message = HasProgressMessage(version_);
  }
  if (with_message) params["message"] = std::move(message);
  options_.notify(
      jsonrpc::NotificationLine("notifications/progress", std::move(params)));
}

void McpServer::CancelAll() {
  std::map<std::string, std::shared_ptr<Cancellation>> in_flight;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight = in_flight_;
  }
  for (auto& [key, cancel] : in_flight) cancel->Cancel();
}

size_t McpServer::tool_calls_in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.size();
}

}  // namespace latchkey::mcp
