// RangeLineReader reads newline-terminated lines from a byte range of a file
// with pread(), so several readers can share one descriptor with a writer.
// It reports where each line starts and how many bytes trail the last
// newline, which recovery and verification need. Not to be confused with
// mcp::LineReader (mcp_adapter/line_reader.h), which reads a live stream
// (stdin) with poll() and stop fds, strips CRLF and delivers an unterminated
// last line: the two share only the idea of splitting on '\n'.
#ifndef LATCHKEY_AUDIT_SINK_RANGE_LINE_READER_H_
#define LATCHKEY_AUDIT_SINK_RANGE_LINE_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace latchkey::audit_sink {

class RangeLineReader {
 public:
  // Reads [start, end) of `fd`; the reader does not own `fd`. A line that
  // outgrows `max_line_bytes` (plus one read chunk, 64 KiB) before its
  // newline is seen is skipped and returned as an empty line.
  RangeLineReader(int fd, uint64_t start, uint64_t end, size_t max_line_bytes);

  // Next sets `line` to the next complete line, without its newline; it
  // stays valid until the next call. False at the end of the range or on
  // a read error (see status()).
  bool Next(absl::string_view* line);

  // line_offset is where the line last returned starts; position is just
  // past its newline.
  uint64_t line_offset() const { return line_offset_; }
  uint64_t position() const { return position_; }
  // trailing_bytes counts bytes after the last newline once Next returned
  // false: non-zero means the range ends in the middle of a line.
  uint64_t trailing_bytes() const { return trailing_bytes_; }
  const absl::Status& status() const { return status_; }

 private:
  const int fd_;
  uint64_t end_;
  const size_t max_line_bytes_;
  std::string buffer_;
  size_t consumed_ = 0;     // Bytes of buffer_ already returned.
  uint64_t buffer_offset_;  // File offset of buffer_[0].
  uint64_t next_read_;      // File offset of the next pread().
  uint64_t skipped_ = 0;    // Bytes of an over-long line dropped.
  uint64_t line_offset_ = 0;
  uint64_t position_;
  uint64_t trailing_bytes_ = 0;
  absl::Status status_;
};

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_RANGE_LINE_READER_H_
