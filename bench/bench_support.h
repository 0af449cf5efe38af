// Shared pieces of the stack benchmarks: a timed closed-loop runner with
// latency percentiles, nginx on loopback as the upstream, and the
// one-line report of a scenario against its baseline in the same run.
#ifndef LATCHKEY_BENCH_BENCH_SUPPORT_H_
#define LATCHKEY_BENCH_BENCH_SUPPORT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/process.h"

namespace latchkey::bench {

struct Result {
  std::string name;
  int concurrency;
  size_t count = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0;
  size_t errors = 0;
};

// Run calls `one` (returning success) from `threads` threads for `seconds`
// and collects latencies. Each thread gets its own worker from `make`.
Result Run(const std::string& name, int threads, double seconds,
           const std::function<std::function<bool()>(int)>& make);

// Discard is a libcurl write callback that drops the body.
size_t Discard(char*, size_t size, size_t n, void*);

// StartNginx serves a small JSON body under /v1/ on 127.0.0.1:*port.
absl::StatusOr<std::unique_ptr<testing::ChildProcess>> StartNginx(
    const std::string& dir, int* port);

// Print reports `r` and its p50 against `baseline`'s.
void Print(const Result& r, const Result& baseline);

}  // namespace latchkey::bench

#endif  // LATCHKEY_BENCH_BENCH_SUPPORT_H_
