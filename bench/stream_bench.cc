// Streaming throughput through the keyless gateway against the same
// loopback upstream called directly, in the same run: a download and an
// upload of --mib MiB with curl, and a `git clone` of a --mib MiB
// repository. Reports seconds, MiB/s and the ratio to the direct call.
//
//   bazel run -c opt //bench:stream_bench -- --mib=256
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/gateway_harness.h"

ABSL_FLAG(int, mib, 256, "size of each transfer in MiB");
ABSL_FLAG(int, runs, 3, "runs of each transfer; the best one is reported");

namespace latchkey::testing {
namespace {

// Best wall time of `runs` runs of `command`, or a negative value if one
// failed.
double BestSeconds(GatewayHarness &h, const std::string &command, int runs) {
  double best = -1;
  for (int i = 0; i < runs; ++i) {
    h.Sh("rm -rf clone.tmp");
    absl::Time start = absl::Now();
    Ran ran = h.Sh(command);
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (ran.exit_code != 0) {
      std::fprintf(stderr, "failed: %s\n%s\n", command.c_str(),
                   ran.output.c_str());
      return -1;
    }
    if (best < 0 || seconds < best) best = seconds;
  }
  return best;
}

void Report(const char *what, int mib, double direct, double gateway) {
  std::printf(
      "%-10s direct %6.2f s (%7.1f MiB/s)  gateway %6.2f s (%7.1f MiB/s)"
      "  x%.2f\n",
      what, direct, mib / direct, gateway, mib / gateway, gateway / direct);
}

int Main() {
  const int mib = absl::GetFlag(FLAGS_mib);
  const int runs = absl::GetFlag(FLAGS_runs);
  StackOptions options;
  options.demo_limits =
      "total_timeout_ms: 600000 max_response_bytes: 4294967296 "
      "max_request_bytes: 4294967296";
  const uint64_t bytes = static_cast<uint64_t>(mib) << 20;
  auto harness = GatewayHarness::Start(
      "tests/upstream/stream_upstream.py", options,
      absl::StrCat("set -e; git init -q -b main src && cd src && head -c ",
                   bytes,
                   " /dev/urandom > big.bin && git add . && git commit -qm "
                   "big && cd .. && git clone -q --bare src repos/big.git && "
                   "head -c ",
                   bytes, " /dev/urandom > upload.bin"));
  if (!harness.ok()) {
    std::fprintf(stderr, "%s\n", harness.status().ToString().c_str());
    return 1;
  }
  GatewayHarness &h = **harness;
  const std::string direct = h.stack().upstream_origin();
  const std::string gateway = h.base() + "/demo-api";
  // The credential each side presents, expanded by bash.
  const std::string secret = absl::StrCat("Bearer ", Stack::kSecret);
  const std::string token = "Bearer $LK_GW_TOKEN";
  auto download = [&](const std::string &base, const std::string &auth) {
    return absl::StrCat("curl -sSf -o /dev/null -H \"Authorization: ", auth,
                        "\" '", base, "/v1/blob?bytes=", bytes, "'");
  };
  auto upload = [&](const std::string &base, const std::string &auth) {
    return absl::StrCat("curl -sSf -o /dev/null -H \"Authorization: ", auth,
                        "\" -X POST --data-binary @upload.bin '", base,
                        "/v1/upload'");
  };
  auto clone = [&](const std::string &base, const std::string &auth) {
    return absl::StrCat("git -c \"http.extraHeader=Authorization: ", auth,
                        "\" clone -q '", base, "/v1/git/big.git' clone.tmp");
  };
  std::printf("stream_bench: %d MiB, best of %d runs\n", mib, runs);
  Report("download", mib, BestSeconds(h, download(direct, secret), runs),
         BestSeconds(h, download(gateway, token), runs));
  Report("upload", mib, BestSeconds(h, upload(direct, secret), runs),
         BestSeconds(h, upload(gateway, token), runs));
  Report("git clone", mib, BestSeconds(h, clone(direct, secret), runs),
         BestSeconds(h, clone(gateway, token), runs));
  return 0;
}

}  // namespace
}  // namespace latchkey::testing

int main(int argc, char **argv) {
  absl::ParseCommandLine(argc, argv);
  return latchkey::testing::Main();
}
