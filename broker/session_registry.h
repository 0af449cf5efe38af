// SessionRegistry holds agents' sessions (128-bit random ids, TTLs capped by
// each capability's maximum) and revocations, persisted in a BrokerStore
// when one is given.
//
// Revocation. A session is revoked when RevokeSession named it, or when a
// revocation of its agent, of the capability being used, or of everything
// was recorded after the session was opened. Each revocation has a
// sequence number `seq` taken from a counter (the epoch); a session
// remembers the epoch it was opened in and is cut off by every revocation
// with seq > its epoch. RevokeAgent/RevokeCapability/RevokeAll also leave
// the revocation *active*: new sessions for it are refused until an
// operator lifts it; lifting never revives a session that was cut off.
// Deleting an agent or capability records an inactive revocation (a
// cut-off only), so a later entry with the same name starts clean.
//
// Linearization point. RequestExecutor holds the revocation gate in
// shared mode from its session check until it hands the request to the
// vault (see AdmissionGate). Every revocation changes the in-memory state
// while holding the gate exclusively, and only then (after persisting it)
// returns. Therefore, once a revoke call has returned:
//   - every check that starts afterwards sees the revocation and refuses;
//   - every request that passed its check before has already been handed
//     to the vault client (the revoke waited for it), so no upstream call
//     under the revoked grant is started after the revoke returned.
// Requests already in flight upstream are not aborted.
#ifndef LATCHKEY_BROKER_SESSION_REGISTRY_H_
#define LATCHKEY_BROKER_SESSION_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/broker_store.h"
#include "broker/rw_lock.h"
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
  // `store` may be null (nothing persisted); it must outlive the registry.
  explicit SessionRegistry(Clock clock = absl::Now,
                           BrokerStore* store = nullptr)
      : clock_(std::move(clock)), store_(store) {}

  // Load reads sessions and revocations from the store; call once before
  // serving. Sessions that expired more than kKeepExpired ago are dropped.
  absl::Status Load();

  // Open creates a session for `agent` covering `capabilities`, expiring
  // after `ttl` (already capped by the caller). PERMISSION_DENIED when the
  // agent, one of the capabilities, or everything is actively revoked.
  absl::StatusOr<v1::Session> Open(const std::string& agent,
                                   const std::vector<std::string>& capabilities,
                                   absl::Duration ttl);
  // Check verifies that `session_id` belongs to `agent`, covers
  // `capability`, is not revoked (in any of the ways above) and has not
  // expired.
  SessionCheck Check(absl::string_view session_id, absl::string_view agent,
                     absl::string_view capability) const;

  // Revoke marks a session revoked; false if unknown or already revoked.
  // An error means the revocation is in force but could not be persisted.
  absl::StatusOr<bool> Revoke(absl::string_view session_id);
  // RevokeAgent / RevokeCapability / RevokeAll: see the file comment.
  // The response counts the live sessions they cut off.
  absl::StatusOr<v1::RevokeResponse> RevokeAgent(absl::string_view name);
  absl::StatusOr<v1::RevokeResponse> RevokeCapability(absl::string_view name);
  absl::StatusOr<v1::RevokeResponse> RevokeAll();
  // CutOff revokes the current sessions of an agent or capability without
  // refusing new ones (used when the entry is deleted).
  absl::Status CutOff(v1::Revocation::Kind kind, absl::string_view name);
  // Lift ends an active revocation; false if none was active.
  absl::StatusOr<bool> Lift(v1::Revocation::Kind kind, absl::string_view name);

  // Refusal returns why a new request of `agent` for `capability` is
  // refused by an active revocation, if it is.
  std::optional<std::string> Refusal(absl::string_view agent,
                                     absl::string_view capability) const;

  // List returns sessions (optionally of one agent) with `revoked` and
  // `revoked_by` filled in as Check would judge them.
  std::vector<v1::Session> List(absl::string_view agent = "") const;
  // Find returns a copy of the session, if any, judged like List.
  std::optional<v1::Session> Find(absl::string_view session_id) const;
  std::vector<v1::Revocation> ListRevocations() const;

  // The revocation gate: held shared by an Execute from its check until
  // the vault call is dispatched; held exclusively by every revocation.
  RwLock& gate() const { return gate_; }

  // Revoked and expired sessions are kept this long after expiry, so
  // their ids are refused with the precise reason, then forgotten.
  static constexpr absl::Duration kKeepExpired = absl::Hours(24);

 private:
  // Bound on live sessions, so a looping agent cannot exhaust memory.
  static constexpr size_t kMaxSessions = 100'000;
  // How often Open prunes expired sessions from memory and the store.
  static constexpr absl::Duration kPruneEvery = absl::Minutes(10);

  struct Entry {
    v1::Session session;
    int64_t epoch = 0;
  };
  struct Rev {
    v1::Revocation proto;
    int64_t seq = 0;
  };

  static std::string Key(v1::Revocation::Kind kind, absl::string_view name);
  // CutBy returns the revocation that cuts `entry` off for `capability`
  // (or for all its capabilities when `capability` is null), if any.
  // *Locked: mu_ is held (shared at least).
  const Rev* CutByLocked(const Entry& entry,
                         const std::string* capability) const;
  const Rev* ActiveLocked(v1::Revocation::Kind kind,
                          absl::string_view name) const;
  v1::Session JudgedLocked(const Entry& entry) const;
  absl::StatusOr<v1::RevokeResponse> Record(v1::Revocation::Kind kind,
                                            absl::string_view name,
                                            bool active);
  void PruneExpiredLocked();  // mu_ held exclusively

  Clock clock_;
  BrokerStore* store_;
  // write_mu_ serializes revocation writers, so that seq order, memory
  // and database agree. Order: write_mu_, gate_, mu_.
  std::mutex write_mu_;
  mutable RwLock gate_;
  mutable RwLock mu_;
  // Guarded by mu_:
  std::map<std::string, Entry> sessions_;
  std::map<std::string, Rev> revocations_;
  int64_t epoch_ = 0;
  absl::Time last_prune_ = absl::InfinitePast();
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_SESSION_REGISTRY_H_
