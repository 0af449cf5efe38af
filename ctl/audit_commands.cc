#include "ctl/audit_commands.h"

#include <iostream>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "audit_sink/expected_head.h"
#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "ctl/table_printer.h"
#include "google/protobuf/util/json_util.h"
#include "proto/audit.grpc.pb.h"

// --agent and --capability are defined with the broker commands.
ABSL_DECLARE_FLAG(std::string, agent);
ABSL_DECLARE_FLAG(std::string, capability);
ABSL_FLAG(std::string, decision, "",
          "audit query: only allow or deny decisions");
ABSL_FLAG(uint32_t, limit, 0,
          "audit query: at most this many records (default 100, max 1000)");
ABSL_FLAG(uint64_t, after, 0,
          "audit query: records after this sequence (paging)");
ABSL_FLAG(std::string, since, "",
          "audit query: records from this long ago on, e.g. 1h, 30m");
ABSL_FLAG(uint64_t, from_sequence, 0,
          "audit tail: start at this sequence (0: only new records)");
ABSL_FLAG(uint64_t, count, 0,
          "audit tail: stop after this many records (0: until interrupted)");
ABSL_FLAG(std::vector<std::string>, expect, {},
          "audit verify (repeatable): SEQ:HEAD[,SEQ:HEAD...] printed by `audit "
          "checkpoint` and kept off this host; fail when the log ends "
          "before SEQ or record SEQ does not hash to HEAD");

namespace latchkey::ctl {
namespace {

using v1::AuditAdmin;

constexpr char kAuditSocket[] = "audit.sock";

std::vector<std::string>& ExpectValues() {
  static auto* values = new std::vector<std::string>();
  return *values;
}

std::unique_ptr<AuditAdmin::Stub> Stub() {
  return AuditAdmin::NewStub(CreateUdsChannel(SocketPath(kAuditSocket)));
}

Table RecordTable() {
  return Table({"seq", "time", "source", "agent", "capability", "method",
                "path", "decision", "reason", "status", "latency_us"});
}

void AddRecord(const v1::AuditRecord& record, Table* table) {
  const v1::AuditEvent& e = record.event();
  table->AddRow(
      {std::to_string(record.sequence()),
       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                        absl::FromUnixSeconds(record.time().seconds()),
                        absl::UTCTimeZone()),
       e.source(), e.agent(), e.capability(), e.method(), e.path(),
       e.decision() == v1::DECISION_ALLOW ? "allow" : "deny",
       v1::ReasonCode_Name(e.reason_code()),
       e.upstream_status() ? std::to_string(e.upstream_status()) : "",
       std::to_string(e.latency_us())});
}

int Query(const Args&) {
  v1::QueryRequest request;
  request.set_agent(absl::GetFlag(FLAGS_agent));
  request.set_capability(absl::GetFlag(FLAGS_capability));
  request.set_limit(absl::GetFlag(FLAGS_limit));
  request.set_after_sequence(absl::GetFlag(FLAGS_after));
  const std::string decision = absl::GetFlag(FLAGS_decision);
  if (decision == "allow") {
    request.set_decision(v1::DECISION_ALLOW);
  } else if (decision == "deny") {
    request.set_decision(v1::DECISION_DENY);
  } else if (!decision.empty()) {
    return UsageError("--decision must be allow or deny");
  }
  const std::string since = absl::GetFlag(FLAGS_since);
  if (!since.empty()) {
    absl::Duration ago;
    if (!absl::ParseDuration(since, &ago) || ago <= absl::ZeroDuration()) {
      return UsageError("--since takes a duration such as 90s, 30m or 24h");
    }
    request.mutable_start_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - ago));
  }
  v1::QueryResponse response;
  grpc::Status rpc = Stub()->Query(Context().get(), request, &response);
  if (rpc.ok()) {
    if (JsonOutput()) {
      PrintReply(response);
    } else {
      Table table = RecordTable();
      for (const v1::AuditRecord& record : response.records()) {
        AddRecord(record, &table);
      }
      std::cout << table.ToString();
      if (response.next_after_sequence() != 0) {
        std::cout << "(more: --after=" << response.next_after_sequence()
                  << ")\n";
      }
    }
  }
  return Report(rpc, SocketPath(kAuditSocket));
}

