#include "broker/approval_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace latchkey::broker {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY,
  create_unix_ns INTEGER NOT NULL,
  proto BLOB NOT NULL
);
)sql";

// Decided approvals are forgotten this long after they were created; a
// session approval outlives any session (at most 24 h by config limits).
constexpr absl::Duration kKeepDecided = absl::Hours(48);

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(time));
  ts.set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
  return ts;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

const char* StateWord(v1::Approval::State state) {
  switch (state) {
    case v1::Approval::PENDING:
      return "pending";
    case v1::Approval::APPROVED:
      return "approved";
    case v1::Approval::DENIED:
      return "denied";
    case v1::Approval::TIMED_OUT:
      return "timed out";
    case v1::Approval::USED:
      return "already used";
    default:
      return "unknown";
  }
}

ApprovalGate Deny(v1::ReasonCode code, std::string message,
                  const v1::Approval* approval = nullptr) {
  ApprovalGate gate;
  gate.code = code;
  gate.message = std::move(message);
  if (approval != nullptr) gate.approval = *approval;
  return gate;
}

}  // namespace

absl::Duration ApprovalTimeout(const v1::Capability& capability) {
  absl::Duration timeout =
      absl::Seconds(capability.approval_timeout().seconds()) +
      absl::Nanoseconds(capability.approval_timeout().nanos());
  if (timeout <= absl::ZeroDuration()) {
    return absl::Seconds(kDefaultApprovalTimeoutSeconds);
  }
  return std::min(timeout, absl::Seconds(kMaxApprovalTimeoutSeconds));
}

absl::StatusOr<std::unique_ptr<ApprovalRegistry>> ApprovalRegistry::Open(
    const std::string& path, Clock clock) {
  std::unique_ptr<SqliteDb> db;
  if (!path.empty()) {
    LK_ASSIGN_OR_RETURN(db, SqliteDb::Open(path));
    LK_RETURN_IF_ERROR(db->Exec(kSchema));
  }
  std::unique_ptr<ApprovalRegistry> registry(
      new ApprovalRegistry(std::move(clock), std::move(db)));
  LK_RETURN_IF_ERROR(registry->Load());
  return registry;
}

absl::Status ApprovalRegistry::Load() {
  if (db_ == nullptr) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  LK_ASSIGN_OR_RETURN(SqliteStatement select,
                      db_->Prepare("SELECT proto FROM approvals"));
  while (true) {
    LK_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    v1::Approval approval;
    if (!approval.ParseFromString(select.ColumnBlob(0))) {
      return absl::DataLossError("approvals.db: corrupt approval");
    }
    by_id_[approval.id()] = std::move(approval);
  }
  PruneLocked();
  return absl::OkStatus();
}

void ApprovalRegistry::PersistLocked(const v1::Approval& approval) {
  if (db_ == nullptr) return;
  absl::Status status = [&]() -> absl::Status {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement put,
        db_->Prepare("INSERT OR REPLACE INTO approvals (id, create_unix_ns, "
                     "proto) VALUES (?, ?, ?)"));
    return put.Bind(1, approval.id())
        .Bind(2, absl::ToUnixNanos(FromProto(approval.create_time())))
        .BindBlob(3, approval.SerializeAsString())
        .Run();
  }();
  if (!status.ok()) {
    // The state in memory still holds; only a restart would lose it.
    LogError("approval_not_persisted",
             {{"approval", approval.id()}, {"error", status.ToString()}});
  }
}

void ApprovalRegistry::PruneLocked() {
  absl::Time cutoff = clock_() - kKeepDecided;
  std::vector<std::string> gone;
  for (const auto& [id, approval] : by_id_) {
    if (approval.state() != v1::Approval::PENDING &&
        FromProto(approval.create_time()) < cutoff) {
      gone.push_back(id);
    }
  }
  // Still too many: drop the oldest decided ones.
  if (by_id_.size() - gone.size() > kMaxApprovalsKept) {
    std::vector<std::pair<absl::Time, std::string>> decided;
    for (const auto& [id, approval] : by_id_) {
      if (approval.state() != v1::Approval::PENDING) {
        decided.emplace_back(FromProto(approval.create_time()), id);
      }
    }
    std::sort(decided.begin(), decided.end());
    for (size_t i = 0; i < decided.size() && i < decided.size() / 2; ++i) {
      gone.push_back(decided[i].second);
    }
  }
  for (const std::string& id : gone) {
    by_id_.erase(id);
    if (db_ != nullptr) {
      auto del = db_->Prepare("DELETE FROM approvals WHERE id = ?");
      if (del.ok()) (void)del->Bind(1, id).Run();
    }
  }
}

