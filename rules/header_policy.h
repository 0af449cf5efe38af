// The header policy (ClassifyRequestHeader, CheckAgentHeaders,
// IsDroppedResponseHeader; there is no HeaderPolicy class) decides which
// request headers an agent may set and which response headers are dropped.
// Headers are judged by family, not by a short list of names: a family is a job
// a header does (carry a credential, steer routing, override the method, ...)
// and every spelling of that job is refused together. The adapter and the
// gateway use it for early errors, the broker for its decision and the
// vault again before it injects a credential, so none relies on another.
#ifndef LATCHKEY_RULES_HEADER_POLICY_H_
#define LATCHKEY_RULES_HEADER_POLICY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "proto/common.pb.h"

namespace latchkey {

// HeaderFamily is what a request header does, as far as Latchkey cares.
enum class HeaderFamily {
  kOrdinary,        // Accept, Content-Type, X-GitHub-Api-Version, ...
  kCredential,      // Authorization, Cookie, AWS signature headers
  kConnection,      // hop-by-hop: Connection, TE, Transfer-Encoding, Proxy-*
  kRouting,         // Host and its aliases: where the request goes
  kForwarding,      // Forwarded, X-Forwarded-*, X-Real-IP, Via, ...
  kMethodOverride,  // X-HTTP-Method-Override and friends
  kUrlRewrite,      // X-Original-URL, X-Rewrite-URL, ...
  kContentCoding,   // Accept-Encoding: the vault alone chooses the coding
  kRange,           // Range, If-Range: partial answers dodge the scrubber
  kLatchkey,        // X-Latchkey-*: the gateway's own controls
};

// ClassifyRequestHeader names the family of a header name. Case does not
// matter, and '_' is read as '-' (CGI-style servers such as PHP, Rack and
// Django's WSGI map both to the same variable).
HeaderFamily ClassifyRequestHeader(absl::string_view name);

// CheckAgentHeaders refuses (INVALID_ARGUMENT, naming the header and why)
// any header of a family an agent may not set: every family except
// kOrdinary, and kRange unless the request is streamed and `rules` has
// allow_ranges. It also refuses names that are not RFC 9110 tokens, values
// with control bytes (anything below 0x20 but TAB, and DEL) or with a space
// or TAB at either end (HTTP strips them: not what was judged), a name sent
// twice (counting '_' as '-'), anything over the limits in common/limits.h,
// and, when rules.allowed_request_headers is not empty, any name not in it.
absl::Status CheckAgentHeaders(
    const google::protobuf::RepeatedPtrField<v1::Header>& headers,
    const v1::RequestRules& rules, bool streamed);

// CheckAgentHeaders with no capability-specific rules (not streamed, no
// ranges, no allow-list).
absl::Status CheckAgentHeaders(
    const google::protobuf::RepeatedPtrField<v1::Header>& headers);

// IsDroppedResponseHeader is true for response headers that are dropped
// before a response leaves the vault (Set-Cookie and friends) or that only
// make sense hop by hop.
bool IsDroppedResponseHeader(absl::string_view name);

}  // namespace latchkey

#endif  // LATCHKEY_RULES_HEADER_POLICY_H_
