// latchkey-audit: the audit sink daemon. Wires the state directory, the
// HMAC key, the log and the two gRPC services onto audit.sock.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "audit_sink/audit_log.h"
#include "audit_sink/audit_service.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/checkpoint_syslog.h"
#include "audit_sink/hmac_key.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/peer_guard.h"
#include "common/runtime_tuning.h"
#include "common/state_dir.h"
#include "common/termination_signal.h"
#include "common/uds_server.h"

ABSL_FLAG(std::string, socket, "run/audit.sock",
          "Unix socket to serve AuditAppend and AuditAdmin on.");
ABSL_FLAG(std::string, state_dir, "state/audit",
          "Directory (mode 0700) holding the log files, hmac.key, "
          "checkpoint.key, checkpoint.pub and checkpoints.jsonl.");
ABSL_FLAG(uint64_t, max_file_bytes, latchkey::kDefaultAuditMaxFileBytes,
          "Rotate the log file before it would grow beyond this many bytes "
          "(0: never).");
ABSL_FLAG(uint64_t, checkpoint_every_records,
          latchkey::kDefaultAuditCheckpointEveryRecords,
          "Sign a checkpoint at least every this many records (0: only by "
          "time, on rotation and at exit).");
ABSL_FLAG(absl::Duration, checkpoint_interval,
          absl::Seconds(latchkey::kDefaultAuditCheckpointIntervalSeconds),
          "Sign a checkpoint of new records at least this often.");
ABSL_FLAG(bool, checkpoint_syslog, true,
          "Also send every checkpoint (sequence, head hash, signature; no "
          "event contents) to syslog (LOG_AUTHPRIV, the journal under "
          "systemd), where whoever can write --state_dir cannot rewrite it.");
ABSL_FLAG(std::string, writer_uids, "",
          "Comma list of uids or user names that may Append (broker, "
          "vault); empty means only this daemon's own uid.");
ABSL_FLAG(std::string, operator_uids, "",
          "Comma list of uids or user names that may Query, Tail and "
          "Verify; empty means only this daemon's own uid.");

namespace latchkey::audit_sink {
namespace {

int Fail(const absl::Status& status) {
  LogError("startup_failed", {{"error", status.ToString()}});
  return 1;
}

int Run() {
  SetLogComponent("audit");
  BlockTerminationSignals();  // Before any thread starts.
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);

  absl::Status status = EnsurePrivateDirectory(state_dir);
  if (!status.ok()) return Fail(status);
  absl::StatusOr<std::string> key = LoadOrCreateHmacKey(state_dir);
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<std::unique_ptr<CheckpointKey>> checkpoint_key =
      CheckpointKey::LoadOrCreate(state_dir);
  if (!checkpoint_key.ok()) return Fail(checkpoint_key.status());
  AuditLogOptions log_options;
  log_options.max_file_bytes = absl::GetFlag(FLAGS_max_file_bytes);
  log_options.checkpoint_key = checkpoint_key->get();
  log_options.checkpoint_every_records =
      absl::GetFlag(FLAGS_checkpoint_every_records);
  log_options.checkpoint_interval = absl::GetFlag(FLAGS_checkpoint_interval);
  if (absl::GetFlag(FLAGS_checkpoint_syslog)) {
    log_options.on_checkpoint =
        [syslog = CheckpointSyslog::Open()](const Checkpoint& checkpoint) {
          syslog.Publish(checkpoint);
        };
  }
  if (log_options.checkpoint_interval <= absl::ZeroDuration()) {
    return Fail(
        absl::InvalidArgumentError("--checkpoint_interval must be positive"));
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> log =
      AuditLog::Open(state_dir, std::move(*key), log_options);
  if (!log.ok()) return Fail(log.status());

  absl::StatusOr<std::vector<uid_t>> writers =
      ParseUidListOrSelf(absl::GetFlag(FLAGS_writer_uids));
  if (!writers.ok()) return Fail(writers.status());
  absl::StatusOr<std::vector<uid_t>> operators =
      ParseUidListOrSelf(absl::GetFlag(FLAGS_operator_uids));
  if (!operators.ok()) return Fail(operators.status());
  PeerGuard guard;
  guard.AllowUids(kWriterRole, *writers);
  guard.AllowUids(kOperatorRole, *operators);
  PermitAuditMethods(&guard);

  // The head of the chain, for `latchkeyctl status` and Prometheus.
  metrics::Registry::Global().AddGauge(
      "latchkey_audit_head_sequence", "Highest durable record sequence.",
      [l = log->get()] { return static_cast<int64_t>(l->last_sequence()); });
  AuditAppendService append_service(log->get(), &guard);
  AuditAdminService admin_service(log->get(), &guard);
  UdsServerOptions options;
  options.socket_path = absl::GetFlag(FLAGS_socket);
  options.guard = &guard;
  options.reflection = true;
  absl::StatusOr<std::unique_ptr<UdsServer>> server =
      UdsServer::Start(options, {&append_service, &admin_service});
  if (!server.ok()) return Fail(server.status());
  auto metrics_http = StartMetricsEndpointFromFlag("audit");
  if (!metrics_http.ok()) return Fail(metrics_http.status());
  LogInfo("ready", {{"socket", options.socket_path},
                    {"state_dir", state_dir},
                    {"last_sequence", absl::StrCat((*log)->last_sequence())}});

  int signal_number = WaitForTerminationSignal();
  LogInfo("stopping", {{"signal", absl::StrCat(signal_number)}});
  admin_service.BeginShutdown();  // End Tail streams.
  (*server)->Shutdown();          // Let in-flight calls finish.
  metrics_http->reset();          // No scrape reads the log once closed.
  log->reset();                   // Writes a last checkpoint.
  return 0;
}

}  // namespace
}  // namespace latchkey::audit_sink

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "latchkey-audit: append-only, hash-chained audit log on a Unix socket");
  absl::ParseCommandLine(argc, argv);
  latchkey::TuneRuntimeForServing();
  return latchkey::audit_sink::Run();
}
