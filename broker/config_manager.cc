#include "broker/config_manager.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "google/protobuf/text_format.h"

namespace latchkey::broker {
namespace {

template <typename Entry>
std::map<std::string, std::string> ByName(
    const google::protobuf::RepeatedPtrField<Entry>& entries) {
  std::map<std::string, std::string> out;
  for (const Entry& entry : entries) {
    out[entry.name()] = entry.SerializeAsString();
  }
  return out;
}

template <typename Add>
void DiffMaps(const std::map<std::string, std::string>& before,
              const std::map<std::string, std::string>& after, Add added,
              Add removed, Add changed) {
  for (const auto& [name, bytes] : after) {
    auto it = before.find(name);
    if (it == before.end()) {
      added(name);
    } else if (it->second != bytes) {
      changed(name);
    }
  }
  for (const auto& [name, bytes] : before) {
    if (after.count(name) == 0) removed(name);
  }
}

bool Empty(const v1::ApplyResponse& diff) {
  return diff.capabilities_added().empty() &&
         diff.capabilities_removed().empty() &&
         diff.capabilities_changed().empty() && diff.agents_added().empty() &&
         diff.agents_removed().empty() && diff.agents_changed().empty();
}

}  // namespace

v1::ApplyResponse DiffConfigs(const v1::BrokerConfig& before,
                              const v1::BrokerConfig& after) {
  v1::ApplyResponse diff;
  using Add = std::function<void(const std::string&)>;
  DiffMaps<Add>(
      ByName(before.capabilities()), ByName(after.capabilities()),
      [&](const std::string& n) { diff.add_capabilities_added(n); },
      [&](const std::string& n) { diff.add_capabilities_removed(n); },
      [&](const std::string& n) { diff.add_capabilities_changed(n); });
  DiffMaps<Add>(
      ByName(before.agents()), ByName(after.agents()),
      [&](const std::string& n) { diff.add_agents_added(n); },
      [&](const std::string& n) { diff.add_agents_removed(n); },
      [&](const std::string& n) { diff.add_agents_changed(n); });
  return diff;
}

absl::StatusOr<v1::ApplyResponse> ConfigManager::CommitLocked(
    const v1::BrokerConfig& candidate, const std::string& file_sha256,
    bool dry_run) {
  LK_ASSIGN_OR_RETURN(std::shared_ptr<const BrokerState> compiled,
                      BrokerState::Compile(candidate));
  v1::ApplyResponse diff = DiffConfigs(config_, candidate);
  if (dry_run) return diff;
  if (store_ != nullptr) {
    LK_RETURN_IF_ERROR(store_->SaveConfig(candidate, file_sha256));
  }
  // Removed entries: their sessions are revoked before the new state is
  // published and before this returns.
  for (const std::string& name : diff.agents_removed()) {
    LK_RETURN_IF_ERROR(sessions_->CutOff(v1::Revocation::AGENT, name));
  }
  for (const std::string& name : diff.capabilities_removed()) {
    LK_RETURN_IF_ERROR(sessions_->CutOff(v1::Revocation::CAPABILITY, name));
  }
  state_->Set(std::move(compiled));
  config_ = candidate;
  file_sha256_ = file_sha256;
  diff.set_applied(true);
  LogInfo("config_applied",
          {{"capabilities", absl::StrCat(candidate.capabilities_size())},
           {"agents", absl::StrCat(candidate.agents_size())},
           {"changed", Empty(diff) ? "no" : "yes"}});
  return diff;
}

absl::StatusOr<v1::ApplyResponse> ConfigManager::ApplyTextLocked(
    absl::string_view text, const std::string& file_sha256, bool dry_run) {
  // Parse and compile with positions first, so every error names a line.
  LK_ASSIGN_OR_RETURN(CompiledConfig parsed, CompileBrokerConfigText(text));
  return CommitLocked(parsed.config, file_sha256, dry_run);
}

absl::Status ConfigManager::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<BrokerStore::StoredConfig> stored;
  if (store_ != nullptr) {
    LK_ASSIGN_OR_RETURN(stored, store_->LoadConfig());
  }
  absl::StatusOr<std::string> text = ReadFileText(config_path_);
  if (!stored.has_value()) {
    if (!text.ok()) return text.status();
    absl::StatusOr<v1::ApplyResponse> applied =
        ApplyTextLocked(*text, Sha256Hex(*text), false);
    if (!applied.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path_, ": ", applied.status().message()));
    }
    LogInfo("config_source", {{"source", "file"}, {"path", config_path_}});
    return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<const BrokerState>> compiled =
      BrokerState::Compile(stored->config);
  if (!compiled.ok()) {
    return absl::DataLossError(
        absl::StrCat("the configuration stored in broker.db does not compile: ",
                     compiled.status().message()));
  }
  state_->Set(*std::move(compiled));
  config_ = stored->config;
  file_sha256_ = stored->file_sha256;
  if (!text.ok()) {
    LogWarning("config_file_unreadable",
               {{"path", config_path_}, {"error", text.status().ToString()}});
  } else if (Sha256Hex(*text) != file_sha256_) {
    absl::StatusOr<v1::ApplyResponse> applied =
        ApplyTextLocked(*text, Sha256Hex(*text), false);
    if (!applied.ok()) {
      LogError("config_file_invalid", {{"path", config_path_},
                                       {"error", applied.status().ToString()},
                                       {"kept", "stored configuration"}});
    } else {
      LogInfo("config_source",
              {{"source", "changed file"}, {"path", config_path_}});
      return absl::OkStatus();
    }
  }
  LogInfo("config_source", {{"source", "broker.db"}});
  return absl::OkStatus();
}