bool ApprovalRegistry::ExpireLocked(v1::Approval* approval, absl::Time now) {
  if (approval->state() != v1::Approval::PENDING ||
      now < FromProto(approval->expire_time())) {
    return false;
  }
  approval->set_state(v1::Approval::TIMED_OUT);
  *approval->mutable_decide_time() = ToProto(now);
  PersistLocked(*approval);
  return true;
}

size_t ApprovalRegistry::PendingCountLocked(const std::string& agent) const {
  size_t count = 0;
  for (const auto& [id, approval] : by_id_) {
    if (approval.agent() == agent &&
        approval.state() == v1::Approval::PENDING) {
      ++count;
    }
  }
  return count;
}

std::vector<v1::Approval> ApprovalRegistry::ExpireDue() {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Time now = clock_();
  std::vector<v1::Approval> expired;
  for (auto& [id, approval] : by_id_) {
    if (ExpireLocked(&approval, now)) expired.push_back(approval);
  }
  return expired;
}

ApprovalGate ApprovalRegistry::Check(const ApprovalAsk& ask) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Time now = clock_();
  bool every = ask.mode == v1::APPROVAL_MODE_EVERY_REQUEST;
  auto same_session = [&](const v1::Approval& a) {
    return a.agent() == ask.agent && a.session_id() == ask.session_id &&
           a.capability() == ask.capability;
  };
  auto same_request = [&](const v1::Approval& a) {
    return same_session(a) && a.method() == ask.method &&
           a.path() == ask.path && a.request_sha256() == ask.request_sha256;
  };

  // A session already approved (first-request mode) passes.
  if (!every) {
    for (const auto& [id, approval] : by_id_) {
      if (same_session(approval) &&
          approval.mode() == v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION &&
          approval.state() == v1::Approval::APPROVED) {
        ApprovalGate gate;
        gate.pass = true;
        gate.approval = approval;
        return gate;
      }
    }
  }

  if (!ask.approval_id.empty()) {
    auto it = by_id_.find(ask.approval_id);
    if (it == by_id_.end() ||
        !(every ? same_request(it->second) : same_session(it->second))) {
      return Deny(v1::REASON_APPROVAL_NOT_FOUND,
                  absl::StrCat("approval '", ask.approval_id,
                               "' was not issued for this ",
                               every ? "request (an every-request approval "
                                       "covers one method, path, query, "
                                       "header set and body exactly)"
                                     : "session and capability"));
    }
    v1::Approval& approval = it->second;
    ExpireLocked(&approval, now);
    switch (approval.state()) {
      case v1::Approval::PENDING:
        return Deny(
            v1::REASON_APPROVAL_PENDING,
            absl::StrCat("approval ", approval.id(),
                         " still waits for an operator (until ",
                         absl::FormatTime(FromProto(approval.expire_time())),
                         ")"),
            &approval);
      case v1::Approval::APPROVED: {
        ApprovalGate gate;
        gate.pass = true;
        gate.approval = approval;
        gate.consume = every;
        return gate;
      }
      case v1::Approval::DENIED:
        return Deny(v1::REASON_APPROVAL_DENIED,
                    absl::StrCat("an operator (uid ", approval.operator_uid(),
                                 ") denied approval ", approval.id()),
                    &approval);
      case v1::Approval::TIMED_OUT:
        return Deny(v1::REASON_APPROVAL_TIMED_OUT,
                    absl::StrCat("approval ", approval.id(),
                                 " timed out before an operator decided"),
                    &approval);
      default:
        return Deny(v1::REASON_APPROVAL_NOT_FOUND,
                    absl::StrCat("approval ", approval.id(), " is ",
                                 StateWord(approval.state()),
                                 "; ask again without approval_id"),
                    &approval);
    }
  }

  // No id: an identical pending ask is returned rather than duplicated.
  for (auto& [id, approval] : by_id_) {
    if ((every ? same_request(approval) : same_session(approval)) &&
        approval.mode() == ask.mode) {
      ExpireLocked(&approval, now);
      if (approval.state() == v1::Approval::PENDING) {
        return Deny(v1::REASON_APPROVAL_PENDING,
                    absl::StrCat("approval ", approval.id(),
                                 " already waits for an operator"),
                    &approval);
      }
    }
  }
  if (PendingCountLocked(ask.agent) >= kMaxPendingApprovalsPerAgent) {
    return Deny(
        v1::REASON_APPROVAL_QUEUE_FULL,
        absl::StrCat("agent '", ask.agent, "' already has ",
                     kMaxPendingApprovalsPerAgent, " approvals pending"));
  }
  PruneLocked();
  v1::Approval approval;
  approval.set_id(HexEncode(RandomBytes(8).value_or("")));
  if (approval.id().empty()) {
    return Deny(v1::REASON_APPROVAL_NOT_FOUND,
                "no random bytes for an approval id; retry");
  }
  approval.set_agent(ask.agent);
  approval.set_session_id(ask.session_id);
  approval.set_capability(ask.capability);
  approval.set_method(ask.method);
  approval.set_path(ask.path);
  approval.set_reason(ask.reason);
  approval.set_state(v1::Approval::PENDING);
  approval.set_mode(ask.mode);
  *approval.mutable_create_time() = ToProto(now);
  *approval.mutable_expire_time() = ToProto(now + ask.timeout);
  approval.set_request_id(ask.request_id);
  approval.set_request_sha256(ask.request_sha256);
  approval.set_query(ask.query);
  approval.set_body_bytes(ask.body_bytes);
  approval.set_body_preview(ask.body_preview);
  PersistLocked(approval);
  by_id_[approval.id()] = approval;
  LogInfo("approval_requested", {{"approval", approval.id()},
                                 {"agent", ask.agent},
                                 {"capability", ask.capability}});
  return Deny(
      v1::REASON_APPROVAL_PENDING,
      absl::StrCat("this request needs an operator's approval (",
                   every ? "every request" : "first request of a session",
                   "); approval ", approval.id(), " is pending until ",
                   absl::FormatTime(now + ask.timeout)),
      &approval);
}

