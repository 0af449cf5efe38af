#include "mcp_adapter/http_transport.h"

#include <httplib.h>

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/jsonrpc.h"
#include "mcp_adapter/protocol_version.h"

namespace latchkey::mcp {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kEventStream[] = "text/event-stream";
// How long one wait for an SSE message lasts before the stream re-checks
// whether the server is stopping.
constexpr absl::Duration kStreamTick = absl::Seconds(1);

// Reply answers with a JSON-RPC error object (id null), as MCP servers do
// for transport-level refusals, so clients can show the message.
void Reply(httplib::Response& response, int status, absl::string_view message,
           int code = jsonrpc::kServerBusy) {
  response.status = status;
  response.set_content(jsonrpc::ErrorLine(Json(), code, message), kJson);
}

bool IsSupportedVersion(absl::string_view version) {
  for (absl::string_view supported : kSupportedVersions) {
    if (supported == version) return true;
  }
  return false;
}

// ProgressKey is jsonrpc::IdKey of params._meta.progressToken, or empty.
std::string ProgressKey(const Json& message) {
  auto params = message.find("params");
  if (params == message.end() || !params->is_object()) return "";
  auto meta = params->find("_meta");
  if (meta == params->end() || !meta->is_object()) return "";
  auto token = meta->find("progressToken");
  if (token == meta->end() || !jsonrpc::IsValidId(*token)) return "";
  return jsonrpc::IdKey(*token);
}

}  // namespace

