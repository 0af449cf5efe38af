#include "broker/broker_service.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace latchkey::broker {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kBroker[] = "/latchkey.v1.Broker/";
constexpr char kAdmin[] = "/latchkey.v1.BrokerAdmin/";
constexpr absl::string_view kBearerPrefix = "Bearer ";

// AgentInfo is what a model may learn about a capability.
v1::CapabilityInfo AgentInfo(const CompiledCapability& capability) {
  v1::CapabilityInfo info;
  info.set_name(capability.config.name());
  info.set_description(capability.config.description());
  *info.mutable_rules() = capability.config.rules();
  info.set_origin(capability.origin.ToString());
  return info;
}

}  // namespace

void ConfigureBrokerPermissions(PeerGuard* guard) {
  for (const char* method : {"OpenSession", "ListCapabilities", "Execute"}) {
    guard->Permit(absl::StrCat(kBroker, method), "agent");
  }
  for (const char* method :
       {"ListCapabilities", "ListSessions", "RevokeSession", "Explain"}) {
    guard->Permit(absl::StrCat(kAdmin, method), "operator");
  }
}

absl::StatusOr<Caller> BrokerService::Identify(
    const grpc::ServerContext& context, const char* method,
    const BrokerState& state) const {
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
  const AgentIdentity* agent = state.FindAgentByToken(value);
  if (agent == nullptr) return caller;
  const auto& uids = agent->config.uids();
  if (!uids.empty() &&
      std::find(uids.begin(), uids.end(), peer->uid) == uids.end()) {
    LogWarning("agent_uid_refused", {{"agent", agent->config.name()},
                                     {"uid", absl::StrCat(peer->uid)}});
    return caller;
  }
  caller.agent = agent;
  return caller;
}

grpc::Status BrokerService::OpenSession(grpc::ServerContext* context,
                                        const v1::OpenSessionRequest* request,
                                        v1::Session* response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "OpenSession", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->agent == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "no valid agent token; set LATCHKEY_AGENT_TOKEN");
  }
  const AgentIdentity& agent = *caller->agent;
  std::vector<std::string> names(request->capabilities().begin(),
                                 request->capabilities().end());
  if (names.empty()) {
    for (const auto& [name, capability] : state->capabilities()) {
      if (BrokerState::AgentMayUse(agent, capability)) names.push_back(name);
    }
  }
  if (names.empty()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "this agent may not use any capability");
  }
  absl::Duration ttl = absl::InfiniteDuration();
  absl::Duration requested =
      absl::Seconds(request->ttl().seconds()) +
      absl::Nanoseconds(request->ttl().nanos());
  for (const std::string& name : names) {
    const CompiledCapability* capability = state->FindCapability(name);
    if (capability == nullptr) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("there is no capability named '",
                                       name.substr(0, 128), "'"));
    }
    if (!BrokerState::AgentMayUse(agent, *capability)) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("agent may not use capability '", name,
                                       "'"));
    }
    absl::Duration wanted = requested > absl::ZeroDuration()
                                ? requested
                                : capability->default_ttl;
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
    grpc::ServerContext* context, const v1::ListCapabilitiesRequest* request,
    v1::ListCapabilitiesResponse* response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller =
      Identify(*context, "ListCapabilities", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->agent == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "no valid agent token; set LATCHKEY_AGENT_TOKEN");
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
  for (const auto& [name, capability] : state->capabilities()) {
    if (!BrokerState::AgentMayUse(*caller->agent, capability)) continue;
    v1::CapabilityInfo* info = response->add_capabilities();
    *info = AgentInfo(capability);
    if (session.has_value()) {
      const auto& caps = session->capabilities();
      if (std::find(caps.begin(), caps.end(), name) != caps.end()) {
        *info->mutable_session_expire_time() = session->expire_time();
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status BrokerService::Execute(grpc::ServerContext* context,
                                    const v1::ExecuteRequest* request,
                                    v1::ExecuteResponse* response) {
  std::shared_ptr<const BrokerState> state = state_->Get();
  absl::StatusOr<Caller> caller = Identify(*context, "Execute", *state);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // An unknown token is still a decision: it is denied and audited.
  *response = executor_->Execute(*caller, *request);
  return grpc::Status::OK;
}

namespace {

template <typename Body>
grpc::Status AdminAuthorized(const PeerGuard* guard,
                             grpc::ServerContext* context, const char* method,
                             Body body) {
  absl::StatusOr<PeerCredentials> peer =
      guard->Authorize(*context, absl::StrCat(kAdmin, method));
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  return ToGrpcStatus(body(*peer));
}

}  // namespace

grpc::Status AdminService::ListCapabilities(
    grpc::ServerContext* context, const v1::ListCapabilitiesRequest*,
    v1::ListCapabilitiesResponse* response) {
  return AdminAuthorized(guard_, context, "ListCapabilities",
                         [&](const PeerCredentials&) {
                           std::shared_ptr<const BrokerState> state =
                               state_->Get();
                           for (const auto& [name, capability] :
                                state->capabilities()) {
                             *response->add_capabilities() =
                                 AgentInfo(capability);
                           }
                           return absl::OkStatus();
                         });
}

grpc::Status AdminService::ListSessions(grpc::ServerContext* context,
                                        const v1::ListSessionsRequest*,
                                        v1::ListSessionsResponse* response) {
  return AdminAuthorized(guard_, context, "ListSessions",
                         [&](const PeerCredentials&) {
                           for (v1::Session& session : sessions_->List()) {
                             *response->add_sessions() = std::move(session);
                           }
                           return absl::OkStatus();
                         });
}

grpc::Status AdminService::RevokeSession(
    grpc::ServerContext* context, const v1::RevokeSessionRequest* request,
    v1::RevokeSessionResponse* response) {
  return AdminAuthorized(
      guard_, context, "RevokeSession", [&](const PeerCredentials& peer) {
        bool revoked = sessions_->Revoke(request->id());
        response->set_revoked(revoked);
        LogInfo("session_revoked", {{"session", request->id().substr(0, 8)},
                                    {"by_uid", absl::StrCat(peer.uid)},
                                    {"changed", revoked ? "yes" : "no"}});
        return absl::OkStatus();
      });
}

grpc::Status AdminService::Explain(grpc::ServerContext* context,
                                   const v1::ExplainRequest* request,
                                   v1::ExplainResponse* response) {
  return AdminAuthorized(guard_, context, "Explain",
                         [&](const PeerCredentials&) {
                           *response = executor_->Explain(*request);
                           return absl::OkStatus();
                         });
}

}  // namespace latchkey::broker
