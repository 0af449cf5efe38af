#include "audit_sink/audit_metrics.h"

#include "common/metrics.h"

namespace latchkey::audit_sink {
namespace {

struct AuditMetrics {
  metrics::Counter* appends;
  metrics::Counter* fsyncs;
  metrics::Histogram* fsync_latency;
};

const AuditMetrics& Metrics() {
  static const AuditMetrics* metrics = [] {
    metrics::Registry& registry = metrics::Registry::Global();
    return new AuditMetrics{
        registry.AddCounter("latchkey_audit_appends_total",
                            "Append RPCs by outcome.", "outcome",
                            {"ok", "invalid", "unavailable", "refused"}),
        registry.AddCounter("latchkey_audit_fsyncs_total",
                            "fdatasync calls (one per group-commit batch)."),
        registry.AddHistogram("latchkey_audit_fsync_duration_seconds",
                              "fdatasync latency per batch.")};
  }();
  return *metrics;
}

const bool kRegistered = (Metrics(), true);

}  // namespace

void RecordAuditAppend(const absl::Status& outcome, uint64_t events) {
  const char* label = "refused";
  switch (outcome.code()) {
    case absl::StatusCode::kOk:
      label = "ok";
      break;
    case absl::StatusCode::kInvalidArgument:
      label = "invalid";
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDataLoss:
      label = "unavailable";
      break;
    default:
      break;
  }
  Metrics().appends->Increment(label, events);
}

void RecordAuditFsync(std::chrono::nanoseconds duration) {
  Metrics().fsyncs->Increment();
  Metrics().fsync_latency->ObserveMicros(
      std::chrono::duration_cast<std::chrono::microseconds>(duration).count());
}

}  // namespace latchkey::audit_sink
