// LineWriter writes whole lines to the protocol output (stdout). A mutex
// keeps concurrent responses from interleaving. Once a write fails (the
// client closed its end), the writer is closed: later writes are dropped
// and closed_fd() becomes readable so the reader loop can stop.
#ifndef LATCHKEY_MCP_ADAPTER_LINE_WRITER_H_
#define LATCHKEY_MCP_ADAPTER_LINE_WRITER_H_

#include <atomic>
#include <mutex>

#include "absl/strings/string_view.h"

namespace latchkey::mcp {

class LineWriter {
 public:
  // Writes to `fd` (not owned).
  explicit LineWriter(int fd);
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Write sends `line` plus "\n". `line` must not contain a newline.
  // Returns false when the output is closed.
  bool Write(absl::string_view line);

  bool closed() const { return closed_.load(); }

  // closed_fd is an eventfd that is readable once the output is closed.
  int closed_fd() const { return closed_fd_; }

 private:
  void MarkClosed();

  const int fd_;
  const int closed_fd_;
  std::mutex mu_;
  std::atomic<bool> closed_{false};
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_LINE_WRITER_H_
