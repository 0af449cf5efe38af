#include "broker/broker_service.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/whoami.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/refusal.h"
#include "google/protobuf/util/time_util.h"

namespace latchkey::broker {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kBroker[] = "/latchkey.v1.Broker/";
constexpr char kAdmin[] = "/latchkey.v1.BrokerAdmin/";
constexpr absl::string_view kBearerPrefix = "Bearer ";

// AgentInfo is what a model may learn about a capability.
v1::CapabilityInfo AgentInfo(const CompiledCapability &capability) {
  v1::CapabilityInfo info;
  info.set_name(capability.config.name());
  info.set_description(capability.config.description());
  *info.mutable_rules() = capability.config.rules();
  info.set_origin(capability.origin.ToString());
  info.set_require_reason(capability.config.require_reason());
  info.set_max_reason_bytes(
      static_cast<uint32_t>(ReasonLimit(capability.config)));
  info.set_approval(capability.config.approval());
  *info.mutable_health_request() = capability.config.health_request();
  return info;
}

// NoValidAgentToken: no token, an unknown one, or one the peer's uid may
// not use (deliberately not told apart, so a stolen token used from the
// wrong uid is not confirmed valid).
grpc::Status NoValidAgentToken() {
  return ToGrpcStatus(Refuse(absl::StatusCode::kUnauthenticated,
                             Refusal::kAgentUnknown,
                             "no valid agent token; set LATCHKEY_AGENT_TOKEN"));
}

}  // namespace

void ConfigureBrokerPermissions(PeerGuard *guard) {
  for (const char *method :
       {"OpenSession", "ListCapabilities", "Execute", "ExecuteStream", "WhoAmI",
        "ExplainAccess", "TestCapability"}) {
    guard->Permit(absl::StrCat(kBroker, method), "agent");
  }
  for (const char *method : {"ListCapabilities",
                             "ListSessions",
                             "RevokeSession",
                             "Explain",
                             "CreateCapability",
                             "UpdateCapability",
                             "DeleteCapability",
                             "CreateAgent",
                             "UpdateAgent",
                             "DeleteAgent",
                             "ListAgents",
                             "RevokeAgent",
                             "RevokeCapability",
                             "RevokeAll",
                             "LiftRevocation",
                             "ListRevocations",
                             "Apply",
                             "GetConfig",
                             "ListApprovals",
                             "DecideApproval"}) {
    guard->Permit(absl::StrCat(kAdmin, method), "operator");
  }
  guard->Permit(absl::StrCat(kAdmin, "Backup"), "operator");  // admin_backup.cc
  guard->Permit(absl::StrCat(kAdmin, "GetMetrics"), "operator");
}

absl::StatusOr<Caller> BrokerService::Identify(
    const grpc::ServerContext &context, const char *method,
    const BrokerState &state) const {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(context, absl::StrCat(kBroker, method));
  if (!peer.ok()) return peer.status();
  Caller caller;
  caller.peer_uid = peer->uid;
  auto header = context.client_metadata().find("authorization");
  if (header == context.client_metadata().end()) return caller;
  absl::string_view value(header->second.data(), header->second.size());
  if (!absl::StartsWith(value, kBearerPrefix)) return caller;
  value.remove_prefix(kBearerPrefix.size());
  const AgentIdentity *agent = state.FindAgentByToken(value);
  if (agent == nullptr) return caller;
  const auto &uids = agent->config.uids();
  if (!uids.empty() &&
      std::find(uids.begin(), uids.end(), peer->uid) == uids.end()) {
    LogWarning("agent_uid_refused", {{"agent", agent->config.name()},
                                     {"uid", absl::StrCat(peer->uid)}});
    return caller;
  }
  caller.agent = agent;
  return caller;
}

