// UdsServer serves gRPC services on one Unix socket, checking every
// connecting peer's credentials with SO_PEERCRED.
//
// gRPC C++ cannot report peer credentials, so we run our own accept()
// loop: each accepted fd's SO_PEERCRED is recorded in PeerRegistry (bound
// to that socket, not just its fd number: see peer_credentials.h), the fd
// is made non-blocking (gRPC hangs otherwise) and handed to the server with
// grpc::AddInsecureChannelFromFd. Peers outside every allow-list are still
// handed over, so that their calls fail with PERMISSION_DENIED from
// PeerGuard rather than hanging or being reset.
#ifndef LATCHKEY_COMMON_UDS_SERVER_H_
#define LATCHKEY_COMMON_UDS_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/in_flight_calls.h"
#include "common/peer_guard.h"

namespace latchkey {

struct UdsServerOptions {
  // socket_path is where to listen; its directory is created 0750.
  std::string socket_path;
  // socket_mode is applied to the socket file (0660 or stricter).
  mode_t socket_mode = 0660;
  // guard is consulted at accept time to log unknown peers; it must
  // outlive the server.
  const PeerGuard* guard = nullptr;
  // reflection makes sure gRPC server reflection is initialized. Note that
  // Debian's libgrpc++_reflection also registers itself when it is loaded,
  // so every socket of a daemon that links it answers reflection; each
  // socket only serves (and so only lists) its own services.
  bool reflection = false;
};

class UdsServer {
 public:
  // Start binds the socket (or adopts the one systemd passed for the same
  // path), starts gRPC with `services` and the accept loop.
  static absl::StatusOr<std::unique_ptr<UdsServer>> Start(
      const UdsServerOptions& options,
      const std::vector<grpc::Service*>& services);

  ~UdsServer();
  UdsServer(const UdsServer&) = delete;
  UdsServer& operator=(const UdsServer&) = delete;

  // Shutdown stops accepting, lets in-flight calls finish (up to
  // `grace`), and removes the socket file if we created it.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  const std::string& socket_path() const { return options_.socket_path; }

 private:
  UdsServer(const UdsServerOptions& options, int listen_fd, int wake_fd,
            bool owns_socket_file, std::unique_ptr<InFlightCalls> calls,
            std::unique_ptr<grpc::Server> server);
  void AcceptLoop();

  const UdsServerOptions options_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd that interrupts the accept loop.
  const bool owns_socket_file_;
  std::unique_ptr<InFlightCalls> calls_;  // Outlives server_.
  std::unique_ptr<grpc::Server> server_;
  std::thread accept_thread_;
  std::atomic<bool> stopped_{false};
};

// CreateUdsChannel connects to a Unix socket with Latchkey's message limits.
std::shared_ptr<grpc::Channel> CreateUdsChannel(const std::string& path);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_UDS_SERVER_H_
