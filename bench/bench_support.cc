#include "bench/bench_support.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace latchkey::bench {

using latchkey::testing::ChildProcess;

// Run calls `one` (returning success) from `threads` threads for `seconds`
// and collects latencies. Each thread gets its own worker from `make`.
Result Run(const std::string& name, int threads, double seconds,
           const std::function<std::function<bool()>(int)>& make) {
  std::vector<std::vector<double>> lat(threads);
  std::atomic<size_t> errors{0};
  std::vector<std::function<bool()>> workers;
  for (int i = 0; i < threads; ++i) workers.push_back(make(i));
  // Warm-up: connections, sessions, caches.
  for (auto& w : workers)
    for (int i = 0; i < 20; ++i) w();
  absl::Time start = absl::Now();
  absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (absl::Now() < end) {
        absl::Time a = absl::Now();
        bool ok = workers[t]();
        lat[t].push_back(absl::ToDoubleMicroseconds(absl::Now() - a));
        if (!ok) errors++;
      }
    });
  }
  for (auto& th : pool) th.join();
  Result r{name, threads};
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  r.count = all.size();
  r.errors = errors;
  if (!all.empty()) {
    r.p50_us = all[all.size() / 2];
    r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

absl::StatusOr<std::unique_ptr<ChildProcess>> StartNginx(const std::string& dir,
                                                         int* port) {
  // Find a free port by binding 0, then hand it to nginx.
  *port = 18000 + getpid() % 2000;
  std::string conf = dir + "/nginx.conf";
  std::ofstream(conf) << absl::StrFormat(R"(
worker_processes 1;
user root;
daemon off;
pid %s/nginx.pid;
error_log %s/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%d;
    location /v1/ {
      default_type application/json;
      return 200 '{"hello":"world","items":[1,2,3]}';
    }
  }
})",
                                         dir, dir, dir, *port);
  auto nginx = ChildProcess::Start({{"/usr/sbin/nginx", "-c", conf, "-p", dir},
                                    {},
                                    dir + "/nginx.log",
                                    false});
  if (!nginx.ok()) return nginx.status();
  absl::SleepFor(absl::Milliseconds(300));
  if (!(*nginx)->Running()) {
    return absl::UnavailableError("nginx failed; see " + dir +
                                  "/nginx-error.log");
  }
  return nginx;
}

void Print(const Result& r, const Result& baseline) {
  std::printf(
      "%-7s c=%-3d %8.0f req/s  p50 %8.1f us  p99 %8.1f us  "
      "p50 x%5.2f (+%7.1f us)%s\n",
      r.name.c_str(), r.concurrency, r.count / r.seconds, r.p50_us, r.p99_us,
      r.p50_us / baseline.p50_us, r.p50_us - baseline.p50_us,
      r.errors ? absl::StrCat("  ERRORS ", r.errors).c_str() : "");
}

}  // namespace latchkey::bench
