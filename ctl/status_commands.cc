#include "ctl/status_commands.h"

#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/metrics.h"
#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "ctl/table_printer.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"

ABSL_FLAG(bool, prometheus, false,
          "metrics: print the Prometheus text format instead of tables");

namespace latchkey::ctl {
namespace {

constexpr auto kProbeTimeout = std::chrono::seconds(5);

std::unique_ptr<grpc::ClientContext> ProbeContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kProbeTimeout);
  return context;
}

// Health calls grpc.health.v1.Health/Check for the whole server with raw
// bytes (this binary has no generated health stubs) and returns
// "SERVING", "NOT_SERVING", ... or sets *rpc to the failure.
std::string Health(const std::string& socket, grpc::Status* rpc) {
  grpc::GenericStub stub(CreateUdsChannel(socket));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientContext> context = ProbeContext();
  grpc::Slice empty("");  // HealthCheckRequest{service: ""}.
  grpc::ByteBuffer request(&empty, 1);
  auto call = stub.PrepareUnaryCall(
      context.get(), "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  call->Finish(&response, rpc, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok) {
    *rpc = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no answer");
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!rpc->ok()) return "";
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status = 1}: field 1 varint; absent means UNKNOWN.
  const int status = bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
  switch (status) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    default:
      return "UNKNOWN";
  }
}

int64_t GaugeValue(const v1::MetricsSnapshot& snapshot,
                   const std::string& name) {
  for (const v1::MetricGauge& gauge : snapshot.gauges()) {
    if (gauge.name() == name) return gauge.value();
  }
  return -1;
}

