#include "common/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"

ABSL_FLAG(std::string, metrics_listen, "",
          "serve GET /metrics (Prometheus text format) on this loopback "
          "address, e.g. 127.0.0.1:9464; empty: off");

namespace latchkey {
namespace {

constexpr size_t kMaxRequestHead = 8192;
constexpr int kIoTimeoutSeconds = 2;

absl::Status NotLoopback(const std::string& listen) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--metrics_listen=", listen,
      " is not a loopback address: use 127.0.0.1:PORT or [::1]:PORT (the "
      "metrics endpoint has no authentication, so it only listens on "
      "loopback)"));
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Timed out or closed: the scraper retries.
    done += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::function<std::string()> body) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen,
                     " must be HOST:PORT, e.g. 127.0.0.1:9464"));
  }
  std::string host = listen.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen=", listen, " has no valid port (0-65535)"));
  }
  if (host == "localhost") host = "127.0.0.1";
  struct sockaddr_storage addr = {};
  socklen_t addr_len = 0;
  int family = AF_INET;
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    family = AF_INET6;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(),
                  &in6->sin6_addr) != 1 ||
        !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
      return NotLoopback(listen);
    }
    addr_len = sizeof(*in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    // 127.0.0.0/8 is loopback.
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1 ||
        (ntohl(in4->sin_addr.s_addr) >> 24) != 127) {
      return NotLoopback(listen);
    }
    addr_len = sizeof(*in4);
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->body_ = std::move(body);
  server->listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("--metrics_listen: socket: ", std::strerror(errno),
                     " (a systemd unit with RestrictAddressFamilies=AF_UNIX "
                     "must also allow AF_INET)"));
  }
  int one = 1;
  ::setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr),
             addr_len) != 0 ||
      ::listen(server->listen_fd_, 16) != 0) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen=", listen,
                                               ": ", std::strerror(errno),
                                               " (is the port in use?)"));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  server->port_ = ntohs(
      family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                        : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  if (::pipe2(server->wake_, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2 failed");
  }
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (thread_.joinable()) {
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void MetricsHttpServer::Serve() {
  for (;;) {
    struct pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd);
    ::close(fd);
  }
}

void MetricsHttpServer::Answer(int fd) {
  struct timeval timeout = {kIoTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos &&
         head.size() < kMaxRequestHead) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    head.append(buffer, static_cast<size_t>(n));
  }
  std::string status = "200 OK";
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  std::string body;
  if (head.find("\r\n\r\n") == std::string::npos) {
    status = "431 Request Header Fields Too Large";
    type = "text/plain";
    body = "request head too large\n";
  } else if (!absl::StartsWith(head, "GET ") &&
             !absl::StartsWith(head, "HEAD ")) {
    status = "405 Method Not Allowed";
    type = "text/plain";
    body = "only GET /metrics\n";
  } else if (!absl::StartsWith(head, "GET /metrics ") &&
             !absl::StartsWith(head, "GET /metrics?") &&
             !absl::StartsWith(head, "HEAD /metrics ")) {
    status = "404 Not Found";
    type = "text/plain";
    body = "only GET /metrics\n";
  } else {
    body = body_();
  }
  std::string response = absl::StrCat(
      "HTTP/1.1 ", status, "\r\nContent-Type: ", type,
      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  if (!absl::StartsWith(head, "HEAD ")) response += body;
  WriteAll(fd, response);
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> StartMetricsEndpointFromFlag(
    const std::string& daemon) {
  const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
  if (listen.empty()) return std::unique_ptr<MetricsHttpServer>();
  auto server = MetricsHttpServer::Start(listen, [daemon] {
    return metrics::PrometheusText(
        metrics::Registry::Global().Snapshot(daemon));
  });
  if (server.ok()) {
    LogInfo("metrics_endpoint",
            {{"listen", listen}, {"port", absl::StrCat((*server)->port())}});
  }
  return server;
}

}  // namespace latchkey
