// BrokerService implements latchkey.v1.Broker (agents, on broker.sock) and
// AdminService latchkey.v1.BrokerAdmin (operators, on admin.sock).
#ifndef LATCHKEY_BROKER_BROKER_SERVICE_H_
#define LATCHKEY_BROKER_BROKER_SERVICE_H_

#include "broker/config_manager.h"
#include "broker/request_executor.h"
#include "broker/session_registry.h"
#include "broker/state_holder.h"
#include "common/peer_guard.h"
#include "proto/broker.grpc.pb.h"

namespace latchkey::broker {

class BrokerService final : public v1::Broker::Service {
 public:
  BrokerService(const StateHolder *state, SessionRegistry *sessions,
                RequestExecutor *executor, const PeerGuard *guard)
      : state_(state),
        sessions_(sessions),
        executor_(executor),
        guard_(guard) {}

  grpc::Status OpenSession(grpc::ServerContext *context,
                           const v1::OpenSessionRequest *request,
                           v1::Session *response) override;
  grpc::Status ListCapabilities(
      grpc::ServerContext *context, const v1::ListCapabilitiesRequest *request,
      v1::ListCapabilitiesResponse *response) override;
  grpc::Status Execute(grpc::ServerContext *context,
                       const v1::ExecuteRequest *request,
                       v1::ExecuteResponse *response) override;
  grpc::Status ExecuteStream(
      grpc::ServerContext *context,
      grpc::ServerReaderWriter<v1::ExecuteStreamReply, v1::ExecuteStreamRequest>
          *stream) override;
  grpc::Status WhoAmI(grpc::ServerContext *context,
                      const v1::WhoAmIRequest *request,
                      v1::WhoAmIResponse *response) override;
  grpc::Status ExplainAccess(grpc::ServerContext *context,
                             const v1::ExplainRequest *request,
                             v1::ExplainResponse *response) override;
  grpc::Status TestCapability(grpc::ServerContext *context,
                              const v1::TestCapabilityRequest *request,
                              v1::TestCapabilityResponse *response) override;

 private:
  // Identify checks the peer's uid and the agent token of the call.
  absl::StatusOr<Caller> Identify(const grpc::ServerContext &context,
                                  const char *method,
                                  const BrokerState &state) const;

  const StateHolder *state_;
  SessionRegistry *sessions_;
  RequestExecutor *executor_;
  const PeerGuard *guard_;
};

class AdminService final : public v1::BrokerAdmin::Service {
 public:
  AdminService(const StateHolder *state, SessionRegistry *sessions,
               RequestExecutor *executor, ConfigManager *config,
               const PeerGuard *guard)
      : state_(state),
        sessions_(sessions),
        executor_(executor),
        config_(config),
        guard_(guard) {}

  grpc::Status ListCapabilities(
      grpc::ServerContext *context, const v1::ListCapabilitiesRequest *request,
      v1::ListCapabilitiesResponse *response) override;
  grpc::Status ListSessions(grpc::ServerContext *context,
                            const v1::ListSessionsRequest *request,
                            v1::ListSessionsResponse *response) override;
  grpc::Status RevokeSession(grpc::ServerContext *context,
                             const v1::RevokeSessionRequest *request,
                             v1::RevokeSessionResponse *response) override;
  grpc::Status Explain(grpc::ServerContext *context,
                       const v1::ExplainRequest *request,
                       v1::ExplainResponse *response) override;
  grpc::Status CreateCapability(grpc::ServerContext *context,
                                const v1::CreateCapabilityRequest *request,
                                v1::Capability *response) override;
  grpc::Status UpdateCapability(grpc::ServerContext *context,
                                const v1::UpdateCapabilityRequest *request,
                                v1::Capability *response) override;
  grpc::Status DeleteCapability(
      grpc::ServerContext *context, const v1::DeleteCapabilityRequest *request,
      v1::DeleteCapabilityResponse *response) override;
  grpc::Status CreateAgent(grpc::ServerContext *context,
                           const v1::CreateAgentRequest *request,
                           v1::CreateAgentResponse *response) override;
  grpc::Status UpdateAgent(grpc::ServerContext *context,
                           const v1::UpdateAgentRequest *request,
                           v1::Agent *response) override;
  grpc::Status DeleteAgent(grpc::ServerContext *context,
                           const v1::DeleteAgentRequest *request,
                           v1::DeleteAgentResponse *response) override;
  grpc::Status ListAgents(grpc::ServerContext *context,
                          const v1::ListAgentsRequest *request,
                          v1::ListAgentsResponse *response) override;
  grpc::Status RevokeAgent(grpc::ServerContext *context,
                           const v1::RevokeAgentRequest *request,
                           v1::RevokeResponse *response) override;
  grpc::Status RevokeCapability(grpc::ServerContext *context,
                                const v1::RevokeCapabilityRequest *request,
                                v1::RevokeResponse *response) override;
  grpc::Status RevokeAll(grpc::ServerContext *context,
                         const v1::RevokeAllRequest *request,
                         v1::RevokeResponse *response) override;
  grpc::Status LiftRevocation(grpc::ServerContext *context,
                              const v1::LiftRevocationRequest *request,
                              v1::LiftRevocationResponse *response) override;
  grpc::Status ListRevocations(grpc::ServerContext *context,
                               const v1::ListRevocationsRequest *request,
                               v1::ListRevocationsResponse *response) override;
  grpc::Status Apply(grpc::ServerContext *context,
                     const v1::ApplyRequest *request,
                     v1::ApplyResponse *response) override;
  grpc::Status GetConfig(grpc::ServerContext *context,
                         const v1::GetConfigRequest *request,
                         v1::GetConfigResponse *response) override;
  grpc::Status ListApprovals(grpc::ServerContext *context,
                             const v1::ListApprovalsRequest *request,
                             v1::ListApprovalsResponse *response) override;
  grpc::Status DecideApproval(grpc::ServerContext *context,
                              const v1::DecideApprovalRequest *request,
                              v1::Approval *response) override;
  // Backup streams a snapshot of `state_dir`/broker.db (admin_backup.cc);
  // FAILED_PRECONDITION until EnableBackup.
  grpc::Status Backup(grpc::ServerContext *context,
                      const v1::BackupBrokerRequest *request,
                      grpc::ServerWriter<v1::BackupChunk> *writer) override;
  void EnableBackup(std::string state_dir) {
    backup_state_dir_ = std::move(state_dir);
  }
  grpc::Status GetMetrics(grpc::ServerContext *context,
                          const v1::GetMetricsRequest *request,
                          v1::MetricsSnapshot *response) override;

 private:
  const StateHolder *state_;
  SessionRegistry *sessions_;
  RequestExecutor *executor_;
  ConfigManager *config_;
  const PeerGuard *guard_;
  std::string backup_state_dir_;
};

// ConfigureBrokerPermissions: role "agent" may call Broker, role
// "operator" may call BrokerAdmin.
void ConfigureBrokerPermissions(PeerGuard *guard);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_BROKER_SERVICE_H_