grpc::Status BrokerService::OpenSession(grpc::ServerContext *context,
                                        const v1::OpenSessionRequest *request,
                                        v1::Session *response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "OpenSession", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->agent == nullptr) {
    return NoValidAgentToken();
  }
  const AgentIdentity &agent = *caller->agent;
  std::vector<std::string> names(request->capabilities().begin(),
                                 request->capabilities().end());
  if (names.empty()) {
    // All it may use, minus revoked capabilities (if every one is revoked,
    // Open below says why).
    std::vector<std::string> revoked;
    for (const auto &[name, capability] : state->capabilities()) {
      if (!BrokerState::AgentMayUse(agent, capability)) continue;
      if (sessions_->Refusal(agent.config.name(), name).has_value()) {
        revoked.push_back(name);
      } else {
        names.push_back(name);
      }
    }
    if (names.empty()) names = std::move(revoked);
  }
  if (names.empty()) {
    return ToGrpcStatus(Refuse(absl::StatusCode::kPermissionDenied,
                               Refusal::kAgentNotAllowed,
                               "this agent may not use any capability"));
  }
  absl::Duration ttl = absl::InfiniteDuration();
  absl::Duration requested = absl::Seconds(request->ttl().seconds()) +
                             absl::Nanoseconds(request->ttl().nanos());
  for (const std::string &name : names) {
    const CompiledCapability *capability = state->FindCapability(name);
    if (capability == nullptr) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("there is no capability named '",
                                       name.substr(0, 128), "'"));
    }
    if (!BrokerState::AgentMayUse(agent, *capability)) {
      return ToGrpcStatus(
          Refuse(absl::StatusCode::kPermissionDenied, Refusal::kAgentNotAllowed,
                 absl::StrCat("agent may not use capability '", name, "'")));
    }
    absl::Duration wanted =
        requested > absl::ZeroDuration() ? requested : capability->default_ttl;
    ttl = std::min(ttl, std::min(wanted, capability->max_ttl));
  }
  absl::StatusOr<v1::Session> session =
      sessions_->Open(agent.config.name(), names, ttl);
  if (!session.ok()) return ToGrpcStatus(session.status());
  LogInfo("session_opened",
          {{"agent", agent.config.name()},
           {"session", session->id().substr(0, 8)},
           {"ttl_s", absl::StrCat(absl::ToInt64Seconds(ttl))}});
  *response = *session;
  return grpc::Status::OK;
}

