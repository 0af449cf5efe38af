#include "ctl/audit_commands.h"

#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey::ctl {
namespace {

using v1::AuditAdmin;

constexpr char kAuditSocket[] = "audit.sock";

std::unique_ptr<AuditAdmin::Stub> Stub() {
  return AuditAdmin::NewStub(CreateUdsChannel(SocketPath(kAuditSocket)));
}

int Query(const Args&) {
  v1::QueryResponse response;
  grpc::Status rpc =
      Stub()->Query(Context().get(), v1::QueryRequest(), &response);
  if (rpc.ok()) PrintJson(response);
  return Report(rpc, SocketPath(kAuditSocket));
}

int Verify(const Args&) {
  v1::VerifyResponse response;
  grpc::Status rpc =
      Stub()->Verify(Context().get(), v1::VerifyRequest(), &response);
  if (rpc.ok()) PrintJson(response);
  if (rpc.ok() && !response.ok()) return kExitRefused;
  return Report(rpc, SocketPath(kAuditSocket));
}

}  // namespace

void AddAuditCommands(CommandTable* table) {
  table->Add({{"audit", "query"}, "", "print the latest audit records", Query});
  table->Add({{"audit", "verify"},
              "",
              "verify the audit log's hash chain, HMACs and checkpoints",
              Verify});
}

}  // namespace latchkey::ctl
