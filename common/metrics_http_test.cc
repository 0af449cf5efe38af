#include "common/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace latchkey {
namespace {

// Get sends one raw request to 127.0.0.1:port and returns the whole answer.
std::string Send(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(write(fd, request.data(), request.size()),
            static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, n);
  close(fd);
  return answer;
}

TEST(MetricsHttpServerTest, ServesMetricsAndNothingElse) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  std::string ok = Send(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"),
            std::string::npos);
  EXPECT_NE(ok.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(ok.substr(ok.size() - 4), "x 1\n");
  EXPECT_EQ(
      Send(port, "GET /secrets HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(
      Send(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0),
      0u);
  // A request head that never ends is cut at 8 KiB.
  EXPECT_EQ(Send(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a'))
                .rfind("HTTP/1.1 431", 0),
            0u);
}

TEST(MetricsHttpServerTest, RefusesNonLoopbackAndMalformedAddresses) {
  for (const char* listen :
       {"0.0.0.0:9464", "10.1.2.3:9464", "[::]:9464", "example.com:9464",
        "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:port", ""}) {
    auto server = MetricsHttpServer::Start(listen, [] { return ""; });
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << listen;
  }
  auto v6 = MetricsHttpServer::Start("[::1]:0", [] { return ""; });
  // IPv6 may be disabled in a sandbox; when it binds, it is loopback.
  if (!v6.ok()) {
    EXPECT_NE(v6.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace latchkey
