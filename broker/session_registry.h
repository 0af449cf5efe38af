// SessionRegistry holds agents' sessions: 128-bit random ids, TTLs capped
// by each capability's maximum, and revocation that takes effect before
// Revoke returns (the check and the revoke share one mutex).
#ifndef LATCHKEY_BROKER_SESSION_REGISTRY_H_
#define LATCHKEY_BROKER_SESSION_REGISTRY_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/broker.pb.h"
#include "proto/common.pb.h"

namespace latchkey::broker {

// Clock is injectable so tests can move time.
using Clock = std::function<absl::Time()>;

struct SessionCheck {
  bool ok = false;
  v1::ReasonCode code = v1::REASON_UNSPECIFIED;
  std::string message;
};

class SessionRegistry {
 public:
  explicit SessionRegistry(Clock clock = absl::Now) : clock_(clock) {}

  // Open creates a session for `agent` covering `capabilities`, expiring
  // after `ttl` (already capped by the caller).
  absl::StatusOr<v1::Session> Open(const std::string& agent,
                                   const std::vector<std::string>& capabilities,
                                   absl::Duration ttl);
  // Check verifies that `session_id` belongs to `agent`, covers
  // `capability`, has not expired and is not revoked.
  SessionCheck Check(absl::string_view session_id, absl::string_view agent,
                     absl::string_view capability) const;
  // Revoke marks a session revoked; false if unknown or already revoked.
  bool Revoke(absl::string_view session_id);
  std::vector<v1::Session> List() const;
  // Find returns a copy of the session, if any.
  std::optional<v1::Session> Find(absl::string_view session_id) const;

 private:
  // Bound on live sessions, so a looping agent cannot exhaust memory.
  static constexpr size_t kMaxSessions = 100'000;
  void PruneExpiredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, v1::Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_SESSION_REGISTRY_H_
