#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "prometheus/text_serializer.h"

namespace latchkey::metrics {
namespace {

double Seconds(int64_t micros) { return static_cast<double>(micros) / 1e6; }
int64_t Micros(double seconds) { return std::llround(seconds * 1e6); }

std::string LabelValue(const prometheus::ClientMetric& metric,
                       const std::string& name) {
  for (const prometheus::ClientMetric::Label& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return "";
}

void HistogramFromFamily(const prometheus::MetricFamily& family,
                         v1::MetricHistogram* out) {
  out->set_name(family.name);
  out->set_help(family.help);
  if (family.metric.empty()) return;
  const prometheus::ClientMetric::Histogram& histogram =
      family.metric.front().histogram;
  for (const prometheus::ClientMetric::Bucket& bucket : histogram.bucket) {
    if (!std::isinf(bucket.upper_bound)) {
      out->add_bucket_upper_bounds_us(Micros(bucket.upper_bound));
    }
    out->add_cumulative_counts(bucket.cumulative_count);
  }
  out->set_count(histogram.sample_count);
  out->set_sum_us(Micros(histogram.sample_sum));
}

}  // namespace

Counter::Counter(std::string name, std::string help, std::string label_name,
                 std::vector<std::string> label_values)
    : owned_(std::make_shared<prometheus::Registry>()),
      name_(std::move(name)),
      label_name_(std::move(label_name)),
      values_(std::move(label_values)) {
  Register(*owned_, help);
}

Counter::Counter(prometheus::Registry& registry, std::string name,
                 std::string help, std::string label_name,
                 std::vector<std::string> label_values)
    : name_(std::move(name)),
      label_name_(std::move(label_name)),
      values_(std::move(label_values)) {
  Register(registry, help);
}

void Counter::Register(prometheus::Registry& registry,
                       const std::string& help) {
  if (label_name_.empty()) {
    values_ = {""};
  } else if (std::find(values_.begin(), values_.end(), kOtherLabel) ==
             values_.end()) {
    values_.push_back(kOtherLabel);
  }
  family_ =
      &prometheus::BuildCounter().Name(name_).Help(help).Register(registry);
  for (const std::string& value : values_) {
    children_.push_back(&family_->Add(
        label_name_.empty() ? prometheus::Labels{}
                            : prometheus::Labels{{label_name_, value}}));
  }
}

void Counter::Increment(absl::string_view label_value, uint64_t n) {
  size_t index = values_.size() - 1;  // "other" (or the only value).
  for (size_t i = 0; i < values_.size(); ++i) {
    if (values_[i] == label_value) {
      index = i;
      break;
    }
  }
  children_[index]->Increment(static_cast<double>(n));
}

void Counter::Snapshot(v1::MetricCounter* out) const {
  for (const prometheus::MetricFamily& family : family_->Collect()) {
    FromFamily(family, out);
  }
}

void Counter::FromFamily(const prometheus::MetricFamily& family,
                         v1::MetricCounter* out) const {
  out->set_name(family.name);
  out->set_help(family.help);
  out->set_label(label_name_);
  // The family's series come in hash order; list them as declared.
  for (const std::string& value : values_) {
    v1::MetricCount* count = out->add_counts();
    count->set_label_value(value);
    for (const prometheus::ClientMetric& metric : family.metric) {
      if (label_name_.empty() || LabelValue(metric, label_name_) == value) {
        count->set_value(
            static_cast<uint64_t>(std::llround(metric.counter.value)));
        break;
      }
    }
  }
}

const std::vector<int64_t>& Histogram::BoundsUs() {
  static const std::vector<int64_t>* bounds = new std::vector<int64_t>{
      50,    100,    250,    500,    1000,    2500,    5000,    10000,   25000,
      50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
  return *bounds;
}

Histogram::Histogram(std::string name, std::string help)
    : owned_(std::make_shared<prometheus::Registry>()), name_(std::move(name)) {
  Register(*owned_, help);
}

Histogram::Histogram(prometheus::Registry& registry, std::string name,
                     std::string help)
    : name_(std::move(name)) {
  Register(registry, help);
}

void Histogram::Register(prometheus::Registry& registry,
                         const std::string& help) {
  prometheus::Histogram::BucketBoundaries bounds;
  // Observations are converted the same way, so a value equal to a bound
  // lands in that bound's bucket (buckets are inclusive).
  for (int64_t micros : BoundsUs()) bounds.push_back(Seconds(micros));
  family_ =
      &prometheus::BuildHistogram().Name(name_).Help(help).Register(registry);
  histogram_ = &family_->Add({}, std::move(bounds));
}

void Histogram::ObserveMicros(int64_t micros) {
  histogram_->Observe(Seconds(std::max<int64_t>(micros, 0)));
}

void Histogram::Snapshot(v1::MetricHistogram* out) const {
  for (const prometheus::MetricFamily& family : family_->Collect()) {
    HistogramFromFamily(family, out);
  }
}

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {}

Registry& Registry::Global() {
  static Registry* registry = new Registry();
  return *registry;
}

Counter* Registry::AddCounter(const std::string& name, const std::string& help,
                              const std::string& label_name,
                              std::vector<std::string> label_values) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& counter : counters_) {
    if (counter->name() == name) return counter.get();
  }
  counters_.push_back(std::make_unique<Counter>(
      *registry_, name, help, label_name, std::move(label_values)));
  return counters_.back().get();
}

Histogram* Registry::AddHistogram(const std::string& name,
                                  const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& histogram : histograms_) {
    if (histogram->name() == name) return histogram.get();
  }
  histograms_.push_back(std::make_unique<Histogram>(*registry_, name, help));
  return histograms_.back().get();
}

