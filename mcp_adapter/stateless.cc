#include "mcp_adapter/stateless.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "mcp_adapter/jsonrpc.h"
#include "mcp_adapter/protocol_version.h"
#include "mcp_adapter/tool_catalog.h"

namespace latchkey::mcp {
namespace {

using jsonrpc::ErrorLine;
using jsonrpc::ResultLine;

// The handshake revision whose tool shapes 2026-07-28 answers with.
constexpr char kToolRevision[] = "2025-11-25";

// Each forwarded request gets an id of its own, so that concurrent
// stateless clients (which share the inner server) may reuse ids.
std::atomic<uint64_t> next_internal_id{1};

// Completed puts the original id back and marks the result complete
// (2026-07-28 results carry resultType). Errors keep their shape.
std::optional<std::string> Completed(std::optional<std::string> line,
                                     const Json& id) {
  if (!line.has_value()) return line;
  std::optional<OJson> parsed = ParseBoundedOrdered(*line, kMaxBodyDepth + 8);
  if (!parsed.has_value() || !parsed->is_object()) return line;
  (*parsed)["id"] = OJson::parse(id.dump());
  auto result = parsed->find("result");
  if (result != parsed->end() && result->is_object()) {
    (*result)["resultType"] = "complete";
  }
  return DumpLine(*parsed);
}

}  // namespace

std::optional<std::string> MetaProtocolVersion(const Json& message) {
  if (!message.is_object()) return std::nullopt;
  auto params = message.find("params");
  if (params == message.end() || !params->is_object()) return std::nullopt;
  auto meta = params->find("_meta");
  if (meta == params->end() || !meta->is_object()) return std::nullopt;
  auto version = meta->find(kMetaProtocolVersion);
  if (version == meta->end()) return std::nullopt;
  // A non-string version is still a stateless request, with a version
  // nobody supports.
  return version->is_string() ? version->get<std::string>() : version->dump();
}

StatelessServer::StatelessServer(McpServer* server) : server_(server) {
  OJson initialize = {
      {"jsonrpc", "2.0"},
      {"id", "latchkey-stateless-init"},
      {"method", "initialize"},
      {"params",
       {{"protocolVersion", kToolRevision},
        {"capabilities", OJson::object()},
        {"clientInfo",
         {{"name", "stateless"}, {"version", kStatelessVersion}}}}}};
  server_->HandleLine(DumpLine(initialize));
}

McpServer::Dispatch StatelessServer::Accept(absl::string_view line,
                                            const Json& message) {
  McpServer::Dispatch dispatch;
  const bool is_request = message.contains("id");
  const Json id = is_request ? message["id"] : Json();
  if (is_request && !jsonrpc::IsValidId(id)) {
    dispatch.response =
        ErrorLine(Json(), jsonrpc::kInvalidRequest,
                  "Invalid Request: \"id\" must be a string or an integer");
    return dispatch;
  }
  const std::string version = MetaProtocolVersion(message).value_or("");
  if (version != kStatelessVersion) {
    if (!is_request) return dispatch;
    OJson data;
    data["supported"] = OJson::array({kStatelessVersion});
    data["requested"] = TruncateUtf8(version, 32);
    dispatch.response = ErrorLine(
        id, kUnsupportedProtocolVersion,
        absl::StrCat("Unsupported protocol version: this server speaks ",
                     kStatelessVersion,
                     " per request; for older revisions send initialize"),
        std::move(data));
    return dispatch;
  }
  const Json& meta = message["params"]["_meta"];
  auto capabilities = meta.find(kMetaClientCapabilities);
  if (is_request &&
      (capabilities == meta.end() || !capabilities->is_object())) {
    dispatch.response = ErrorLine(
        id, jsonrpc::kInvalidParams,
        absl::StrCat("Invalid params: _meta needs \"", kMetaClientCapabilities,
                     "\" (an object) on every ", kStatelessVersion,
                     " request"));
    return dispatch;
  }
  const std::string method = message.value("method", "");
  if (!is_request) {
    // notifications/cancelled and friends: ids are rewritten below, so a
    // cancellation by the client's id cannot be matched; ignored.
    return dispatch;
  }
  if (method == "server/discover") {
    OJson result;
    result["resultType"] = "complete";
    OJson versions = OJson::array({kStatelessVersion});
    for (absl::string_view supported : kSupportedVersions) {
      versions.push_back(std::string(supported));
    }
    result["supportedVersions"] = std::move(versions);
    result["capabilities"] = OJson{{"tools", OJson::object()}};
    result["serverInfo"] = OJson{{"name", kServerName},
                                 {"title", "Latchkey credential broker"},
                                 {"version", kServerVersion}};
    result["instructions"] = std::string(Instructions());
    dispatch.response = ResultLine(id, std::move(result));
    return dispatch;
  }
  if (method != "tools/list" && method != "tools/call") {
    dispatch.response = ErrorLine(
        id, jsonrpc::kMethodNotFound,
        absl::StrCat("Method not found: ", TruncateUtf8(method, 64), " (",
                     kStatelessVersion,
                     " serves server/discover, tools/list and tools/call)"));
    return dispatch;
  }
  std::optional<Json> forwarded = ParseBounded(line, kMaxMessageDepth);
  if (!forwarded.has_value()) {
    dispatch.response =
        ErrorLine(id, jsonrpc::kParseError, "Parse error: invalid JSON");
    return dispatch;
  }
  (*forwarded)["id"] = absl::StrCat("stateless-", next_internal_id++);
  McpServer::Dispatch inner = server_->Accept(forwarded->dump());
  dispatch.response = Completed(std::move(inner.response), id);
  if (inner.deferred) {
    dispatch.deferred = [work = std::move(inner.deferred), id] {
      return Completed(work(), id);
    };
  }
  return dispatch;
}

std::function<std::optional<McpServer::Dispatch>(absl::string_view line)>
StatelessInterceptor(StatelessServer* server) {
  return [server](
             absl::string_view line) -> std::optional<McpServer::Dispatch> {
    // Cheap pre-check: most lines are not stateless requests.
    if (line.find(kMetaProtocolVersion) == absl::string_view::npos) {
      return std::nullopt;
    }
    std::optional<Json> message = ParseBounded(line, kMaxMessageDepth);
    if (!message.has_value() || !MetaProtocolVersion(*message).has_value()) {
      return std::nullopt;
    }
    return server->Accept(line, *message);
  };
}

}  // namespace latchkey::mcp
