// Checkpoints to syslog: whoever can write the sink's state directory can
// cut the log's tail and empty checkpoints.jsonl, so every checkpoint is
// also sent to syslog, which under systemd lands in the journal (and from
// there can be forwarded off the host). One line per checkpoint:
//
//   latchkey-audit checkpoint seq=N head=<hex> ts=<RFC 3339> sig=<base64>
//
// seq=N head=<hex> is what `latchkey-audit-verify --expect=N:<hex>` takes;
// with ts the signature can be checked against checkpoint.pub (it covers
// {"seq":N,"head":"<hex>","ts":"<ts>"}). Never any event contents.
#ifndef LATCHKEY_AUDIT_SINK_CHECKPOINT_SYSLOG_H_
#define LATCHKEY_AUDIT_SINK_CHECKPOINT_SYSLOG_H_

#include <string>

#include "audit_sink/checkpoint.h"

namespace latchkey::audit_sink {

// FormatCheckpointSyslogMessage returns the line above (no newline).
std::string FormatCheckpointSyslogMessage(const Checkpoint& checkpoint);

// CheckpointSyslog sends checkpoints with syslog(3) at
// LOG_AUTHPRIV|LOG_NOTICE (auth-private: only root reads it by default).
// It is called from the sink's checkpoint thread, never under the log's
// lock, so a slow syslog daemon delays checkpoints, not appends.
class CheckpointSyslog {
 public:
  // SyslogFunction has syslog(3)'s signature; tests pass their own.
  using SyslogFunction = void (*)(int priority, const char* format, ...);
  explicit CheckpointSyslog(SyslogFunction syslog_function);
  // Open calls openlog("latchkey-audit", LOG_PID | LOG_NDELAY,
  // LOG_AUTHPRIV) once for the process and returns a CheckpointSyslog
  // writing through syslog(3).
  static CheckpointSyslog Open();

  void Publish(const Checkpoint& checkpoint) const;

 private:
  SyslogFunction syslog_function_;
};

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_CHECKPOINT_SYSLOG_H_
