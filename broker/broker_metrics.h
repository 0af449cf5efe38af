// The broker's metrics: requests by decision, decisions by reason, and the
// end-to-end request latency. Registered with the process's metrics
// Registry when this file is linked in (so GetMetrics shows zeros before
// the first request).
#ifndef LATCHKEY_BROKER_BROKER_METRICS_H_
#define LATCHKEY_BROKER_BROKER_METRICS_H_

#include <cstdint>

#include "proto/common.pb.h"

namespace latchkey::broker {

// RecordDecision counts one Execute decision and its latency.
void RecordDecision(bool allowed, v1::ReasonCode reason, int64_t latency_us);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_BROKER_METRICS_H_
