// BrokerService implements latchkey.v1.Broker (agents, on broker.sock) and
// AdminService latchkey.v1.BrokerAdmin (operators, on admin.sock).
#ifndef LATCHKEY_BROKER_BROKER_SERVICE_H_
#define LATCHKEY_BROKER_BROKER_SERVICE_H_

#include "common/peer_guard.h"
#include "broker/request_executor.h"
#include "broker/session_registry.h"
#include "broker/state_holder.h"
#include "proto/broker.grpc.pb.h"

namespace latchkey::broker {

class BrokerService final : public v1::Broker::Service {
 public:
  BrokerService(const StateHolder* state, SessionRegistry* sessions,
                RequestExecutor* executor, const PeerGuard* guard)
      : state_(state), sessions_(sessions), executor_(executor),
        guard_(guard) {}

  grpc::Status OpenSession(grpc::ServerContext* context,
                           const v1::OpenSessionRequest* request,
                           v1::Session* response) override;
  grpc::Status ListCapabilities(grpc::ServerContext* context,
                                const v1::ListCapabilitiesRequest* request,
                                v1::ListCapabilitiesResponse* response) override;
  grpc::Status Execute(grpc::ServerContext* context,
                       const v1::ExecuteRequest* request,
                       v1::ExecuteResponse* response) override;

 private:
  // Identify checks the peer's uid and the agent token of the call.
  absl::StatusOr<Caller> Identify(const grpc::ServerContext& context,
                                  const char* method,
                                  const BrokerState& state) const;

  const StateHolder* state_;
  SessionRegistry* sessions_;
  RequestExecutor* executor_;
  const PeerGuard* guard_;
};

class AdminService final : public v1::BrokerAdmin::Service {
 public:
  AdminService(const StateHolder* state, SessionRegistry* sessions,
               RequestExecutor* executor, const PeerGuard* guard)
      : state_(state), sessions_(sessions), executor_(executor),
        guard_(guard) {}

  grpc::Status ListCapabilities(grpc::ServerContext* context,
                                const v1::ListCapabilitiesRequest* request,
                                v1::ListCapabilitiesResponse* response) override;
  grpc::Status ListSessions(grpc::ServerContext* context,
                            const v1::ListSessionsRequest* request,
                            v1::ListSessionsResponse* response) override;
  grpc::Status RevokeSession(grpc::ServerContext* context,
                             const v1::RevokeSessionRequest* request,
                             v1::RevokeSessionResponse* response) override;
  grpc::Status Explain(grpc::ServerContext* context,
                       const v1::ExplainRequest* request,
                       v1::ExplainResponse* response) override;

 private:
  const StateHolder* state_;
  SessionRegistry* sessions_;
  RequestExecutor* executor_;
  const PeerGuard* guard_;
};

// ConfigureBrokerPermissions: role "agent" may call Broker, role
// "operator" may call BrokerAdmin.
void ConfigureBrokerPermissions(PeerGuard* guard);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_BROKER_SERVICE_H_
