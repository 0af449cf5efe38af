// CheckGates validates a capability's reason gate, approval gate and health
// request (Capability fields 11-15), so that a bad value is refused when the
// configuration is applied, naming the field, rather than met by an agent.
#ifndef LATCHKEY_BROKER_GATE_CONFIG_H_
#define LATCHKEY_BROKER_GATE_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

// CheckGates returns INVALID_ARGUMENT "<where>.<field>: ..." for:
// max_reason_bytes above kMaxReasonBytes; an unknown approval mode; an
// approval_timeout that is negative or above kMaxApprovalTimeoutSeconds;
// a health_request whose path does not start with "/" (or is too long) or
// whose method is not an upper-case HTTP token.
absl::Status CheckGates(const v1::Capability& capability,
                        const std::string& where);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_GATE_CONFIG_H_
