// Audit before effect (DESIGN.md invariant 3) while the audit sink fails
// under concurrent load, through the whole real stack: several client
// threads send allowed requests through the broker's Execute RPC, each with
// a unique path, while the test SIGKILLs the sink and restarts it (or fills
// the sink's disk and frees it again). Afterwards the echo upstream's own
// record of what it received is held against the audit log: every request
// that reached the upstream must have an intent record with its path, and
// no request answered while the sink was dead may have been allowed.
#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "audit_sink/test_util.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/broker.grpc.pb.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

constexpr int kThreads = 6;
// Bounds on the load, whatever happens to the stack: requests per thread
// and the time any thread keeps sending.
constexpr int kMaxRequestsPerThread = 3000;
constexpr absl::Duration kLoadHardLimit = absl::Seconds(60);
// While the sink is down, a refusal takes two of the broker's audit waits
// (5 s each: the intent, then the record of the refusal itself), so the
// client waits longer than that.
constexpr absl::Duration kRpcTimeout = absl::Seconds(20);
constexpr absl::Duration kAnswerMargin = absl::Seconds(1);

std::string CodeName(v1::ReasonCode code) {
  return v1::ReasonCode_Name(code).substr(sizeof("REASON_") - 1);
}

// Outcome is what one load request got back, and when.
struct Outcome {
  std::string path;
  absl::Time start;
  absl::Time end;
  bool allowed = false;
  // code is the refusal's reason code, or "RPC_<status>" for a gRPC error.
  std::string code;
  std::string request_id;
};

// Window is a time the sink could not record anything.
struct Window {
  absl::Time start;
  absl::Time end;
};

// Load is shared between the client threads and the disruption on the
// test's thread.
struct Load {
  std::atomic<bool> stop{false};
  std::atomic<int> allowed{0};
};

void Authorize(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoNanoseconds(kRpcTimeout));
}

// SendLoad is one client thread: GET /v1/load/<thread>-<n> on demo-api in
// its own session until told to stop (or a bound is reached).
void SendLoad(const Stack& stack, int thread, Load* load,
              std::vector<Outcome>* outcomes) {
  auto broker = v1::Broker::NewStub(CreateUdsChannel(stack.run("broker.sock")));
  v1::Session session;
  {
    grpc::ClientContext context;
    Authorize(&context, stack.agent_token());
    v1::OpenSessionRequest open;
    open.add_capabilities("demo-api");
    grpc::Status rpc = broker->OpenSession(&context, open, &session);
    if (!rpc.ok()) {
      ADD_FAILURE() << "OpenSession: " << rpc.error_message();
      return;
    }
  }
  const absl::Time hard_stop = absl::Now() + kLoadHardLimit;
  for (int n = 0; n < kMaxRequestsPerThread && !load->stop.load() &&
                  absl::Now() < hard_stop;
       ++n) {
    Outcome outcome;
    outcome.path = absl::StrCat("/v1/load/", thread, "-", n);
    v1::ExecuteRequest request;
    request.set_session_id(session.id());
    request.set_capability("demo-api");
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path(outcome.path);
    request.set_reason("audit under failure load");
    v1::ExecuteResponse response;
    grpc::ClientContext context;
    Authorize(&context, stack.agent_token());
    outcome.start = absl::Now();
    grpc::Status rpc = broker->Execute(&context, request, &response);
    outcome.end = absl::Now();
    if (!rpc.ok()) {
      outcome.code = absl::StrCat("RPC_", rpc.error_code());
    } else if (response.decision() == v1::DECISION_ALLOW) {
      outcome.allowed = true;
      load->allowed.fetch_add(1);
    } else {
      outcome.code = CodeName(response.denial().code());
    }
    outcome.request_id = response.request_id();
    outcomes->push_back(std::move(outcome));
  }
}

