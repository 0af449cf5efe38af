// Peer credentials of Unix-socket connections, read with SO_PEERCRED at
// accept time and looked up again for each gRPC call.
//
// gRPC C++ does not expose SO_PEERCRED, so UdsServer accepts connections
// itself, records the credentials here, and hands the fd to gRPC;
// ServerContext::peer() then reads "fd:N".
//
// A number is not a connection: once gRPC closes a connection, its fd
// number is reused by the next descriptor the process opens. So each
// entry is bound to the socket itself (st_dev/st_ino of the open file,
// unique among live sockets), and a lookup checks that fd N still refers
// to that socket. A call whose fd has no entry, or refers to another
// file, is refused: it is never attributed to the credentials of an
// earlier connection that had the same number. gRPC does not tell us
// when it closes a connection, so entries of closed connections are
// dropped lazily: overwritten when the number is accepted again, erased
// when a lookup finds them stale, and swept when the table has grown.
#ifndef LATCHKEY_COMMON_PEER_CREDENTIALS_H_
#define LATCHKEY_COMMON_PEER_CREDENTIALS_H_

#include <sys/types.h>

#include <cstddef>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

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

// PeerRegistry maps live connections to the credentials read at accept.
// File descriptors are process-wide, so there is one registry per process.
// Thread-safe.
class PeerRegistry {
 public:
  static PeerRegistry& Instance();

  // Record binds `credentials` to the socket `fd` refers to now, replacing
  // any entry for the same number (its connection is closed, or the
  // number could not have been handed out again).
  absl::Status Record(int fd, const PeerCredentials& credentials);
  // Lookup returns the credentials for a call's peer string ("fd:N") when
  // fd N still refers to the socket they were recorded for. Otherwise
  // UNAUTHENTICATED, tagged Refusal::kPeerUnverified.
  absl::StatusOr<PeerCredentials> Lookup(const std::string& peer);
  // Forget drops the entry of `fd` (a connection we close ourselves).
  void Forget(int fd);
  // Sweep erases the entries whose connection is closed (Record does it
  // on its own as the table grows).
  void Sweep();
  // size is the number of entries, live or not yet swept.
  size_t size() const;

  // Tests construct their own registry; daemons use Instance().
  PeerRegistry() = default;
  PeerRegistry(const PeerRegistry&) = delete;
  PeerRegistry& operator=(const PeerRegistry&) = delete;

 private:
  struct Entry {
    PeerCredentials credentials;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  // IsCurrent: fd refers to the socket `entry` was recorded for.
  static bool IsCurrent(int fd, const Entry& entry);
  void SweepLocked();

  // Sweep when the table reaches this size (doubling from the live
  // count after each sweep), so a sweep costs O(1) per accept amortized.
  static constexpr size_t kMinSweepSize = 64;

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which then cannot see absl::Mutex's locking.
  mutable std::mutex mu_;
  absl::flat_hash_map<int, Entry> by_fd_;  // Guarded by mu_.
  size_t sweep_at_ = kMinSweepSize;        // Guarded by mu_.
};

// PeerOf returns the credentials of the peer making the call; an error
// when the call did not arrive through UdsServer or its connection's
// credentials are unknown (see PeerRegistry::Lookup).
absl::StatusOr<PeerCredentials> PeerOf(const grpc::ServerContextBase& context);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_PEER_CREDENTIALS_H_
