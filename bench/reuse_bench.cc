// reuse_bench: what reusing pooled upstream connections saves in the vault.
//
// Starts nginx on loopback and drives the vault's own UpstreamClient (with
// the vault's resolve-check-pin step before every call, as in Execute):
//   pooled  one UpstreamClient for the whole run: its pooled curl handles
//           keep the connection to the origin open (keep-alive)
//   fresh   a new UpstreamClient per request: a new TCP connection each time
// and prints p50/p99 per request, the ratio, the connections each opened,
// and the cost of the resolve-and-check step alone. Loopback and plain
// HTTP: a TLS origin across a real network saves far more per reuse (a
// handshake is one or two round trips plus the key exchange).
//
//   bazel run -c opt //bench:reuse_bench -- --requests=2000
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "common/origin.h"
#include "vault/address_guard.h"
#include "vault/upstream_client.h"

ABSL_FLAG(int, requests, 2000, "requests per scenario");

namespace {

namespace lk = latchkey;

struct Stats {
  double p50_us = 0, p99_us = 0, mean_us = 0;
  int64_t connections = 0;
  int errors = 0;
};

Stats Summarize(std::vector<double> us, int64_t connections, int errors) {
  Stats s;
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    s.p50_us = us[us.size() / 2];
    s.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    double sum = 0;
    for (double v : us) sum += v;
    s.mean_us = sum / us.size();
  }
  s.connections = connections;
  s.errors = errors;
  return s;
}

void Print(const char* name, const Stats& s) {
  std::printf(
      "  %-7s p50 %8.1f us  p99 %8.1f us  mean %8.1f us  "
      "connections opened %6lld%s\n",
      name, s.p50_us, s.p99_us, s.mean_us,
      static_cast<long long>(s.connections),
      s.errors ? absl::StrFormat("  ERRORS %d", s.errors).c_str() : "");
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int requests = absl::GetFlag(FLAGS_requests);
  char templ[] = "/tmp/lk-reuse-XXXXXX";
  if (mkdtemp(templ) == nullptr) return 1;
  std::string dir = templ;
  int port = 0;
  auto nginx = lk::bench::StartNginx(dir, &port);
  if (!nginx.ok()) {
    std::fprintf(stderr, "nginx: %s\n",
                 std::string(nginx.status().message()).c_str());
    return 1;
  }

  lk::Origin origin =
      *lk::ParseOrigin(absl::StrFormat("http://127.0.0.1:%d", port));
  lk::vault::OutgoingRequest request;
  request.method = "GET";
  request.origin = origin.ToString();
  request.path = "/v1/hello";
  lk::v1::EgressLimits limits;

  auto one = [&](lk::vault::UpstreamClient* client, std::vector<double>* us,
                 int64_t* connections, int* errors) {
    absl::Time start = absl::Now();
    // The test origin is on loopback, so it is checked as internal.
    auto pinned = lk::vault::ResolveAndCheck(origin, true);
    auto result =
        pinned.ok()
            ? client->Perform(request, limits, *pinned)
            : absl::StatusOr<lk::vault::UpstreamResult>(pinned.status());
    us->push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!result.ok() || result->status != 200) {
      ++*errors;
    } else {
      *connections += result->new_connections;
    }
  };

  std::printf(
      "latchkey reuse_bench: %d sequential GETs per scenario, nginx "
      "on loopback (plain HTTP)\n\n",
      requests);
  // Warm up both paths (page cache, nginx worker).
  {
    lk::vault::UpstreamClient client;
    std::vector<double> us;
    int64_t c = 0;
    int e = 0;
    for (int i = 0; i < 200; ++i) one(&client, &us, &c, &e);
  }
  std::vector<double> pooled_us, fresh_us, resolve_us;
  int64_t pooled_conns = 0, fresh_conns = 0;
  int pooled_errors = 0, fresh_errors = 0;
  {
    lk::vault::UpstreamClient client;
    for (int i = 0; i < requests; ++i) {
      one(&client, &pooled_us, &pooled_conns, &pooled_errors);
    }
  }
  for (int i = 0; i < requests; ++i) {
    lk::vault::UpstreamClient client;
    one(&client, &fresh_us, &fresh_conns, &fresh_errors);
  }
  for (int i = 0; i < requests; ++i) {
    absl::Time start = absl::Now();
    (void)lk::vault::ResolveAndCheck(origin, true);
    resolve_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  Stats pooled = Summarize(pooled_us, pooled_conns, pooled_errors);
  Stats fresh = Summarize(fresh_us, fresh_conns, fresh_errors);
  Stats resolve = Summarize(resolve_us, 0, 0);
  Print("pooled", pooled);
  Print("fresh", fresh);
  std::printf("  resolve+check alone: p50 %.1f us  p99 %.1f us\n",
              resolve.p50_us, resolve.p99_us);
  std::printf(
      "\n  fresh / pooled: p50 x%.2f (+%.1f us per request), "
      "mean x%.2f\n",
      fresh.p50_us / pooled.p50_us, fresh.p50_us - pooled.p50_us,
      fresh.mean_us / pooled.mean_us);
  (*nginx)->Stop();
  (void)!std::system(("rm -rf '" + dir + "'").c_str());
  return 0;
}
