// LineReader reads newline-delimited messages from a file descriptor with
// a bounded line length. An overlong line is reported once, as soon as it
// passes the limit, and the rest of it is discarded up to its newline
// without being buffered. CRLF endings are accepted; a last line without a
// trailing newline is still delivered at EOF. The audit sink reads its log
// files with audit_sink::RangeLineReader instead (pread() over a byte range,
// with offsets, no CRLF handling).
#ifndef LATCHKEY_MCP_ADAPTER_LINE_READER_H_
#define LATCHKEY_MCP_ADAPTER_LINE_READER_H_

#include <cstddef>
#include <string>
#include <vector>

namespace latchkey::mcp {

class LineReader {
 public:
  enum class Status {
    kLine,      // `line` holds one line, without "\n" or "\r\n".
    kOverlong,  // A line passed the limit; it is being discarded.
    kEof,       // The input is closed and everything was delivered.
    kStopped,   // One of the stop fds became readable.
    kError,     // read() failed.
  };
  struct Result {
    Status status;
    std::string line;
  };

  // Reads `fd` (not owned). Next() returns kStopped as soon as any of
  // `stop_fds` is readable.
  LineReader(int fd, size_t max_line_bytes, std::vector<int> stop_fds = {});

  Result Next();

 private:
  // Fill reads more input; returns kLine when it read something (or hit
  // EOF), otherwise kStopped or kError.
  Status Fill();

  const int fd_;
  const size_t max_line_bytes_;
  const std::vector<int> stop_fds_;
  std::string buffer_;
  size_t scanned_ = 0;       // buffer_[0, scanned_) holds no newline.
  bool discarding_ = false;  // Inside an overlong line.
  bool eof_ = false;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_LINE_READER_H_
