// ConfigManager owns every change of the broker's configuration
// (capabilities and agents): Apply from text, the admin RPCs that create,
// update and delete single entries, and Reload from the --config file.
// Each change is validated completely (a candidate BrokerConfig is
// compiled), persisted, and only then published; an invalid change leaves
// everything as it was. Changes are serialized.
//
// How the file and admin changes combine (the rule, also in
// broker/README.md): the configuration in force is stored in broker.db.
//  - First start (empty database): the --config file is the configuration;
//    it must exist and be valid.
//  - Later starts: the stored configuration is used, unless the file's
//    content differs from the file last applied (its SHA-256 is stored);
//    then the file is applied as by Apply, replacing everything. An
//    invalid file is logged and ignored (the stored configuration stays).
//  - SIGHUP (Reload) applies the file unconditionally; Apply applies the
//    given text. Both replace everything, including entries created
//    through admin RPCs: export with GetConfig first to keep them.
//  - Admin create/update/delete change the stored configuration only;
//    they last until the next Apply, Reload or file change.
// Removing an agent or capability (by delete, Apply or Reload) revokes the
// sessions that used it.
#ifndef LATCHKEY_BROKER_CONFIG_MANAGER_H_
#define LATCHKEY_BROKER_CONFIG_MANAGER_H_

#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "broker/broker_config.h"
#include "broker/broker_store.h"
#include "broker/session_registry.h"
#include "broker/state_holder.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

class ConfigManager {
 public:
  // `store` may be null (nothing persisted). All pointers must outlive
  // the manager.
  ConfigManager(StateHolder* state, SessionRegistry* sessions,
                BrokerStore* store, std::string config_path)
      : state_(state),
        sessions_(sessions),
        store_(store),
        config_path_(std::move(config_path)) {}

  // Start chooses the configuration at startup (see the rule above).
  absl::Status Start();
  // Reload re-reads the --config file and applies it.
  absl::StatusOr<v1::ApplyResponse> Reload();
  // Apply replaces the configuration with `text` (or only diffs it).
  absl::StatusOr<v1::ApplyResponse> Apply(absl::string_view text, bool dry_run);
  v1::GetConfigResponse GetConfig() const;

  absl::StatusOr<v1::Capability> CreateCapability(
      const v1::Capability& capability);
  absl::StatusOr<v1::Capability> UpdateCapability(
      const v1::Capability& capability);
  absl::StatusOr<bool> DeleteCapability(absl::string_view name);

  absl::StatusOr<v1::CreateAgentResponse> CreateAgent(
      const v1::CreateAgentRequest& request);
  absl::StatusOr<v1::Agent> UpdateAgent(const v1::Agent& agent);
  absl::StatusOr<bool> DeleteAgent(absl::string_view name);
  std::vector<v1::Agent> ListAgents() const;

 private:
  // Commit validates, persists and publishes `candidate`, and cuts off
  // sessions of removed entries. `file_sha256` is stored with it.
  absl::StatusOr<v1::ApplyResponse> CommitLocked(
      const v1::BrokerConfig& candidate, const std::string& file_sha256,
      bool dry_run);  // mu_ held
  absl::StatusOr<v1::ApplyResponse> ApplyTextLocked(
      absl::string_view text, const std::string& file_sha256,
      bool dry_run);  // mu_ held

  StateHolder* state_;
  SessionRegistry* sessions_;
  BrokerStore* store_;
  const std::string config_path_;
  mutable std::mutex mu_;
  // Guarded by mu_:
  v1::BrokerConfig config_;
  std::string file_sha256_;
};

// DiffConfigs reports added/removed/changed capabilities and agents.
v1::ApplyResponse DiffConfigs(const v1::BrokerConfig& before,
                              const v1::BrokerConfig& after);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_CONFIG_MANAGER_H_