absl::StatusOr<v1::ApplyResponse> ConfigManager::Reload() {
  LK_ASSIGN_OR_RETURN(std::string text, ReadFileText(config_path_));
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<v1::ApplyResponse> applied =
      ApplyTextLocked(text, Sha256Hex(text), false);
  if (!applied.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path_, ": ", applied.status().message()));
  }
  return applied;
}

absl::StatusOr<v1::ApplyResponse> ConfigManager::Apply(absl::string_view text,
                                                       bool dry_run) {
  std::lock_guard<std::mutex> lock(mu_);
  // Applied text is not the file: a later change of the file applies it.
  return ApplyTextLocked(text, file_sha256_, dry_run);
}

v1::GetConfigResponse ConfigManager::GetConfig() const {
  std::lock_guard<std::mutex> lock(mu_);
  v1::GetConfigResponse response;
  *response.mutable_config() = config_;
  google::protobuf::TextFormat::PrintToString(config_,
                                              response.mutable_config_text());
  return response;
}

absl::StatusOr<v1::Capability> ConfigManager::CreateCapability(
    const v1::Capability& capability) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::Capability& existing : config_.capabilities()) {
    if (existing.name() == capability.name()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "capability '", capability.name(), "' exists; use update"));
    }
  }
  v1::BrokerConfig candidate = config_;
  *candidate.add_capabilities() = capability;
  LK_RETURN_IF_ERROR(CommitLocked(candidate, file_sha256_, false).status());
  return capability;
}

absl::StatusOr<v1::Capability> ConfigManager::UpdateCapability(
    const v1::Capability& capability) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::BrokerConfig candidate = config_;
  for (v1::Capability& existing : *candidate.mutable_capabilities()) {
    if (existing.name() == capability.name()) {
      existing = capability;
      LK_RETURN_IF_ERROR(CommitLocked(candidate, file_sha256_, false).status());
      return capability;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("there is no capability named '", capability.name(), "'"));
}

absl::StatusOr<bool> ConfigManager::DeleteCapability(absl::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::BrokerConfig candidate = config_;
  auto* caps = candidate.mutable_capabilities();
  for (int i = 0; i < caps->size(); ++i) {
    if (caps->Get(i).name() == name) {
      caps->DeleteSubrange(i, 1);
      LK_RETURN_IF_ERROR(CommitLocked(candidate, file_sha256_, false).status());
      return true;
    }
  }
  return false;
}

absl::StatusOr<v1::CreateAgentResponse> ConfigManager::CreateAgent(
    const v1::CreateAgentRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::Agent& existing : config_.agents()) {
    if (existing.name() == request.name()) {
      return absl::AlreadyExistsError(
          absl::StrCat("agent '", request.name(), "' exists"));
    }
  }
  LK_ASSIGN_OR_RETURN(std::string random, RandomBytes(32));
  v1::CreateAgentResponse response;
  response.set_token(absl::StrCat("lk_agent_", HexEncode(random)));
  v1::Agent* agent = response.mutable_agent();
  agent->set_name(request.name());
  agent->set_token_sha256(Sha256Hex(response.token()));
  *agent->mutable_uids() = request.uids();
  *agent->mutable_rate_limit() = request.rate_limit();
  *agent->mutable_session_rate_limit() = request.session_rate_limit();
  v1::BrokerConfig candidate = config_;
  *candidate.add_agents() = *agent;
  for (const std::string& name : request.capabilities()) {
    bool found = false;
    for (v1::Capability& cap : *candidate.mutable_capabilities()) {
      if (cap.name() == name) {
        cap.add_agents(request.name());
        found = true;
      }
    }
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("there is no capability named '", name, "'"));
    }
  }
  LK_RETURN_IF_ERROR(CommitLocked(candidate, file_sha256_, false).status());
  return response;
}

absl::StatusOr<v1::Agent> ConfigManager::UpdateAgent(const v1::Agent& agent) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::BrokerConfig candidate = config_;
  for (v1::Agent& existing : *candidate.mutable_agents()) {
    if (existing.name() == agent.name()) {
      std::string token_sha256 = agent.token_sha256().empty()
                                     ? existing.token_sha256()
                                     : agent.token_sha256();
      existing = agent;
      existing.set_token_sha256(token_sha256);
      v1::Agent updated = existing;
      LK_RETURN_IF_ERROR(CommitLocked(candidate, file_sha256_, false).status());
      return updated;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("there is no agent named '", agent.name(), "'"));
}

absl::StatusOr<bool> ConfigManager::DeleteAgent(absl::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::BrokerConfig candidate = config_;
  auto* agents = candidate.mutable_agents();
  for (int i = 0; i < agents->size(); ++i) {
    if (agents->Get(i).name() != name) continue;
    agents->DeleteSubrange(i, 1);
    for (v1::Capability& cap : *candidate.mutable_capabilities()) {
      auto* names = cap.mutable_agents();
      for (int k = names->size() - 1; k >= 0; --k) {
        if (names->Get(k) == name) names->DeleteSubrange(k, 1);
      }
    }
    LK_RETURN_IF_ERROR(CommitLocked(candidate, file_sha256_, false).status());
    return true;
  }
  return false;
}

std::vector<v1::Agent> ConfigManager::ListAgents() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {config_.agents().begin(), config_.agents().end()};
}

}  // namespace latchkey::broker
