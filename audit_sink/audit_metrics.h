// The audit sink's metrics: appends by outcome and fdatasync latency (one
// per group-commit batch).
#ifndef LATCHKEY_AUDIT_SINK_AUDIT_METRICS_H_
#define LATCHKEY_AUDIT_SINK_AUDIT_METRICS_H_

#include <chrono>
#include <cstdint>

#include "absl/status/status.h"

namespace latchkey::audit_sink {

// RecordAuditAppend counts `events` appended events (one per Append RPC,
// one per event of an AppendBatch) by outcome ("ok" or the status code).
void RecordAuditAppend(const absl::Status& outcome, uint64_t events = 1);

// RecordAuditFsync records one batch's fdatasync duration.
void RecordAuditFsync(std::chrono::nanoseconds duration);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_AUDIT_METRICS_H_
