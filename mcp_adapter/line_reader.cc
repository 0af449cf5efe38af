#include "mcp_adapter/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace latchkey::mcp {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

std::string TakeLine(std::string* buffer, size_t end, size_t consume) {
  std::string line = buffer->substr(0, end);
  buffer->erase(0, consume);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

LineReader::LineReader(int fd, size_t max_line_bytes, std::vector<int> stop_fds)
    : fd_(fd),
      max_line_bytes_(max_line_bytes),
      stop_fds_(std::move(stop_fds)) {}

LineReader::Result LineReader::Next() {
  while (true) {
    size_t newline = buffer_.find('\n', scanned_);
    if (newline != std::string::npos) {
      scanned_ = 0;
      if (discarding_) {
        // The end of an overlong line, already reported.
        buffer_.erase(0, newline + 1);
        discarding_ = false;
        continue;
      }
      if (newline > max_line_bytes_) {
        buffer_.erase(0, newline + 1);
        return {Status::kOverlong, ""};
      }
      return {Status::kLine, TakeLine(&buffer_, newline, newline + 1)};
    }
    scanned_ = buffer_.size();
    if (discarding_) {
      buffer_.clear();
      scanned_ = 0;
    } else if (buffer_.size() > max_line_bytes_) {
      buffer_.clear();
      scanned_ = 0;
      discarding_ = true;
      return {Status::kOverlong, ""};
    }
    if (eof_) {
      discarding_ = false;
      if (buffer_.empty()) return {Status::kEof, ""};
      scanned_ = 0;
      return {Status::kLine,
              TakeLine(&buffer_, buffer_.size(), buffer_.size())};
    }
    Status filled = Fill();
    if (filled != Status::kLine) return {filled, ""};
  }
}

LineReader::Status LineReader::Fill() {
  std::vector<pollfd> fds;
  fds.push_back({fd_, POLLIN, 0});
  for (int stop : stop_fds_) fds.push_back({stop, POLLIN, 0});
  while (true) {
    int ready = ::poll(fds.data(), fds.size(), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Status::kError;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) return Status::kStopped;
    }
    if (fds[0].revents == 0) continue;
    char chunk[kChunkBytes];
    ssize_t n = ::read(fd_, chunk, sizeof(chunk));
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return Status::kLine;
    }
    if (n == 0) {
      eof_ = true;
      return Status::kLine;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return Status::kError;
  }
}

}  // namespace latchkey::mcp
