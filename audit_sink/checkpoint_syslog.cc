#include "audit_sink/checkpoint_syslog.h"

#include <syslog.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace latchkey::audit_sink {

std::string FormatCheckpointSyslogMessage(const Checkpoint& checkpoint) {
  return absl::StrCat("latchkey-audit checkpoint seq=", checkpoint.sequence,
                      " head=", checkpoint.head_hash, " ts=", checkpoint.time,
                      " sig=", absl::Base64Escape(checkpoint.signature));
}

CheckpointSyslog::CheckpointSyslog(SyslogFunction syslog_function)
    : syslog_function_(syslog_function) {}

CheckpointSyslog CheckpointSyslog::Open() {
  // The identity string must stay valid: openlog keeps the pointer.
  static const bool opened = [] {
    ::openlog("latchkey-audit", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    return true;
  }();
  (void)opened;
  return CheckpointSyslog(&::syslog);
}

void CheckpointSyslog::Publish(const Checkpoint& checkpoint) const {
  const std::string message = FormatCheckpointSyslogMessage(checkpoint);
  // "%s": the message is data, never a format string.
  syslog_function_(LOG_AUTHPRIV | LOG_NOTICE, "%s", message.c_str());
}

}  // namespace latchkey::audit_sink