// RunLoad runs kThreads client threads while `disrupt` runs on the calling
// thread, stops them when it returns and gives back every outcome.
std::vector<Outcome> RunLoad(const Stack& stack,
                             const std::function<void(Load*)>& disrupt) {
  Load load;
  std::vector<std::vector<Outcome>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(SendLoad, std::cref(stack), t, &load, &per_thread[t]);
  }
  disrupt(&load);
  load.stop = true;
  for (std::thread& thread : threads) thread.join();
  std::vector<Outcome> all;
  for (auto& outcomes : per_thread) {
    for (Outcome& outcome : outcomes) all.push_back(std::move(outcome));
  }
  return all;
}

// WaitForAllowed waits (bounded) until `count` more requests than
// `baseline` were allowed; false on timeout.
bool WaitForAllowed(Load* load, int baseline, int count,
                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (load->allowed.load() < baseline + count) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::vector<json> JsonLines(const std::string& content) {
  std::vector<json> lines;
  for (absl::string_view line :
       absl::StrSplit(content, '\n', absl::SkipEmpty())) {
    json parsed = json::parse(line, nullptr, false);
    if (!parsed.is_discarded()) lines.push_back(std::move(parsed));
  }
  return lines;
}

// AuditRecords reads every record of the sink's log, the current file and
// any rotated ones (audit.log.<first sequence>), straight from disk; the
// order does not matter here.
std::vector<json> AuditRecords(const Stack& stack) {
  const std::string dir = stack.state_dir("audit");
  std::vector<std::string> names;
  if (DIR* listing = ::opendir(dir.c_str())) {
    while (const dirent* entry = ::readdir(listing)) {
      if (absl::StartsWith(entry->d_name, "audit.log")) {
        names.push_back(entry->d_name);
      }
    }
    ::closedir(listing);
  }
  std::vector<json> records;
  for (const std::string& name : names) {
    for (json& record : JsonLines(ReadFileOrEmpty(dir + "/" + name))) {
      if (record.contains("seq")) records.push_back(std::move(record));
    }
  }
  return records;
}

// CheckAuditBeforeEffect holds the upstream's record of what it received
// against the audit log and the answers the clients got, and prints the
// counts. When `sink_was_dead`, a request answered inside one of the
// `outages` (from kAnswerMargin after the outage began to its end) must not
// have been allowed. hits_refused_after_send counts requests that reached
// the upstream but whose outcome record failed, so the client was refused.
void CheckAuditBeforeEffect(const Stack& stack,
                            const std::vector<Outcome>& outcomes,
                            const std::vector<Window>& outages,
                            const std::string& label, bool sink_was_dead) {
  std::map<std::string, int> upstream_hits;  // load path -> times received
  for (const json& request :
       JsonLines(ReadFileOrEmpty(stack.upstream_record_path()))) {
    std::string path = request.value("path", "");
    if (absl::StartsWith(path, "/v1/load/")) ++upstream_hits[path];
  }
  std::set<std::string> intent_paths, intent_ids;
  std::map<std::string, std::string> outcome_decisions;  // request_id
  for (const json& record : AuditRecords(stack)) {
    const std::string source = record.value("source", "");
    if (source == "intent") {
      intent_paths.insert(record.value("path", ""));
      intent_ids.insert(record.value("request_id", ""));
    } else if (source == "broker") {
      outcome_decisions[record.value("request_id", "")] =
          record.value("decision", "");
    }
  }

  int allowed = 0, refused = 0, rpc_errors = 0, audit_unavailable = 0;
  int answered_in_outage = 0, started_in_outage = 0, allowed_in_outage = 0;
  std::map<std::string, int> codes;
  for (const Outcome& outcome : outcomes) {
    if (outcome.allowed) {
      ++allowed;
      // An allowed answer has its intent and its outcome on disk, and the
      // upstream saw the request.
      EXPECT_TRUE(intent_ids.count(outcome.request_id))
          << label << ": allowed " << outcome.path << " without an intent";
      EXPECT_EQ(outcome_decisions[outcome.request_id], "allow")
          << label << ": allowed " << outcome.path << " without an outcome";
      EXPECT_TRUE(upstream_hits.count(outcome.path))
          << label << ": allowed " << outcome.path << " never reached upstream";
    } else if (absl::StartsWith(outcome.code, "RPC_")) {
      ++rpc_errors;
    } else {
      ++refused;
    }
    if (!outcome.allowed) ++codes[outcome.code];
    if (outcome.code == "AUDIT_UNAVAILABLE") ++audit_unavailable;
    for (const Window& outage : outages) {
      if (outcome.start >= outage.start && outcome.start <= outage.end) {
        ++started_in_outage;
      }
      // Answered while the sink was down: past the start by a margin, as
      // an outcome made durable just before the failure may still be on
      // its way back to the client.
      if (outcome.end < outage.start + kAnswerMargin ||
          outcome.end > outage.end) {
        continue;
      }
      ++answered_in_outage;
      if (outcome.allowed) ++allowed_in_outage;
      if (sink_was_dead) {
        EXPECT_FALSE(outcome.allowed)
            << label << ": " << outcome.path
            << " was allowed while the audit sink was dead";
      }
    }
  }

  int hits = 0, unrecorded = 0, duplicated = 0;
  for (const auto& [path, times] : upstream_hits) {
    hits += times;
    if (times > 1) ++duplicated;
    if (!intent_paths.count(path)) {
      ++unrecorded;
      if (unrecorded <= 10) {
        ADD_FAILURE() << label << ": the upstream received " << path
                      << " but the audit log has no intent for it";
      }
    }
  }
  EXPECT_EQ(unrecorded, 0) << label << ": unrecorded upstream hits";

  // How long after each outage ended the first allowed answer came.
  std::string recovered;
  for (const Window& outage : outages) {
    absl::Time first = absl::InfiniteFuture();
    for (const Outcome& outcome : outcomes) {
      if (outcome.allowed && outcome.end > outage.end) {
        first = std::min(first, outcome.end);
      }
    }
    absl::StrAppend(&recovered, " ",
                    absl::ToDoubleSeconds(outage.end - outage.start), "s->",
                    absl::ToDoubleSeconds(first - outage.end), "s");
  }
  std::string code_counts;
  for (const auto& [code, count] : codes) {
    absl::StrAppend(&code_counts, " ", code, "=", count);
  }
  std::cout << "[" << label << "] sent=" << outcomes.size()
            << " allowed=" << allowed << " refused=" << refused
            << " (audit_unavailable=" << audit_unavailable << ")"
            << " rpc_errors=" << rpc_errors << " upstream_hits=" << hits
            << " upstream_paths=" << upstream_hits.size()
            << " duplicated_upstream_paths=" << duplicated
            << " unrecorded_upstream_hits=" << unrecorded
            << " intents=" << intent_paths.size()
            << " started_in_outage=" << started_in_outage
            << " answered_in_outage=" << answered_in_outage
            << " allowed_in_outage=" << allowed_in_outage
            << " hits_refused_after_send=" << hits - allowed
            << " refusal_codes:" << code_counts
            << " outage->first_allow_after_it:" << recovered << std::endl;

  // The failure really happened under load and the stack came back.
  if (sink_was_dead) {
    EXPECT_GT(answered_in_outage, 0) << label << ": no request inside";
  }
  EXPECT_GT(audit_unavailable, 0) << label << ": no request was refused";
  EXPECT_GT(allowed, 0) << label;
}

class AuditUnderFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StackOptions options;
    options.start_mcp = false;
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = std::move(*stack);
  }
  void TearDown() override {
    if (stack_ != nullptr) stack_->StopAudit();
    if (mounted_) {
      EXPECT_EQ(::umount2(stack_->state_dir("audit").c_str(), MNT_DETACH), 0)
          << std::strerror(errno);
    }
    stack_.reset();
  }

  // WaitForRecovery lets the load run for at least `at_least` after the
  // sink is back and until a few more requests were allowed (bounded).
  static void WaitForRecovery(Load* load, absl::Duration at_least) {
    const absl::Time until = absl::Now() + at_least;
    const int baseline = load->allowed.load();
    EXPECT_TRUE(WaitForAllowed(load, baseline, 20, absl::Seconds(15)))
        << "the broker did not recover after the sink came back";
    absl::SleepFor(until - absl::Now());
  }

  std::unique_ptr<Stack> stack_;
  bool mounted_ = false;
};

