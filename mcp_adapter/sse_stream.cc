#include "mcp_adapter/sse_stream.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace latchkey::mcp {

std::string SseEvent(absl::string_view json_line) {
  return absl::StrCat("event: message\ndata: ", json_line, "\n\n");
}

void SseStream::Push(std::string line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_ || closed_) return;
    if (queue_.size() >= max_queued_) queue_.pop_front();
    queue_.push_back(std::move(line));
  }
  cv_.notify_all();
}

void SseStream::Finish(std::optional<std::string> last) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_ || closed_) return;
    if (last.has_value()) queue_.push_back(*std::move(last));
    finishing_ = true;
  }
  cv_.notify_all();
}

void SseStream::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    queue_.clear();
  }
  cv_.notify_all();
}

SseStream::Next SseStream::Wait(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
               [this] { return closed_ || finishing_ || !queue_.empty(); });
  Next next;
  if (closed_) {
    next.ended = true;
    return next;
  }
  if (!queue_.empty()) {
    next.line = std::move(queue_.front());
    queue_.pop_front();
  }
  next.ended = finishing_ && queue_.empty();
  return next;
}

}  // namespace latchkey::mcp
