#include "broker/session_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/refusal.h"
#include "google/protobuf/util/time_util.h"

namespace latchkey::broker {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t));
}

std::string Describe(const v1::Revocation& r) {
  switch (r.kind()) {
    case v1::Revocation::AGENT:
      return absl::StrCat("agent:", r.name());
    case v1::Revocation::CAPABILITY:
      return absl::StrCat("capability:", r.name());
    case v1::Revocation::ALL:
      return "all";
    default:
      return "unknown";
  }
}

std::string RevokedMessage(const v1::Revocation& r) {
  switch (r.kind()) {
    case v1::Revocation::AGENT:
      return absl::StrCat("access of agent '", r.name(),
                          "' was revoked by an operator; ask the operator "
                          "why before retrying");
    case v1::Revocation::CAPABILITY:
      return absl::StrCat("capability '", r.name(),
                          "' was revoked by an operator; ask the operator "
                          "why before retrying");
    default:
      return "all access was revoked by an operator; ask the operator why "
             "before retrying";
  }
}

// Revoked refuses a new session; the tag lets clients say "revoked"
// rather than guess from PERMISSION_DENIED.
absl::Status Revoked(const v1::Revocation& r) {
  return Refuse(absl::StatusCode::kPermissionDenied, Refusal::kRevoked,
                RevokedMessage(r));
}

}  // namespace

std::string SessionRegistry::Key(v1::Revocation::Kind kind,
                                 absl::string_view name) {
  return absl::StrCat(static_cast<int>(kind), ":", name);
}

absl::Status SessionRegistry::Load() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::Time now = clock_();
  absl::Status pruned = store_->DeleteSessionsExpiredBefore(now - kKeepExpired);
  if (!pruned.ok()) return pruned;
  absl::StatusOr<std::vector<BrokerStore::StoredRevocation>> revocations =
      store_->LoadRevocations();
  if (!revocations.ok()) return revocations.status();
  absl::StatusOr<std::vector<BrokerStore::StoredSession>> sessions =
      store_->LoadSessions();
  if (!sessions.ok()) return sessions.status();
  std::unique_lock<RwLock> lock(mu_);
  for (BrokerStore::StoredRevocation& r : *revocations) {
    epoch_ = std::max(epoch_, r.seq);
    std::string key = Key(r.revocation.kind(), r.revocation.name());
    revocations_[key] = {std::move(r.revocation), r.seq};
  }
  for (BrokerStore::StoredSession& s : *sessions) {
    epoch_ = std::max(epoch_, s.epoch);
    std::string id = s.session.id();
    sessions_[id] = {std::move(s.session), s.epoch};
  }
  return absl::OkStatus();
}

const SessionRegistry::Rev* SessionRegistry::ActiveLocked(
    v1::Revocation::Kind kind, absl::string_view name) const {
  auto it = revocations_.find(Key(kind, name));
  if (it == revocations_.end() || !it->second.proto.active()) return nullptr;
  return &it->second;
}

std::optional<std::string> SessionRegistry::Refusal(
    absl::string_view agent, absl::string_view capability) const {
  std::shared_lock<RwLock> lock(mu_);
  for (const Rev* r : {ActiveLocked(v1::Revocation::ALL, ""),
                       ActiveLocked(v1::Revocation::AGENT, agent),
                       ActiveLocked(v1::Revocation::CAPABILITY, capability)}) {
    if (r != nullptr) return RevokedMessage(r->proto);
  }
  return std::nullopt;
}

absl::StatusOr<v1::Session> SessionRegistry::Open(
    const std::string& agent, const std::vector<std::string>& capabilities,
    absl::Duration ttl) {
  absl::StatusOr<std::string> random = RandomBytes(16);
  if (!random.ok()) return random.status();
  absl::Time now = clock_();
  v1::Session session;
  session.set_id(HexEncode(*random));
  session.set_agent(agent);
  for (const std::string& name : capabilities) session.add_capabilities(name);
  *session.mutable_create_time() = ToProto(now);
  *session.mutable_expire_time() = ToProto(now + ttl);
  int64_t epoch = 0;
  {
    std::shared_lock<RwLock> lock(mu_);
    for (const Rev* r : {ActiveLocked(v1::Revocation::ALL, ""),
                         ActiveLocked(v1::Revocation::AGENT, agent)}) {
      if (r != nullptr) {
        return Revoked(r->proto);
      }
    }
    for (const std::string& name : capabilities) {
      if (const Rev* r = ActiveLocked(v1::Revocation::CAPABILITY, name)) {
        return Revoked(r->proto);
      }
    }
    // A revocation recorded from here on has seq > epoch and so cuts this
    // session off, even though it is inserted below.
    epoch = epoch_;
  }
  bool prune_store = false;
  {
    std::unique_lock<RwLock> lock(mu_);
    // Forget long-expired sessions now and then, and when full.
    if (sessions_.size() >= kMaxSessions || now - last_prune_ >= kPruneEvery) {
      PruneExpiredLocked();
      last_prune_ = now;
      prune_store = true;
    }
    if (sessions_.size() >= kMaxSessions) {
      return absl::ResourceExhaustedError(
          "too many open sessions; revoke or wait for some to expire");
    }
  }
  if (prune_store && store_ != nullptr) {
    absl::Status pruned =
        store_->DeleteSessionsExpiredBefore(now - kKeepExpired);
    if (!pruned.ok()) {
      LogWarning("session_prune_failed", {{"error", pruned.ToString()}});
    }
  }
  // Persist before the session id is handed out; a failure opens nothing.
  if (store_ != nullptr) {
    absl::Status stored = store_->PutSession(session, epoch);
    if (!stored.ok()) return stored;
  }
  std::unique_lock<RwLock> lock(mu_);
  sessions_[session.id()] = {session, epoch};
  return session;
}

