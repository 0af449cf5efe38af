#include "audit_sink/range_line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace latchkey::audit_sink {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

}  // namespace

RangeLineReader::RangeLineReader(int fd, uint64_t start, uint64_t end,
                                 size_t max_line_bytes)
    : fd_(fd),
      end_(end < start ? start : end),
      max_line_bytes_(max_line_bytes),
      buffer_offset_(start),
      next_read_(start),
      position_(start) {}

bool RangeLineReader::Next(absl::string_view* line) {
  while (true) {
    size_t newline = buffer_.find('\n', consumed_);
    if (newline != std::string::npos) {
      line_offset_ = buffer_offset_ + consumed_ - skipped_;
      *line = absl::string_view(buffer_).substr(consumed_, newline - consumed_);
      if (skipped_ > 0) *line = absl::string_view();  // Over-long line.
      skipped_ = 0;
      consumed_ = newline + 1;
      position_ = buffer_offset_ + consumed_;
      return true;
    }
    // Drop what was returned; drop the start of an over-long line too.
    buffer_offset_ += consumed_;
    buffer_.erase(0, consumed_);
    consumed_ = 0;
    if (buffer_.size() > max_line_bytes_) {
      skipped_ += buffer_.size();
      buffer_offset_ += buffer_.size();
      buffer_.clear();
    }
    if (next_read_ >= end_) {
      trailing_bytes_ = buffer_.size() + skipped_;
      return false;
    }
    size_t want =
        static_cast<size_t>(std::min<uint64_t>(kChunkBytes, end_ - next_read_));
    size_t old_size = buffer_.size();
    buffer_.resize(old_size + want);
    ssize_t n =
        ::pread(fd_, &buffer_[old_size], want, static_cast<off_t>(next_read_));
    if (n < 0) {
      buffer_.resize(old_size);
      if (errno == EINTR) continue;
      status_ = absl::UnavailableError(
          absl::StrCat("audit log read failed: ", std::strerror(errno)));
      return false;
    }
    buffer_.resize(old_size + static_cast<size_t>(n));
    if (n == 0) end_ = next_read_;  // The file is shorter than the range.
    next_read_ += static_cast<uint64_t>(n);
  }
}

}  // namespace latchkey::audit_sink
