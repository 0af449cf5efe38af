#include "mcp_adapter/gateway_stream.h"

#include <httplib.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/reason_text.h"
#include "mcp_adapter/gateway_request.h"

namespace latchkey::mcp {
namespace {

// StreamState is the open broker stream, owned by the response's content
// provider once the head has been sent.
struct StreamState {
  std::unique_ptr<BrokerStream> stream;
  std::string capability;
  std::string request_id;
  bool finished = false;
};

void LogOutcome(const std::string &capability, const std::string &method,
                const v1::ExecuteResponse &answer, int status) {
  // Path, query, headers and bodies stay out of the log (personal data);
  // the request id finds the full record in the audit log.
  LogInfo("gateway_request",
          {{"capability", capability},
           {"method", method},
           {"decision", v1::Decision_Name(answer.decision())},
           {"code", answer.decision() == v1::DECISION_DENY
                        ? ReasonName(answer.denial().code())
                        : std::string()},
           {"status", std::to_string(status)},
           {"request_id", answer.request_id()}});
}

// ContentLength is the request's declared body size, if it has one.
std::optional<uint64_t> ContentLength(const httplib::Request &request,
                                      const httplib::ContentReader *reader) {
  if (reader == nullptr) return request.body.size();
  if (request.has_header("Transfer-Encoding")) return std::nullopt;
  uint64_t length = 0;
  if (!request.has_header("Content-Length") ||
      !absl::SimpleAtoi(request.get_header_value("Content-Length"), &length)) {
    return std::nullopt;
  }
  return length;
}

// A refused request's body is read and dropped up to this much.
constexpr uint64_t kMaxDrainBytes = 32 * 1024 * 1024;

// DrainBody reads and drops the body; false if it was longer than
// kMaxDrainBytes or could not be read to its end.
bool DrainBody(const httplib::ContentReader &reader) {
  uint64_t drained = 0;
  return reader([&](const char *, size_t length) {
    drained += length;
    return drained <= kMaxDrainBytes;
  });
}

// SendBody passes the request body to the broker in chunks. False when the
// client's body could not be read to its end (the client went away).
bool SendBody(const httplib::Request &request,
              const httplib::ContentReader *reader, BrokerStream *stream) {
  v1::ExecuteStreamRequest part;
  std::string *chunk = part.mutable_body_chunk();
  bool broker_open = true;
  auto flush = [&] {
    if (chunk->empty() || !broker_open) return;
    broker_open = stream->Write(part);
    chunk->clear();
  };
  if (reader == nullptr) {
    chunk->assign(request.body);
    flush();
    return true;
  }
  // The broker may stop taking the body (it refused it as too long);
  // the rest is still read so the connection stays in step, but dropped.
  bool complete = (*reader)([&](const char *data, size_t length) {
    if (!broker_open) return true;
    chunk->append(data, length);
    if (chunk->size() >= kStreamChunkBytes) flush();
    return true;
  });
  flush();
  return complete;
}

}  // namespace

void SendGatewayReply(const GatewayReply &reply, httplib::Response &response) {
  response.status = reply.status;
  for (const auto &[name, value] : reply.headers) {
    response.set_header(name.c_str(), value);
  }
  response.set_content(reply.body, reply.content_type.c_str());
}

void ServeGatewayRequest(BrokerClient *broker, SessionKeeper *sessions,
                         const std::string &broker_socket,
                         const httplib::Request &request,
                         const httplib::ContentReader *body_reader,
                         httplib::Response &response) {
  HeaderList headers(request.headers.begin(), request.headers.end());
  absl::StatusOr<v1::ExecuteRequest> head =
      BuildGatewayRequest(request.method, request.target, headers, "");
  if (!head.ok()) {
    SendGatewayReply(ReplyForBadRequest(head.status()), response);
    return;
  }
  const std::string capability = head->capability();
  const std::string method = head->request().method();
  const std::optional<uint64_t> content_length =
      ContentLength(request, body_reader);

  // Ask for the decision first: the body is read from the client only
  // once the broker has allowed the request (and a session refusal can be
  // retried with a fresh session, since nothing was sent yet).
  std::unique_ptr<BrokerStream> stream;
  absl::StatusOr<v1::ExecuteResponse> decision = sessions->WithSession(
      *std::move(head), nullptr,
      [&](const v1::ExecuteRequest &attempt)
          -> absl::StatusOr<v1::ExecuteResponse> {
        if (stream != nullptr) (void)stream->Finish();  // A refused try.
        absl::StatusOr<std::unique_ptr<BrokerStream>> opened =
            broker->OpenExecuteStream();
        if (!opened.ok()) return opened.status();
        stream = *std::move(opened);
        v1::ExecuteStreamRequest first;
        *first.mutable_head() = attempt;
        if (content_length.has_value()) {
          first.set_content_length(*content_length);
        }
        v1::ExecuteStreamReply reply;
        if (!stream->Write(first) || !stream->Read(&reply) ||
            !reply.has_decision()) {
          absl::Status finished = stream->Finish();
          stream.reset();
          return finished.ok() ? absl::UnavailableError(
                                     "the broker ended the stream without a "
                                     "decision")
                               : finished;
        }
        return std::move(*reply.mutable_decision());
      });
  if (!decision.ok()) {
    LogWarning("gateway_broker_failed",
               {{"capability", capability},
                {"code", absl::StatusCodeToString(decision.status().code())},
                {"message", std::string(decision.status().message())}});
    SendGatewayReply(ReplyForBrokerFailure(decision.status(), broker_socket),
                     response);
    return;
  }
  if (decision->decision() != v1::DECISION_ALLOW) {
    (void)stream->Finish();
    GatewayReply reply = ReplyForExecute(*decision);
    // The body is not forwarded. Read (and drop) a bounded amount of it so
    // the client, still sending, gets the answer rather than a reset;
    // beyond that the connection is closed after the answer.
    if (body_reader != nullptr && !DrainBody(*body_reader)) {
      reply.headers.emplace_back("Connection", "close");
    }
    LogOutcome(capability, method, *decision, reply.status);
    SendGatewayReply(reply, response);
    return;
  }

  if (!SendBody(request, body_reader, stream.get())) {
    stream->Cancel();
    (void)stream->Finish();
    LogWarning("gateway_body_incomplete", {{"capability", capability}});
    response.status = 400;
    response.set_header("Connection", "close");
    return;
  }
  stream->WritesDone();

  v1::ExecuteStreamReply reply;
  if (!stream->Read(&reply) || !reply.has_head()) {
    absl::Status finished = stream->Finish();
    if (finished.ok()) {
      finished = absl::UnavailableError("the broker ended the stream early");
    }
    SendGatewayReply(ReplyForBrokerFailure(finished, broker_socket), response);
    return;
  }
  v1::ExecuteResponse answer = std::move(*reply.mutable_head());
  GatewayReply head_reply = ReplyForExecute(answer);
  LogOutcome(capability, method, answer, head_reply.status);
  if (answer.decision() != v1::DECISION_ALLOW) {
    (void)stream->Finish();
    SendGatewayReply(head_reply, response);
    return;
  }
  if (answer.response().body_truncated()) {
    // The upstream declared a body over the capability's limit: refused
    // whole (502 RESPONSE_TOO_LARGE) before any of it is passed on.
    stream->Cancel();
    (void)stream->Finish();
    SendGatewayReply(head_reply, response);
    return;
  }

  response.status = head_reply.status;
  for (const auto &[name, value] : head_reply.headers) {
    response.set_header(name.c_str(), value);
  }
  auto state = std::make_shared<StreamState>();
  state->stream = std::move(stream);
  state->capability = capability;
  state->request_id = answer.request_id();
  // Called by cpp-httplib as the client takes the answer; each call passes
  // on one message of the stream.
  auto provide = [state](size_t, httplib::DataSink &sink) -> bool {
    v1::ExecuteStreamReply part;
    if (!state->stream->Read(&part)) {
      LogWarning("gateway_answer_incomplete",
                 {{"capability", state->capability},
                  {"request_id", state->request_id},
                  {"error", "the broker ended the answer early"}});
      return false;
    }
    if (part.has_body_chunk()) {
      const std::string &data = part.body_chunk();
      return data.empty() || sink.write(data.data(), data.size());
    }
    if (part.has_end()) {
      const v1::StreamEnd &end = part.end();
      if (!end.error().empty() || end.body_truncated()) {
        LogWarning("gateway_answer_incomplete",
                   {{"capability", state->capability},
                    {"request_id", state->request_id},
                    {"error", end.body_truncated()
                                  ? "cut at the capability's max_response_bytes"
                                  : end.error()}});
        return false;  // No final chunk: the client sees the failure.
      }
      state->finished = true;
      v1::ExecuteStreamReply after;
      state->stream->Read(&after);  // Sees the end of the stream.
      sink.done();
    }
    return true;
  };
  auto release = [state](bool success) {
    if (!success || !state->finished) state->stream->Cancel();
    (void)state->stream->Finish();
  };
  if (request.method == "HEAD") {
    // No body goes to the client: read the stream to its end.
    v1::ExecuteStreamReply part;
    while (state->stream->Read(&part)) {
    }
    (void)state->stream->Finish();
    // The size a GET would get, as the upstream said (clients such as
    // the aws CLI plan ranged downloads from it).
    uint64_t length = 0;
    for (const v1::Header &header : answer.response().headers()) {
      if (absl::EqualsIgnoreCase(header.name(), "content-length")) {
        (void)absl::SimpleAtoi(header.value(), &length);
      }
    }
    response.set_content_provider(
        length, head_reply.content_type,
        [](size_t, size_t, httplib::DataSink &) { return true; });
    return;
  }
  response.set_chunked_content_provider(head_reply.content_type, provide,
                                        release);
}

}  // namespace latchkey::mcp