HttpTransport::HttpTransport(McpServerFactory factory,
                             HttpTransportOptions options)
    : factory_(std::move(factory)),
      options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()) {
  stateless_session_ = std::make_shared<HttpSession>("stateless", factory_);
  stateless_ = std::make_unique<StatelessServer>(&stateless_session_->server());
  const size_t threads = options_.threads;
  http_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return Admit(request, response)
                   ? httplib::Server::HandlerResponse::Unhandled
                   : httplib::Server::HandlerResponse::Handled;
      });
  http_->Post(kMcpPath, [this](const httplib::Request& request,
                               httplib::Response& response) {
    HandlePost(request, response);
  });
  http_->Get(kMcpPath, [this](const httplib::Request& request,
                              httplib::Response& response) {
    HandleGet(request, response);
  });
  http_->Delete(kMcpPath, [this](const httplib::Request& request,
                                 httplib::Response& response) {
    HandleDelete(request, response);
  });
  auto not_allowed = [](const httplib::Request&, httplib::Response& response) {
    response.set_header("Allow", "GET, POST, DELETE");
    Reply(response, 405,
          "Method Not Allowed: /mcp takes POST (messages), GET (event "
          "stream) and DELETE (end session)");
  };
  http_->Put(kMcpPath, not_allowed);
  http_->Patch(kMcpPath, not_allowed);
  http_->Options(kMcpPath, not_allowed);
  // Fills in a message for the statuses cpp-httplib answers itself (404
  // for other paths, 413 for oversized bodies, 400 for bad framing).
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&,
             httplib::Response& response) -> httplib::Server::HandlerResponse {
        if (!response.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        if (response.status == 413) {
          Reply(response, 413,
                absl::StrCat("Payload Too Large: one message may be at most ",
                             options_.max_body_bytes, " bytes"),
                jsonrpc::kInvalidRequest);
        } else if (response.status == 404) {
          Reply(response, 404, "Not Found: the MCP endpoint is /mcp");
        } else {
          Reply(response, response.status,
                "Bad Request: malformed HTTP request");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
}

HttpTransport::~HttpTransport() {
  Stop();
  std::map<std::string, std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions.swap(sessions_);
  }
  for (auto& [id, session] : sessions) session->Close();
  stateless_session_->Close();
  workers_.WaitIdle();
}

absl::StatusOr<int> HttpTransport::Bind() {
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
  return port;
}

void HttpTransport::Run() {
  run_entered_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  run_finished_ = true;
}

void HttpTransport::Stop() {
  stop_requested_ = true;
  if (!run_entered_) return;  // Run will see stop_requested_.
  // httplib's stop() does nothing until the listen loop runs: wait for it
  // (bounded) so that a stop right after Run starts is not lost.
  for (int i = 0; i < 1000 && !http_->is_running() && !run_finished_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  http_->stop();
}

size_t HttpTransport::session_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

bool HttpTransport::Admit(const httplib::Request& request,
                          httplib::Response& response) {
  if (request.has_header("Origin") &&
      !IsLoopbackOrigin(request.get_header_value("Origin"))) {
    LogWarning("http_refused", {{"reason", "origin"}});
    Reply(response, 403,
          "Forbidden: the Origin is not a loopback address; this MCP server "
          "only serves local clients");
    return false;
  }
  if (request.has_header("Host") &&
      !IsLoopbackHost(request.get_header_value("Host"))) {
    LogWarning("http_refused", {{"reason", "host"}});
    Reply(response, 403,
          "Forbidden: the Host header is not a loopback address; connect to "
          "127.0.0.1, [::1] or localhost");
    return false;
  }
  if (!BearerMatches(request.get_header_value("Authorization"),
                     options_.token)) {
    LogWarning("http_refused", {{"reason", "bearer token"}});
    response.set_header("WWW-Authenticate", "Bearer realm=\"latchkey-mcp\"");
    Reply(response, 401,
          "Unauthorized: send \"Authorization: Bearer <token>\" with the token "
          "latchkey-mcp was started with (--http_token_file or "
          "LATCHKEY_MCP_HTTP_TOKEN)");
    return false;
  }
  return true;
}

std::shared_ptr<HttpSession> HttpTransport::FindSession(
    const httplib::Request& request, httplib::Response& response) {
  if (!request.has_header(kSessionHeader)) {
    Reply(response, 400,
          "Bad Request: Mcp-Session-Id header is required; send initialize "
          "first and use the session id it returns");
    return nullptr;
  }
  if (request.has_header(kProtocolVersionHeader) &&
      !IsSupportedVersion(request.get_header_value(kProtocolVersionHeader))) {
    Reply(response, 400,
          absl::StrCat("Bad Request: unsupported MCP-Protocol-Version; "
                       "supported: ",
                       kSupportedVersions[0], ", ", kSupportedVersions[1], ", ",
                       kSupportedVersions[2], ", ", kSupportedVersions[3]));
    return nullptr;
  }
  std::string id = request.get_header_value(kSessionHeader);
  std::shared_ptr<HttpSession> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it != sessions_.end()) session = it->second;
  }
  if (session == nullptr) {
    Reply(response, 404,
          "Not Found: no such MCP session (it ended or the server restarted); "
          "send initialize again without Mcp-Session-Id");
    return nullptr;
  }
  session->Touch(absl::Now());
  return session;
}

std::shared_ptr<HttpSession> HttpTransport::NewSession() {
  absl::StatusOr<std::string> random = RandomBytes(16);
  if (!random.ok()) return nullptr;
  return std::make_shared<HttpSession>(HexEncode(*random), factory_);
}

bool HttpTransport::AddSession(std::shared_ptr<HttpSession> session) {
  std::shared_ptr<HttpSession> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.size() >= options_.max_sessions) {
      auto oldest = sessions_.end();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (!it->second->Idle()) continue;
        if (oldest == sessions_.end() ||
            it->second->last_used() < oldest->second->last_used()) {
          oldest = it;
        }
      }
      if (oldest == sessions_.end()) return false;
      evicted = oldest->second;
      sessions_.erase(oldest);
    }
    session->Touch(absl::Now());
    sessions_[session->id()] = std::move(session);
  }
  if (evicted != nullptr) {
    LogInfo("http_session_evicted",
            {{"session_prefix", evicted->id().substr(0, 8)}});
    evicted->Close();
  }
  return true;
}