TEST_F(AuditUnderFailureTest, SigkillOfTheSinkUnderLoadLeavesNoUnrecordedHit) {
  std::vector<Window> outages;
  // Two kills: a short outage, which requests in flight wait out (the
  // broker waits for the sink up to its --audit_timeout_ms, 5 s), and one
  // longer than two such waits (a refusal waits twice: for the intent, then
  // for the record of the refusal), so that refusals are answered inside it.
  const absl::Duration kOutages[] = {absl::Milliseconds(700),
                                     absl::Milliseconds(11000)};
  std::vector<Outcome> outcomes = RunLoad(*stack_, [&](Load* load) {
    ASSERT_TRUE(WaitForAllowed(load, 0, 20, absl::Seconds(15)))
        << "no load got through before the kill";
    for (absl::Duration outage : kOutages) {
      absl::SleepFor(absl::Milliseconds(800));
      // Stop with SIGKILL and no grace: kill, then reap, so the sink is
      // gone once it returns. Its socket file stays behind, as after a
      // crash.
      int status = stack_->audit()->Stop(SIGKILL, absl::ZeroDuration());
      Window window{absl::Now(), absl::InfiniteFuture()};
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
      absl::SleepFor(outage);
      window.end = absl::Now();
      outages.push_back(window);
      ASSERT_TRUE(stack_->StartAudit().ok());
      WaitForRecovery(load, absl::Seconds(1));
    }
  });
  CheckAuditBeforeEffect(*stack_, outcomes, outages, "sigkill",
                         /*sink_was_dead=*/true);
}