int Status(const Args&) {
  struct Row {
    std::string daemon, socket, health, detail;
  };
  std::vector<Row> rows;
  int exit_code = kExitOk;
  auto worst = [&](int code) {
    if (code == kExitUnreachable || exit_code == kExitOk) exit_code = code;
  };
  auto probe = [&](const std::string& daemon, const std::string& name) {
    grpc::Status rpc;
    Row row{daemon, SocketPath(name), Health(SocketPath(name), &rpc), ""};
    if (!rpc.ok()) {
      row.health = "UNREACHABLE";
      row.detail = absl::StrCat(rpc.error_message(),
                                "; start the daemon or check --run_dir");
      worst(kExitUnreachable);
    } else if (row.health != "SERVING") {
      worst(kExitRefused);
    }
    rows.push_back(row);
    return rpc.ok();
  };

  if (probe("latchkey-vault", "vault.sock")) {
    v1::VaultStatus status;
    grpc::Status rpc =
        v1::VaultAdmin::NewStub(CreateUdsChannel(SocketPath("vault.sock")))
            ->GetStatus(ProbeContext().get(), v1::GetStatusRequest(), &status);
    if (!rpc.ok()) {
      rows.back().detail = absl::StrCat("status: ", rpc.error_message());
      worst(kExitRefused);
    } else if (!status.initialized()) {
      rows.back().detail = "not initialized; run `latchkeyctl vault init`";
      worst(kExitRefused);
    } else if (status.sealed()) {
      rows.back().detail =
          status.threshold() > 0
              ? absl::StrCat("SEALED (", status.progress(), " of ",
                             status.threshold(),
                             " shares); run `latchkeyctl vault unseal`")
              : "SEALED; run `latchkeyctl vault unseal`";
      worst(kExitRefused);
    } else {
      rows.back().detail = "unsealed";
    }
  }
  probe("latchkey-broker", "broker.sock");
  if (probe("latchkey-broker (admin)", "admin.sock")) {
    v1::ListCapabilitiesResponse capabilities;
    grpc::Status rpc =
        v1::BrokerAdmin::NewStub(CreateUdsChannel(SocketPath("admin.sock")))
            ->ListCapabilities(ProbeContext().get(),
                               v1::ListCapabilitiesRequest(), &capabilities);
    rows.back().detail =
        rpc.ok()
            ? absl::StrCat(capabilities.capabilities_size(), " capabilities")
            : absl::StrCat("capabilities: ", rpc.error_message());
  }
  if (probe("latchkey-audit", "audit.sock")) {
    v1::MetricsSnapshot snapshot;
    grpc::Status rpc =
        v1::AuditAdmin::NewStub(CreateUdsChannel(SocketPath("audit.sock")))
            ->GetMetrics(ProbeContext().get(), v1::GetMetricsRequest(),
                         &snapshot);
    const int64_t head = GaugeValue(snapshot, "latchkey_audit_head_sequence");
    rows.back().detail = rpc.ok() && head >= 0
                             ? absl::StrCat("head record ", head)
                             : absl::StrCat("head: ", rpc.error_message());
  }
  rows.push_back({"latchkey-mcp", "(stdio, one per agent client)", "-",
                  "started by each agent's client; uses broker.sock"});

  if (JsonOutput()) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& row : rows) {
      out.push_back({{"daemon", row.daemon},
                     {"socket", row.socket},
                     {"health", row.health},
                     {"detail", row.detail}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    Table table({"daemon", "socket", "health", "detail"});
    for (const Row& row : rows) {
      table.AddRow({row.daemon, row.socket, row.health, row.detail});
    }
    std::cout << table.ToString();
  }
  return exit_code;
}

// Quantile estimates the q-quantile as the upper bound of the bucket it
// falls in (so "<= x"), or -1 if there are no observations.
int64_t Quantile(const v1::MetricHistogram& histogram, double q) {
  if (histogram.count() == 0) return -1;
  const uint64_t rank = static_cast<uint64_t>(q * histogram.count() + 0.5);
  for (int i = 0; i < histogram.bucket_upper_bounds_us_size(); ++i) {
    if (histogram.cumulative_counts(i) >= std::max<uint64_t>(rank, 1)) {
      return histogram.bucket_upper_bounds_us(i);
    }
  }
  return INT64_MAX;
}

std::string Micros(int64_t us) {
  if (us < 0) return "-";
  if (us == INT64_MAX) return "> 10s";
  return absl::StrCat("<= ", absl::FormatDuration(absl::Microseconds(us)));
}

void PrintSnapshot(const v1::MetricsSnapshot& snapshot) {
  std::cout << "== " << snapshot.daemon() << "\n";
  Table values({"metric", "label", "value"});
  for (const v1::MetricCounter& counter : snapshot.counters()) {
    for (const v1::MetricCount& count : counter.counts()) {
      // Zero rows of a counter with many labels (reasons) are noise.
      if (counter.counts_size() > 8 && count.value() == 0) continue;
      values.AddRow(
          {counter.name(),
           counter.label().empty()
               ? ""
               : absl::StrCat(counter.label(), "=", count.label_value()),
           absl::StrCat(count.value())});
    }
  }
  for (const v1::MetricGauge& gauge : snapshot.gauges()) {
    values.AddRow({gauge.name(), "", absl::StrCat(gauge.value())});
  }
  std::cout << values.ToString();
  Table latency({"histogram", "count", "mean", "p50", "p99"});
  for (const v1::MetricHistogram& histogram : snapshot.histograms()) {
    latency.AddRow(
        {histogram.name(), absl::StrCat(histogram.count()),
         histogram.count() == 0 ? "-"
                                : absl::FormatDuration(absl::Microseconds(
                                      histogram.sum_us() /
                                      static_cast<int64_t>(histogram.count()))),
         Micros(Quantile(histogram, 0.5)), Micros(Quantile(histogram, 0.99))});
  }
  std::cout << latency.ToString() << "\n";
}

int Metrics(const Args& args) {
  std::vector<std::string> daemons = {"vault", "broker", "audit"};
  if (!args.empty()) {
    if (args[0] != "vault" && args[0] != "broker" && args[0] != "audit") {
      return UsageError("metrics takes vault, broker or audit");
    }
    daemons = {args[0]};
  }
  nlohmann::json json = nlohmann::json::object();
  int exit_code = kExitOk;
  for (const std::string& daemon : daemons) {
    v1::MetricsSnapshot snapshot;
    grpc::Status rpc;
    std::string socket;
    if (daemon == "vault") {
      socket = SocketPath("vault.sock");
      rpc =
          v1::VaultAdmin::NewStub(CreateUdsChannel(socket))
              ->GetMetrics(Context().get(), v1::GetMetricsRequest(), &snapshot);
    } else if (daemon == "broker") {
      socket = SocketPath("admin.sock");
      rpc =
          v1::BrokerAdmin::NewStub(CreateUdsChannel(socket))
              ->GetMetrics(Context().get(), v1::GetMetricsRequest(), &snapshot);
    } else {
      socket = SocketPath("audit.sock");
      rpc =
          v1::AuditAdmin::NewStub(CreateUdsChannel(socket))
              ->GetMetrics(Context().get(), v1::GetMetricsRequest(), &snapshot);
    }
    if (!rpc.ok()) {
      // Report the others anyway; the exit code says one failed.
      std::cerr << daemon << ": ";
      const int code = Report(rpc, socket);
      if (exit_code != kExitUnreachable) exit_code = code;
      continue;
    }
    if (absl::GetFlag(FLAGS_prometheus)) {
      std::cout << metrics::PrometheusText(snapshot);
    } else if (JsonOutput()) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(snapshot, &text);
      json[daemon] = nlohmann::json::parse(text);
    } else {
      PrintSnapshot(snapshot);
    }
  }
  if (JsonOutput() && !absl::GetFlag(FLAGS_prometheus)) {
    std::cout << json.dump(2) << "\n";
  }
  return exit_code;
}

}  // namespace

void AddStatusCommands(CommandTable* table) {
  table->Add({{"status"},
              "",
              "health of every daemon's socket, vault seal state, audit head "
              "(exit 0 all well, 1 something needs an operator, 3 a daemon "
              "is unreachable)",
              Status});
  table->Add({{"metrics"},
              "[vault|broker|audit] [--prometheus]",
              "counters and latency histograms (GetMetrics) of one or all "
              "daemons",
              Metrics,
              0,
              1});
}

}  // namespace latchkey::ctl
