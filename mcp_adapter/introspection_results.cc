#include "mcp_adapter/introspection_results.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/limits.h"
#include "mcp_adapter/tool_results.h"

namespace latchkey::mcp {
namespace {

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// Strings reads the allowed keys of `args` as strings; `required` must be
// present and non-empty.
absl::Status Strings(const Json& args,
                     std::initializer_list<const char*> required,
                     std::initializer_list<const char*> optional,
                     std::map<std::string, std::string>* out) {
  if (!args.is_object()) return Invalid("Arguments must be a JSON object.");
  std::vector<std::string> known;
  for (const char* key : required) known.push_back(key);
  for (const char* key : optional) known.push_back(key);
  for (const auto& [key, value] : args.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Invalid(absl::StrCat("Unknown argument \"", TruncateUtf8(key, 64),
                                  "\"; accepted: ", absl::StrJoin(known, ", "),
                                  "."));
    }
    if (value.is_null()) continue;
    if (!value.is_string()) {
      return Invalid(absl::StrCat("Argument \"", key, "\" must be a string."));
    }
    const std::string& text = value.get_ref<const std::string&>();
    if (text.size() > kMaxPathBytes) {
      return Invalid(absl::StrCat("Argument \"", key, "\" is too long."));
    }
    (*out)[key] = text;
  }
  for (const char* key : required) {
    if ((*out)[key].empty()) {
      return Invalid(
          absl::StrCat("Missing required argument \"", key, "\"",
                       std::string(key) == "capability"
                           ? "; call list_capabilities to see the names."
                           : "."));
    }
  }
  return absl::OkStatus();
}

const char* Word(bool value) { return value ? "yes" : "no"; }

}  // namespace

absl::StatusOr<v1::ExplainRequest> ParseExplainArguments(const Json& args) {
  std::map<std::string, std::string> values;
  absl::Status status =
      Strings(args, {"capability", "method", "path"}, {"reason"}, &values);
  if (!status.ok()) return status;
  if (values["path"][0] != '/') {
    return Invalid("Argument \"path\" must start with \"/\".");
  }
  v1::ExplainRequest request;
  request.set_capability(values["capability"]);
  request.set_method(absl::AsciiStrToUpper(values["method"]));
  request.set_path(values["path"]);
  request.set_reason(values["reason"]);
  return request;
}

absl::StatusOr<v1::TestCapabilityRequest> ParseTestArguments(const Json& args) {
  std::map<std::string, std::string> values;
  absl::Status status = Strings(args, {"capability"}, {"approval_id"}, &values);
  if (!status.ok()) return status;
  v1::TestCapabilityRequest request;
  request.set_capability(values["capability"]);
  request.set_approval_id(values["approval_id"]);
  return request;
}

OJson WhoAmIResult(const v1::WhoAmIResponse& response, bool with_structured) {
  std::string text = absl::StrCat(
      "You are agent \"", response.agent(), "\" (uid ", response.peer_uid(),
      ", identified by ", response.authenticated_by(), ").");
  OJson sessions = OJson::array();
  for (const v1::Session& session : response.sessions()) {
    OJson item;
    // The broker already cut ids to 8 characters; cut again regardless.
    item["session_id_prefix"] = session.id().substr(0, 8);
    item["capabilities"] = OJson(std::vector<std::string>(
        session.capabilities().begin(), session.capabilities().end()));
    if (session.has_expire_time()) {
      item["expire_time"] =
          Rfc3339(absl::FromUnixSeconds(session.expire_time().seconds()));
    }
    item["revoked"] = session.revoked();
    sessions.push_back(std::move(item));
  }
  absl::StrAppend(&text, "\nSessions: ", response.sessions_size(), ".");
  OJson capabilities = OJson::array();
  absl::StrAppend(&text, "\nCapabilities:");
  for (const v1::CapabilityAccess& access : response.capabilities()) {
    OJson item;
    item["name"] = access.name();
    item["usable"] = access.usable();
    item["why"] = access.why();
    if (access.usable()) {
      item["requires_reason"] = access.require_reason();
      item["approval"] = ApprovalModeName(access.approval());
      absl::StrAppend(
          &text, "\n- ", access.name(), ": usable",
          access.require_reason() ? ", needs a reason" : "",
          access.approval() != v1::APPROVAL_MODE_NONE
              ? absl::StrCat(", needs approval (",
                             ApprovalModeName(access.approval()), ")")
              : "");
    } else {
      item["code"] = ReasonName(access.code());
      item["next_step"] = access.next_step();
      absl::StrAppend(&text, "\n- ", access.name(), ": NOT usable (",
                      ReasonName(access.code()), "): ", access.why(),
                      ". Next: ", access.next_step());
    }
    capabilities.push_back(std::move(item));
  }
  OJson structured{{"agent", response.agent()},
                   {"peer_uid", response.peer_uid()},
                   {"authenticated_by", response.authenticated_by()},
                   {"sessions", std::move(sessions)},
                   {"capabilities", std::move(capabilities)}};
  return ToolResult(std::move(text), std::move(structured), false,
                    with_structured);
}

