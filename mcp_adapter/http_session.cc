#include "mcp_adapter/http_session.h"

#include <utility>

#include "common/log.h"
#include "mcp_adapter/json_util.h"
#include "mcp_adapter/jsonrpc.h"

namespace latchkey::mcp {

HttpSession::HttpSession(std::string id, const McpServerFactory& factory)
    : id_(std::move(id)),
      server_(factory([this](std::string line) { Route(std::move(line)); })) {}

HttpSession::~HttpSession() { Close(); }

void HttpSession::Route(std::string line) {
  std::shared_ptr<SseStream> target;
  std::optional<Json> message = ParseBounded(line, kMaxMessageDepth);
  std::string progress_key;
  if (message.has_value() && message->is_object() &&
      message->value("method", "") == "notifications/progress") {
    auto params = message->find("params");
    if (params != message->end() && params->is_object() &&
        params->contains("progressToken")) {
      progress_key = jsonrpc::IdKey((*params)["progressToken"]);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!progress_key.empty()) {
      for (const CallStream& call : calls_) {
        if (call.progress_key == progress_key) target = call.stream;
      }
    } else if (listen_ != nullptr) {
      target = listen_;
    } else if (!calls_.empty()) {
      target = calls_.back().stream;
    }
  }
  if (target == nullptr) {
    LogInfo("http_notification_dropped",
            {{"reason", "no open stream"},
             {"method", message.has_value() && message->is_object()
                            ? message->value("method", "")
                            : ""}});
    return;
  }
  target->Push(std::move(line));
}

std::shared_ptr<SseStream> HttpSession::OpenCallStream(
    std::string progress_key) {
  auto stream = std::make_shared<SseStream>();
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back(CallStream{std::move(progress_key), stream});
  return stream;
}

void HttpSession::CloseCallStream(const SseStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = calls_.begin(); it != calls_.end(); ++it) {
    if (it->stream.get() == stream) {
      calls_.erase(it);
      return;
    }
  }
}

std::shared_ptr<SseStream> HttpSession::OpenListenStream() {
  std::lock_guard<std::mutex> lock(mu_);
  if (listen_ != nullptr) return nullptr;
  listen_ = std::make_shared<SseStream>();
  return listen_;
}

void HttpSession::CloseListenStream(const SseStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (listen_.get() == stream) listen_.reset();
}

void HttpSession::Close() {
  if (server_ != nullptr) server_->CancelAll();
  std::vector<std::shared_ptr<SseStream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const CallStream& call : calls_) streams.push_back(call.stream);
    if (listen_ != nullptr) streams.push_back(listen_);
  }
  for (const auto& stream : streams) stream->Close();
}

void HttpSession::Touch(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  last_used_ = now;
}

absl::Time HttpSession::last_used() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_used_;
}

bool HttpSession::Idle() const { return server_->tool_calls_in_flight() == 0; }

}  // namespace latchkey::mcp
