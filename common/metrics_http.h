// MetricsHttpServer serves the process's metrics (common/metrics.h) as
// `GET /metrics` in the Prometheus text format, on a loopback TCP address
// only: the endpoint has no authentication, so it must not be reachable
// from other hosts. It is a deliberately tiny, single-threaded responder:
// one connection at a time, request head capped at 8 KiB, 2 s I/O timeouts,
// no keep-alive.
//
// Every daemon takes --metrics_listen=127.0.0.1:PORT (default: off). The
// systemd units restrict the daemons to AF_UNIX (RestrictAddressFamilies,
// PrivateNetwork); enabling the endpoint there needs a drop-in allowing
// AF_INET and dropping PrivateNetwork (see README.md, Metrics).
#ifndef LATCHKEY_COMMON_METRICS_HTTP_H_
#define LATCHKEY_COMMON_METRICS_HTTP_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace latchkey {

class MetricsHttpServer {
 public:
  // Start listens on `listen` ("127.0.0.1:PORT", "[::1]:PORT" or
  // "localhost:PORT"; PORT 0 picks a free one) and answers GET /metrics
  // with body(). INVALID_ARGUMENT for a non-loopback or malformed address.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, std::function<std::string()> body);
  ~MetricsHttpServer();  // Stops serving and joins the thread.

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  void Serve();
  void Answer(int fd);

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::function<std::string()> body_;
  std::thread thread_;
};

// StartMetricsEndpointFromFlag starts the endpoint when --metrics_listen is
// set, serving `daemon`'s Registry snapshot; null when the flag is empty.
absl::StatusOr<std::unique_ptr<MetricsHttpServer>> StartMetricsEndpointFromFlag(
    const std::string& daemon);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_METRICS_HTTP_H_
