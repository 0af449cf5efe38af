#include "broker/whoami.h"

#include "absl/strings/str_cat.h"
#include "common/reason_text.h"

namespace latchkey::broker {

v1::WhoAmIResponse BuildWhoAmI(const BrokerState& state,
                               const SessionRegistry& sessions,
                               const AgentIdentity& agent, uint32_t peer_uid,
                               const v1::WhoAmIRequest& request) {
  v1::WhoAmIResponse response;
  const std::string& name = agent.config.name();
  response.set_agent(name);
  response.set_peer_uid(peer_uid);
  response.set_authenticated_by(
      agent.config.uids().empty()
          ? "agent bearer token (any local uid the broker accepts)"
          : "agent bearer token, presented from a uid the agent is bound to");
  for (v1::Session& session : sessions.List(name)) {
    if (!request.session_id().empty() && session.id() == request.session_id()) {
      response.set_current_session_found(true);
    }
    // An agent is only ever shown a prefix of a session id.
    session.set_id(session.id().substr(0, 8));
    *response.add_sessions() = std::move(session);
  }
  for (const auto& [capability_name, capability] : state.capabilities()) {
    v1::CapabilityAccess* access = response.add_capabilities();
    access->set_name(capability_name);
    if (!BrokerState::AgentMayUse(agent, capability)) {
      access->set_code(v1::REASON_AGENT_NOT_ALLOWED);
      access->set_why(absl::StrCat("capability '", capability_name,
                                   "' does not list agent '", name, "'"));
      access->set_next_step(NextStep(v1::REASON_AGENT_NOT_ALLOWED));
      continue;
    }
    if (std::optional<std::string> refusal =
            sessions.Refusal(name, capability_name)) {
      access->set_code(v1::REASON_SESSION_REVOKED);
      access->set_why(*refusal);
      access->set_next_step(NextStep(v1::REASON_SESSION_REVOKED));
      continue;
    }
    access->set_usable(true);
    access->set_require_reason(capability.config.require_reason());
    access->set_approval(capability.config.approval());
    access->set_why(absl::StrCat("agent '", name, "' is listed by '",
                                 capability_name,
                                 "'; each request is still checked against "
                                 "its rules"));
  }
  return response;
}

}  // namespace latchkey::broker