OJson ExplainResult(const v1::ExplainResponse& response,
                    const v1::ExplainRequest& request, bool with_structured) {
  bool allowed = response.decision() == v1::DECISION_ALLOW;
  std::string text = absl::StrCat(
      request.method(), " ", request.path(), " on \"", request.capability(),
      "\" would be ", allowed ? "ALLOWED" : "DENIED", ".");
  OJson trace = OJson::array();
  for (const v1::TraceStep& step : response.trace()) {
    OJson item{{"check", step.check()},
               {"passed", step.passed()},
               {"detail", step.detail()}};
    if (!step.passed()) item["code"] = ReasonName(step.code());
    trace.push_back(std::move(item));
    absl::StrAppend(&text, "\n", step.passed() ? "  ok   " : "  FAIL ",
                    step.check(), ": ", step.detail());
  }
  OJson structured{{"decision", allowed ? "allow" : "deny"},
                   {"trace", std::move(trace)}};
  if (!response.normalized_path().empty()) {
    structured["normalized_path"] = response.normalized_path();
  }
  if (!response.rule().empty()) structured["rule"] = response.rule();
  if (!allowed) {
    const v1::Denial& denial = response.denial();
    std::string next = denial.next_step().empty() ? NextStep(denial.code())
                                                  : denial.next_step();
    structured["code"] = ReasonName(denial.code());
    structured["message"] = denial.message();
    structured["next_step"] = next;
    absl::StrAppend(&text, "\nCode: ", ReasonName(denial.code()),
                    "\nWhat to do: ", next);
  }
  absl::StrAppend(&text,
                  "\nNothing was sent; explain_access executes "
                  "nothing.");
  return ToolResult(std::move(text), std::move(structured), false,
                    with_structured);
}

OJson TestResult(const v1::TestCapabilityResponse& response,
                 absl::string_view capability, bool with_structured) {
  bool denied = response.decision() != v1::DECISION_ALLOW;
  OJson structured{{"denied", denied},
                   {"reachable", response.reachable()},
                   {"auth_ok", response.auth_ok()},
                   {"request_id", response.request_id()}};
  if (!response.method().empty()) structured["method"] = response.method();
  if (!response.path().empty()) structured["path"] = response.path();
  if (response.has_approval() && !response.approval().id().empty()) {
    structured["approval_id"] = response.approval().id();
  }
  std::string text;
  if (denied) {
    const v1::Denial& denial = response.denial();
    std::string next = denial.next_step().empty() ? NextStep(denial.code())
                                                  : denial.next_step();
    structured["code"] = ReasonName(denial.code());
    structured["message"] = denial.message();
    structured["next_step"] = next;
    if (!denial.rule().empty()) structured["rule"] = denial.rule();
    text = absl::StrCat("Latchkey did not test capability \"", capability,
                        "\" (", ReasonName(denial.code()),
                        "): ", denial.message(), "\nWhat to do: ", next);
    if (structured.contains("approval_id")) {
      absl::StrAppend(&text, "\napproval_id: ", response.approval().id(),
                      " (pass it to test_capability to poll)");
    }
  } else {
    double latency_ms = static_cast<double>(response.latency_us()) / 1000.0;
    structured["status"] = response.status();
    structured["status_class"] = response.status_class();
    structured["latency_ms"] = latency_ms;
    text = absl::StrCat("Capability \"", capability, "\": ", response.method(),
                        " ", response.path(), " -> HTTP ", response.status(),
                        " (", response.status_class(), ") in ", latency_ms,
                        " ms. Reachable: ", Word(response.reachable()),
                        ". Authentication OK: ", Word(response.auth_ok()), ".");
    if (!response.auth_ok()) {
      absl::StrAppend(&text,
                      " The upstream refused the credential: tell the user "
                      "the operator should check or rotate the secret.");
    }
    absl::StrAppend(&text, " (The response body is not shown.)");
  }
  absl::StrAppend(&text, "\nrequest_id: ", response.request_id());
  return ToolResult(std::move(text), std::move(structured),
                    denied || !response.auth_ok(), with_structured);
}

}  // namespace latchkey::mcp
