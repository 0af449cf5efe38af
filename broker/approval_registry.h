// ApprovalRegistry holds the approval gate's state: requests waiting for an
// operator, and the operators' decisions. It is persisted in its own SQLite
// database (state_dir/approvals.db), so a pending approval, and the
// approval of a session, survive a broker restart.
//
// Lifecycle: PENDING -> APPROVED | DENIED (DecideApproval, by an operator)
// or TIMED_OUT (its expire_time passed first); an APPROVED approval of an
// EVERY_REQUEST capability becomes USED when its one request is executed.
// An approval is bound to the agent, session and capability it was asked
// for, and for EVERY_REQUEST also to the method and normalized path, so an
// approval id cannot be replayed for another request.
#ifndef LATCHKEY_BROKER_APPROVAL_REGISTRY_H_
#define LATCHKEY_BROKER_APPROVAL_REGISTRY_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/session_registry.h"
#include "common/sqlite_db.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

// ApprovalAsk is the request being decided, after every other check.
struct ApprovalAsk {
  std::string agent;
  std::string session_id;
  std::string capability;
  std::string method;
  std::string path;  // normalized
  std::string reason;
  std::string request_id;
  v1::ApprovalMode mode = v1::APPROVAL_MODE_NONE;
  absl::Duration timeout = absl::Seconds(600);
  // approval_id the agent presented, if any.
  std::string approval_id;
  // The whole request (RequestDigest::request_sha256) and what the
  // operator is shown of it.
  std::string request_sha256;
  std::string query;
  uint64_t body_bytes = 0;
  std::string body_preview;
};

// ApprovalGate is the verdict: pass, or a denial with an APPROVAL_* code.
struct ApprovalGate {
  bool pass = false;
  v1::ReasonCode code = v1::REASON_UNSPECIFIED;
  std::string message;
  // approval involved, if any (the one created, polled or used).
  std::optional<v1::Approval> approval;
  // consume: call Consume(approval->id) once the request is handed on.
  bool consume = false;
};

class ApprovalRegistry {
 public:
  // Open loads `path` (created 0600 when missing); an empty path keeps
  // everything in memory (tests).
  static absl::StatusOr<std::unique_ptr<ApprovalRegistry>> Open(
      const std::string& path, Clock clock = absl::Now);

  // Check runs the gate for `ask` (mode must not be NONE).
  ApprovalGate Check(const ApprovalAsk& ask);
  // Consume marks an approved EVERY_REQUEST approval USED.
  void Consume(const std::string& id);

  // Decide approves or denies a pending approval. NOT_FOUND for an unknown
  // id, FAILED_PRECONDITION when it is no longer pending (decided, used or
  // timed out: the answer names the state).
  absl::StatusOr<v1::Approval> Decide(const std::string& id, bool approve,
                                      uint32_t operator_uid);
  // List returns approvals, pending first then newest first.
  std::vector<v1::Approval> List(absl::string_view agent,
                                 bool pending_only) const;
  // SessionApproved: a FIRST_REQUEST_OF_SESSION approval of this
  // session and capability was approved.
  bool SessionApproved(absl::string_view agent, absl::string_view session_id,
                       absl::string_view capability) const;
  // ExpireDue turns pending approvals past their expire_time into
  // TIMED_OUT and returns them (each exactly once, to be audited).
  std::vector<v1::Approval> ExpireDue();

 private:
  ApprovalRegistry(Clock clock, std::unique_ptr<SqliteDb> db)
      : clock_(std::move(clock)), db_(std::move(db)) {}
  absl::Status Load();
  // *Locked: mu_ held.
  void PersistLocked(const v1::Approval& approval);
  void PruneLocked();
  bool ExpireLocked(v1::Approval* approval, absl::Time now);
  size_t PendingCountLocked(const std::string& agent) const;

  Clock clock_;
  mutable std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;               // may be null; guarded by mu_
  std::map<std::string, v1::Approval> by_id_;  // guarded by mu_
};

// ApprovalTimeout is the capability's approval_timeout, defaulted and
// capped (common/limits.h).
absl::Duration ApprovalTimeout(const v1::Capability& capability);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_APPROVAL_REGISTRY_H_