const SessionRegistry::Rev* SessionRegistry::CutByLocked(
    const Entry& entry, const std::string* capability) const {
  auto cuts = [&](v1::Revocation::Kind kind,
                  absl::string_view name) -> const Rev* {
    auto it = revocations_.find(Key(kind, name));
    if (it == revocations_.end()) return nullptr;
    return entry.epoch < it->second.seq ? &it->second : nullptr;
  };
  if (const Rev* r = cuts(v1::Revocation::ALL, "")) return r;
  if (const Rev* r = cuts(v1::Revocation::AGENT, entry.session.agent())) {
    return r;
  }
  if (capability != nullptr) {
    return cuts(v1::Revocation::CAPABILITY, *capability);
  }
  // For listing: revoked when every capability it covers is.
  const Rev* last = nullptr;
  for (const std::string& name : entry.session.capabilities()) {
    last = cuts(v1::Revocation::CAPABILITY, name);
    if (last == nullptr) return nullptr;
  }
  return last;
}

SessionCheck SessionRegistry::Check(absl::string_view session_id,
                                    absl::string_view agent,
                                    absl::string_view capability) const {
  absl::Time now = clock_();
  std::string capability_name(capability);
  std::shared_lock<RwLock> lock(mu_);
  auto it = sessions_.find(std::string(session_id));
  // A session of another agent is reported as unknown: its id must not
  // confirm anything to a different identity.
  if (it == sessions_.end() || it->second.session.agent() != agent) {
    return {false, v1::REASON_SESSION_NOT_FOUND,
            "session is unknown; open a new session"};
  }
  const Entry& entry = it->second;
  const v1::Session& session = entry.session;
  if (session.revoked()) {
    return {false, v1::REASON_SESSION_REVOKED,
            "session was revoked by an operator; ask the operator why before "
            "retrying"};
  }
  const auto& caps = session.capabilities();
  bool covered = std::find(caps.begin(), caps.end(), capability) != caps.end();
  if (const Rev* r = CutByLocked(entry, covered ? &capability_name : nullptr)) {
    return {false, v1::REASON_SESSION_REVOKED, RevokedMessage(r->proto)};
  }
  if (now >= FromProto(session.expire_time())) {
    return {false, v1::REASON_SESSION_EXPIRED,
            "session expired; open a new session"};
  }
  if (!covered) {
    return {false, v1::REASON_SESSION_NOT_FOUND,
            absl::StrCat("session does not cover capability '", capability,
                         "'; open a session that includes it")};
  }
  return {true, v1::REASON_UNSPECIFIED, ""};
}

absl::StatusOr<bool> SessionRegistry::Revoke(absl::string_view session_id) {
  std::lock_guard<std::mutex> write(write_mu_);
  Entry copy;
  {
    std::unique_lock<RwLock> gate(gate_);
    std::unique_lock<RwLock> lock(mu_);
    auto it = sessions_.find(std::string(session_id));
    if (it == sessions_.end() || it->second.session.revoked()) return false;
    it->second.session.set_revoked(true);
    it->second.session.set_revoked_by("session");
    copy = it->second;
  }
  if (store_ != nullptr) {
    absl::Status stored = store_->PutSession(copy.session, copy.epoch);
    if (!stored.ok()) {
      LogError("revocation_not_persisted", {{"error", stored.ToString()}});
      return absl::InternalError(absl::StrCat(
          "the session is revoked now, but the revocation could not be "
          "saved and will not survive a restart: ",
          stored.message()));
    }
  }
  return true;
}