void HttpTransport::HandlePost(const httplib::Request& request,
                               httplib::Response& response) {
  if (!absl::StrContains(
          absl::AsciiStrToLower(request.get_header_value("Content-Type")),
          kJson)) {
    Reply(response, 415,
          "Unsupported Media Type: POST a JSON-RPC message as "
          "Content-Type: application/json");
    return;
  }
  const std::string accept = request.get_header_value("Accept");
  if (!AcceptsMediaType(accept, kJson) ||
      !AcceptsMediaType(accept, kEventStream)) {
    Reply(response, 406,
          "Not Acceptable: the Accept header must list both application/json "
          "and text/event-stream");
    return;
  }
  std::optional<Json> peek = ParseBounded(request.body, kMaxMessageDepth);
  if (!peek.has_value() || !peek->is_object()) {
    // Invalid JSON, a batch (not accepted), or a non-object: the JSON-RPC
    // layer words the error.
    jsonrpc::Parsed parsed = jsonrpc::ParseLine(request.body);
    response.status = 400;
    response.set_content(
        parsed.error_response.value_or(jsonrpc::ErrorLine(
            Json(), jsonrpc::kInvalidRequest,
            "Invalid Request: the body must be one JSON-RPC message")),
        kJson);
    return;
  }
  if (MetaProtocolVersion(*peek).has_value() ||
      request.get_header_value(kProtocolVersionHeader) == kStatelessVersion) {
    HandleStateless(request, response, *peek);
    return;
  }
  const bool is_initialize =
      peek->value("method", "") == "initialize" && peek->contains("id");
  std::shared_ptr<HttpSession> session;
  if (is_initialize) {
    session = NewSession();
    if (session == nullptr) {
      Reply(response, 500, "Internal error: no randomness for a session id");
      return;
    }
  } else {
    session = FindSession(request, response);
    if (session == nullptr) return;
  }
  McpServer::Dispatch dispatch = session->server().Accept(request.body);
  if (is_initialize) {
    std::optional<Json> answer =
        ParseBounded(dispatch.response.value_or(""), kMaxMessageDepth);
    if (answer.has_value() && answer->contains("result")) {
      if (!AddSession(session)) {
        Reply(response, 503,
              "Service Unavailable: too many MCP sessions with tool calls in "
              "progress; retry later");
        return;
      }
      response.set_header(kSessionHeader, session->id());
      LogInfo("http_session_opened",
              {{"session_prefix", session->id().substr(0, 8)}});
    }
  }
  Respond(response, session, std::move(dispatch), *peek);
}

void HttpTransport::HandleStateless(const httplib::Request& request,
                                    httplib::Response& response,
                                    const Json& message) {
  const std::string method = message.value("method", "");
  std::string mismatch;
  if (request.has_header(kProtocolVersionHeader) &&
      request.get_header_value(kProtocolVersionHeader) !=
          MetaProtocolVersion(message).value_or("")) {
    mismatch = "MCP-Protocol-Version header and params._meta[\"" +
               std::string(kMetaProtocolVersion) + "\"]";
  } else if (request.has_header("Mcp-Method") &&
             request.get_header_value("Mcp-Method") != method) {
    mismatch = "Mcp-Method header and the body's method";
  } else if (method == "tools/call" && request.has_header("Mcp-Name") &&
             message.contains("params") && message["params"].is_object() &&
             request.get_header_value("Mcp-Name") !=
                 message["params"].value("name", "")) {
    mismatch = "Mcp-Name header and the body's params.name";
  }
  if (!mismatch.empty()) {
    response.status = 400;
    response.set_content(
        jsonrpc::ErrorLine(
            message.contains("id") ? message["id"] : Json(), kHeaderMismatch,
            absl::StrCat("Header mismatch: the ", mismatch, " disagree")),
        kJson);
    return;
  }
  McpServer::Dispatch dispatch = stateless_->Accept(request.body, message);
  if (dispatch.response.has_value()) {
    std::optional<Json> answer =
        ParseBounded(*dispatch.response, kMaxMessageDepth);
    if (answer.has_value() && answer->contains("error") &&
        (*answer)["error"].value("code", 0) == kUnsupportedProtocolVersion) {
      // On HTTP the status drives the client's fallback to initialize.
      response.status = 400;
      response.set_content(*dispatch.response, kJson);
      return;
    }
  }
  Respond(response, stateless_session_, std::move(dispatch), message);
}

