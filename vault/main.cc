// latchkey-vault: the sealed secret store and the only process that makes
// credentialed upstream calls. main() only wires the pieces together.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/audit_recorder.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/peer_guard.h"
#include "common/runtime_tuning.h"
#include "common/state_dir.h"
#include "common/termination_signal.h"
#include "common/uds_server.h"
#include "vault/admin_service.h"
#include "vault/egress_service.h"
#include "vault/process_hardening.h"
#include "vault/secret_store.h"
#include "vault/unseal_credential.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"
#include "vault/vault_metrics.h"

ABSL_FLAG(std::string, audit_socket, "",
          "the audit sink's socket, for seal and unseal records (empty: off)");
ABSL_FLAG(std::string, socket, "run/vault.sock",
          "Unix socket serving VaultEgress and VaultAdmin");
ABSL_FLAG(std::string, state_dir, "state/vault",
          "directory of the encrypted store (created 0700)");
ABSL_FLAG(std::string, broker_uids, "",
          "uids/users allowed to call VaultEgress (default: own uid)");
ABSL_FLAG(std::string, operator_uids, "",
          "uids/users allowed to call VaultAdmin (default: own uid)");
ABSL_FLAG(std::string, unseal_credential, "",
          "unseal at start-up from the systemd credential of this NAME "
          "($CREDENTIALS_DIRECTORY/NAME, from LoadCredentialEncrypted=); "
          "for vaults initialized with UNSEAL_METHOD_SYSTEMD_CREDENTIAL");

namespace {

int Fail(const absl::Status& status) {
  latchkey::LogError("startup_failed", {{"error", status.ToString()}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  latchkey::TuneRuntimeForServing();
  absl::SetProgramUsageMessage(
      "latchkey-vault --socket=PATH --state_dir=DIR [--broker_uids=..] "
      "[--operator_uids=..]");
  absl::ParseCommandLine(argc, argv);
  latchkey::SetLogComponent("vault");
  latchkey::BlockTerminationSignals();
  // Everything the vault creates (database, WAL, socket dir) is private.
  ::umask(077);

  absl::Status hardened = latchkey::vault::HardenVaultProcess();
  if (!hardened.ok()) return Fail(hardened);
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  if (absl::Status s = latchkey::EnsurePrivateDirectory(state_dir); !s.ok()) {
    return Fail(s);
  }
  auto store = latchkey::vault::OpenSqliteSecretStore(state_dir);
  if (!store.ok()) return Fail(store.status());

  auto broker_uids =
      latchkey::ParseUidListOrSelf(absl::GetFlag(FLAGS_broker_uids));
  if (!broker_uids.ok()) return Fail(broker_uids.status());
  auto operator_uids =
      latchkey::ParseUidListOrSelf(absl::GetFlag(FLAGS_operator_uids));
  if (!operator_uids.ok()) return Fail(operator_uids.status());
  latchkey::PeerGuard guard;
  guard.AllowUids("broker", *broker_uids);
  guard.AllowUids("operator", *operator_uids);
  latchkey::vault::ConfigureVaultPermissions(&guard);

  latchkey::vault::VaultCore core(std::move(*store));
  const std::string credential = absl::GetFlag(FLAGS_unseal_credential);
  if (!credential.empty()) {
    if (!core.Status().initialized()) {
      latchkey::LogWarning(
          "unseal_credential_skipped",
          {{"why",
            "vault is not initialized; run Init with "
            "UNSEAL_METHOD_SYSTEMD_CREDENTIAL, provision the key, "
            "restart"}});
    } else {
      // root_key: moved into the core (or zeroized on failure).
      auto root_key = latchkey::vault::ReadRootKeyCredential(credential);
      if (!root_key.ok()) return Fail(root_key.status());
      auto unsealed = core.UnsealWithRootKey(std::move(*root_key));
      if (!unsealed.ok()) return Fail(unsealed.status());
    }
  }
  latchkey::vault::RegisterSealGauge(&core);
  latchkey::vault::UpstreamClient upstream;
  latchkey::vault::EgressService egress(&core, &upstream, &guard);
  // Seal-state changes and unseal attempts go to the audit log.
  std::unique_ptr<latchkey::AuditRecorder> audit;
  if (!absl::GetFlag(FLAGS_audit_socket).empty()) {
    audit = latchkey::NewGrpcAuditRecorder(absl::GetFlag(FLAGS_audit_socket),
                                           absl::Seconds(5));
  } else {
    latchkey::LogWarning("audit_disabled",
                         {{"why",
                           "--audit_socket is empty; unseal attempts "
                           "are only logged"}});
  }
  latchkey::vault::AdminService admin(&core, &guard, audit.get());
  admin.EnableBackup(state_dir);
  auto server = latchkey::UdsServer::Start(
      {absl::GetFlag(FLAGS_socket), 0660, &guard, /*reflection=*/true},
      {&egress, &admin});
  if (!server.ok()) return Fail(server.status());
  auto metrics_http = latchkey::StartMetricsEndpointFromFlag("vault");
  if (!metrics_http.ok()) return Fail(metrics_http.status());
  latchkey::LogInfo(
      "ready", {{"sealed", core.Status().sealed() ? "yes" : "no"},
                {"initialized", core.Status().initialized() ? "yes" : "no"}});
  int signal_number = latchkey::WaitForTerminationSignal();
  latchkey::LogInfo("shutting_down",
                    {{"signal", std::to_string(signal_number)}});
  (*server)->Shutdown();
  core.Seal();
  return 0;
}
