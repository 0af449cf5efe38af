// audit_bench: durable appends per second and append latency of the real
// latchkey-audit over its Unix socket, with 1 and with N concurrent writers
// (sharing --connections connections: the broker and the vault hold one
// each).
// Every append is acknowledged only after fdatasync, so the figures are
// bounded by the disk's sync latency and by how many records share one
// sync (group commit).
//
//   bazel run -c opt //bench:audit_bench -- --seconds=5
//
// Prints one line per concurrency level (and with --in_process, one more
// for AuditLog::Append called directly, without gRPC).
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "audit_sink/audit_log.h"
#include "common/audit_recorder.h"
#include "proto/audit.grpc.pb.h"
#include "tests/process.h"

ABSL_FLAG(double, seconds, 5, "measuring time per concurrency level");
ABSL_FLAG(std::string, concurrency, "1,64", "comma list of writer counts");
ABSL_FLAG(int, connections, 2,
          "connections the writers share round-robin (the broker and the "
          "vault hold one each); 0: one per writer");
ABSL_FLAG(std::string, client, "recorder",
          "recorder: the broker's and vault's AuditRecorder (concurrent "
          "events share AppendBatch calls); unary: one Append call per "
          "event");
ABSL_FLAG(bool, in_process, false,
          "also measure AuditLog::Append called directly (no gRPC), to "
          "separate the log's own cost from the transport's");
ABSL_FLAG(std::string, bin_dir, ".",
          "where audit_sink/latchkey-audit is (the runfiles tree)");
ABSL_FLAG(std::string, dir, "",
          "directory for the sink's state (default: a new /tmp/lk-XXXXXX, "
          "removed afterwards); its file system decides the sync cost");

