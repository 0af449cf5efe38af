// The gateway's streaming exchange: one HTTP request, of any body size the
// capability allows, through Broker.ExecuteStream, and the answer back as
// it arrives (chunked). See proto/broker.proto for the message order.
//
// Memory per request stays at about two chunks whatever the body size:
// the request body is read from the client only as fast as the broker
// takes it, and the answer is written to the client as each chunk comes.
// An answer that fails or is cut at the capability's limit after its
// status line was sent ends with a broken chunked encoding (the
// connection is closed without the final chunk), so that curl and git
// report an error instead of using a short body.
#ifndef LATCHKEY_MCP_ADAPTER_GATEWAY_STREAM_H_
#define LATCHKEY_MCP_ADAPTER_GATEWAY_STREAM_H_

#include <string>

#include "mcp_adapter/broker_client.h"
#include "mcp_adapter/gateway_request.h"
#include "mcp_adapter/session_keeper.h"

namespace httplib {
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace latchkey::mcp {

// SendGatewayReply writes a whole (small) reply.
void SendGatewayReply(const GatewayReply &reply, httplib::Response &response);

// ServeGatewayRequest answers `request`. `body_reader` reads the request
// body from the client (null when cpp-httplib already read it into
// request.body, as it does for GET).
void ServeGatewayRequest(BrokerClient *broker, SessionKeeper *sessions,
                         const std::string &broker_socket,
                         const httplib::Request &request,
                         const httplib::ContentReader *body_reader,
                         httplib::Response &response);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_GATEWAY_STREAM_H_
