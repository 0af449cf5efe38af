// SessionKeeper holds the adapter's one broker session. It opens it lazily
// on first use (every capability the agent may use, the default TTL),
// re-opens it once when the broker says it expired or is unknown and
// retries the refused call once. A revoked session is never replaced: the
// keeper keeps presenting it, so the broker keeps refusing (and auditing)
// until the adapter is restarted.
#ifndef LATCHKEY_MCP_ADAPTER_SESSION_KEEPER_H_
#define LATCHKEY_MCP_ADAPTER_SESSION_KEEPER_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcp_adapter/broker_client.h"
#include "mcp_adapter/cancellation.h"
#include "proto/broker.pb.h"

namespace latchkey::mcp {

struct SessionInfo {
  std::string id;
  std::string agent;
  std::vector<std::string> capabilities;
  // expire_time is absl::InfiniteFuture() when the broker sent none.
  absl::Time expire_time = absl::InfiniteFuture();
  bool revoked = false;
};

enum class SessionEvent { kOpened, kReopened, kRevoked };

class SessionKeeper {
 public:
  using Clock = std::function<absl::Time()>;
  using Observer = std::function<void(SessionEvent, const SessionInfo &)>;

  // `broker` must outlive the keeper. `observer` (optional) hears about
  // sessions opened, re-opened and revoked; it must not call back in.
  explicit SessionKeeper(BrokerClient *broker, Clock clock = absl::Now,
                         Observer observer = nullptr);

  // Execute sends `request` with the current session id (opening a session
  // first if needed). On a SESSION_EXPIRED or SESSION_NOT_FOUND denial it
  // opens a new session and retries once; on SESSION_REVOKED it remembers
  // the revocation and returns the denial.
  absl::StatusOr<v1::ExecuteResponse> Execute(v1::ExecuteRequest request,
                                              Cancellation *cancel);

  // WithSession is Execute's session handling around any way of asking:
  // `attempt` gets `request` with the session id set and returns the
  // broker's decision (for a stream, its first reply). It may be called
  // a second time, with a fresh session, after a SESSION_EXPIRED or
  // SESSION_NOT_FOUND denial.
  using Attempt = std::function<absl::StatusOr<v1::ExecuteResponse>(
      const v1::ExecuteRequest &)>;
  absl::StatusOr<v1::ExecuteResponse> WithSession(v1::ExecuteRequest request,
                                                  Cancellation *cancel,
                                                  const Attempt &attempt);

  // Current returns the session, opening one if none is open or the one
  // held has expired by the local clock. A revoked session is returned
  // as is.
  absl::StatusOr<SessionInfo> Current(Cancellation *cancel);

  // Peek returns the session held, if any, without opening one.
  std::optional<SessionInfo> Peek() const;

 private:
  // Acquire returns a usable session: the one held, unless it is `stale_id`
  // or expired, in which case a new one is opened. A revoked session is
  // always returned as is.
  absl::StatusOr<SessionInfo> Acquire(const std::string &stale_id,
                                      Cancellation *cancel);
  void MarkRevoked(const std::string &id);

  BrokerClient *const broker_;
  const Clock clock_;
  const Observer observer_;

  // open_mu_ serializes OpenSession calls so that concurrent tool calls
  // that find the session expired open only one new session.
  std::mutex open_mu_;
  mutable std::mutex mu_;  // Guards session_.
  std::optional<SessionInfo> session_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_SESSION_KEEPER_H_
