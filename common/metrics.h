// Metrics: atomic counters with labels from a fixed set, fixed-bucket
// latency histograms and read-on-snapshot gauges, in one process-wide
// Registry. A daemon's GetMetrics RPC returns Registry::Global().Snapshot();
// the optional loopback Prometheus endpoint serves PrometheusText() of the
// same snapshot, so both views always agree.
//
// Recording is lock-free (relaxed atomics) so that hooks on the request
// path cost a few nanoseconds. Label values are fixed when a counter is
// registered: a value outside the set counts under "other", so no input can
// grow a daemon's memory or its metrics output.
#ifndef LATCHKEY_COMMON_METRICS_H_
#define LATCHKEY_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/common.pb.h"

namespace latchkey::metrics {

// kOtherLabel is where values outside a counter's fixed set are counted.
inline constexpr char kOtherLabel[] = "other";

class Counter {
 public:
  // An unlabelled counter has label_name "" and no values.
  Counter(std::string name, std::string help, std::string label_name,
          std::vector<std::string> label_values);
  // Increment adds `n` under `label_value` ("other" if not in the set).
  void Increment(absl::string_view label_value = "", uint64_t n = 1);
  void Snapshot(v1::MetricCounter* out) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_, help_, label_name_;
  std::vector<std::string> values_;  // Ends with kOtherLabel if labelled.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
};

class Histogram {
 public:
  // The fixed bucket bounds, in microseconds: 50 µs .. 10 s, then +Inf.
  static const std::vector<int64_t>& BoundsUs();
  Histogram(std::string name, std::string help);
  // Observe records one latency; negative values count as 0.
  void ObserveMicros(int64_t micros);
  void Snapshot(v1::MetricHistogram* out) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_, help_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // Not cumulative.
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_us_{0};
};

class Registry {
 public:
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
  mutable std::mutex mu_;  // Guards registration, not recording.
  std::vector<std::unique_ptr<Counter>> counters_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
  struct Gauge {
    std::string name, help;
    std::function<int64_t()> read;
  };
  std::vector<Gauge> gauges_;
};

// PrometheusText renders a snapshot in the Prometheus text exposition
// format (version 0.0.4); histograms in seconds, each series labelled
// daemon="...".
std::string PrometheusText(const v1::MetricsSnapshot& snapshot);

// StatusClass maps an HTTP status to "1xx".."5xx" ("other" if out of range).
const char* StatusClass(int status);

}  // namespace latchkey::metrics

#endif  // LATCHKEY_COMMON_METRICS_H_
