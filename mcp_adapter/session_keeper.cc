#include "mcp_adapter/session_keeper.h"

#include <utility>

#include "common/log.h"
#include "common/status_macros.h"

namespace latchkey::mcp {
namespace {

absl::Time FromTimestamp(const google::protobuf::Timestamp &ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return absl::InfiniteFuture();
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

SessionInfo FromProto(const v1::Session &session) {
  SessionInfo info;
  info.id = session.id();
  info.agent = session.agent();
  info.capabilities.assign(session.capabilities().begin(),
                           session.capabilities().end());
  info.expire_time = FromTimestamp(session.expire_time());
  info.revoked = session.revoked();
  return info;
}

bool IsDeniedWith(const v1::ExecuteResponse &response, v1::ReasonCode code) {
  return response.decision() == v1::DECISION_DENY &&
         response.denial().code() == code;
}

// IdPrefix is what may appear in logs: the first 8 characters.
std::string IdPrefix(const std::string &id) { return id.substr(0, 8); }

}  // namespace

SessionKeeper::SessionKeeper(BrokerClient *broker, Clock clock,
                             Observer observer)
    : broker_(broker),
      clock_(std::move(clock)),
      observer_(std::move(observer)) {}

std::optional<SessionInfo> SessionKeeper::Peek() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_;
}

absl::StatusOr<SessionInfo> SessionKeeper::Current(Cancellation *cancel) {
  return Acquire(/*stale_id=*/"", cancel);
}

absl::StatusOr<SessionInfo> SessionKeeper::Acquire(const std::string &stale_id,
                                                   Cancellation *cancel) {
  std::lock_guard<std::mutex> open_lock(open_mu_);
  bool replacing = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (session_.has_value()) {
      if (session_->revoked) return *session_;
      bool stale = !stale_id.empty() && session_->id == stale_id;
      bool expired = clock_() >= session_->expire_time;
      if (!stale && !expired) return *session_;
      replacing = true;
    }
  }
  // Empty capabilities: every capability the agent may use. No TTL: each
  // capability's default.
  v1::OpenSessionRequest request;
  LK_ASSIGN_OR_RETURN(v1::Session opened,
                      broker_->OpenSession(request, cancel));
  if (opened.id().empty()) {
    return absl::InternalError("the broker opened a session without an id");
  }
  SessionInfo info = FromProto(opened);
  {
    std::lock_guard<std::mutex> lock(mu_);
    session_ = info;
  }
  LogInfo(replacing ? "session_reopened" : "session_opened",
          {{"session", IdPrefix(info.id)},
           {"capabilities", std::to_string(info.capabilities.size())}});
  if (observer_) {
    observer_(replacing ? SessionEvent::kReopened : SessionEvent::kOpened,
              info);
  }
  return info;
}

void SessionKeeper::MarkRevoked(const std::string &id) {
  std::optional<SessionInfo> revoked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!session_.has_value() || session_->id != id || session_->revoked) {
      return;
    }
    session_->revoked = true;
    revoked = session_;
  }
  LogWarning("session_revoked", {{"session", IdPrefix(id)}});
  if (observer_) observer_(SessionEvent::kRevoked, *revoked);
}

absl::StatusOr<v1::ExecuteResponse> SessionKeeper::Execute(
    v1::ExecuteRequest request, Cancellation *cancel) {
  return WithSession(std::move(request), cancel,
                     [&](const v1::ExecuteRequest &attempt) {
                       return broker_->Execute(attempt, cancel);
                     });
}

absl::StatusOr<v1::ExecuteResponse> SessionKeeper::WithSession(
    v1::ExecuteRequest request, Cancellation *cancel, const Attempt &attempt) {
  LK_ASSIGN_OR_RETURN(SessionInfo session, Acquire("", cancel));
  request.set_session_id(session.id);
  LK_ASSIGN_OR_RETURN(v1::ExecuteResponse response, attempt(request));
  if (IsDeniedWith(response, v1::REASON_SESSION_REVOKED)) {
    MarkRevoked(session.id);
    return response;
  }
  if (session.revoked ||
      !(IsDeniedWith(response, v1::REASON_SESSION_EXPIRED) ||
        IsDeniedWith(response, v1::REASON_SESSION_NOT_FOUND))) {
    return response;
  }
  // The session check comes before anything reaches the vault, so the
  // refused request was not performed: one retry with a new session is
  // safe.
  LK_ASSIGN_OR_RETURN(SessionInfo fresh, Acquire(session.id, cancel));
  if (fresh.id == session.id || fresh.revoked) return response;
  request.set_session_id(fresh.id);
  LK_ASSIGN_OR_RETURN(v1::ExecuteResponse retried, attempt(request));
  if (IsDeniedWith(retried, v1::REASON_SESSION_REVOKED)) {
    MarkRevoked(fresh.id);
  }
  return retried;
}

}  // namespace latchkey::mcp
