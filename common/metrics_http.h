// MetricsHttpServer serves a prometheus-cpp Collectable as `GET /metrics`
// in the Prometheus text format through prometheus-cpp's Exposer (civetweb),
// on a loopback TCP address only: the endpoint has no authentication, so it
// must not be reachable from other hosts. civetweb is configured tightly:
// no document root and no directory listing (only /metrics is answered),
// request head capped at 8 KiB, 2 s request timeout, no keep-alive, two
// worker threads.
//
// Every daemon takes --metrics_listen=127.0.0.1:PORT (default: off). The
// systemd units restrict the daemons to AF_UNIX (RestrictAddressFamilies,
// PrivateNetwork); enabling the endpoint there needs a drop-in allowing
// AF_INET and dropping PrivateNetwork (see docs/operator-guide.md, Metrics).
#ifndef LATCHKEY_COMMON_METRICS_HTTP_H_
#define LATCHKEY_COMMON_METRICS_HTTP_H_

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

ABSL_DECLARE_FLAG(std::string, metrics_listen);

namespace latchkey {

class MetricsHttpServer {
 public:
  // Start listens on `listen` ("127.0.0.1:PORT", "[::1]:PORT" or
  // "localhost:PORT"; PORT 0 picks a free one) and answers GET /metrics
  // with `collectable`'s families. INVALID_ARGUMENT for a non-loopback or
  // malformed address, UNAVAILABLE when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen,
      std::shared_ptr<prometheus::Collectable> collectable);
  // Stops serving; civetweb notices the stop between 2 s polls of its
  // listening socket, so this can take up to about 2 s.
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::shared_ptr<prometheus::Collectable> collectable_;  // Exposer: weak.
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// StartMetricsEndpointFromFlag starts the endpoint when --metrics_listen is
// set, serving `daemon`'s Registry snapshot; null when the flag is empty.
absl::StatusOr<std::unique_ptr<MetricsHttpServer>> StartMetricsEndpointFromFlag(
    const std::string& daemon);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_METRICS_HTTP_H_
