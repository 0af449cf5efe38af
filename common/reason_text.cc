#include "common/reason_text.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace latchkey {

std::string ReasonName(v1::ReasonCode code) {
  std::string name = v1::ReasonCode_Name(code);
  if (name.empty()) return absl::StrCat("UNKNOWN_", static_cast<int>(code));
  if (absl::StartsWith(name, "REASON_")) name = name.substr(7);
  return name;
}

std::string NextStep(v1::ReasonCode code) {
  switch (code) {
    case v1::REASON_CAPABILITY_NOT_FOUND:
      return "Call list_capabilities and use one of the names it returns.";
    case v1::REASON_AGENT_NOT_ALLOWED:
      return "This agent may not use that capability; ask the operator to "
             "grant it, or use another capability.";
    case v1::REASON_RULE_DENY:
    case v1::REASON_NO_RULE_MATCHED:
      return "Check the capability's allowed methods and paths with "
             "list_capabilities and send a request that fits them; do not "
             "retry the same request.";
    case v1::REASON_PATH_REJECTED:
      return "Send a plain absolute path without '..', encoded slashes, "
             "backslashes or control characters.";
    case v1::REASON_SESSION_NOT_FOUND:
    case v1::REASON_SESSION_EXPIRED:
      return "Open a new session and retry.";
    case v1::REASON_SESSION_REVOKED:
      return "An operator revoked access; stop and ask the user before "
             "retrying.";
    case v1::REASON_RATE_LIMITED:
      return "Wait for the retry time and try again.";
    case v1::REASON_VAULT_SEALED:
      return "Tell the user the Latchkey vault is sealed and an operator "
             "must unseal it; retrying will not help until then.";
    case v1::REASON_VAULT_UNAVAILABLE:
    case v1::REASON_AUDIT_UNAVAILABLE:
      return "Latchkey cannot serve requests right now; tell the user and "
             "retry later.";
    case v1::REASON_UPSTREAM_ERROR:
      return "The upstream API failed or timed out; retry later or with a "
             "smaller request.";
    case v1::REASON_UPSTREAM_TIMEOUT:
      return "The upstream API did not answer in time; retry later, or ask "
             "for less (a smaller page or range).";
    case v1::REASON_ADDRESS_REFUSED:
      return "Latchkey will not send credentials to loopback, private or "
             "link-local addresses; do not retry. If this upstream really is "
             "internal, the operator must mark its origin internal.";
    case v1::REASON_REDIRECT_REFUSED:
      return "The upstream redirected somewhere the credential may not go; "
             "do not retry the same request. Ask the operator if the "
             "capability needs to follow that redirect.";
    case v1::REASON_INVALID_REQUEST:
      return "Fix the request as the message says and retry.";
    case v1::REASON_UNAUTHENTICATED:
      return "The agent's Latchkey token is missing or was revoked; ask the "
             "operator for a valid token.";
    case v1::REASON_ORIGIN_REFUSED:
    case v1::REASON_SECRET_UNAVAILABLE:
      return "The capability is misconfigured; tell the user to ask the "
             "operator to fix it.";
    case v1::REASON_REASON_REQUIRED:
      return "Retry with a short \"reason\" saying why you make the "
             "request.";
    case v1::REASON_APPROVAL_PENDING:
      return "A human must approve this request: tell the user it waits "
             "for 'latchkeyctl approval approve <approval_id>', then call "
             "execute again with the same request and the approval_id to "
             "poll (every few seconds at most) until it is decided.";
    case v1::REASON_APPROVAL_DENIED:
      return "An operator denied this request; do not retry it. Tell the "
             "user and ask what to do instead.";
    case v1::REASON_APPROVAL_TIMED_OUT:
      return "Nobody approved the request in time; ask the user whether to "
             "ask again (call execute without the approval_id).";
    case v1::REASON_APPROVAL_NOT_FOUND:
      return "That approval_id does not match this request; call execute "
             "again with the exact request it was issued for, or without an "
             "approval_id to ask for a new approval.";
    case v1::REASON_APPROVAL_QUEUE_FULL:
      return "Too many of your requests already wait for approval; wait "
             "until an operator decides them before asking again.";
    default:
      return "Tell the user; an operator has to look at Latchkey.";
  }
}

}  // namespace latchkey
