#include "common/systemd_listen.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "absl/strings/numbers.h"

namespace latchkey {
namespace {

constexpr int kFirstListenFd = 3;  // SD_LISTEN_FDS_START

std::string BoundPath(int fd) {
  struct sockaddr_un addr;
  socklen_t len = sizeof(addr);
  std::memset(&addr, 0, sizeof(addr));
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX) {
    return "";
  }
  return std::string(addr.sun_path);
}

}  // namespace

int TakeSystemdListenFd(const std::string& socket_path) {
  static std::mutex* mu = new std::mutex;
  static std::set<int>* taken = new std::set<int>;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* fds_text = std::getenv("LISTEN_FDS");
  int pid = 0;
  int count = 0;
  if (pid_text == nullptr || fds_text == nullptr ||
      !absl::SimpleAtoi(pid_text, &pid) || pid != ::getpid() ||
      !absl::SimpleAtoi(fds_text, &count) || count <= 0) {
    return -1;
  }
  std::lock_guard<std::mutex> lock(*mu);
  for (int fd = kFirstListenFd; fd < kFirstListenFd + count; ++fd) {
    if (taken->count(fd) != 0 || BoundPath(fd) != socket_path) continue;
    taken->insert(fd);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  return -1;
}

}  // namespace latchkey