namespace {

using latchkey::testing::ChildProcess;

latchkey::v1::AuditEvent Event(int writer, int64_t n) {
  latchkey::v1::AuditEvent event;
  event.set_source("broker");
  event.set_agent("bench-agent");
  event.set_session_id(absl::StrCat("sess-", writer));
  event.set_capability("github");
  event.set_method("GET");
  event.set_path(absl::StrCat("/repos/latchkey/issues/", n));
  event.set_decision(latchkey::v1::DECISION_ALLOW);
  event.set_reason_code(latchkey::v1::REASON_ALLOWED);
  event.set_reason("allow rule matched");
  event.set_rule("rule-1");
  event.set_upstream_status(200);
  event.set_bytes_in(512);
  event.set_bytes_out(2048);
  event.set_latency_us(850);
  event.set_request_id(absl::StrCat("req-", writer, "-", n));
  event.set_peer_uid(1000);
  return event;
}

struct Result {
  size_t count = 0;
  size_t errors = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

Result Run(const std::string& socket, int writers, double seconds) {
  int connections = absl::GetFlag(FLAGS_connections);
  if (connections <= 0 || connections > writers) connections = writers;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < connections; ++c) {
    // Channels with equal arguments would share one connection.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("latchkey.bench_connection", c);
    channels.push_back(grpc::CreateCustomChannel(
        "unix:" + socket, grpc::InsecureChannelCredentials(), args));
  }
  std::vector<std::unique_ptr<latchkey::v1::AuditAppend::Stub>> stubs;
  for (int w = 0; w < writers; ++w) {
    stubs.push_back(
        latchkey::v1::AuditAppend::NewStub(channels[w % connections]));
  }
  std::vector<std::unique_ptr<latchkey::AuditRecorder>> recorders;
  for (int c = 0; c < connections; ++c) {
    recorders.push_back(
        latchkey::NewGrpcAuditRecorder(socket, absl::Seconds(10)));
  }
  const bool unary = absl::GetFlag(FLAGS_client) == "unary";
  std::atomic<size_t> errors{0};
  auto append = [&](int w, int64_t n) {
    if (!unary) return recorders[w % connections]->Record(Event(w, n)).ok();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    latchkey::v1::AppendRequest request;
    *request.mutable_event() = Event(w, n);
    latchkey::v1::AppendResponse response;
    return stubs[w]->Append(&context, request, &response).ok();
  };
  // Warm-up: connections.
  {
    std::vector<std::thread> warm;
    for (int w = 0; w < writers; ++w) {
      warm.emplace_back([&, w] {
        for (int i = 0; i < 5; ++i) append(w, -1 - i);
      });
    }
    for (auto& t : warm) t.join();
  }
  std::vector<std::vector<double>> latencies(writers);
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> pool;
  for (int w = 0; w < writers; ++w) {
    pool.emplace_back([&, w] {
      latencies[w].reserve(100000);
      for (int64_t n = 0; absl::Now() < end; ++n) {
        absl::Time a = absl::Now();
        bool ok = append(w, n);
        latencies[w].push_back(absl::ToDoubleMicroseconds(absl::Now() - a));
        if (!ok) errors++;
      }
    });
  }
  for (auto& t : pool) t.join();
  Result result;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  result.count = all.size();
  result.errors = errors.load();
  if (!all.empty()) {
    result.p50_us = all[all.size() / 2];
    result.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    result.max_us = all.back();
  }
  return result;
}

// RunInProcess measures AuditLog::Append from `writers` threads.
void RunInProcess(const std::string& dir, int writers, double seconds) {
  auto log = latchkey::audit_sink::AuditLog::Open(dir, std::string(32, 'k'));
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return;
  }
  std::vector<std::vector<double>> latencies(writers);
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  const absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  for (int w = 0; w < writers; ++w) {
    pool.emplace_back([&, w] {
      for (int64_t n = 0; absl::Now() < end; ++n) {
        absl::Time a = absl::Now();
        (void)(*log)->Append(Event(w, n));
        latencies[w].push_back(absl::ToDoubleMicroseconds(absl::Now() - a));
      }
    });
  }
  for (auto& t : pool) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  if (all.empty()) return;
  std::printf(
      "audit_bench in-process writers=%d: %.0f appends/s, append latency "
      "p50 %.0f us, p99 %.0f us; %.1f appends per fdatasync\n",
      writers, all.size() / elapsed, all[all.size() / 2],
      all[std::min(all.size() - 1, all.size() * 99 / 100)],
      static_cast<double>(all.size()) / (*log)->sync_count());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool own_dir = dir.empty();
  if (own_dir) {
    char templ[] = "/tmp/lk-XXXXXX";
    if (::mkdtemp(templ) == nullptr) return 1;
    dir = templ;
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  int run = 0;
  for (absl::string_view level :
       absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int writers = 0;
    if (!absl::SimpleAtoi(level, &writers) || writers < 1) continue;
    // A fresh sink (and log) per level.
    const std::string sub = absl::StrCat(dir, "/run", ++run);
    ::mkdir(sub.c_str(), 0700);
    const std::string socket = sub + "/audit.sock";
    const std::string daemon_log = sub + "/daemon.log";
    auto sink = ChildProcess::Start(
        {{absl::GetFlag(FLAGS_bin_dir) + "/audit_sink/latchkey-audit",
          "--socket=" + socket, "--state_dir=" + sub + "/state"},
         {},
         daemon_log,
         false});
    if (!sink.ok() ||
        !latchkey::testing::WaitForSocket(socket, absl::Seconds(20)).ok()) {
      std::fprintf(stderr, "latchkey-audit did not start: %s\n",
                   latchkey::testing::ReadFileOrEmpty(daemon_log).c_str());
      return 1;
    }
    Result r = Run(socket, writers, seconds);
    const int configured = absl::GetFlag(FLAGS_connections);
    const int used = configured <= 0 ? writers : std::min(writers, configured);
    sink->reset();  // SIGTERM: the sink logs its fdatasync count.
    std::string syncs = "?";
    const std::string text = latchkey::testing::ReadFileOrEmpty(daemon_log);
    size_t at = text.find("\"fdatasyncs\":\"");
    if (at != std::string::npos) {
      at += 14;
      syncs = text.substr(at, text.find('"', at) - at);
    }
    double per_sync = 0;
    int sync_count = 0;
    if (absl::SimpleAtoi(syncs, &sync_count) && sync_count > 0) {
      per_sync = static_cast<double>(r.count + 5 * writers) / sync_count;
    }
    std::printf(
        "audit_bench client=%s writers=%d connections=%d: %.0f appends/s (%zu "
        "in %.1f s, "
        "%zu errors), "
        "append latency p50 %.0f us, p99 %.0f us, max %.0f us; "
        "%.1f appends per fdatasync\n",
        absl::GetFlag(FLAGS_client).c_str(), writers, used, r.count / r.seconds,
        r.count, r.seconds, r.errors, r.p50_us, r.p99_us, r.max_us, per_sync);
    std::fflush(stdout);
    if (absl::GetFlag(FLAGS_in_process)) {
      const std::string log_dir = sub + "/in-process";
      ::mkdir(log_dir.c_str(), 0700);
      RunInProcess(log_dir, writers, seconds);
    }
  }
  if (own_dir && std::getenv("LATCHKEY_KEEP_TEST_DIR") == nullptr) {
    (void)!std::system(("rm -rf '" + dir + "'").c_str());
  }
  return 0;
}
