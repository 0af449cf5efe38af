#include "tests/loopback_canary.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace latchkey::testing {
namespace {

int Listen(int family, const char* ip, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip, &addr.sin_addr);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, ip, &addr.sin6_addr);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  if (rc != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LoopbackCanary>> LoopbackCanary::Start() {
  std::unique_ptr<LoopbackCanary> canary(new LoopbackCanary);
  int first = Listen(AF_INET, "127.0.0.1", 0);
  if (first < 0) return absl::InternalError("cannot listen on 127.0.0.1");
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  getsockname(first, reinterpret_cast<sockaddr*>(&bound), &length);
  canary->port_ = ntohs(bound.sin_port);
  canary->fds_.push_back(first);
  int second = Listen(AF_INET, "127.0.0.2", canary->port_);
  if (second >= 0) canary->fds_.push_back(second);
  int six = Listen(AF_INET6, "::1", canary->port_);
  if (six >= 0) {
    canary->fds_.push_back(six);
    canary->has_ipv6_ = true;
  }
  canary->thread_ = std::thread([c = canary.get()] { c->Run(); });
  return canary;
}

LoopbackCanary::~LoopbackCanary() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : fds_) close(fd);
}

void LoopbackCanary::Run() {
  std::vector<pollfd> polls;
  for (int fd : fds_) polls.push_back({fd, POLLIN, 0});
  // Polls in 50 ms slices so that the destructor never waits long.
  while (!stop_) {
    if (poll(polls.data(), polls.size(), 50) <= 0) continue;
    for (pollfd& p : polls) {
      if ((p.revents & POLLIN) == 0) continue;
      int conn = accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn >= 0) {
        ++connections_;
        close(conn);
      }
    }
  }
}

}  // namespace latchkey::testing