void Registry::AddGauge(const std::string& name, const std::string& help,
                        std::function<int64_t()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Gauge& gauge : gauges_) {
    if (gauge.name == name) {
      gauge.read = std::move(read);
      return;
    }
  }
  prometheus::Gauge* gauge = &prometheus::BuildGauge()
                                  .Name(name)
                                  .Help(help)
                                  .Register(*registry_)
                                  .Add({});
  gauges_.push_back({name, gauge, std::move(read)});
}

v1::MetricsSnapshot Registry::Snapshot(const std::string& daemon) const {
  v1::MetricsSnapshot snapshot;
  snapshot.set_daemon(daemon);
  std::lock_guard<std::mutex> lock(mu_);
  for (const Gauge& gauge : gauges_) {
    gauge.gauge->Set(gauge.read ? static_cast<double>(gauge.read()) : 0);
  }
  // Registry::Collect lists counters, then gauges, then histograms, each
  // in registration order.
  for (const prometheus::MetricFamily& family : registry_->Collect()) {
    switch (family.type) {
      case prometheus::MetricType::Counter:
        for (const auto& counter : counters_) {
          if (counter->name() == family.name) {
            counter->FromFamily(family, snapshot.add_counters());
          }
        }
        break;
      case prometheus::MetricType::Gauge: {
        v1::MetricGauge* out = snapshot.add_gauges();
        out->set_name(family.name);
        out->set_help(family.help);
        if (!family.metric.empty()) {
          out->set_value(std::llround(family.metric.front().gauge.value));
        }
        break;
      }
      case prometheus::MetricType::Histogram:
        HistogramFromFamily(family, snapshot.add_histograms());
        break;
      default:
        break;  // Nothing here registers summaries or untyped metrics.
    }
  }
  return snapshot;
}

std::vector<prometheus::MetricFamily> ToFamilies(
    const v1::MetricsSnapshot& snapshot) {
  const prometheus::ClientMetric::Label daemon{"daemon", snapshot.daemon()};
  std::vector<prometheus::MetricFamily> families;
  for (const v1::MetricCounter& counter : snapshot.counters()) {
    prometheus::MetricFamily family{
        counter.name(), counter.help(), prometheus::MetricType::Counter, {}};
    for (const v1::MetricCount& count : counter.counts()) {
      prometheus::ClientMetric metric;
      metric.label.push_back(daemon);
      if (!counter.label().empty()) {
        metric.label.push_back({counter.label(), count.label_value()});
      }
      metric.counter.value = static_cast<double>(count.value());
      family.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(family));
  }
  for (const v1::MetricGauge& gauge : snapshot.gauges()) {
    prometheus::ClientMetric metric;
    metric.label.push_back(daemon);
    metric.gauge.value = static_cast<double>(gauge.value());
    families.push_back({gauge.name(),
                        gauge.help(),
                        prometheus::MetricType::Gauge,
                        {std::move(metric)}});
  }
  for (const v1::MetricHistogram& histogram : snapshot.histograms()) {
    prometheus::ClientMetric metric;
    metric.label.push_back(daemon);
    metric.histogram.sample_count = histogram.count();
    metric.histogram.sample_sum = Seconds(histogram.sum_us());
    for (int i = 0; i < histogram.cumulative_counts_size(); ++i) {
      metric.histogram.bucket.push_back(
          {histogram.cumulative_counts(i),
           i < histogram.bucket_upper_bounds_us_size()
               ? Seconds(histogram.bucket_upper_bounds_us(i))
               : std::numeric_limits<double>::infinity()});
    }
    families.push_back({histogram.name(),
                        histogram.help(),
                        prometheus::MetricType::Histogram,
                        {std::move(metric)}});
  }
  return families;
}

std::string PrometheusText(const v1::MetricsSnapshot& snapshot) {
  return prometheus::TextSerializer().Serialize(ToFamilies(snapshot));
}

const char* StatusClass(int status) {
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  if (status < 100 || status > 599) return kOtherLabel;
  return kClasses[status / 100 - 1];
}

}  // namespace latchkey::metrics
