#include "mcp_adapter/process_setup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/termination_signal.h"

namespace latchkey::mcp {

absl::StatusOr<int> ReserveStdoutForProtocol() {
  int protocol_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (protocol_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot duplicate stdout: ", std::strerror(errno)));
  }
  if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    int saved = errno;
    ::close(protocol_fd);
    return absl::InternalError(
        absl::StrCat("cannot redirect stdout: ", std::strerror(saved)));
  }
  return protocol_fd;
}

absl::StatusOr<int> OpenTerminationSignalFd() {
  BlockTerminationSignals();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("signalfd: ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace latchkey::mcp
