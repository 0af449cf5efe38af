#include "ctl/approval_commands.h"

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "proto/broker.grpc.pb.h"

// --agent belongs to broker_commands.cc; approval list filters by it too.
ABSL_DECLARE_FLAG(std::string, agent);
ABSL_FLAG(bool, pending, false, "approval list: only pending approvals");

namespace latchkey::ctl {
namespace {

constexpr char kAdminSocket[] = "admin.sock";

std::unique_ptr<v1::BrokerAdmin::Stub> Stub() {
  return v1::BrokerAdmin::NewStub(CreateUdsChannel(SocketPath(kAdminSocket)));
}

int ListApprovals(const Args&) {
  v1::ListApprovalsRequest request;
  request.set_agent(absl::GetFlag(FLAGS_agent));
  request.set_pending_only(absl::GetFlag(FLAGS_pending));
  v1::ListApprovalsResponse response;
  grpc::Status rpc = Stub()->ListApprovals(Context().get(), request, &response);
  if (rpc.ok()) PrintJson(response);
  return Report(rpc, SocketPath(kAdminSocket));
}

int Decide(const std::string& id, bool approve) {
  v1::DecideApprovalRequest request;
  request.set_id(id);
  request.set_approve(approve);
  v1::Approval response;
  grpc::Status rpc =
      Stub()->DecideApproval(Context().get(), request, &response);
  if (rpc.ok()) PrintJson(response);
  return Report(rpc, SocketPath(kAdminSocket));
}

}  // namespace

void AddApprovalCommands(CommandTable* table) {
  table->Add({{"approval", "list"},
              "[--pending] [--agent=A]",
              "requests waiting for (or decided by) an operator",
              ListApprovals});
  table->Add({{"approval", "approve"},
              "ID",
              "approve a pending request (audited with your uid)",
              [](const Args& args) { return Decide(args[0], true); },
              1,
              1});
  table->Add({{"approval", "deny"},
              "ID",
              "deny a pending request (audited with your uid)",
              [](const Args& args) { return Decide(args[0], false); },
              1,
              1});
}

}  // namespace latchkey::ctl
