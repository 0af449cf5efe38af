// Peer credentials of Unix-socket connections, read with SO_PEERCRED at
// accept time and looked up again for each gRPC call.
//
// gRPC C++ does not expose SO_PEERCRED, so UdsServer accepts connections
// itself, records the credentials here under the connection's fd, and
// hands the fd to gRPC; ServerContext::peer() then reads "fd:N".
#ifndef LATCHKEY_COMMON_PEER_CREDENTIALS_H_
#define LATCHKEY_COMMON_PEER_CREDENTIALS_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include <mutex>

namespace grpc {
class ServerContextBase;
}

namespace latchkey {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// ReadPeerCredentials returns SO_PEERCRED of a connected Unix socket.
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

// PeerRegistry maps live connection fds to the credentials read at accept.
// File descriptors are process-wide, so there is one registry per process.
class PeerRegistry {
 public:
  static PeerRegistry& Instance();

  void Record(int fd, const PeerCredentials& credentials);
  // Lookup returns the credentials for a call's peer string ("fd:N").
  std::optional<PeerCredentials> Lookup(const std::string& peer) const;

 private:
  PeerRegistry() = default;
  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which then cannot see absl::Mutex's locking.
  mutable std::mutex mu_;
  absl::flat_hash_map<int, PeerCredentials> by_fd_;  // Guarded by mu_.
};

// PeerOf returns the credentials of the peer making the call, or nullopt
// when the call did not arrive through UdsServer.
std::optional<PeerCredentials> PeerOf(const grpc::ServerContextBase& context);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_PEER_CREDENTIALS_H_
