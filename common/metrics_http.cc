#include "common/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <exception>
#include <vector>

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

// civetweb's limits for a scrape: a request head larger than this is
// refused, a client slower than the timeout is dropped.
constexpr char kMaxRequestHead[] = "8192";
constexpr char kRequestTimeoutMs[] = "2000";

absl::Status NotLoopback(const std::string& listen) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--metrics_listen=", listen,
      " is not a loopback address: use 127.0.0.1:PORT or [::1]:PORT (the "
      "metrics endpoint has no authentication, so it only listens on "
      "loopback)"));
}

// LoopbackPort turns `listen` into civetweb's "HOST:PORT" / "[V6]:PORT"
// form, refusing anything that is not a loopback address.
absl::StatusOr<std::string> LoopbackPort(const std::string& listen) {
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
  char text[INET6_ADDRSTRLEN] = {};
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    in6_addr in6 = {};
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6) !=
            1 ||
        !IN6_IS_ADDR_LOOPBACK(&in6)) {
      return NotLoopback(listen);
    }
    inet_ntop(AF_INET6, &in6, text, sizeof(text));
    return absl::StrCat("[", text, "]:", port);
  }
  in_addr in4 = {};
  // 127.0.0.0/8 is loopback.
  if (inet_pton(AF_INET, host.c_str(), &in4) != 1 ||
      (ntohl(in4.s_addr) >> 24) != 127) {
    return NotLoopback(listen);
  }
  inet_ntop(AF_INET, &in4, text, sizeof(text));
  return absl::StrCat(text, ":", port);
}

// SnapshotCollectable serves the same snapshot GetMetrics returns.
class SnapshotCollectable : public prometheus::Collectable {
 public:
  explicit SnapshotCollectable(std::string daemon)
      : daemon_(std::move(daemon)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return metrics::ToFamilies(metrics::Registry::Global().Snapshot(daemon_));
  }

 private:
  const std::string daemon_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen,
    std::shared_ptr<prometheus::Collectable> collectable) {
  absl::StatusOr<std::string> port = LoopbackPort(listen);
  if (!port.ok()) return port.status();
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->collectable_ = std::move(collectable);
  try {
    // No document_root: civetweb serves no files, only registered handlers.
    server->exposer_ =
        std::make_unique<prometheus::Exposer>(std::vector<std::string>{
            "listening_ports", *port,                                     //
            "num_threads", "2",                                           //
            "enable_directory_listing", "no", "enable_keep_alive", "no",  //
            "max_request_size", kMaxRequestHead, "request_timeout_ms",
            kRequestTimeoutMs});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics_listen=", listen, ": ", e.what(),
        " (is the port in use? a systemd unit with "
        "RestrictAddressFamilies=AF_UNIX must also allow AF_INET)"));
  }
  server->exposer_->RegisterCollectable(server->collectable_, "/metrics");
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

MetricsHttpServer::~MetricsHttpServer() = default;

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> StartMetricsEndpointFromFlag(
    const std::string& daemon) {
  const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
  if (listen.empty()) return std::unique_ptr<MetricsHttpServer>();
  auto server = MetricsHttpServer::Start(
      listen, std::make_shared<SnapshotCollectable>(daemon));
  if (server.ok()) {
    LogInfo("metrics_endpoint",
            {{"listen", listen}, {"port", absl::StrCat((*server)->port())}});
  }
  return server;
}

}  // namespace latchkey
