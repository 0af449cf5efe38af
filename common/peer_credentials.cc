#include "common/peer_credentials.h"

#include <grpcpp/server_context.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/refusal.h"

namespace latchkey {
namespace {

absl::Status Unverified(absl::string_view why) {
  return Refuse(absl::StatusCode::kUnauthenticated, Refusal::kPeerUnverified,
                why);
}

}  // namespace

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

bool PeerRegistry::IsCurrent(int fd, const Entry& entry) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         st.st_dev == entry.dev && st.st_ino == entry.ino;
}

absl::Status PeerRegistry::Record(int fd, const PeerCredentials& credentials) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat(
        "fstat of an accepted socket failed: ", std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::InvalidArgumentError("peer credentials of a non-socket");
  }
  std::lock_guard<std::mutex> lock(mu_);
  by_fd_[fd] = Entry{credentials, st.st_dev, st.st_ino};
  if (by_fd_.size() >= sweep_at_) SweepLocked();
  return absl::OkStatus();
}

void PeerRegistry::SweepLocked() {
  for (auto it = by_fd_.begin(); it != by_fd_.end();) {
    // flat_hash_map: erase(it++) keeps `it` valid.
    if (IsCurrent(it->first, it->second)) {
      ++it;
    } else {
      by_fd_.erase(it++);
    }
  }
  sweep_at_ = std::max(kMinSweepSize, 2 * by_fd_.size());
}

absl::StatusOr<PeerCredentials> PeerRegistry::Lookup(const std::string& peer) {
  // gRPC names fd-backed connections "fd:N".
  int fd = -1;
  if (!absl::StartsWith(peer, "fd:") ||
      !absl::SimpleAtoi(absl::string_view(peer).substr(3), &fd) || fd < 0) {
    return Unverified(
        "caller has no Unix peer credentials; connect over the Unix socket");
  }
  // fstat outside the lock: it is the only system call on this path.
  struct stat st;
  bool open = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_fd_.find(fd);
  if (it != by_fd_.end() && open && st.st_dev == it->second.dev &&
      st.st_ino == it->second.ino) {
    return it->second.credentials;
  }
  // The entry (if any) may be newer than our fstat (the number was closed
  // and accepted again in between); erase it only if it is stale now.
  if (it != by_fd_.end() && !IsCurrent(fd, it->second)) by_fd_.erase(it);
  return Unverified(
      "the daemon has no credentials for this connection (it was closed or "
      "replaced); reconnect");
}

void PeerRegistry::Sweep() {
  std::lock_guard<std::mutex> lock(mu_);
  SweepLocked();
}

void PeerRegistry::Forget(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  by_fd_.erase(fd);
}

size_t PeerRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_fd_.size();
}

absl::StatusOr<PeerCredentials> PeerOf(const grpc::ServerContextBase& context) {
  return PeerRegistry::Instance().Lookup(context.peer());
}

}  // namespace latchkey
