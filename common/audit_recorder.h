// AuditRecorder sends decision records to latchkey-audit. The broker and
// the vault both use it; tests replace it with a double.
#ifndef LATCHKEY_COMMON_AUDIT_RECORDER_H_
#define LATCHKEY_COMMON_AUDIT_RECORDER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/audit.pb.h"

namespace latchkey {

class AuditRecorder {
 public:
  virtual ~AuditRecorder() = default;
  // Record returns OK only once the sink has the event durably on disk.
  virtual absl::Status Record(const v1::AuditEvent& event) = 0;
  // Reachable is a cheap pre-check: false means the sink is known to be
  // down, so a request can be refused before anything is executed.
  virtual bool Reachable() = 0;
};

// NewGrpcAuditRecorder talks to the sink over a Unix socket; one channel,
// kept open for the process lifetime.
std::unique_ptr<AuditRecorder> NewGrpcAuditRecorder(
    const std::string& socket_path, absl::Duration timeout);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_AUDIT_RECORDER_H_
