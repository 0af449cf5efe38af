// intent_bench: what the durable intent record (audit before effect) costs.
//
// Starts nginx on loopback and the real audit sink and vault (Stack), then
// runs the broker's RequestExecutor in this process against them, so that
// the same request can be decided two ways in the same run, interleaved:
//   intent     Execute: decision, intent record (durable), vault, outcome
//   no-intent  Admit, vault, outcome: the same path without the intent
// (no-intent exists only here: the broker has no way to skip the intent).
// Prints p50/p99 of both at concurrency 1 and --concurrency, and the ratio.
//
//   bazel run -c opt //bench:intent_bench -- --state_base=/tmp      (disk)
//   bazel run -c opt //bench:intent_bench -- --state_base=/dev/shm  (tmpfs)
#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_support.h"
#include "broker/request_executor.h"
#include "common/crypto.h"
#include "common/runtime_tuning.h"
#include "tests/stack.h"

ABSL_FLAG(double, seconds, 5, "measuring time per scenario");
ABSL_FLAG(int, concurrency, 8, "the higher concurrency level");
ABSL_FLAG(std::string, state_base, "/tmp",
          "where the audit sink keeps its log: a disk directory (one "
          "fdatasync per batch) or /dev/shm (tmpfs, almost free)");

namespace {

using latchkey::bench::Print;
using latchkey::bench::Result;
using latchkey::bench::Run;
using latchkey::bench::StartNginx;
namespace broker = latchkey::broker;
namespace v1 = latchkey::v1;

constexpr char kToken[] = "bench-agent-token";

v1::BrokerConfig BenchConfig(const std::string& origin) {
  v1::BrokerConfig config;
  v1::Agent* agent = config.add_agents();
  agent->set_name("bench");
  agent->set_token_sha256(latchkey::Sha256Hex(kToken));
  v1::Capability* cap = config.add_capabilities();
  cap->set_name("demo-api");
  cap->set_secret_id("demo-token");  // what Stack stored in the vault
  cap->set_origin(origin);
  cap->add_agents("bench");
  v1::Rule* rule = cap->add_rules();
  rule->set_effect(v1::Rule::ALLOW);
  rule->add_methods("GET");
  rule->set_path("/v1/**");
  cap->mutable_limits()->set_total_timeout_ms(5000);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  latchkey::TuneRuntimeForServing();
  absl::ParseCommandLine(argc, argv);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  char templ[] = "/tmp/lk-intent-bench-XXXXXX";
  std::string dir = mkdtemp(templ);
  int port = 0;
  auto nginx = StartNginx(dir, &port);
  if (!nginx.ok()) {
    std::fprintf(stderr, "%s\n", nginx.status().ToString().c_str());
    return 1;
  }
  const std::string origin = absl::StrCat("http://127.0.0.1:", port);
  latchkey::testing::StackOptions options;
  options.upstream_origin = origin;
  options.start_mcp = false;
  options.base_dir = absl::GetFlag(FLAGS_state_base);
  auto stack = latchkey::testing::Stack::Start(options);
  if (!stack.ok()) {
    std::fprintf(stderr, "stack: %s\n", stack.status().ToString().c_str());
    return 1;
  }

  auto compiled = broker::BrokerState::Compile(BenchConfig(origin));
  if (!compiled.ok()) {
    std::fprintf(stderr, "config: %s\n", compiled.status().ToString().c_str());
    return 1;
  }
  broker::StateHolder state(*compiled);
  broker::SessionRegistry sessions(absl::Now, nullptr);
  auto vault = broker::NewGrpcVaultEgressClient((*stack)->run("vault.sock"),
                                                absl::Seconds(10));
  auto audit = broker::NewGrpcAuditRecorder((*stack)->run("audit.sock"),
                                            absl::Seconds(10));
  broker::RequestExecutor executor(&state, &sessions, vault.get(), audit.get());
  const broker::Caller caller{state.Get()->FindAgentByToken(kToken), 0};
  auto session = sessions.Open("bench", {"demo-api"}, absl::Hours(1));
  if (!session.ok() || caller.agent == nullptr) {
    std::fprintf(stderr, "no session\n");
    return 1;
  }
  v1::ExecuteRequest request;
  request.set_session_id(session->id());
  request.set_capability("demo-api");
  request.mutable_request()->set_method("GET");
  request.mutable_request()->set_path("/v1/hello");

  auto allowed = [](const v1::ExecuteResponse& response) {
    return response.decision() == v1::DECISION_ALLOW &&
           response.response().status() == 200;
  };
  auto with_intent = [&](int) {
    return std::function<bool()>(
        [&] { return allowed(executor.Execute(caller, request)); });
  };
  auto without_intent = [&](int) {
    return std::function<bool()>([&] {
      broker::PendingRequest pending =
          executor.Admit(caller, request, /*streamed=*/false, 0);
      if (pending.decision.allowed) {
        broker::RequestExecutor::ApplyVaultAnswer(
            vault->Execute(pending.vault_request), &pending);
      }
      return allowed(executor.Conclude(&pending));
    });
  };

  std::printf(
      "intent record cost: GET /v1/hello to nginx through the broker's "
      "executor, real vault and audit sink, %.1f s per scenario, %u cores, "
      "audit log in %s\n",
      seconds, std::thread::hardware_concurrency(),
      absl::GetFlag(FLAGS_state_base).c_str());
  for (int c : {1, absl::GetFlag(FLAGS_concurrency)}) {
    // Interleaved twice, so drift in the machine's load hits both alike.
    Result base = Run("no-intent", c, seconds / 2, without_intent);
    Result with = Run("intent", c, seconds / 2, with_intent);
    Result base2 = Run("no-intent", c, seconds / 2, without_intent);
    Result with2 = Run("intent", c, seconds / 2, with_intent);
    Print(base, base);
    Print(with, base);
    Print(base2, base2);
    Print(with2, base2);
  }
  stack->reset();
  (*nginx)->Stop();
  (void)!std::system(("rm -rf " + dir).c_str());
  return 0;
}
