// SseStream is one Server-Sent Events stream of the Streamable HTTP
// transport: messages queued by any thread, written by the HTTP thread
// that serves the stream. A POST stream ends after the request's response;
// the standalone GET stream ends when its session is closed.
#ifndef LATCHKEY_MCP_ADAPTER_SSE_STREAM_H_
#define LATCHKEY_MCP_ADAPTER_SSE_STREAM_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace latchkey::mcp {

// SseEvent frames one JSON-RPC message as an SSE "message" event. The
// message is one line (JSON without raw newlines), so one data: field.
std::string SseEvent(absl::string_view json_line);

// SseComment is a comment line clients ignore; sent to keep idle streams
// alive and to notice clients that went away.
inline constexpr char kSseKeepAlive[] = ": keep-alive\n\n";

class SseStream {
 public:
  // max_queued bounds messages waiting for a slow reader; beyond it the
  // oldest notification is dropped (the final response never is).
  explicit SseStream(size_t max_queued = 256) : max_queued_(max_queued) {}

  // Push queues a message; ignored once the stream is finished.
  void Push(std::string line);
  // Finish queues the last message (if any) and ends the stream after it.
  void Finish(std::optional<std::string> last);
  // Close ends the stream now, dropping whatever is queued.
  void Close();

  struct Next {
    std::optional<std::string> line;  // A message to write, if any.
    bool ended = false;               // Nothing more will come.
  };
  // Wait returns the next message, or nothing after `timeout`.
  Next Wait(absl::Duration timeout);

 private:
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool finishing_ = false;  // No more pushes; end once the queue is empty.
  bool closed_ = false;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_SSE_STREAM_H_
