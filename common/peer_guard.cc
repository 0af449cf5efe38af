#include "common/peer_guard.h"

#include <pwd.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/refusal.h"

namespace latchkey {

void PeerGuard::AllowUids(const PeerRole& role,
                          const std::vector<uid_t>& uids) {
  uids_by_role_[role].insert(uids.begin(), uids.end());
}

void PeerGuard::Permit(const std::string& method, const PeerRole& role) {
  roles_by_method_[method].push_back(role);
}

bool PeerGuard::IsKnownUid(uid_t uid) const {
  for (const auto& [role, uids] : uids_by_role_) {
    if (uids.contains(uid)) return true;
  }
  return false;
}

absl::StatusOr<PeerCredentials> PeerGuard::Authorize(
    const grpc::ServerContextBase& context, const std::string& method) const {
  absl::StatusOr<PeerCredentials> peer = PeerOf(context);
  if (!peer.ok()) {
    // Only connections accepted by UdsServer, and still open, carry
    // credentials; anything else is refused rather than guessed at.
    LogWarning("peer_refused", {{"method", method},
                                {"peer", context.peer()},
                                {"why", std::string(peer.status().message())}});
    return peer.status();
  }
  auto roles = roles_by_method_.find(method);
  if (roles != roles_by_method_.end()) {
    for (const PeerRole& role : roles->second) {
      auto uids = uids_by_role_.find(role);
      if (uids != uids_by_role_.end() && uids->second.contains(peer->uid)) {
        return *peer;
      }
    }
  }
  LogWarning("peer_refused", {{"method", method},
                              {"uid", absl::StrCat(peer->uid)},
                              {"gid", absl::StrCat(peer->gid)},
                              {"pid", absl::StrCat(peer->pid)}});
  return Refuse(
      absl::StatusCode::kPermissionDenied, Refusal::kPeerNotAllowed,
      absl::StrCat(
          "uid ", peer->uid, " may not call ", method,
          "; add it to the daemon's allow-list flag if this is intended"));
}

absl::StatusOr<std::vector<uid_t>> ParseUidList(const std::string& text) {
  std::vector<uid_t> uids;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    uint32_t number = 0;
    if (absl::SimpleAtoi(item, &number)) {
      uids.push_back(number);
      continue;
    }
    std::string name(item);
    struct passwd pwd;
    struct passwd* result = nullptr;
    char buffer[4096];
    if (getpwnam_r(name.c_str(), &pwd, buffer, sizeof(buffer), &result) != 0 ||
        result == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown user '", name, "' in uid list '", text, "'"));
    }
    uids.push_back(result->pw_uid);
  }
  return uids;
}

absl::StatusOr<std::vector<uid_t>> ParseUidListOrSelf(const std::string& text) {
  absl::StatusOr<std::vector<uid_t>> uids = ParseUidList(text);
  if (uids.ok() && uids->empty()) uids->push_back(::getuid());
  return uids;
}

}  // namespace latchkey
