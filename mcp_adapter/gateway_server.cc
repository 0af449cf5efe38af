#include "mcp_adapter/gateway_server.h"

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/reason_text.h"
#include "common/status_macros.h"
#include "mcp_adapter/gateway_auth.h"
#include "mcp_adapter/gateway_request.h"
#include "mcp_adapter/gateway_stream.h"
#include "mcp_adapter/http_mode.h"
#include "mcp_adapter/token_source.h"

namespace latchkey::mcp {
namespace {

void Refuse(httplib::Response &response, int status, const char *error,
            const char *message) {
  GatewayReply reply;
  reply.status = status;
  reply.content_type = "application/json";
  reply.body = absl::StrCat("{\"error\":\"", error, "\",\"message\":\"",
                            message, "\"}\n");
  SendGatewayReply(reply, response);
}

}  // namespace

absl::StatusOr<std::string> LoadGatewayToken(const std::string &token_file) {
  return LoadClientToken(
      {kGatewayTokenEnvVar, token_file, "gateway token",
       "--gateway needs a token for its clients: set LATCHKEY_GATEWAY_TOKEN "
       "or pass --gateway_token_file=<file readable only by you>, e.g. "
       "`head -c 32 /dev/urandom | base64 | tr -d '/+=' > "
       "~/.config/latchkey/gateway.token && chmod 600 "
       "~/.config/latchkey/gateway.token`",
       kMinHttpTokenBytes});
}

GatewayServer::GatewayServer(BrokerClient *broker, GatewayOptions options)
    : options_(std::move(options)),
      broker_(broker),
      sessions_(broker),
      http_(std::make_unique<httplib::Server>()) {
  const size_t threads = options_.threads;
  http_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  // Bodies are streamed (gateway_stream.h); each capability's own
  // max_request_bytes is enforced by the broker, up to this hard cap.
  http_->set_payload_max_length(kMaxStreamedBodyBytes);
  http_->set_read_timeout(std::chrono::seconds(60));
  http_->set_write_timeout(std::chrono::seconds(60));
  http_->set_pre_routing_handler(
      [this](const httplib::Request &request, httplib::Response &response) {
        return Admit(request, response)
                   ? httplib::Server::HandlerResponse::Unhandled
                   : httplib::Server::HandlerResponse::Handled;
      });
  // Requests without a body to stream (and GET/HEAD/OPTIONS, whose small
  // bodies cpp-httplib reads itself; Admit refuses large ones).
  auto handler = [this](const httplib::Request &request,
                        httplib::Response &response) {
    ServeGatewayRequest(broker_, &sessions_, options_.broker_socket, request,
                        nullptr, response);
  };
  // Requests with a body, read as it is streamed to the broker.
  auto streaming = [this](const httplib::Request &request,
                          httplib::Response &response,
                          const httplib::ContentReader &body) {
    ServeGatewayRequest(broker_, &sessions_, options_.broker_socket, request,
                        &body, response);
  };
  // HEAD is served by the GET handler.
  http_->Get(".*", handler);
  http_->Options(".*", handler);
  http_->Post(".*", handler);
  http_->Post(".*", streaming);
  http_->Put(".*", handler);
  http_->Put(".*", streaming);
  http_->Patch(".*", handler);
  http_->Patch(".*", streaming);
  http_->Delete(".*", handler);
  http_->Delete(".*", streaming);
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request &,
         httplib::Response &response) -> httplib::Server::HandlerResponse {
        // cpp-httplib calls this for every status >= 400, including the
        // upstream's own (streamed, so with an empty body here) and our
        // denials: those carry a request id and are left as they are.
        if (!response.body.empty() ||
            response.has_header("X-Latchkey-Request-Id")) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        if (response.status == 413) {
          std::string message = absl::StrCat(
              "the request body is larger than the gateway forwards (",
              kMaxRequestBodyBytes, " bytes for GET, HEAD and OPTIONS, ",
              kMaxStreamedBodyBytes, " bytes otherwise)");
          Refuse(response, 413, "BODY_TOO_LARGE", message.c_str());
        } else {
          Refuse(response, response.status, "BAD_REQUEST",
                 "malformed or unsupported HTTP request");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
}

GatewayServer::~GatewayServer() { Stop(); }

absl::StatusOr<int> GatewayServer::Start() {
  const std::string &host = options_.address.host;
  int port = options_.address.port;
  if (port == 0) {
    port = http_->bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!http_->bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", host, ":", options_.address.port,
        " (port in use, or address not available); pick another port"));
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return port;
}

void GatewayServer::Stop() {
  if (stopped_.exchange(true) || !thread_.joinable()) return;
  // stop() does nothing until the listen loop runs: wait for it (bounded).
  for (int i = 0; i < 1000 && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  http_->stop();
  thread_.join();
}

bool GatewayServer::Admit(const httplib::Request &request,
                          httplib::Response &response) {
  // A web page the user visits must not drive the agent's credentials
  // (DNS rebinding, cross-site requests): loopback Origin and Host only.
  if (request.has_header("Origin") &&
      !IsLoopbackOrigin(request.get_header_value("Origin"))) {
    LogWarning("gateway_refused", {{"reason", "origin"}});
    Refuse(response, 403, "FORBIDDEN_ORIGIN",
           "the Origin is not a loopback address; the gateway only serves "
           "local tools");
    return false;
  }
  if (request.has_header("Host") &&
      !IsLoopbackHost(request.get_header_value("Host"))) {
    LogWarning("gateway_refused", {{"reason", "host"}});
    Refuse(response, 403, "FORBIDDEN_HOST",
           "the Host header is not a loopback address; connect to "
           "127.0.0.1, [::1] or localhost");
    return false;
  }
  // cpp-httplib reads GET/HEAD/OPTIONS bodies into memory itself: those
  // are refused above the unary limit before a byte of them is read.
  // A Range header is the upstream's to answer (it is forwarded); the
  // ranges cpp-httplib parsed from it must not be applied a second time to
  // the upstream's 206 answer. The Request is cpp-httplib's own mutable
  // object, handed to handlers as const.
  const_cast<httplib::Request &>(request).ranges.clear();
  uint64_t declared = 0;
  if ((request.method == "GET" || request.method == "HEAD" ||
       request.method == "OPTIONS") &&
      (request.has_header("Transfer-Encoding") ||
       (absl::SimpleAtoi(request.get_header_value("Content-Length"),
                         &declared) &&
        declared > kMaxRequestBodyBytes))) {
    Refuse(response, 413, "BODY_TOO_LARGE",
           "a GET, HEAD or OPTIONS request may carry at most 8 MiB of body, "
           "sent with Content-Length");
    response.set_header("Connection", "close");
    return false;
  }
  if (!GatewayCredentialMatches(request.get_header_value("Authorization"),
                                options_.token)) {
    // No log line for the first, credential-less probe git makes.
    if (request.has_header("Authorization")) {
      LogWarning("gateway_refused", {{"reason", "token"}});
    }
    response.set_header("WWW-Authenticate", "Basic realm=\"latchkey-gateway\"");
    Refuse(response, 401, "UNAUTHORIZED",
           "send the gateway token as \\\"Authorization: Bearer <token>\\\" "
           "or as the password of HTTP Basic (LATCHKEY_GATEWAY_TOKEN or "
           "--gateway_token_file of latchkey-mcp)");
    return false;
  }
  return true;
}

}  // namespace latchkey::mcp
