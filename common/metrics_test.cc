#include "common/metrics.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace latchkey::metrics {
namespace {

uint64_t CountOf(const v1::MetricCounter& counter, const std::string& label) {
  for (const v1::MetricCount& count : counter.counts()) {
    if (count.label_value() == label) return count.value();
  }
  ADD_FAILURE() << "no label value " << label;
  return 0;
}

TEST(CounterTest, CountsPerLabelAndUnknownValuesUnderOther) {
  Counter counter("t_total", "help", "reason", {"A", "B"});
  counter.Increment("A");
  counter.Increment("A", 2);
  counter.Increment("B");
  counter.Increment("not-in-the-set");
  counter.Increment("");
  v1::MetricCounter out;
  counter.Snapshot(&out);
  EXPECT_EQ(out.label(), "reason");
  ASSERT_EQ(out.counts_size(), 3);  // A, B, other: the set never grows.
  EXPECT_EQ(CountOf(out, "A"), 3u);
  EXPECT_EQ(CountOf(out, "B"), 1u);
  EXPECT_EQ(CountOf(out, kOtherLabel), 2u);
}

TEST(CounterTest, UnlabelledCounterHasOneValue) {
  Counter counter("u_total", "help", "", {});
  counter.Increment();
  counter.Increment("ignored", 4);
  v1::MetricCounter out;
  counter.Snapshot(&out);
  ASSERT_EQ(out.counts_size(), 1);
  EXPECT_EQ(out.counts(0).value(), 5u);
}

TEST(CounterTest, ConcurrentIncrementsAreAllCounted) {
  Counter counter("c_total", "help", "k", {"x"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counter.Increment("x");
    });
  }
  for (std::thread& thread : threads) thread.join();
  v1::MetricCounter out;
  counter.Snapshot(&out);
  EXPECT_EQ(CountOf(out, "x"), 40000u);
}

TEST(HistogramTest, BucketsAreCumulativeAndInclusive) {
  Histogram histogram("h_seconds", "help");
  histogram.ObserveMicros(50);        // <= 50 µs, the first bucket.
  histogram.ObserveMicros(51);        // <= 100 µs.
  histogram.ObserveMicros(-3);        // Clamped to 0: first bucket.
  histogram.ObserveMicros(20000000);  // Beyond 10 s: +Inf only.
  v1::MetricHistogram out;
  histogram.Snapshot(&out);
  const size_t bounds = Histogram::BoundsUs().size();
  ASSERT_EQ(out.bucket_upper_bounds_us_size(), static_cast<int>(bounds));
  ASSERT_EQ(out.cumulative_counts_size(), static_cast<int>(bounds) + 1);
  EXPECT_EQ(out.cumulative_counts(0), 2u);
  EXPECT_EQ(out.cumulative_counts(1), 3u);
  EXPECT_EQ(out.cumulative_counts(bounds - 1), 3u);
  EXPECT_EQ(out.cumulative_counts(bounds), 4u);
  EXPECT_EQ(out.count(), 4u);
  EXPECT_EQ(out.sum_us(), 50 + 51 + 0 + 20000000);
}

TEST(RegistryTest, SameNameReturnsSameMetricAndGaugesAreReadAtSnapshot) {
  Registry registry;
  Counter* a = registry.AddCounter("r_total", "help", "k", {"x"});
  EXPECT_EQ(registry.AddCounter("r_total", "other help"), a);
  Histogram* h = registry.AddHistogram("r_seconds", "help");
  EXPECT_EQ(registry.AddHistogram("r_seconds", "help"), h);
  int64_t sealed = 1;
  registry.AddGauge("r_sealed", "help", [&] { return sealed; });
  a->Increment("x");
  sealed = 0;
  v1::MetricsSnapshot snapshot = registry.Snapshot("vault");
  EXPECT_EQ(snapshot.daemon(), "vault");
  ASSERT_EQ(snapshot.counters_size(), 1);
  ASSERT_EQ(snapshot.gauges_size(), 1);
  EXPECT_EQ(snapshot.gauges(0).value(), 0);
  ASSERT_EQ(snapshot.histograms_size(), 1);
}

TEST(PrometheusTextTest, RendersCountersGaugesAndHistogramsInSeconds) {
  Registry registry;
  registry
      .AddCounter("lk_requests_total", "Requests.", "decision",
                  {"allow", "deny"})
      ->Increment("deny");
  registry.AddGauge("lk_sealed", "1 if sealed.", [] { return int64_t{1}; });
  registry.AddHistogram("lk_duration_seconds", "Latency.")->ObserveMicros(1500);
  const std::string text = PrometheusText(registry.Snapshot("broker"));
  EXPECT_NE(text.find("# HELP lk_requests_total Requests.\n"
                      "# TYPE lk_requests_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lk_requests_total{daemon=\"broker\",decision=\"deny\"} "
                      "1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lk_requests_total{daemon=\"broker\",decision=\"allow\"}"
                      " 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE lk_sealed gauge\nlk_sealed{daemon=\"broker\"} "
                      "1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lk_duration_seconds_bucket{daemon=\"broker\",le="
                      "\"0.001\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lk_duration_seconds_bucket{daemon=\"broker\",le="
                      "\"0.0025\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lk_duration_seconds_bucket{daemon=\"broker\",le="
                      "\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("lk_duration_seconds_sum{daemon=\"broker\"} 0.0015\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lk_duration_seconds_count{daemon=\"broker\"} 1\n"),
            std::string::npos);
}

TEST(StatusClassTest, MapsStatusCodes) {
  EXPECT_STREQ(StatusClass(200), "2xx");
  EXPECT_STREQ(StatusClass(404), "4xx");
  EXPECT_STREQ(StatusClass(599), "5xx");
  EXPECT_STREQ(StatusClass(99), "other");
  EXPECT_STREQ(StatusClass(600), "other");
}

}  // namespace
}  // namespace latchkey::metrics
