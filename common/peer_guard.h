// PeerGuard is a daemon's one permission table: for each RPC, which peer
// roles may call it. Every handler calls Authorize() first, so a refused
// peer gets PERMISSION_DENIED (UNAUTHENTICATED when its connection's
// credentials are unknown) and a log line before any handler logic.
#ifndef LATCHKEY_COMMON_PEER_GUARD_H_
#define LATCHKEY_COMMON_PEER_GUARD_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/peer_credentials.h"

namespace latchkey {

// PeerRole names a class of callers, for example "broker" or "operator".
using PeerRole = std::string;

class PeerGuard {
 public:
  // AllowUids lets every uid in `uids` act as `role`.
  void AllowUids(const PeerRole& role, const std::vector<uid_t>& uids);
  // Permit lets `role` call `method` ("/latchkey.v1.VaultAdmin/PutSecret").
  void Permit(const std::string& method, const PeerRole& role);

  // Authorize returns the caller's credentials when one of its roles may
  // call `method`; otherwise PERMISSION_DENIED (Refusal::kPeerNotAllowed),
  // or UNAUTHENTICATED (Refusal::kPeerUnverified) when the connection's
  // credentials are unknown. Every refusal is logged.
  absl::StatusOr<PeerCredentials> Authorize(
      const grpc::ServerContextBase& context, const std::string& method) const;

  // IsKnownUid is true when `uid` has any role; UdsServer uses it to log
  // refused peers at accept time.
  bool IsKnownUid(uid_t uid) const;

 private:
  absl::flat_hash_map<PeerRole, absl::flat_hash_set<uid_t>> uids_by_role_;
  absl::flat_hash_map<std::string, std::vector<PeerRole>> roles_by_method_;
};

// ParseUidList parses "0,1000,latchkey-broker" (numbers or user names).
absl::StatusOr<std::vector<uid_t>> ParseUidList(const std::string& text);

// ParseUidListOrSelf reads a daemon's `--<role>_uids` flag: like
// ParseUidList, but an empty list means "only my own uid" (getuid()), so an
// unconfigured daemon admits nobody but itself.
absl::StatusOr<std::vector<uid_t>> ParseUidListOrSelf(const std::string& text);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_PEER_GUARD_H_