grpc::Status BrokerService::ListCapabilities(
    grpc::ServerContext *context, const v1::ListCapabilitiesRequest *request,
    v1::ListCapabilitiesResponse *response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller =
      Identify(*context, "ListCapabilities", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->agent == nullptr) {
    return NoValidAgentToken();
  }
  std::optional<v1::Session> session;
  if (!request->session_id().empty()) {
    session = sessions_->Find(request->session_id());
    if (session.has_value() &&
        (session->agent() != caller->agent->config.name() ||
         session->revoked())) {
      session.reset();
    }
  }
  for (const auto &[name, capability] : state->capabilities()) {
    if (!BrokerState::AgentMayUse(*caller->agent, capability)) continue;
    v1::CapabilityInfo *info = response->add_capabilities();
    *info = AgentInfo(capability);
    if (session.has_value()) {
      const auto &caps = session->capabilities();
      if (std::find(caps.begin(), caps.end(), name) != caps.end()) {
        *info->mutable_session_expire_time() = session->expire_time();
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status BrokerService::Execute(grpc::ServerContext *context,
                                    const v1::ExecuteRequest *request,
                                    v1::ExecuteResponse *response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "Execute", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // An unknown token is still a decision: it is denied and audited.
  *response = executor_->Execute(*caller, *request);
  return grpc::Status::OK;
}

grpc::Status BrokerService::ExecuteStream(
    grpc::ServerContext *context,
    grpc::ServerReaderWriter<v1::ExecuteStreamReply, v1::ExecuteStreamRequest>
        *stream) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "ExecuteStream", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return executor_->ExecuteStream(*caller, stream,
                                  [context] { return context->IsCancelled(); });
}

grpc::Status BrokerService::WhoAmI(grpc::ServerContext *context,
                                   const v1::WhoAmIRequest *request,
                                   v1::WhoAmIResponse *response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "WhoAmI", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->agent == nullptr) {
    return NoValidAgentToken();
  }
  *response = BuildWhoAmI(*state, *sessions_, *caller->agent, caller->peer_uid,
                          *request);
  return grpc::Status::OK;
}

grpc::Status BrokerService::ExplainAccess(grpc::ServerContext *context,
                                          const v1::ExplainRequest *request,
                                          v1::ExplainResponse *response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "ExplainAccess", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // The agent is the token's, whatever request->agent() says.
  *response = executor_->ExplainFor(caller->agent, *request);
  return grpc::Status::OK;
}

grpc::Status BrokerService::TestCapability(
    grpc::ServerContext *context, const v1::TestCapabilityRequest *request,
    v1::TestCapabilityResponse *response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "TestCapability", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  *response = executor_->TestCapability(*caller, *request);
  return grpc::Status::OK;
}

namespace {

template <typename Body>
grpc::Status AdminAuthorized(const PeerGuard *guard,
                             grpc::ServerContext *context, const char *method,
                             Body body) {
  absl::StatusOr<PeerCredentials> peer =
      guard->Authorize(*context, absl::StrCat(kAdmin, method));
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  return ToGrpcStatus(body(*peer));
}

}  // namespace

grpc::Status AdminService::ListCapabilities(
    grpc::ServerContext *context, const v1::ListCapabilitiesRequest *,
    v1::ListCapabilitiesResponse *response) {
  return AdminAuthorized(
      guard_, context, "ListCapabilities", [&](const PeerCredentials &) {
        std::shared_ptr<const BrokerState> state = state_->Get();
        for (const auto &[name, capability] : state->capabilities()) {
          *response->add_capabilities() = AgentInfo(capability);
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListSessions(grpc::ServerContext *context,
                                        const v1::ListSessionsRequest *request,
                                        v1::ListSessionsResponse *response) {
  return AdminAuthorized(
      guard_, context, "ListSessions", [&](const PeerCredentials &) {
        for (v1::Session &session : sessions_->List(request->agent())) {
          *response->add_sessions() = std::move(session);
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminService::RevokeSession(
    grpc::ServerContext *context, const v1::RevokeSessionRequest *request,
    v1::RevokeSessionResponse *response) {
  return AdminAuthorized(
      guard_, context, "RevokeSession", [&](const PeerCredentials &peer) {
        absl::StatusOr<bool> result = sessions_->Revoke(request->id());
        if (!result.ok()) return result.status();
        bool revoked = *result;
        response->set_revoked(revoked);
        LogInfo("session_revoked", {{"session", request->id().substr(0, 8)},
                                    {"by_uid", absl::StrCat(peer.uid)},
                                    {"changed", revoked ? "yes" : "no"}});
        return absl::OkStatus();
      });
}

grpc::Status AdminService::Explain(grpc::ServerContext *context,
                                   const v1::ExplainRequest *request,
                                   v1::ExplainResponse *response) {
  return AdminAuthorized(guard_, context, "Explain",
                         [&](const PeerCredentials &) {
                           *response = executor_->Explain(*request);
                           return absl::OkStatus();
                         });
}

namespace {

// Audited logs one line per admin change, naming the operator's uid.
void LogAdmin(const char *action, absl::string_view name,
              const PeerCredentials &peer, const absl::Status &status) {
  LogInfo("admin_change", {{"action", action},
                           {"name", std::string(name.substr(0, 128))},
                           {"by_uid", absl::StrCat(peer.uid)},
                           {"result", status.ok() ? "ok" : status.ToString()}});
}

template <typename T, typename Out>
absl::Status Assign(absl::StatusOr<T> result, Out *out) {
  if (!result.ok()) return result.status();
  *out = *std::move(result);
  return absl::OkStatus();
}

}  // namespace

grpc::Status AdminService::CreateCapability(
    grpc::ServerContext *context, const v1::CreateCapabilityRequest *request,
    v1::Capability *response) {
  return AdminAuthorized(
      guard_, context, "CreateCapability", [&](const PeerCredentials &peer) {
        absl::Status s =
            Assign(config_->CreateCapability(request->capability()), response);
        LogAdmin("create_capability", request->capability().name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::UpdateCapability(
    grpc::ServerContext *context, const v1::UpdateCapabilityRequest *request,
    v1::Capability *response) {
  return AdminAuthorized(
      guard_, context, "UpdateCapability", [&](const PeerCredentials &peer) {
        absl::Status s =
            Assign(config_->UpdateCapability(request->capability()), response);
        LogAdmin("update_capability", request->capability().name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::DeleteCapability(
    grpc::ServerContext *context, const v1::DeleteCapabilityRequest *request,
    v1::DeleteCapabilityResponse *response) {
  return AdminAuthorized(
      guard_, context, "DeleteCapability", [&](const PeerCredentials &peer) {
        bool deleted = false;
        absl::Status s =
            Assign(config_->DeleteCapability(request->name()), &deleted);
        response->set_deleted(deleted);
        LogAdmin("delete_capability", request->name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::CreateAgent(grpc::ServerContext *context,
                                       const v1::CreateAgentRequest *request,
                                       v1::CreateAgentResponse *response) {
  return AdminAuthorized(
      guard_, context, "CreateAgent", [&](const PeerCredentials &peer) {
        absl::Status s = Assign(config_->CreateAgent(*request), response);
        LogAdmin("create_agent", request->name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::UpdateAgent(grpc::ServerContext *context,
                                       const v1::UpdateAgentRequest *request,
                                       v1::Agent *response) {
  return AdminAuthorized(
      guard_, context, "UpdateAgent", [&](const PeerCredentials &peer) {
        absl::Status s =
            Assign(config_->UpdateAgent(request->agent()), response);
        LogAdmin("update_agent", request->agent().name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::DeleteAgent(grpc::ServerContext *context,
                                       const v1::DeleteAgentRequest *request,
                                       v1::DeleteAgentResponse *response) {
  return AdminAuthorized(
      guard_, context, "DeleteAgent", [&](const PeerCredentials &peer) {
        bool deleted = false;
        absl::Status s =
            Assign(config_->DeleteAgent(request->name()), &deleted);
        response->set_deleted(deleted);
        LogAdmin("delete_agent", request->name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::ListAgents(grpc::ServerContext *context,
                                      const v1::ListAgentsRequest *,
                                      v1::ListAgentsResponse *response) {
  return AdminAuthorized(guard_, context, "ListAgents",
                         [&](const PeerCredentials &) {
                           for (v1::Agent &agent : config_->ListAgents()) {
                             *response->add_agents() = std::move(agent);
                           }
                           return absl::OkStatus();
                         });
}

grpc::Status AdminService::RevokeAgent(grpc::ServerContext *context,
                                       const v1::RevokeAgentRequest *request,
                                       v1::RevokeResponse *response) {
  return AdminAuthorized(
      guard_, context, "RevokeAgent", [&](const PeerCredentials &peer) {
        if (state_->Get()->FindAgentByName(request->name()) == nullptr) {
          // A typo must not look like a successful revocation.
          return absl::NotFoundError(
              absl::StrCat("there is no agent named '",
                           request->name().substr(0, 128), "'"));
        }
        absl::Status s =
            Assign(sessions_->RevokeAgent(request->name()), response);
        LogAdmin("revoke_agent", request->name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::RevokeCapability(
    grpc::ServerContext *context, const v1::RevokeCapabilityRequest *request,
    v1::RevokeResponse *response) {
  return AdminAuthorized(
      guard_, context, "RevokeCapability", [&](const PeerCredentials &peer) {
        if (state_->Get()->FindCapability(request->name()) == nullptr) {
          return absl::NotFoundError(
              absl::StrCat("there is no capability named '",
                           request->name().substr(0, 128), "'"));
        }
        absl::Status s =
            Assign(sessions_->RevokeCapability(request->name()), response);
        LogAdmin("revoke_capability", request->name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::RevokeAll(grpc::ServerContext *context,
                                     const v1::RevokeAllRequest *,
                                     v1::RevokeResponse *response) {
  return AdminAuthorized(
      guard_, context, "RevokeAll", [&](const PeerCredentials &peer) {
        absl::Status s = Assign(sessions_->RevokeAll(), response);
        LogAdmin("revoke_all", "", peer, s);
        return s;
      });
}

grpc::Status AdminService::LiftRevocation(
    grpc::ServerContext *context, const v1::LiftRevocationRequest *request,
    v1::LiftRevocationResponse *response) {
  return AdminAuthorized(
      guard_, context, "LiftRevocation", [&](const PeerCredentials &peer) {
        if (request->kind() == v1::Revocation::KIND_UNSPECIFIED) {
          return absl::InvalidArgumentError(
              "kind must be AGENT, CAPABILITY or ALL");
        }
        bool lifted = false;
        absl::Status s =
            Assign(sessions_->Lift(request->kind(), request->name()), &lifted);
        response->set_lifted(lifted);
        LogAdmin("lift_revocation", request->name(), peer, s);
        return s;
      });
}

grpc::Status AdminService::ListRevocations(
    grpc::ServerContext *context, const v1::ListRevocationsRequest *,
    v1::ListRevocationsResponse *response) {
  return AdminAuthorized(
      guard_, context, "ListRevocations", [&](const PeerCredentials &) {
        for (v1::Revocation &r : sessions_->ListRevocations()) {
          *response->add_revocations() = std::move(r);
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminService::Apply(grpc::ServerContext *context,
                                 const v1::ApplyRequest *request,
                                 v1::ApplyResponse *response) {
  return AdminAuthorized(
      guard_, context, "Apply", [&](const PeerCredentials &peer) {
        absl::Status s =
            Assign(config_->Apply(request->config_text(), request->dry_run()),
                   response);
        LogAdmin(request->dry_run() ? "apply_dry_run" : "apply", "", peer, s);
        return s;
      });
}

grpc::Status AdminService::GetConfig(grpc::ServerContext *context,
                                     const v1::GetConfigRequest *,
                                     v1::GetConfigResponse *response) {
  return AdminAuthorized(guard_, context, "GetConfig",
                         [&](const PeerCredentials &) {
                           *response = config_->GetConfig();
                           return absl::OkStatus();
                         });
}

grpc::Status AdminService::ListApprovals(
    grpc::ServerContext *context, const v1::ListApprovalsRequest *request,
    v1::ListApprovalsResponse *response) {
  return AdminAuthorized(guard_, context, "ListApprovals",
                         [&](const PeerCredentials &) {
                           *response = executor_->ListApprovals(*request);
                           return absl::OkStatus();
                         });
}

grpc::Status AdminService::DecideApproval(
    grpc::ServerContext *context, const v1::DecideApprovalRequest *request,
    v1::Approval *response) {
  return AdminAuthorized(
      guard_, context, "DecideApproval", [&](const PeerCredentials &peer) {
        absl::Status s =
            Assign(executor_->DecideApproval(*request, peer.uid), response);
        LogAdmin(request->approve() ? "approve" : "deny", request->id(), peer,
                 s);
        return s;
      });
}

grpc::Status AdminService::GetMetrics(grpc::ServerContext *context,
                                      const v1::GetMetricsRequest *,
                                      v1::MetricsSnapshot *response) {
  return AdminAuthorized(
      guard_, context, "GetMetrics", [&](const PeerCredentials &) {
        *response = metrics::Registry::Global().Snapshot("broker");
        return absl::OkStatus();
      });
}

}  // namespace latchkey::broker
