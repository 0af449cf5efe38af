#include "broker/broker_metrics.h"

#include <string>
#include <vector>

#include "common/metrics.h"

namespace latchkey::broker {
namespace {

struct BrokerMetrics {
  metrics::Counter* requests;
  metrics::Counter* reasons;
  metrics::Histogram* latency;
};

// The reason label's fixed set is every ReasonCode name.
std::vector<std::string> ReasonNames() {
  std::vector<std::string> names;
  const auto* descriptor = v1::ReasonCode_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    names.push_back(descriptor->value(i)->name());
  }
  return names;
}

const BrokerMetrics& Metrics() {
  static const BrokerMetrics* metrics = [] {
    metrics::Registry& registry = metrics::Registry::Global();
    return new BrokerMetrics{
        registry.AddCounter("latchkey_broker_requests_total",
                            "Execute requests by decision.", "decision",
                            {"allow", "deny"}),
        registry.AddCounter("latchkey_broker_decisions_total",
                            "Execute decisions by reason code.", "reason",
                            ReasonNames()),
        registry.AddHistogram("latchkey_broker_request_duration_seconds",
                              "Execute latency, decision to audit record "
                              "(upstream call included).")};
  }();
  return *metrics;
}

// Registered at start-up, not at the first request.
const bool kRegistered = (Metrics(), true);

}  // namespace

void RecordDecision(bool allowed, v1::ReasonCode reason, int64_t latency_us) {
  const BrokerMetrics& metrics = Metrics();
  metrics.requests->Increment(allowed ? "allow" : "deny");
  metrics.reasons->Increment(v1::ReasonCode_Name(reason));
  metrics.latency->ObserveMicros(latency_us);
}

}  // namespace latchkey::broker
