// BuildWhoAmI answers Broker.WhoAmI: who the broker says the caller is
// (from its token and SO_PEERCRED uid, never from anything the client
// asserts), its sessions, and which capabilities it can use and why not.
#ifndef LATCHKEY_BROKER_WHOAMI_H_
#define LATCHKEY_BROKER_WHOAMI_H_

#include <cstdint>

#include "broker/broker_config.h"
#include "broker/session_registry.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

v1::WhoAmIResponse BuildWhoAmI(const BrokerState& state,
                               const SessionRegistry& sessions,
                               const AgentIdentity& agent, uint32_t peer_uid,
                               const v1::WhoAmIRequest& request);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_WHOAMI_H_
