#include "common/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace latchkey::metrics {

Counter::Counter(std::string name, std::string help, std::string label_name,
                 std::vector<std::string> label_values)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_name_(std::move(label_name)),
      values_(std::move(label_values)) {
  if (label_name_.empty()) {
    values_ = {""};
  } else if (std::find(values_.begin(), values_.end(), kOtherLabel) ==
             values_.end()) {
    values_.push_back(kOtherLabel);
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) counts_[i].store(0);
}

void Counter::Increment(absl::string_view label_value, uint64_t n) {
  size_t index = values_.size() - 1;  // "other" (or the only value).
  for (size_t i = 0; i < values_.size(); ++i) {
    if (values_[i] == label_value) {
      index = i;
      break;
    }
  }
  counts_[index].fetch_add(n, std::memory_order_relaxed);
}

void Counter::Snapshot(v1::MetricCounter* out) const {
  out->set_name(name_);
  out->set_help(help_);
  out->set_label(label_name_);
  for (size_t i = 0; i < values_.size(); ++i) {
    v1::MetricCount* count = out->add_counts();
    count->set_label_value(values_[i]);
    count->set_value(counts_[i].load(std::memory_order_relaxed));
  }
}

const std::vector<int64_t>& Histogram::BoundsUs() {
  static const std::vector<int64_t>* bounds = new std::vector<int64_t>{
      50,    100,    250,    500,    1000,    2500,    5000,    10000,   25000,
      50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
  return *bounds;
}

Histogram::Histogram(std::string name, std::string help)
    : name_(std::move(name)), help_(std::move(help)) {
  const size_t n = BoundsUs().size() + 1;
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(n);
  for (size_t i = 0; i < n; ++i) buckets_[i].store(0);
}

void Histogram::ObserveMicros(int64_t micros) {
  micros = std::max<int64_t>(micros, 0);
  const std::vector<int64_t>& bounds = BoundsUs();
  const size_t index =
      std::lower_bound(bounds.begin(), bounds.end(), micros) - bounds.begin();
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(micros, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Snapshot(v1::MetricHistogram* out) const {
  out->set_name(name_);
  out->set_help(help_);
  const std::vector<int64_t>& bounds = BoundsUs();
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    if (i < bounds.size()) out->add_bucket_upper_bounds_us(bounds[i]);
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out->add_cumulative_counts(cumulative);
  }
  // Read separately from the buckets, so count is taken to be the +Inf
  // bucket: a scrape racing an observation stays self-consistent.
  out->set_count(cumulative);
  out->set_sum_us(sum_us_.load(std::memory_order_relaxed));
}

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
  counters_.push_back(std::make_unique<Counter>(name, help, label_name,
                                                std::move(label_values)));
  return counters_.back().get();
}

Histogram* Registry::AddHistogram(const std::string& name,
                                  const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& histogram : histograms_) {
    if (histogram->name() == name) return histogram.get();
  }
  histograms_.push_back(std::make_unique<Histogram>(name, help));
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
  gauges_.push_back({name, help, std::move(read)});
}

v1::MetricsSnapshot Registry::Snapshot(const std::string& daemon) const {
  v1::MetricsSnapshot snapshot;
  snapshot.set_daemon(daemon);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& counter : counters_) {
    counter->Snapshot(snapshot.add_counters());
  }
  for (const Gauge& gauge : gauges_) {
    v1::MetricGauge* out = snapshot.add_gauges();
    out->set_name(gauge.name);
    out->set_help(gauge.help);
    out->set_value(gauge.read ? gauge.read() : 0);
  }
  for (const auto& histogram : histograms_) {
    histogram->Snapshot(snapshot.add_histograms());
  }
  return snapshot;
}

namespace {

// Label values are from fixed sets of identifiers, but escape anyway so
// the output stays well-formed whatever a future caller registers.
std::string Escape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string Seconds(int64_t micros) {
  return absl::StrFormat("%g", static_cast<double>(micros) / 1e6);
}

}  // namespace

std::string PrometheusText(const v1::MetricsSnapshot& snapshot) {
  const std::string daemon =
      absl::StrCat("daemon=\"", Escape(snapshot.daemon()), "\"");
  std::string text;
  auto header = [&](const std::string& name, const std::string& help,
                    const char* type) {
    absl::StrAppend(&text, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
  };
  for (const v1::MetricCounter& counter : snapshot.counters()) {
    header(counter.name(), counter.help(), "counter");
    for (const v1::MetricCount& count : counter.counts()) {
      std::string labels = daemon;
      if (!counter.label().empty()) {
        absl::StrAppend(&labels, ",", counter.label(), "=\"",
                        Escape(count.label_value()), "\"");
      }
      absl::StrAppend(&text, counter.name(), "{", labels, "} ", count.value(),
                      "\n");
    }
  }
  for (const v1::MetricGauge& gauge : snapshot.gauges()) {
    header(gauge.name(), gauge.help(), "gauge");
    absl::StrAppend(&text, gauge.name(), "{", daemon, "} ", gauge.value(),
                    "\n");
  }
  for (const v1::MetricHistogram& histogram : snapshot.histograms()) {
    header(histogram.name(), histogram.help(), "histogram");
    for (int i = 0; i < histogram.cumulative_counts_size(); ++i) {
      const std::string le = i < histogram.bucket_upper_bounds_us_size()
                                 ? Seconds(histogram.bucket_upper_bounds_us(i))
                                 : "+Inf";
      absl::StrAppend(&text, histogram.name(), "_bucket{", daemon, ",le=\"", le,
                      "\"} ", histogram.cumulative_counts(i), "\n");
    }
    absl::StrAppend(&text, histogram.name(), "_sum{", daemon, "} ",
                    Seconds(histogram.sum_us()), "\n", histogram.name(),
                    "_count{", daemon, "} ", histogram.count(), "\n");
  }
  return text;
}

const char* StatusClass(int status) {
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  if (status < 100 || status > 599) return kOtherLabel;
  return kClasses[status / 100 - 1];
}

}  // namespace latchkey::metrics
