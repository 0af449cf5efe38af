#include "vault/vault_metrics.h"

#include "common/metrics.h"

namespace latchkey::vault {
namespace {

struct VaultMetrics {
  metrics::Counter* upstream;
  metrics::Histogram* latency;
};

const VaultMetrics& Metrics() {
  static const VaultMetrics* metrics = [] {
    metrics::Registry& registry = metrics::Registry::Global();
    return new VaultMetrics{
        registry.AddCounter(
            "latchkey_vault_upstream_responses_total",
            "Upstream calls by HTTP status class, or error/timeout when no "
            "response came.",
            "class", {"1xx", "2xx", "3xx", "4xx", "5xx", "error", "timeout"}),
        registry.AddHistogram("latchkey_vault_upstream_duration_seconds",
                              "Upstream call latency (answered calls).")};
  }();
  return *metrics;
}

const bool kRegistered = (Metrics(), true);

}  // namespace

void RecordUpstreamCall(const absl::StatusOr<UpstreamResult>& result) {
  const VaultMetrics& metrics = Metrics();
  if (!result.ok()) {
    metrics.upstream->Increment(result.status().code() ==
                                        absl::StatusCode::kDeadlineExceeded
                                    ? "timeout"
                                    : "error");
    return;
  }
  metrics.upstream->Increment(metrics::StatusClass(result->status));
  metrics.latency->ObserveMicros(result->latency_us);
}

void RegisterSealGauge(VaultCore* core) {
  metrics::Registry& registry = metrics::Registry::Global();
  registry.AddGauge("latchkey_vault_sealed", "1 while the vault is sealed.",
                    [core] { return core->Status().sealed() ? 1 : 0; });
  registry.AddGauge("latchkey_vault_initialized",
                    "1 once the vault is initialized.",
                    [core] { return core->Status().initialized() ? 1 : 0; });
}

}  // namespace latchkey::vault
