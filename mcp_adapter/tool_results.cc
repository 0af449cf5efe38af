#include "mcp_adapter/tool_results.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "mcp_adapter/body_decoder.h"
#include "mcp_adapter/broker_refusal.h"

namespace latchkey::mcp {
namespace {

const char* EffectName(v1::Rule::Effect effect) {
  switch (effect) {
    case v1::Rule::ALLOW:
      return "ALLOW";
    case v1::Rule::DENY:
      return "DENY";
    default:
      return "UNSPECIFIED";
  }
}

bool HasTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() != 0 || ts.nanos() != 0;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string RuleText(const v1::Rule& rule) {
  return absl::StrCat(EffectName(rule.effect()), " ",
                      absl::StrJoin(rule.methods(), ","), " ", rule.path());
}

// Headers as an object with lower-case names; repeated headers are joined
// with ", " as HTTP allows.
OJson HeadersObject(const v1::HttpResponse& response) {
  OJson headers = OJson::object();
  for (const v1::Header& header : response.headers()) {
    std::string name = absl::AsciiStrToLower(header.name());
    auto it = headers.find(name);
    if (it == headers.end()) {
      headers[name] = header.value();
    } else {
      *it = absl::StrCat(it->get<std::string>(), ", ", header.value());
    }
  }
  return headers;
}

OJson AllowedResult(const v1::ExecuteResponse& response,
                    absl::string_view capability, bool with_structured) {
  const v1::HttpResponse& http = response.response();
  DecodedBody body = DecodeBody(http);
  std::string content_type = HeaderValue(http, "content-type");
  std::string summary = absl::StrCat(
      "HTTP ", http.status(), " from capability \"", capability, "\"",
      content_type.empty() ? "" : absl::StrCat(" (", content_type, ")"),
      ", request_id ", response.request_id(), ".");
  if (http.body_truncated()) {
    absl::StrAppend(&summary,
                    " The body was truncated at the size limit; request "
                    "less data (filters, pagination) to see all of it.");
  }
  std::string text = summary;
  if (!body.text.empty()) absl::StrAppend(&text, "\n\n", body.text);

  OJson structured;
  structured["denied"] = false;
  structured["status"] = http.status();
  structured["headers"] = HeadersObject(http);
  structured["body"] = std::move(body.value);
  structured["body_encoding"] = body.encoding;
  structured["body_truncated"] = http.body_truncated();
  structured["request_id"] = response.request_id();
  if (!response.rule().empty()) structured["rule"] = response.rule();
  return ToolResult(std::move(text), std::move(structured), false,
                    with_structured);
}

// ApprovalStateName is the state as a model-facing token: the proto name
// in lower case ("pending", "timed_out", ...), "unknown" when unset.
std::string ApprovalStateName(v1::Approval::State state) {
  if (state == v1::Approval::STATE_UNSPECIFIED ||
      !v1::Approval::State_IsValid(state)) {
    return "unknown";
  }
  return absl::AsciiStrToLower(v1::Approval::State_Name(state));
}

OJson DeniedResult(const v1::ExecuteResponse& response,
                   absl::string_view capability, bool with_structured) {
  const v1::Denial& denial = response.denial();
  std::string code = ReasonName(denial.code());
  std::string next_step =
      denial.next_step().empty() ? NextStep(denial.code()) : denial.next_step();
  std::string text =
      absl::StrCat("Latchkey denied this request to capability \"", capability,
                   "\" (", code, "): ", denial.message());
  absl::StrAppend(&text, "\nWhat to do: ", next_step);
  if (!denial.rule().empty()) {
    absl::StrAppend(&text, "\nDeciding rule: ", denial.rule());
  }
  double retry_after = 0;
  if (denial.has_retry_after()) {
    retry_after = static_cast<double>(denial.retry_after().seconds()) +
                  denial.retry_after().nanos() / 1e9;
    absl::StrAppend(&text, "\nRetry after: ", retry_after, " s");
  }
  const v1::Approval& approval = response.approval();
  bool has_approval = response.has_approval() && !approval.id().empty();
  if (has_approval) {
    absl::StrAppend(&text, "\napproval_id: ", approval.id(), " (",
                    ApprovalStateName(approval.state()), ")");
    if (approval.state() == v1::Approval::PENDING) {
      absl::StrAppend(
          &text, ", times out ", Rfc3339(FromTimestamp(approval.expire_time())),
          ". To poll, call execute again with the same arguments plus "
          "\"approval_id\": \"",
          approval.id(), "\".");
    }
  }
  absl::StrAppend(&text, "\nrequest_id: ", response.request_id(),
                  denial.code() == v1::REASON_APPROVAL_PENDING
                      ? "\nDo not try to obtain or use the credential another "
                        "way while the request waits."
                      : "\nDo not retry the same request unchanged, and do "
                        "not try to obtain or use the credential another way.");

  OJson structured;
  structured["denied"] = true;
  structured["code"] = code;
  structured["message"] = denial.message();
  structured["next_step"] = next_step;
  structured["rule"] = denial.rule();
  structured["request_id"] = response.request_id();
  if (denial.has_retry_after()) structured["retry_after_seconds"] = retry_after;
  if (has_approval) {
    structured["approval_id"] = approval.id();
    structured["approval_state"] = ApprovalStateName(approval.state());
    if (HasTimestamp(approval.expire_time())) {
      structured["approval_expire_time"] =
          Rfc3339(FromTimestamp(approval.expire_time()));
    }
  }
  return ToolResult(std::move(text), std::move(structured), true,
                    with_structured);
}

}  // namespace

const char* ApprovalModeName(v1::ApprovalMode mode) {
  switch (mode) {
    case v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION:
      return "first_request_of_session";
    case v1::APPROVAL_MODE_EVERY_REQUEST:
      return "every_request";
    default:
      return "none";
  }
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

OJson ToolResult(std::string text, std::optional<OJson> structured,
                 bool is_error, bool with_structured) {
  OJson result;
  result["content"] =
      OJson::array({OJson{{"type", "text"}, {"text", std::move(text)}}});
  if (with_structured && structured.has_value()) {
    result["structuredContent"] = std::move(*structured);
  }
  if (is_error) result["isError"] = true;
  return result;
}

OJson CapabilitiesResult(const v1::ListCapabilitiesResponse& response,
                         bool with_structured) {
  OJson capabilities = OJson::array();
  for (const v1::CapabilityInfo& info : response.capabilities()) {
    OJson rules = OJson::array();
    for (const v1::Rule& rule : info.rules()) {
      rules.push_back(
          OJson{{"effect", EffectName(rule.effect())},
                {"methods", OJson(std::vector<std::string>(
                                rule.methods().begin(), rule.methods().end()))},
                {"path", rule.path()}});
    }
    OJson capability;
    capability["name"] = info.name();
    capability["description"] = info.description();
    capability["origin"] = info.origin();
    capability["rules"] = std::move(rules);
    if (HasTimestamp(info.session_expire_time())) {
      capability["session_expire_time"] =
          Rfc3339(FromTimestamp(info.session_expire_time()));
    }
    capability["requires_reason"] = info.require_reason();
    if (info.max_reason_bytes() > 0) {
      capability["max_reason_bytes"] = info.max_reason_bytes();
    }
    capability["approval"] = ApprovalModeName(info.approval());
    if (!info.health_request().path().empty()) {
      capability["health_check"] =
          absl::StrCat(info.health_request().method().empty()
                           ? "GET"
                           : info.health_request().method(),
                       " ", info.health_request().path());
    }
    capabilities.push_back(std::move(capability));
  }
  OJson structured{{"capabilities", std::move(capabilities)}};
  std::string text;
  if (response.capabilities().empty()) {
    text =
        "No capabilities are available to this agent. Tell the user that an "
        "operator must grant this agent a capability in Latchkey.";
  } else {
    text =
        absl::StrCat(response.capabilities_size(), " capabilities available:");
    for (const v1::CapabilityInfo& info : response.capabilities()) {
      absl::StrAppend(&text, "\n- ", info.name(), " (", info.origin(),
                      "): ", info.description());
      for (const v1::Rule& rule : info.rules()) {
        absl::StrAppend(&text, "\n    ", RuleText(rule));
      }
      if (HasTimestamp(info.session_expire_time())) {
        absl::StrAppend(&text, "\n    session expires ",
                        Rfc3339(FromTimestamp(info.session_expire_time())));
      }
      if (info.require_reason()) {
        absl::StrAppend(&text, "\n    requires a reason on every request");
      }
      if (info.approval() != v1::APPROVAL_MODE_NONE) {
        absl::StrAppend(&text, "\n    requires a human's approval: ",
                        ApprovalModeName(info.approval()));
      }
    }
    absl::StrAppend(&text,
                    "\nRules: * matches one path segment, ** any number; a "
                    "matching DENY wins over any ALLOW.");
  }
  return ToolResult(std::move(text), std::move(structured), false,
                    with_structured);
}

OJson ExecuteResult(const v1::ExecuteResponse& response,
                    absl::string_view capability, bool with_structured) {
  if (response.decision() == v1::DECISION_ALLOW) {
    return AllowedResult(response, capability, with_structured);
  }
  if (response.decision() == v1::DECISION_DENY) {
    return DeniedResult(response, capability, with_structured);
  }
  return ToolResult(
      absl::StrCat("The broker returned no decision for this request "
                   "(request_id ",
                   response.request_id(),
                   "). Tell the user; an operator should check the broker."),
      std::nullopt, true, with_structured);
}

OJson SessionResult(const SessionInfo& session, absl::Time now,
                    bool with_structured) {
  OJson structured;
  std::string prefix = session.id.substr(0, 8);
  structured["session_id_prefix"] = prefix;
  if (!session.agent.empty()) structured["agent"] = session.agent;
  std::string text = absl::StrCat("Session ", prefix, "...");
  if (session.expire_time != absl::InfiniteFuture()) {
    int64_t left = absl::ToInt64Seconds(session.expire_time - now);
    if (left < 0) left = 0;
    structured["expire_time"] = Rfc3339(session.expire_time);
    structured["expires_in_seconds"] = left;
    absl::StrAppend(&text, " expires ", Rfc3339(session.expire_time), " (in ",
                    left, " s)");
  }
  structured["capabilities"] = OJson(session.capabilities);
  structured["revoked"] = session.revoked;
  absl::StrAppend(&text, "; covers: ",
                  session.capabilities.empty()
                      ? std::string("(none)")
                      : absl::StrJoin(session.capabilities, ", "),
                  ".");
  if (session.revoked) {
    absl::StrAppend(&text,
                    " This session was REVOKED by an operator; Latchkey will "
                    "not open a new one. Stop and tell the user.");
  }
  return ToolResult(std::move(text), std::move(structured), session.revoked,
                    with_structured);
}

OJson InvalidArgumentsResult(absl::string_view tool,
                             absl::string_view message) {
  return ToolResult(absl::StrCat("Invalid arguments for ", tool, ": ", message),
                    std::nullopt, true, false);
}

OJson BrokerErrorResult(const absl::Status& status,
                        absl::string_view broker_socket) {
  if (std::optional<RefusalAdvice> advice =
          AdviceForRefusal(status, broker_socket)) {
    std::string next_step = advice->next_step;
    next_step[0] = absl::ascii_toupper(next_step[0]);
    return ToolResult(
        absl::StrCat("Latchkey broker refused this agent (", advice->tag,
                     "): ", advice->what, ". Broker said: ",
                     absl::StripSuffix(status.message(), "."), ". ", next_step,
                     "."),
        std::nullopt, true, false);
  }
  std::string text;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      text = absl::StrCat("Latchkey broker is not reachable at ", broker_socket,
                          "; ask the operator to start it.");
      break;
    case absl::StatusCode::kUnauthenticated:
      text =
          "Latchkey broker: the agent token was refused (revoked or wrong); "
          "ask the operator for a valid agent token. Retrying will not help.";
      break;
    case absl::StatusCode::kPermissionDenied:
      // An untagged refusal (an older broker): say what it said rather
      // than guess which refusal it was.
      text = absl::StrCat("Latchkey broker at ", broker_socket,
                          " refused this agent: ", status.message(),
                          ". Tell the user; retrying will not help.");
      break;
    case absl::StatusCode::kDeadlineExceeded:
      text =
          "Latchkey broker did not answer in time. The request may or may "
          "not have reached the upstream API: check its effect before "
          "retrying anything that changes data.";
      break;
    case absl::StatusCode::kInvalidArgument:
      text = absl::StrCat("Latchkey broker rejected the request: ",
                          status.message(), " Fix the arguments and retry.");
      break;
    case absl::StatusCode::kResourceExhausted:
      text = absl::StrCat("Latchkey broker is overloaded or rate limited: ",
                          status.message(), " Wait before retrying.");
      break;
    default:
      text = absl::StrCat(
          "Latchkey broker error (", absl::StatusCodeToString(status.code()),
          "): ", status.message(), " Tell the user if it persists.");
      break;
  }
  return ToolResult(std::move(text), std::nullopt, true, false);
}

}  // namespace latchkey::mcp
