// BrokerState is the broker's compiled configuration: capabilities with
// their policy engines, and agents by token hash. It is built once from a
// BrokerConfig (text format file) and validated completely before use, so
// an invalid file changes nothing.
#ifndef LATCHKEY_BROKER_BROKER_CONFIG_H_
#define LATCHKEY_BROKER_BROKER_CONFIG_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/origin.h"
#include "proto/broker.pb.h"
#include "rules/policy_engine.h"

namespace latchkey::broker {

inline constexpr absl::Duration kDefaultSessionTtl = absl::Minutes(15);
inline constexpr absl::Duration kDefaultMaxSessionTtl = absl::Hours(1);

struct CompiledCapability {
  v1::Capability config;
  policy::PolicyEngine policy;
  Origin origin;
  absl::Duration default_ttl;
  absl::Duration max_ttl;
  // request_rules is what the vault receives to check the headers and
  // every redirect hop again before it sends them.
  v1::RequestRules request_rules;
};

struct AgentIdentity {
  v1::Agent config;
  std::string token_hash;  // raw 32-byte SHA-256 of the token.
};

class BrokerState {
 public:
  // Compile validates every capability and agent; the first problem is
  // returned as INVALID_ARGUMENT naming the entry and field.
  static absl::StatusOr<std::shared_ptr<const BrokerState>> Compile(
      const v1::BrokerConfig& config);

  const CompiledCapability* FindCapability(absl::string_view name) const;
  // FindAgentByToken hashes `token` and compares it against every agent's
  // hash in constant time (no early exit, so timing does not reveal which
  // agent, if any, is close).
  const AgentIdentity* FindAgentByToken(absl::string_view token) const;
  const AgentIdentity* FindAgentByName(absl::string_view name) const;
  // AgentMayUse: the capability lists the agent by name.
  static bool AgentMayUse(const AgentIdentity& agent,
                          const CompiledCapability& capability);

  const std::map<std::string, CompiledCapability>& capabilities() const {
    return capabilities_;
  }

 private:
  BrokerState() = default;
  std::map<std::string, CompiledCapability> capabilities_;
  std::vector<AgentIdentity> agents_;
};

// ParseBrokerConfig parses protobuf text format, reporting "line L column
// C: ..." on syntax or field errors.
absl::StatusOr<v1::BrokerConfig> ParseBrokerConfig(absl::string_view text);

// CompiledConfig is a parsed and compiled configuration.
struct CompiledConfig {
  v1::BrokerConfig config;
  std::shared_ptr<const BrokerState> state;
};

// CompileBrokerConfigText parses and compiles `text` completely. Every
// error is INVALID_ARGUMENT and starts with "line L column C: ", followed
// for semantic errors by the entry and field, e.g. "line 7 column 3:
// capabilities[1] (gh).origin: ...".
absl::StatusOr<CompiledConfig> CompileBrokerConfigText(absl::string_view text);

// ReadFileText reads a whole file.
absl::StatusOr<std::string> ReadFileText(const std::string& path);

// LoadBrokerConfigFile reads and parses `path`.
absl::StatusOr<v1::BrokerConfig> LoadBrokerConfigFile(const std::string& path);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_BROKER_CONFIG_H_
