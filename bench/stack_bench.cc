// stack_bench: what the broker+vault hop adds to an upstream call.
//
// Starts nginx on loopback serving a small JSON body and the real Latchkey
// stack in front of it, then measures in the same run, for the same
// request (GET /v1/hello):
//   direct  libcurl straight to nginx (keep-alive), the baseline
//   broker  gRPC Broker.Execute over broker.sock (what an SDK would do)
//   mcp     tools/call execute through latchkey-mcp over stdio
// at concurrency 1 and at --concurrency, and prints p50/p99 latency,
// throughput and the overhead against the baseline.
//
//   bazel run -c opt //bench:stack_bench -- --seconds=5
//   ... -- --rounds=3 --high=false --state_base=/dev/shm   (spread, c=1)
//   ... -- --only=mcp --pids_file=F   (steady load for bench/profile_stack.sh)
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "common/runtime_tuning.h"
#include "common/uds_server.h"
#include "nlohmann/json.hpp"
#include "proto/broker.grpc.pb.h"
#include "tests/mcp_test_client.h"
#include "tests/process.h"
#include "tests/stack.h"

ABSL_FLAG(double, seconds, 5, "measuring time per scenario");
ABSL_FLAG(int, concurrency, 16, "the higher concurrency level");
ABSL_FLAG(int, mcp_concurrency, 4, "adapter processes for the MCP scenario");
ABSL_FLAG(int, rounds, 1,
          "at each level, run direct/broker/mcp this many times interleaved, "
          "each round against its own direct baseline (spread, drift)");
ABSL_FLAG(bool, high, true, "also run at --concurrency (after concurrency 1)");
ABSL_FLAG(std::string, only, "",
          "profiling load: run only this scenario (broker or mcp) at "
          "concurrency 1 for --seconds, no baseline");
ABSL_FLAG(std::string, pids_file, "",
          "write the daemons' pids here (name=pid lines) once the load runs, "
          "so perf/strace can attach to exactly this stack");
ABSL_FLAG(std::string, state_base, "/tmp",
          "where the stack keeps its state; /dev/shm (tmpfs) makes fsync "
          "nearly free, which separates the audit's disk cost from the rest");

namespace {

using latchkey::bench::Discard;
using latchkey::bench::Print;
using latchkey::bench::Result;
using latchkey::bench::Run;
using latchkey::bench::StartNginx;
using latchkey::testing::ChildProcess;

}  // namespace

