#include "broker/session_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
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

}  // namespace

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
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= kMaxSessions) PruneExpiredLocked();
  if (sessions_.size() >= kMaxSessions) {
    return absl::ResourceExhaustedError(
        "too many open sessions; revoke or wait for some to expire");
  }
  sessions_[session.id()] = session;
  return session;
}

SessionCheck SessionRegistry::Check(absl::string_view session_id,
                                    absl::string_view agent,
                                    absl::string_view capability) const {
  absl::Time now = clock_();
  absl::ReaderMutexLock lock(&mu_);
  auto it = sessions_.find(std::string(session_id));
  // A session of another agent is reported as unknown: its id must not
  // confirm anything to a different identity.
  if (it == sessions_.end() || it->second.agent() != agent) {
    return {false, v1::REASON_SESSION_NOT_FOUND,
            "session is unknown; open a new session"};
  }
  const v1::Session& session = it->second;
  if (session.revoked()) {
    return {false, v1::REASON_SESSION_REVOKED,
            "session was revoked by an operator; ask the operator why before "
            "retrying"};
  }
  if (now >= FromProto(session.expire_time())) {
    return {false, v1::REASON_SESSION_EXPIRED,
            "session expired; open a new session"};
  }
  const auto& caps = session.capabilities();
  if (std::find(caps.begin(), caps.end(), capability) == caps.end()) {
    return {false, v1::REASON_SESSION_NOT_FOUND,
            absl::StrCat("session does not cover capability '", capability,
                         "'; open a session that includes it")};
  }
  return {true, v1::REASON_UNSPECIFIED, ""};
}

bool SessionRegistry::Revoke(absl::string_view session_id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(std::string(session_id));
  if (it == sessions_.end() || it->second.revoked()) return false;
  it->second.set_revoked(true);
  return true;
}

std::vector<v1::Session> SessionRegistry::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<v1::Session> out;
  for (const auto& [id, session] : sessions_) out.push_back(session);
  return out;
}

std::optional<v1::Session> SessionRegistry::Find(
    absl::string_view session_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = sessions_.find(std::string(session_id));
  if (it == sessions_.end()) return std::nullopt;
  return it->second;
}

void SessionRegistry::PruneExpiredLocked() {
  absl::Time now = clock_();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    // Revoked sessions are kept so that their ids stay refused as revoked.
    if (!it->second.revoked() && now >= FromProto(it->second.expire_time())) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace latchkey::broker
