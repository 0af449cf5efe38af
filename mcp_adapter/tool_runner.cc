#include "mcp_adapter/tool_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "mcp_adapter/execute_args.h"
#include "mcp_adapter/introspection_results.h"
#include "mcp_adapter/tool_catalog.h"
#include "mcp_adapter/tool_results.h"

namespace latchkey::mcp {
namespace {

absl::Status Cancelled() {
  return absl::CancelledError("tool call cancelled by the client");
}

}  // namespace

ToolRunner::ToolRunner(BrokerClient* broker, SessionKeeper* sessions,
                       ClientLog* log, std::string broker_socket,
                       SessionKeeper::Clock clock)
    : broker_(broker),
      sessions_(sessions),
      log_(log),
      broker_socket_(std::move(broker_socket)),
      clock_(std::move(clock)) {}

absl::StatusOr<OJson> ToolRunner::Call(absl::string_view name,
                                       const Json& arguments,
                                       bool with_structured,
                                       Cancellation* cancel) {
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  if (name == kExecuteTool) return Execute(arguments, with_structured, cancel);
  if (name == kExplainAccessTool) {
    return ExplainAccess(arguments, with_structured, cancel);
  }
  if (name == kTestCapabilityTool) {
    return TestCapability(arguments, with_structured, cancel);
  }
  // The other tools take no arguments.
  if (!arguments.empty()) {
    return InvalidArgumentsResult(
        name, absl::StrCat(name, " takes no arguments; call it with {}."));
  }
  if (name == kListCapabilitiesTool) {
    return ListCapabilities(with_structured, cancel);
  }
  if (name == kWhoAmITool) return WhoAmI(with_structured, cancel);
  return SessionStatus(with_structured, cancel);
}

absl::StatusOr<OJson> ToolRunner::WhoAmI(bool with_structured,
                                         Cancellation* cancel) {
  // whoami opens no session: it reports the one held, if any.
  v1::WhoAmIRequest request;
  if (std::optional<SessionInfo> held = sessions_->Peek()) {
    request.set_session_id(held->id);
  }
  auto response = broker_->WhoAmI(request, cancel);
  if (!response.ok()) return BrokerFailure(kWhoAmITool, response.status());
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  return WhoAmIResult(*response, with_structured);
}

absl::StatusOr<OJson> ToolRunner::ExplainAccess(const Json& arguments,
                                                bool with_structured,
                                                Cancellation* cancel) {
  auto request = ParseExplainArguments(arguments);
  if (!request.ok()) {
    return InvalidArgumentsResult(kExplainAccessTool,
                                  request.status().message());
  }
  // The session the adapter would use is part of the trace; none held is
  // fine (the trace says the session was not checked).
  if (std::optional<SessionInfo> held = sessions_->Peek()) {
    request->set_session_id(held->id);
  }
  auto response = broker_->ExplainAccess(*request, cancel);
  if (!response.ok()) {
    return BrokerFailure(kExplainAccessTool, response.status());
  }
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  return ExplainResult(*response, *request, with_structured);
}

absl::StatusOr<OJson> ToolRunner::TestCapability(const Json& arguments,
                                                 bool with_structured,
                                                 Cancellation* cancel) {
  auto request = ParseTestArguments(arguments);
  if (!request.ok()) {
    return InvalidArgumentsResult(kTestCapabilityTool,
                                  request.status().message());
  }
  auto session = sessions_->Current(cancel);
  if (!session.ok()) {
    return BrokerFailure(kTestCapabilityTool, session.status());
  }
  request->set_session_id(session->id);
  auto response = broker_->TestCapability(*request, cancel);
  if (!response.ok()) {
    return BrokerFailure(kTestCapabilityTool, response.status());
  }
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  LogInfo("test_capability",
          {{"capability", request->capability()},
           {"decision", v1::Decision_Name(response->decision())},
           {"request_id", response->request_id()}});
  return TestResult(*response, request->capability(), with_structured);
}

absl::StatusOr<OJson> ToolRunner::BrokerFailure(absl::string_view tool,
                                                const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) return Cancelled();
  LogWarning("broker_call_failed",
             {{"tool", std::string(tool)},
              {"code", absl::StatusCodeToString(status.code())},
              {"message", std::string(status.message())}});
  OJson data{{"event", "broker_call_failed"},
             {"tool", std::string(tool)},
             {"code", absl::StatusCodeToString(status.code())}};
  if (status.code() == absl::StatusCode::kUnavailable) {
    data["broker_socket"] = broker_socket_;
  }
  log_->Send(ClientLogLevel::kError, std::move(data));
  return BrokerErrorResult(status, broker_socket_);
}

absl::StatusOr<OJson> ToolRunner::ListCapabilities(bool with_structured,
                                                   Cancellation* cancel) {
  auto response = broker_->ListCapabilities({}, cancel);
  if (!response.ok()) {
    return BrokerFailure(kListCapabilitiesTool, response.status());
  }
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  return CapabilitiesResult(*response, with_structured);
}

absl::StatusOr<OJson> ToolRunner::SessionStatus(bool with_structured,
                                                Cancellation* cancel) {
  auto session = sessions_->Current(cancel);
  if (!session.ok()) return BrokerFailure(kSessionStatusTool, session.status());
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  return SessionResult(*session, clock_(), with_structured);
}

absl::StatusOr<OJson> ToolRunner::Execute(const Json& arguments,
                                          bool with_structured,
                                          Cancellation* cancel) {
  auto request = ParseExecuteArguments(arguments);
  if (!request.ok()) {
    return InvalidArgumentsResult(kExecuteTool, request.status().message());
  }
  std::string capability = request->capability();
  std::string method = request->request().method();
  auto response = sessions_->Execute(*std::move(request), cancel);
  if (!response.ok()) return BrokerFailure(kExecuteTool, response.status());
  if (cancel != nullptr && cancel->IsCancelled()) return Cancelled();
  // Path, query, headers and bodies stay out of the log: they may carry
  // personal data. The request id finds the full record in the audit log.
  LogInfo("execute", {{"capability", capability},
                      {"method", method},
                      {"decision", v1::Decision_Name(response->decision())},
                      {"code", response->decision() == v1::DECISION_DENY
                                   ? ReasonName(response->denial().code())
                                   : std::string()},
                      {"request_id", response->request_id()}});
  return ExecuteResult(*response, capability, with_structured);
}

}  // namespace latchkey::mcp
