// The keyless gateway's translation between plain HTTP and the broker's
// Execute RPC, kept free of any HTTP server so it can be tested on its own:
//
//   /<capability>/<path...>?query  ->  v1::ExecuteRequest
//   v1::ExecuteResponse (or a broker failure)  ->  status, headers, body
//
// The client's own credentials never reach the broker: Authorization,
// Proxy-*, Cookie, hop-by-hop headers and AWS signature headers are dropped
// here (the vault adds, or re-signs with, the real credential). So is
// Accept-Encoding, so that upstream answers stay uncompressed and the
// vault can scrub the secret out of them.
#ifndef LATCHKEY_MCP_ADAPTER_GATEWAY_REQUEST_H_
#define LATCHKEY_MCP_ADAPTER_GATEWAY_REQUEST_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/broker.pb.h"

namespace latchkey::mcp {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The header a client may use to state its reason (capabilities that
// require one refuse requests without it).
inline constexpr char kGatewayReasonHeader[] = "X-Latchkey-Reason";

// IsDroppedGatewayHeader is true for the request headers the gateway
// never forwards (matched case-insensitively).
bool IsDroppedGatewayHeader(absl::string_view name);

// BuildGatewayRequest turns one HTTP request into an Execute request
// (without session id). `target` is the raw request target
// ("/cap/a/b?x=1"); the path is kept percent-encoded as sent (the broker
// normalizes it and refuses ambiguous forms), the query is split in order
// and percent-decoded ('+' is a space). INVALID_ARGUMENT (answered 400)
// or NOT_FOUND (no capability segment, answered 404), with a message that
// says what to send instead.
absl::StatusOr<v1::ExecuteRequest> BuildGatewayRequest(
    absl::string_view method, absl::string_view target,
    const HeaderList &headers, std::string body);

struct GatewayReply {
  int status = 500;
  HeaderList headers;  // Without Content-Type and Content-Length.
  std::string content_type;
  std::string body;
};

// ReplyForExecute maps the broker's answer: an allowed request gets the
// upstream's status, headers (minus hop-by-hop ones) and body; a denial
// gets 403/404/400/429/502/503/504 with a small JSON body naming the
// reason code and the next step. A body cut at the capability's size
// limit is a 502, never a silently short 200.
GatewayReply ReplyForExecute(const v1::ExecuteResponse &response);

// ReplyForBrokerFailure maps a failed broker call (the broker could not be
// asked, or refused this adapter).
GatewayReply ReplyForBrokerFailure(const absl::Status &status,
                                   absl::string_view broker_socket);

// ReplyForBadRequest maps a BuildGatewayRequest error (400 or 404).
GatewayReply ReplyForBadRequest(const absl::Status &status);

// HttpStatusForReason is the status a denial with `code` is answered with.
int HttpStatusForReason(v1::ReasonCode code, absl::string_view message);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_GATEWAY_REQUEST_H_