void ApprovalRegistry::Consume(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.state() != v1::Approval::APPROVED) {
    return;
  }
  it->second.set_state(v1::Approval::USED);
  PersistLocked(it->second);
}

absl::StatusOr<v1::Approval> ApprovalRegistry::Decide(const std::string& id,
                                                      bool approve,
                                                      uint32_t operator_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    return absl::NotFoundError(
        absl::StrCat("there is no approval '", id.substr(0, 64),
                     "'; list them with `latchkeyctl approval list`"));
  }
  v1::Approval& approval = it->second;
  ExpireLocked(&approval, clock_());
  if (approval.state() != v1::Approval::PENDING) {
    return absl::FailedPreconditionError(
        absl::StrCat("approval ", id, " is ", StateWord(approval.state()),
                     ", no longer pending; nothing changed"));
  }
  approval.set_state(approve ? v1::Approval::APPROVED : v1::Approval::DENIED);
  approval.set_operator_uid(operator_uid);
  *approval.mutable_decide_time() = ToProto(clock_());
  PersistLocked(approval);
  return approval;
}

bool ApprovalRegistry::SessionApproved(absl::string_view agent,
                                       absl::string_view session_id,
                                       absl::string_view capability) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, approval] : by_id_) {
    if (approval.agent() == agent && approval.session_id() == session_id &&
        approval.capability() == capability &&
        approval.mode() == v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION &&
        approval.state() == v1::Approval::APPROVED) {
      return true;
    }
  }
  return false;
}

std::vector<v1::Approval> ApprovalRegistry::List(absl::string_view agent,
                                                 bool pending_only) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Approval> out;
  for (const auto& [id, approval] : by_id_) {
    if (!agent.empty() && approval.agent() != agent) continue;
    if (pending_only && approval.state() != v1::Approval::PENDING) continue;
    out.push_back(approval);
  }
  std::sort(out.begin(), out.end(),
            [](const v1::Approval& a, const v1::Approval& b) {
              bool ap = a.state() == v1::Approval::PENDING;
              bool bp = b.state() == v1::Approval::PENDING;
              if (ap != bp) return ap;
              return FromProto(a.create_time()) > FromProto(b.create_time());
            });
  return out;
}

}  // namespace latchkey::broker
