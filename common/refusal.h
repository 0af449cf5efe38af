// Refusal says, machine-readably, why a daemon refused a *caller* (as
// opposed to a request, whose denial is a ReasonCode in the reply). Two
// refusals can share a gRPC code (PERMISSION_DENIED is both "your uid may
// not connect" and "access was revoked"), so clients map the refusal, not
// the code, to what they tell the agent.
//
// On the wire it is a google.rpc.ErrorInfo {reason: "<TAG>", domain:
// "latchkey"} in the status details (see common/grpc_status.h); the
// human-readable message is unchanged.
#ifndef LATCHKEY_COMMON_REFUSAL_H_
#define LATCHKEY_COMMON_REFUSAL_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace latchkey {

enum class Refusal {
  kNone,             // No refusal tag (or one this build does not know).
  kPeerNotAllowed,   // The peer's uid may not call this method.
  kPeerUnverified,   // The connection's credentials are unknown or stale.
  kAgentUnknown,     // No agent token, or one not valid (from this uid).
  kAgentNotAllowed,  // The agent may not use (any of) the capabilities.
  kRevoked,          // An operator revoked the agent, capability or all.
};

// RefusalTag is the stable tag, e.g. "REVOKED"; "" for kNone.
absl::string_view RefusalTag(Refusal why);

// Refuse returns a status with `code`, `message` and the refusal tag.
absl::Status Refuse(absl::StatusCode code, Refusal why,
                    absl::string_view message);
// WithRefusal tags an existing (non-OK) status.
absl::Status WithRefusal(absl::Status status, Refusal why);

// RefusalOf reads the tag back; kNone when there is none.
Refusal RefusalOf(const absl::Status& status);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_REFUSAL_H_
