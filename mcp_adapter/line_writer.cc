#include "mcp_adapter/line_writer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/log.h"

namespace latchkey::mcp {

LineWriter::LineWriter(int fd)
    : fd_(fd), closed_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

LineWriter::~LineWriter() {
  if (closed_fd_ >= 0) ::close(closed_fd_);
}

void LineWriter::MarkClosed() {
  if (closed_.exchange(true)) return;
  uint64_t one = 1;
  if (closed_fd_ >= 0) (void)!::write(closed_fd_, &one, sizeof(one));
}

bool LineWriter::Write(absl::string_view line) {
  std::string data(line);
  data.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return false;
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n > 0) {
      p += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd_, POLLOUT, 0};
      ::poll(&pfd, 1, -1);
      continue;
    }
    LogInfo("output_closed", {{"error", n < 0 ? std::strerror(errno) : "eof"}});
    MarkClosed();
    return false;
  }
  return true;
}

}  // namespace latchkey::mcp
