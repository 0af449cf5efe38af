#include "common/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace latchkey {
namespace {

// Send sends one raw request to 127.0.0.1:port and returns the whole answer
// (the server closes the connection: no keep-alive). Bounded by a 5 s
// receive timeout.
std::string Send(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval timeout = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
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

std::string Body(const std::string& answer) {
  const size_t end = answer.find("\r\n\r\n");
  return end == std::string::npos ? "" : answer.substr(end + 4);
}

TEST(MetricsHttpServerTest, ServesMetricsAndNothingElse) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("x")
      .Help("X.")
      .Register(*registry)
      .Add({})
      .Increment();
  auto server = MetricsHttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  std::string ok = Send(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain"), std::string::npos) << ok;
  const std::string body = Body(ok);
  EXPECT_NE(ok.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos)
      << ok;
  EXPECT_NE(body.find("# HELP x X.\n# TYPE x counter\nx 1\n"),
            std::string::npos)
      << body;
  // Only /metrics: no other path, no file, no directory listing.
  for (const char* path : {"/secrets", "/", "/../../etc/passwd"}) {
    EXPECT_EQ(Send(port, std::string("GET ") + path + " HTTP/1.1\r\n\r\n")
                  .rfind("HTTP/1.1 404", 0),
              0u)
        << path;
  }
  // Other methods are not served (civetweb answers 404 for a method the
  // handler does not take; the hand-written server said 405).
  const std::string post = Send(port, "POST /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 4", 0), 0u) << post;
  // A request head that never ends is cut at 8 KiB (civetweb: 4xx; the
  // hand-written server said 431).
  const std::string huge =
      Send(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a'));
  EXPECT_EQ(huge.find("200 OK"), std::string::npos) << huge;
  EXPECT_EQ(huge.find("HTTP/1.1 4") == 0 || huge.find("HTTP/1.0 4") == 0 ||
                huge.empty(),
            true)
      << huge;
}

TEST(MetricsHttpServerTest, RefusesNonLoopbackAndMalformedAddresses) {
  for (const char* listen :
       {"0.0.0.0:9464", "10.1.2.3:9464", "[::]:9464", "example.com:9464",
        "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:port", ""}) {
    auto server = MetricsHttpServer::Start(
        listen, std::make_shared<prometheus::Registry>());
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << listen;
  }
  auto v6 = MetricsHttpServer::Start("[::1]:0",
                                     std::make_shared<prometheus::Registry>());
  // IPv6 may be disabled in a sandbox; when it binds, it is loopback.
  if (!v6.ok()) {
    EXPECT_NE(v6.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(MetricsHttpServerTest, PortInUseIsUnavailable) {
  auto first = MetricsHttpServer::Start(
      "127.0.0.1:0", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second =
      MetricsHttpServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()),
                               std::make_shared<prometheus::Registry>());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

// The daemons' endpoint, scraped over a real socket and parsed by the
// reference parser (Debian's python3-prometheus-client).
TEST(MetricsEndpointFromFlagTest, ScrapeParsesAsPrometheusText) {
  metrics::Registry::Global()
      .AddCounter("latchkey_test_requests_total", "Requests \"quoted\".",
                  "decision", {"allow", "deny"})
      ->Increment("deny", 3);
  metrics::Registry::Global()
      .AddHistogram("latchkey_test_duration_seconds", "Latency.")
      ->ObserveMicros(1500);
  absl::SetFlag(&FLAGS_metrics_listen, "127.0.0.1:0");
  auto server = StartMetricsEndpointFromFlag("broker");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_NE(*server, nullptr);
  const std::string answer =
      Send((*server)->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;

  char dir[] = "/tmp/lk-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string text_path = std::string(dir) + "/scrape.txt";
  const std::string out_path = std::string(dir) + "/parsed.txt";
  std::ofstream(text_path) << Body(answer);
  const std::string command =
      "timeout 30 /usr/bin/python3 -c '"
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      "  for s in f.samples:\n"
      "    print(f.type, s.name, sorted(s.labels.items()), s.value)\n"
      "' " +
      text_path + " > " + out_path;
  ASSERT_EQ(std::system(command.c_str()), 0) << Body(answer);
  std::ifstream in(out_path);
  const std::string parsed((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
  EXPECT_NE(parsed.find("counter latchkey_test_requests_total [('daemon', "
                        "'broker'), ('decision', 'deny')] 3.0"),
            std::string::npos)
      << parsed;
  EXPECT_NE(parsed.find("histogram latchkey_test_duration_seconds_bucket "
                        "[('daemon', 'broker'), ('le', '0.0025')] 1.0"),
            std::string::npos)
      << parsed;
  EXPECT_NE(parsed.find("histogram latchkey_test_duration_seconds_sum "
                        "[('daemon', 'broker')] 0.0015"),
            std::string::npos)
      << parsed;
  std::remove(text_path.c_str());
  std::remove(out_path.c_str());
  rmdir(dir);

  // The flag refuses a non-loopback bind the same way.
  absl::SetFlag(&FLAGS_metrics_listen, "0.0.0.0:0");
  auto open = StartMetricsEndpointFromFlag("broker");
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), absl::StatusCode::kInvalidArgument);
  absl::SetFlag(&FLAGS_metrics_listen, "");
}

}  // namespace
}  // namespace latchkey