absl::StatusOr<v1::RevokeResponse> SessionRegistry::Record(
    v1::Revocation::Kind kind, absl::string_view name, bool active) {
  std::lock_guard<std::mutex> write(write_mu_);
  v1::RevokeResponse response;
  Rev copy;
  {
    std::unique_lock<RwLock> gate(gate_);
    std::unique_lock<RwLock> lock(mu_);
    std::string key = Key(kind, name);
    Rev& rev = revocations_[key];
    // Deleting an actively revoked entry keeps the revocation active.
    bool keep_active = rev.proto.active();
    // Count live sessions this cuts off (before changing anything).
    absl::Time now = clock_();
    int64_t seq = ++epoch_;
    uint32_t cut = 0;
    for (const auto& [id, entry] : sessions_) {
      if (entry.session.revoked() || CutByLocked(entry, nullptr) != nullptr ||
          now >= FromProto(entry.session.expire_time())) {
        continue;
      }
      const auto& caps = entry.session.capabilities();
      bool matches =
          kind == v1::Revocation::ALL ||
          (kind == v1::Revocation::AGENT && entry.session.agent() == name) ||
          (kind == v1::Revocation::CAPABILITY &&
           std::find(caps.begin(), caps.end(), name) != caps.end());
      if (matches) ++cut;
    }
    rev.seq = seq;
    rev.proto.set_kind(kind);
    rev.proto.set_name(std::string(name));
    rev.proto.set_active(active || keep_active);
    *rev.proto.mutable_revoke_time() = ToProto(now);
    rev.proto.clear_lift_time();
    copy = rev;
    response.set_sessions_revoked(cut);
    *response.mutable_revocation() = rev.proto;
  }
  LogInfo("revoked", {{"what", Describe(copy.proto)},
                      {"active", copy.proto.active() ? "yes" : "no"},
                      {"sessions", absl::StrCat(response.sessions_revoked())}});
  if (store_ != nullptr) {
    absl::Status stored = store_->PutRevocation(copy.proto, copy.seq);
    if (!stored.ok()) {
      LogError("revocation_not_persisted", {{"error", stored.ToString()}});
      return absl::InternalError(absl::StrCat(
          "the revocation is in force now, but could not be saved and will "
          "not survive a restart: ",
          stored.message()));
    }
  }
  return response;
}

absl::StatusOr<v1::RevokeResponse> SessionRegistry::RevokeAgent(
    absl::string_view name) {
  return Record(v1::Revocation::AGENT, name, /*active=*/true);
}

absl::StatusOr<v1::RevokeResponse> SessionRegistry::RevokeCapability(
    absl::string_view name) {
  return Record(v1::Revocation::CAPABILITY, name, /*active=*/true);
}

absl::StatusOr<v1::RevokeResponse> SessionRegistry::RevokeAll() {
  return Record(v1::Revocation::ALL, "", /*active=*/true);
}

absl::Status SessionRegistry::CutOff(v1::Revocation::Kind kind,
                                     absl::string_view name) {
  return Record(kind, name, /*active=*/false).status();
}

absl::StatusOr<bool> SessionRegistry::Lift(v1::Revocation::Kind kind,
                                           absl::string_view name) {
  if (kind == v1::Revocation::ALL) name = "";
  std::lock_guard<std::mutex> write(write_mu_);
  Rev copy;
  {
    std::unique_lock<RwLock> lock(mu_);
    auto it = revocations_.find(Key(kind, name));
    if (it == revocations_.end() || !it->second.proto.active()) return false;
    it->second.proto.set_active(false);
    *it->second.proto.mutable_lift_time() = ToProto(clock_());
    copy = it->second;
  }
  LogInfo("revocation_lifted", {{"what", Describe(copy.proto)}});
  if (store_ != nullptr) {
    absl::Status stored = store_->PutRevocation(copy.proto, copy.seq);
    if (!stored.ok()) return stored;
  }
  return true;
}

v1::Session SessionRegistry::JudgedLocked(const Entry& entry) const {
  v1::Session session = entry.session;
  if (!session.revoked()) {
    if (const Rev* r = CutByLocked(entry, nullptr)) {
      session.set_revoked(true);
      session.set_revoked_by(Describe(r->proto));
    }
  }
  return session;
}

std::vector<v1::Session> SessionRegistry::List(absl::string_view agent) const {
  std::shared_lock<RwLock> lock(mu_);
  std::vector<v1::Session> out;
  for (const auto& [id, entry] : sessions_) {
    if (!agent.empty() && entry.session.agent() != agent) continue;
    out.push_back(JudgedLocked(entry));
  }
  return out;
}

std::optional<v1::Session> SessionRegistry::Find(
    absl::string_view session_id) const {
  std::shared_lock<RwLock> lock(mu_);
  auto it = sessions_.find(std::string(session_id));
  if (it == sessions_.end()) return std::nullopt;
  return JudgedLocked(it->second);
}

std::vector<v1::Revocation> SessionRegistry::ListRevocations() const {
  std::shared_lock<RwLock> lock(mu_);
  std::vector<v1::Revocation> out;
  for (const auto& [key, rev] : revocations_) out.push_back(rev.proto);
  return out;
}

void SessionRegistry::PruneExpiredLocked() {
  absl::Time now = clock_();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    // Revoked sessions are kept a while longer so that their ids stay
    // refused as revoked.
    absl::Time expiry = FromProto(it->second.session.expire_time());
    bool revoked = it->second.session.revoked() ||
                   CutByLocked(it->second, nullptr) != nullptr;
    if (now >= expiry + (revoked ? kKeepExpired : absl::ZeroDuration())) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace latchkey::broker