TEST_F(AuditUnderFailureTest, FullAuditDiskUnderLoadLeavesNoUnrecordedHit) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  // Move the sink onto a small tmpfs (as audit_disk_full_test does): stop
  // it, mount over its state directory, start it on a new log there.
  const std::string state = stack_->state_dir("audit");
  stack_->StopAudit();
  if (::mount("tmpfs", state.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              "size=8m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  }
  mounted_ = true;
  ASSERT_TRUE(stack_->StartAudit().ok());

  const std::string filler = state + "/filler";
  std::vector<Window> outages;
  std::vector<Outcome> outcomes = RunLoad(*stack_, [&](Load* load) {
    // The broker reconnects to the restarted sink on its own.
    ASSERT_TRUE(WaitForAllowed(load, 0, 20, absl::Seconds(15)))
        << "no load got through before the disk filled";
    absl::SleepFor(absl::Milliseconds(500));
    EXPECT_GT(audit_sink::FillDisk(filler), 0u);
    Window window{absl::Now(), absl::InfiniteFuture()};
    // Longer than kAnswerMargin, so that some refusals fall inside.
    absl::SleepFor(absl::Milliseconds(2000));
    window.end = absl::Now();
    outages.push_back(window);
    EXPECT_EQ(::unlink(filler.c_str()), 0) << std::strerror(errno);
    WaitForRecovery(load, absl::Seconds(1));
  });
  // The log's last page may still take a record or two after FillDisk, so
  // an allowed answer while full is not by itself a failure; every upstream
  // hit still needs its intent.
  CheckAuditBeforeEffect(*stack_, outcomes, outages, "disk_full",
                         /*sink_was_dead=*/false);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(stack_->log_path("audit")),
                                "No space left on device"));
}

}  // namespace
}  // namespace latchkey::testing
