// HeaderPolicy decides which request headers an agent may set. The broker
// uses it to deny early with a reason; the vault uses it again before it
// injects a credential, so neither relies on the other.
#ifndef LATCHKEY_COMMON_HEADER_POLICY_H_
#define LATCHKEY_COMMON_HEADER_POLICY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "proto/common.pb.h"

namespace latchkey {

// CheckAgentHeaders refuses (INVALID_ARGUMENT, naming the header) any header
// that carries or steers credentials or routing (Authorization, Cookie,
// Host, Proxy-*, hop-by-hop, Content-Length), any name that is not an
// RFC 9110 token, any value with CR, LF or NUL, and anything over the limits
// in common/limits.h.
absl::Status CheckAgentHeaders(
    const google::protobuf::RepeatedPtrField<v1::Header>& headers);

// IsCredentialResponseHeader is true for response headers that are dropped
// before a response leaves the vault (Set-Cookie and friends) or that only
// make sense hop by hop.
bool IsDroppedResponseHeader(absl::string_view name);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_HEADER_POLICY_H_
