// latchkey-broker: decides every agent request and forwards allowed ones to
// the vault. main() only wires the pieces together.
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "broker/approval_registry.h"
#include "broker/broker_config.h"
#include "broker/broker_service.h"
#include "broker/broker_store.h"
#include "broker/config_manager.h"
#include "broker/downstream_clients.h"
#include "broker/rate_limiter.h"
#include "broker/request_executor.h"
#include "broker/session_registry.h"
#include "broker/state_holder.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/peer_guard.h"
#include "common/runtime_tuning.h"
#include "common/state_dir.h"
#include "common/termination_signal.h"
#include "common/uds_server.h"

ABSL_FLAG(std::string, socket, "run/broker.sock",
          "Unix socket of the agent-facing Broker service");
ABSL_FLAG(std::string, admin_socket, "run/admin.sock",
          "Unix socket of the operators' BrokerAdmin service");
ABSL_FLAG(std::string, vault_socket, "run/vault.sock", "the vault's socket");
ABSL_FLAG(std::string, audit_socket, "run/audit.sock",
          "the audit sink's socket");
ABSL_FLAG(std::string, config, "broker.textproto",
          "capabilities and agents, protobuf text format (BrokerConfig); "
          "seeds an empty state_dir, is applied again when its content "
          "changes (at start) and on SIGHUP");
ABSL_FLAG(std::string, state_dir, "state/broker",
          "broker state directory (created 0700)");
ABSL_FLAG(std::string, agent_uids, "",
          "uids/users allowed to connect to the Broker socket (default: own)");
ABSL_FLAG(std::string, operator_uids, "",
          "uids/users allowed to call BrokerAdmin (default: own uid)");
ABSL_FLAG(int, vault_timeout_s, 70,
          "deadline of a vault call (covers the upstream's total timeout)");
ABSL_FLAG(int, audit_timeout_ms, 5000, "deadline of an audit append");

namespace {

// The SIGHUP handler runs on the main thread (sigwait), so a plain pointer
// set before the wait is enough.
latchkey::broker::ConfigManager* g_config_manager = nullptr;

void ReloadOnHangup() {
  absl::StatusOr<latchkey::v1::ApplyResponse> applied =
      g_config_manager->Reload();
  if (!applied.ok()) {
    latchkey::LogError("reload_failed",
                       {{"error", applied.status().ToString()},
                        {"kept", "the configuration in force"}});
    return;
  }
  latchkey::LogInfo(
      "reloaded",
      {{"capabilities_added",
        std::to_string(applied->capabilities_added_size())},
       {"capabilities_removed",
        std::to_string(applied->capabilities_removed_size())},
       {"capabilities_changed",
        std::to_string(applied->capabilities_changed_size())},
       {"agents_added", std::to_string(applied->agents_added_size())},
       {"agents_removed", std::to_string(applied->agents_removed_size())},
       {"agents_changed", std::to_string(applied->agents_changed_size())}});
}

int Fail(const absl::Status& status) {
  latchkey::LogError("startup_failed", {{"error", status.ToString()}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  latchkey::TuneRuntimeForServing();
  absl::SetProgramUsageMessage(
      "latchkey-broker --config=FILE --socket=PATH --admin_socket=PATH "
      "--vault_socket=PATH --audit_socket=PATH");
  absl::ParseCommandLine(argc, argv);
  latchkey::SetLogComponent("broker");
  latchkey::BlockTerminationSignals();

  if (absl::Status s =
          latchkey::EnsurePrivateDirectory(absl::GetFlag(FLAGS_state_dir));
      !s.ok()) {
    return Fail(s);
  }
  auto agent_uids =
      latchkey::ParseUidListOrSelf(absl::GetFlag(FLAGS_agent_uids));
  if (!agent_uids.ok()) return Fail(agent_uids.status());
  auto operator_uids =
      latchkey::ParseUidListOrSelf(absl::GetFlag(FLAGS_operator_uids));
  if (!operator_uids.ok()) return Fail(operator_uids.status());

  latchkey::PeerGuard guard;
  guard.AllowUids("agent", *agent_uids);
  guard.AllowUids("operator", *operator_uids);
  latchkey::broker::ConfigureBrokerPermissions(&guard);

  auto store = latchkey::broker::BrokerStore::Open(
      absl::GetFlag(FLAGS_state_dir) + "/broker.db");
  if (!store.ok()) return Fail(store.status());
  auto empty = latchkey::broker::BrokerState::Compile({});
  if (!empty.ok()) return Fail(empty.status());
  latchkey::broker::StateHolder state(*empty);
  latchkey::broker::SessionRegistry sessions(absl::Now, store->get());
  if (absl::Status s = sessions.Load(); !s.ok()) return Fail(s);
  latchkey::broker::ConfigManager config_manager(
      &state, &sessions, store->get(), absl::GetFlag(FLAGS_config));
  if (absl::Status s = config_manager.Start(); !s.ok()) return Fail(s);
  latchkey::broker::RateLimiter limiter;
  // Pending approvals survive a restart (state_dir/approvals.db).
  auto approvals = latchkey::broker::ApprovalRegistry::Open(
      absl::GetFlag(FLAGS_state_dir) + "/approvals.db");
  if (!approvals.ok()) return Fail(approvals.status());
  auto vault = latchkey::broker::NewGrpcVaultEgressClient(
      absl::GetFlag(FLAGS_vault_socket),
      absl::Seconds(absl::GetFlag(FLAGS_vault_timeout_s)));
  auto audit = latchkey::broker::NewGrpcAuditRecorder(
      absl::GetFlag(FLAGS_audit_socket),
      absl::Milliseconds(absl::GetFlag(FLAGS_audit_timeout_ms)));
  latchkey::broker::RequestExecutor executor(&state, &sessions, vault.get(),
                                             audit.get(), absl::Now, &limiter,
                                             approvals->get());
  latchkey::broker::BrokerService broker_service(&state, &sessions, &executor,
                                                 &guard);
  latchkey::broker::AdminService admin_service(&state, &sessions, &executor,
                                               &config_manager, &guard);
  admin_service.EnableBackup(absl::GetFlag(FLAGS_state_dir));
  auto agent_server = latchkey::UdsServer::Start(
      {absl::GetFlag(FLAGS_socket), 0660, &guard, /*reflection=*/false},
      {&broker_service});
  if (!agent_server.ok()) return Fail(agent_server.status());
  auto admin_server = latchkey::UdsServer::Start(
      {absl::GetFlag(FLAGS_admin_socket), 0660, &guard, /*reflection=*/true},
      {&admin_service});
  if (!admin_server.ok()) return Fail(admin_server.status());
  auto metrics_http = latchkey::StartMetricsEndpointFromFlag("broker");
  if (!metrics_http.ok()) return Fail(metrics_http.status());
  latchkey::LogInfo(
      "ready",
      {{"capabilities", std::to_string(state.Get()->capabilities().size())}});
  g_config_manager = &config_manager;
  int signal_number = latchkey::WaitForTerminationSignal(&ReloadOnHangup);
  latchkey::LogInfo("shutting_down",
                    {{"signal", std::to_string(signal_number)}});
  (*agent_server)->Shutdown();
  (*admin_server)->Shutdown();
  return 0;
}
