// Metrics on prometheus-cpp: counters with labels from a fixed set,
// fixed-bucket latency histograms and read-on-snapshot gauges, in one
// process-wide Registry that wraps a prometheus::Registry. A daemon's
// GetMetrics RPC returns Registry::Global().Snapshot(), read from that
// registry's collected families; the optional loopback Prometheus endpoint
// (common/metrics_http.h) and `latchkeyctl metrics --prometheus` render the
// same snapshot with prometheus-cpp's TextSerializer, so every view agrees.
//
// Label values are fixed when a counter is registered: a value outside the
// set counts under "other", so no input can grow a daemon's memory or its
// metrics output.
#ifndef LATCHKEY_COMMON_METRICS_H_
#define LATCHKEY_COMMON_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "proto/common.pb.h"

namespace latchkey::metrics {

// kOtherLabel is where values outside a counter's fixed set are counted.
inline constexpr char kOtherLabel[] = "other";

class Counter {
 public:
  // An unlabelled counter has label_name "" and no values. This form owns
  // a private prometheus registry (for tests); Registry::AddCounter shares
  // the process's.
  Counter(std::string name, std::string help, std::string label_name,
          std::vector<std::string> label_values);
  Counter(prometheus::Registry& registry, std::string name, std::string help,
          std::string label_name, std::vector<std::string> label_values);
  // Increment adds `n` under `label_value` ("other" if not in the set).
  void Increment(absl::string_view label_value = "", uint64_t n = 1);
  void Snapshot(v1::MetricCounter* out) const;
  // FromFamily fills `out` from this counter's collected family, values
  // in the order they were declared.
  void FromFamily(const prometheus::MetricFamily& family,
                  v1::MetricCounter* out) const;
  const std::string& name() const { return name_; }

 private:
  void Register(prometheus::Registry& registry, const std::string& help);

  std::shared_ptr<prometheus::Registry> owned_;  // Standalone form only.
  std::string name_, label_name_;
  std::vector<std::string> values_;  // Ends with kOtherLabel if labelled.
  prometheus::Family<prometheus::Counter>* family_;
  std::vector<prometheus::Counter*> children_;  // One per values_ entry.
};

class Histogram {
 public:
  // The fixed bucket bounds, in microseconds: 50 µs .. 10 s, then +Inf.
  // Prometheus sees them in seconds.
  static const std::vector<int64_t>& BoundsUs();
  Histogram(std::string name, std::string help);  // Private registry.
  Histogram(prometheus::Registry& registry, std::string name, std::string help);
  // Observe records one latency; negative values count as 0.
  void ObserveMicros(int64_t micros);
  void Snapshot(v1::MetricHistogram* out) const;
  const std::string& name() const { return name_; }

 private:
  void Register(prometheus::Registry& registry, const std::string& help);

  std::shared_ptr<prometheus::Registry> owned_;  // Standalone form only.
  std::string name_;
  prometheus::Family<prometheus::Histogram>* family_;
  prometheus::Histogram* histogram_;
};

class Registry {
 public:
  Registry();
  // Global is the process's registry (never destroyed).
  static Registry& Global();

  // The Add* functions return the metric of that name if one exists, so a
  // metric may be declared by several translation units or tests.
  Counter* AddCounter(const std::string& name, const std::string& help,
                      const std::string& label_name = "",
                      std::vector<std::string> label_values = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help);
  // AddGauge registers (or replaces) a gauge read by `read` at snapshot
  // time; `read` must stay valid until replaced or the process exits.
  void AddGauge(const std::string& name, const std::string& help,
                std::function<int64_t()> read);

  v1::MetricsSnapshot Snapshot(const std::string& daemon) const;

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;  // Guards registration and gauge reads.
  std::vector<std::unique_ptr<Counter>> counters_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
  struct Gauge {
    std::string name;
    prometheus::Gauge* gauge;
    std::function<int64_t()> read;
  };
  std::vector<Gauge> gauges_;
};

// ToFamilies turns a snapshot back into Prometheus families, each series
// labelled daemon="..." (first), histograms in seconds.
std::vector<prometheus::MetricFamily> ToFamilies(
    const v1::MetricsSnapshot& snapshot);

// PrometheusText renders a snapshot in the Prometheus text exposition
// format (version 0.0.4) with prometheus-cpp's TextSerializer.
std::string PrometheusText(const v1::MetricsSnapshot& snapshot);

// StatusClass maps an HTTP status to "1xx".."5xx" ("other" if out of range).
const char* StatusClass(int status);

}  // namespace latchkey::metrics

#endif  // LATCHKEY_COMMON_METRICS_H_