int main(int argc, char** argv) {
  latchkey::TuneRuntimeForServing();
  absl::ParseCommandLine(argc, argv);
  double seconds = absl::GetFlag(FLAGS_seconds);
  int high = absl::GetFlag(FLAGS_concurrency);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  char templ[] = "/tmp/lk-bench-XXXXXX";
  std::string dir = mkdtemp(templ);
  int port = 0;
  auto nginx = StartNginx(dir, &port);
  if (!nginx.ok()) {
    std::fprintf(stderr, "%s\n", std::string(nginx.status().message()).c_str());
    return 1;
  }
  std::string origin = absl::StrCat("http://127.0.0.1:", port);
  latchkey::testing::StackOptions options;
  options.upstream_origin = origin;
  options.start_mcp = false;
  options.base_dir = absl::GetFlag(FLAGS_state_base);
  auto stack = latchkey::testing::Stack::Start(options);
  if (!stack.ok()) {
    std::fprintf(stderr, "stack: %s\n", stack.status().ToString().c_str());
    return 1;
  }
  const std::string token = (*stack)->agent_token();
  std::string url = origin + "/v1/hello";

  auto direct = [&](int) {
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
    return std::function<bool()>([curl] {
      long status = 0;
      bool ok = curl_easy_perform(curl) == CURLE_OK;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      return ok && status == 200;
    });
  };
  std::string broker_socket = (*stack)->run("broker.sock");
  auto broker = [&](int) {
    auto stub = std::shared_ptr<latchkey::v1::Broker::Stub>(
        latchkey::v1::Broker::NewStub(
            latchkey::CreateUdsChannel(broker_socket)));
    grpc::ClientContext open_context;
    open_context.AddMetadata("authorization", "Bearer " + token);
    latchkey::v1::Session session;
    stub->OpenSession(&open_context, latchkey::v1::OpenSessionRequest(),
                      &session);
    latchkey::v1::ExecuteRequest request;
    request.set_session_id(session.id());
    request.set_capability("demo-api");
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path("/v1/hello");
    return std::function<bool()>([stub, request, token] {
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + token);
      latchkey::v1::ExecuteResponse response;
      grpc::Status status = stub->Execute(&context, request, &response);
      return status.ok() &&
             response.decision() == latchkey::v1::DECISION_ALLOW &&
             response.response().status() == 200;
    });
  };
  std::vector<std::unique_ptr<ChildProcess>> adapters;
  std::vector<std::unique_ptr<latchkey::testing::McpTestClient>> clients;
  auto mcp = [&](int i) {
    auto adapter = (*stack)->StartMcp(token, absl::StrCat("mcp-bench-", i));
    adapters.push_back(std::move(*adapter));
    clients.push_back(std::make_unique<latchkey::testing::McpTestClient>(
        adapters.back().get()));
    auto* client = clients.back().get();
    (void)client->Initialize();
    return std::function<bool()>([client] {
      auto result = client->CallTool("execute", {{"capability", "demo-api"},
                                                 {"method", "GET"},
                                                 {"path", "/v1/hello"}});
      return result.ok() && !result->value("isError", false);
    });
  };

  // The pids of this stack (not another engineer's), for perf -p.
  auto write_pids = [&] {
    const std::string path = absl::GetFlag(FLAGS_pids_file);
    if (path.empty()) return;
    {
      std::ofstream out(path + ".tmp");
      out << "nginx=" << (*nginx)->pid() << "\n";
      out << "audit=" << (*stack)->audit()->pid() << "\n";
      out << "vault=" << (*stack)->vault()->pid() << "\n";
      out << "broker=" << (*stack)->broker()->pid() << "\n";
      for (const auto& adapter : adapters) {
        out << "mcp=" << adapter->pid() << "\n";
      }
      // Two records per request (intent and outcome): the lines added in
      // a window, halved, are the requests served in it.
      out << "audit_log=" << (*stack)->audit_log_path() << "\n";
    }
    // Renamed into place, so a reader never sees half a file.
    std::rename((path + ".tmp").c_str(), path.c_str());
  };
  const std::string only = absl::GetFlag(FLAGS_only);
  if (!only.empty()) {
    if (only != "broker" && only != "mcp") {
      std::fprintf(stderr, "--only must be broker or mcp\n");
      return 2;
    }
    auto make = [&](int i) {
      auto worker = only == "broker" ? broker(i) : mcp(i);
      write_pids();  // after the adapter exists, before the timed load
      return worker;
    };
    Result r = Run(only, 1, seconds, make);
    Print(r, r);
    clients.clear();
    adapters.clear();
    stack->reset();
    (*nginx)->Stop();
    (void)!std::system(("rm -rf " + dir).c_str());
    return 0;
  }
  write_pids();

  std::printf(
      "Latchkey stack benchmark: GET /v1/hello, nginx on loopback, "
      "%.1f s per scenario, %u cores, state in %s\n",
      seconds, std::thread::hardware_concurrency(),
      absl::GetFlag(FLAGS_state_base).c_str());
  std::vector<int> levels = {1};
  if (absl::GetFlag(FLAGS_high)) levels.push_back(high);
  for (int c : levels) {
    for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
      Result base = Run("direct", c, seconds, direct);
      Print(base, base);
      Print(Run("broker", c, seconds, broker), base);
      int mc = c == 1 ? 1 : absl::GetFlag(FLAGS_mcp_concurrency);
      Result via_mcp = Run("mcp", mc, seconds, mcp);
      Print(via_mcp, c == 1 ? base : Run("direct", mc, seconds, direct));
      clients.clear();
      adapters.clear();
    }
  }
  stack->reset();
  (*nginx)->Stop();
  (void)!std::system(("rm -rf " + dir).c_str());
  return 0;
}
