// The vault's metrics: upstream calls by status class (or error/timeout),
// upstream latency, and the seal state as a gauge.
#ifndef LATCHKEY_VAULT_VAULT_METRICS_H_
#define LATCHKEY_VAULT_VAULT_METRICS_H_

#include "absl/status/statusor.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"

namespace latchkey::vault {

// RecordUpstreamCall counts one upstream call's outcome and latency.
void RecordUpstreamCall(const absl::StatusOr<UpstreamResult>& result);

// RegisterSealGauge exports core's seal state (1 sealed, 0 unsealed) and
// initialization; `core` must outlive the process's metrics scrapes.
void RegisterSealGauge(VaultCore* core);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_VAULT_METRICS_H_
