#include "tests/mcp_test_client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace latchkey::testing {

absl::StatusOr<nlohmann::json> McpTestClient::Call(const std::string& method,
                                                   nlohmann::json params,
                                                   absl::Duration timeout) {
  int id = next_id_++;
  nlohmann::json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) request["params"] = std::move(params);
  absl::Status written = process_->WriteLine(request.dump());
  if (!written.ok()) return written;
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::string> line =
        process_->ReadLine(deadline - absl::Now());
    if (!line.ok()) return line.status();
    transcript_ += *line + "\n";
    nlohmann::json message = nlohmann::json::parse(*line, nullptr, false);
    if (message.is_discarded()) {
      return absl::DataLossError(absl::StrCat("adapter wrote non-JSON: ", *line));
    }
    if (message.contains("id") && message["id"] == id) return message;
    notifications_.push_back(std::move(message));
  }
}

absl::Status McpTestClient::Notify(const std::string& method,
                                   nlohmann::json params) {
  nlohmann::json note = {{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) note["params"] = std::move(params);
  return process_->WriteLine(note.dump());
}

absl::StatusOr<nlohmann::json> McpTestClient::Initialize(
    const std::string& version) {
  absl::StatusOr<nlohmann::json> response = Call(
      "initialize",
      {{"protocolVersion", version},
       {"capabilities", nlohmann::json::object()},
       {"clientInfo", {{"name", "latchkey-e2e"}, {"version", "1.0"}}}});
  if (!response.ok()) return response;
  absl::Status notified =
      Notify("notifications/initialized", nlohmann::json());
  if (!notified.ok()) return notified;
  return response;
}

absl::StatusOr<nlohmann::json> McpTestClient::CallTool(
    const std::string& name, nlohmann::json arguments) {
  absl::StatusOr<nlohmann::json> response =
      Call("tools/call", {{"name", name}, {"arguments", std::move(arguments)}});
  if (!response.ok()) return response;
  if (!response->contains("result")) {
    return absl::InternalError(
        absl::StrCat("tools/call returned an error: ", response->dump()));
  }
  return (*response)["result"];
}

}  // namespace latchkey::testing
