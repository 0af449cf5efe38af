#include "mcp_adapter/gateway_server.h"

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/reason_text.h"
#include "common/status_macros.h"
#include "mcp_adapter/gateway_auth.h"
#include "mcp_adapter/gateway_request.h"
#include "mcp_adapter/http_mode.h"
#include "mcp_adapter/token_source.h"

namespace latchkey::mcp {
namespace {

void Send(const GatewayReply& reply, httplib::Response& response) {
  response.status = reply.status;
  for (const auto& [name, value] : reply.headers) {
    response.set_header(name.c_str(), value);
  }
  response.set_content(reply.body, reply.content_type.c_str());
}

void Refuse(httplib::Response& response, int status, const char* error,
            const char* message) {
  GatewayReply reply;
  reply.status = status;
  reply.content_type = "application/json";
  reply.body = absl::StrCat("{\"error\":\"", error, "\",\"message\":\"",
                            message, "\"}\n");
  Send(reply, response);
}

}  // namespace

absl::StatusOr<std::string> LoadGatewayToken(const std::string& token_file) {
  return LoadClientToken(
      {kGatewayTokenEnvVar, token_file, "gateway token",
       "--gateway needs a token for its clients: set LATCHKEY_GATEWAY_TOKEN "
       "or pass --gateway_token_file=<file readable only by you>, e.g. "
       "`head -c 32 /dev/urandom | base64 | tr -d '/+=' > "
       "~/.config/latchkey/gateway.token && chmod 600 "
       "~/.config/latchkey/gateway.token`",
       kMinHttpTokenBytes});
}

GatewayServer::GatewayServer(BrokerClient* broker, GatewayOptions options)
    : options_(std::move(options)),
      sessions_(broker),
      http_(std::make_unique<httplib::Server>()) {
  const size_t threads = options_.threads;
  http_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  // Bodies are forwarded whole (one gRPC message to the broker and the
  // vault), so the largest one accepted is the broker's own limit.
  http_->set_payload_max_length(kMaxRequestBodyBytes);
  http_->set_read_timeout(std::chrono::seconds(60));
  http_->set_write_timeout(std::chrono::seconds(60));
  http_->set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return Admit(request, response)
                   ? httplib::Server::HandlerResponse::Unhandled
                   : httplib::Server::HandlerResponse::Handled;
      });
  auto handler = [this](const httplib::Request& request,
                        httplib::Response& response) {
    Handle(request, response);
  };
  // HEAD is served by the GET handler (cpp-httplib drops the body).
  http_->Get(".*", handler);
  http_->Post(".*", handler);
  http_->Put(".*", handler);
  http_->Patch(".*", handler);
  http_->Delete(".*", handler);
  http_->Options(".*", handler);
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&,
         httplib::Response& response) -> httplib::Server::HandlerResponse {
        if (!response.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        if (response.status == 413) {
          std::string message = absl::StrCat(
              "the request body is larger than ", kMaxRequestBodyBytes,
              " bytes, the most the gateway forwards");
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
  const std::string& host = options_.address.host;
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

bool GatewayServer::Admit(const httplib::Request& request,
                          httplib::Response& response) {
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

void GatewayServer::Handle(const httplib::Request& request,
                           httplib::Response& response) {
  HeaderList headers(request.headers.begin(), request.headers.end());
  absl::StatusOr<v1::ExecuteRequest> execute = BuildGatewayRequest(
      request.method, request.target, headers, request.body);
  if (!execute.ok()) {
    Send(ReplyForBadRequest(execute.status()), response);
    return;
  }
  const std::string capability = execute->capability();
  const std::string method = execute->request().method();
  absl::StatusOr<v1::ExecuteResponse> result =
      sessions_.Execute(*std::move(execute), nullptr);
  if (!result.ok()) {
    LogWarning("gateway_broker_failed",
               {{"capability", capability},
                {"code", absl::StatusCodeToString(result.status().code())},
                {"message", std::string(result.status().message())}});
    Send(ReplyForBrokerFailure(result.status(), options_.broker_socket),
         response);
    return;
  }
  GatewayReply reply = ReplyForExecute(*result);
  // Path, query, headers and bodies stay out of the log (personal data);
  // the request id finds the full record in the audit log.
  LogInfo("gateway_request",
          {{"capability", capability},
           {"method", method},
           {"decision", v1::Decision_Name(result->decision())},
           {"code", result->decision() == v1::DECISION_DENY
                        ? ReasonName(result->denial().code())
                        : std::string()},
           {"status", std::to_string(reply.status)},
           {"request_id", result->request_id()}});
  Send(reply, response);
}

}  // namespace latchkey::mcp