// Tail follows the log: one table row (or one JSON object per line with
// --json) per record, flushed as it arrives, until --count records or the
// operator interrupts it.
int Tail(const Args&) {
  v1::TailRequest request;
  request.set_from_sequence(absl::GetFlag(FLAGS_from_sequence));
  const uint64_t count = absl::GetFlag(FLAGS_count);
  grpc::ClientContext context;  // No deadline: a tail follows forever.
  std::unique_ptr<grpc::ClientReader<v1::AuditRecord>> reader =
      Stub()->Tail(&context, request);
  if (!JsonOutput()) std::cout << RecordTable().ToString() << std::flush;
  v1::AuditRecord record;
  uint64_t seen = 0;
  while ((count == 0 || seen < count) && reader->Read(&record)) {
    ++seen;
    if (JsonOutput()) {
      // One object per line (JSON Lines), so a script can stream it.
      std::string line;
      google::protobuf::util::JsonPrintOptions options;
      (void)google::protobuf::util::MessageToJsonString(record, &line, options);
      std::cout << line << "\n" << std::flush;
    } else {
      Table table({"seq", "time", "source", "agent", "capability", "method",
                   "path", "decision", "reason", "status", "latency_us"});
      AddRecord(record, &table);
      std::string text = table.ToString();
      std::cout << text.substr(text.find('\n') + 1) << std::flush;
    }
  }
  if (count != 0 && seen >= count) {
    context.TryCancel();
    (void)reader->Finish();
    return kExitOk;
  }
  return Report(reader->Finish(), SocketPath(kAuditSocket));
}

int Verify(const Args&) {
  absl::StatusOr<std::vector<audit_sink::ExpectedHead>> expect =
      audit_sink::ParseExpectedHeads(ExpectValues().empty()
                                         ? absl::GetFlag(FLAGS_expect)
                                         : ExpectValues());
  if (!expect.ok()) return UsageError(std::string(expect.status().message()));
  v1::VerifyRequest request;
  for (const audit_sink::ExpectedHead& head : *expect) {
    v1::ExpectedHead* given = request.add_expect();
    given->set_sequence(head.sequence);
    given->set_head_hash(head.head_hash);
  }
  v1::VerifyResponse response;
  grpc::Status rpc = Stub()->Verify(Context().get(), request, &response);
  if (rpc.ok()) PrintReply(response);
  if (rpc.ok() && !response.ok()) {
    std::cerr << "latchkeyctl: the audit log failed verification at record "
              << response.first_bad_sequence() << " (" << response.problem()
              << (response.detail().empty() ? "" : ": ") << response.detail()
              << "); keep a copy of the log files for investigation\n";
    return kExitRefused;
  }
  return Report(rpc, SocketPath(kAuditSocket));
}

// Checkpoint prints SEQ:HEAD of the newest durable record (the whole
// answer, with the signed checkpoint line, with --json), for a cron job
// to store off this host and pass later to `audit verify --expect`.
int Checkpoint(const Args&) {
  v1::GetCheckpointResponse response;
  grpc::Status rpc = Stub()->GetCheckpoint(
      Context().get(), v1::GetCheckpointRequest(), &response);
  if (!rpc.ok()) return Report(rpc, SocketPath(kAuditSocket));
  if (JsonOutput()) {
    PrintReply(response);
    return kExitOk;
  }
  if (response.sequence() == 0) {
    std::cerr << "latchkeyctl: the audit log has no records yet\n";
    return kExitRefused;
  }
  std::cout << audit_sink::FormatExpectedHead(response.sequence(),
                                              response.head_hash())
            << "\n";
  return kExitOk;
}

}  // namespace

void NoteAuditArgv(int argc, char** argv) {
  ExpectValues() = audit_sink::FlagValues(argc, argv, "expect");
}

void AddAuditCommands(CommandTable* table) {
  table->Add({{"audit", "query"},
              "[--agent=A] [--capability=C] [--decision=allow|deny] "
              "[--since=1h] [--limit=N] [--after=SEQ]",
              "print audit records, oldest first",
              Query});
  table->Add({{"audit", "tail"},
              "[--from_sequence=SEQ] [--count=N]",
              "follow new audit records as they are written (Ctrl-C stops)",
              Tail});
  table->Add({{"audit", "verify"},
              "[--expect=SEQ:HEAD[,SEQ:HEAD...]]",
              "verify the audit log's hash chain, HMACs and checkpoints "
              "(and that it still reaches heads kept elsewhere)",
              Verify});
  table->Add({{"audit", "checkpoint"},
              "[--json]",
              "print SEQ:HEAD of the newest audit record, to keep off this "
              "host for `audit verify --expect`",
              Checkpoint});
}

}  // namespace latchkey::ctl
