#include "mcp_adapter/broker_refusal.h"

#include "absl/strings/str_cat.h"
#include "common/refusal.h"

namespace latchkey::mcp {

std::optional<RefusalAdvice> AdviceForRefusal(const absl::Status& status,
                                              absl::string_view broker_socket) {
  Refusal why = RefusalOf(status);
  RefusalAdvice advice;
  advice.tag = std::string(RefusalTag(why));
  switch (why) {
    case Refusal::kNone:
      return std::nullopt;
    case Refusal::kRevoked:
      advice.what = "access was revoked by an operator";
      advice.next_step =
          "stop and tell the user; retrying will not help until an operator "
          "lifts the revocation";
      advice.http_status = 403;
      break;
    case Refusal::kPeerNotAllowed:
      advice.what = absl::StrCat("this user may not connect to the broker at ",
                                 broker_socket);
      advice.next_step =
          "ask the operator to add this process's user to the broker's "
          "--agent_uids";
      break;
    case Refusal::kPeerUnverified:
      advice.what = absl::StrCat(
          "the broker at ", broker_socket,
          " could not verify this process's connection credentials");
      advice.next_step = "retry once; tell the operator if it persists";
      advice.http_status = 503;
      break;
    case Refusal::kAgentUnknown:
      advice.what = "the agent token was refused (missing, revoked or wrong)";
      advice.next_step =
          "ask the operator for a valid agent token; retrying will not help";
      break;
    case Refusal::kAgentNotAllowed:
      advice.what = "this agent may not use the capabilities it asked for";
      advice.next_step =
          "ask the operator to grant this agent the capability; retrying "
          "will not help";
      advice.http_status = 403;
      break;
  }
  return advice;
}

}  // namespace latchkey::mcp
