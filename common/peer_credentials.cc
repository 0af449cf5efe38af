#include "common/peer_credentials.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <grpcpp/server_context.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace latchkey {

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::InternalError(
        absl::StrCat("SO_PEERCRED failed: ", std::strerror(errno)));
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

PeerRegistry& PeerRegistry::Instance() {
  static PeerRegistry* registry = new PeerRegistry;
  return *registry;
}

void PeerRegistry::Record(int fd, const PeerCredentials& credentials) {
  std::lock_guard<std::mutex> lock(mu_);
  by_fd_[fd] = credentials;
}

std::optional<PeerCredentials> PeerRegistry::Lookup(
    const std::string& peer) const {
  // gRPC names fd-backed connections "fd:N".
  if (!absl::StartsWith(peer, "fd:")) return std::nullopt;
  int fd = -1;
  if (!absl::SimpleAtoi(peer.substr(3), &fd)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

std::optional<PeerCredentials> PeerOf(const grpc::ServerContextBase& context) {
  return PeerRegistry::Instance().Lookup(context.peer());
}

}  // namespace latchkey