void HttpTransport::Respond(httplib::Response& response,
                            const std::shared_ptr<HttpSession>& session,
                            McpServer::Dispatch dispatch, const Json& message) {
  if (!dispatch.deferred) {
    if (dispatch.response.has_value()) {
      response.status = 200;
      response.set_content(*dispatch.response, kJson);
    } else {
      response.status = 202;  // A notification or a response.
    }
    return;
  }
  // tools/call: an SSE stream that carries its notifications, then its
  // response. The call runs on its own thread so the stream is written
  // while it runs.
  std::shared_ptr<SseStream> stream =
      session->OpenCallStream(ProgressKey(message));
  workers_.Run([session, stream, work = std::move(dispatch.deferred)] {
    std::optional<std::string> answer = work();
    session->CloseCallStream(stream.get());
    stream->Finish(std::move(answer));
  });
  StreamEvents(response, stream, [] {});
}

void HttpTransport::HandleGet(const httplib::Request& request,
                              httplib::Response& response) {
  if (request.get_header_value(kProtocolVersionHeader) == kStatelessVersion) {
    response.set_header("Allow", "POST");
    Reply(response, 405,
          "Method Not Allowed: protocol 2026-07-28 has no GET stream; POST "
          "each request");
    return;
  }
  if (!AcceptsMediaType(request.get_header_value("Accept"), kEventStream)) {
    Reply(response, 406,
          "Not Acceptable: GET /mcp opens an event stream; send Accept: "
          "text/event-stream");
    return;
  }
  std::shared_ptr<HttpSession> session = FindSession(request, response);
  if (session == nullptr) return;
  if (listen_streams_.fetch_add(1) >= options_.max_listen_streams) {
    listen_streams_.fetch_sub(1);
    Reply(response, 503,
          "Service Unavailable: too many open event streams; close one first");
    return;
  }
  std::shared_ptr<SseStream> stream = session->OpenListenStream();
  if (stream == nullptr) {
    listen_streams_.fetch_sub(1);
    Reply(response, 409,
          "Conflict: this session already has an open GET event stream");
    return;
  }
  StreamEvents(response, stream, [this, session, raw = stream.get()] {
    session->CloseListenStream(raw);
    listen_streams_.fetch_sub(1);
  });
}

void HttpTransport::HandleDelete(const httplib::Request& request,
                                 httplib::Response& response) {
  std::shared_ptr<HttpSession> session = FindSession(request, response);
  if (session == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(session->id());
  }
  session->Close();
  LogInfo("http_session_closed",
          {{"session_prefix", session->id().substr(0, 8)}});
  response.status = 200;
}

void HttpTransport::StreamEvents(httplib::Response& response,
                                 std::shared_ptr<SseStream> stream,
                                 std::function<void()> on_end) {
  response.status = 200;
  response.set_header("Cache-Control", "no-cache");
  const int ticks_per_keep_alive =
      std::max<int>(1, static_cast<int>(options_.keep_alive / kStreamTick));
  auto idle_ticks = std::make_shared<int>(0);
  response.set_chunked_content_provider(
      kEventStream,
      [stream, idle_ticks, ticks_per_keep_alive](size_t,
                                                 httplib::DataSink& sink) {
        SseStream::Next next = stream->Wait(kStreamTick);
        if (next.line.has_value()) {
          *idle_ticks = 0;
          std::string event = SseEvent(*next.line);
          if (!sink.write(event.data(), event.size())) return false;
        } else if (!next.ended && ++*idle_ticks >= ticks_per_keep_alive) {
          *idle_ticks = 0;
          if (!sink.write(kSseKeepAlive, sizeof(kSseKeepAlive) - 1)) {
            return false;
          }
        }
        if (next.ended) sink.done();
        return true;
      },
      [on_end = std::move(on_end)](bool) { on_end(); });
}

}  // namespace latchkey::mcp
