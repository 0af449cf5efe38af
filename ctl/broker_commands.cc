#include "ctl/broker_commands.h"

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "proto/broker.grpc.pb.h"

ABSL_FLAG(std::string, agent, "", "explain, session list: agent name");
ABSL_FLAG(std::string, capability, "", "explain: capability name");
ABSL_FLAG(std::string, method, "GET", "explain: HTTP method");
ABSL_FLAG(std::string, path, "/", "explain: request path");
ABSL_FLAG(std::vector<std::string>, capabilities, {},
          "agent create: capabilities the new agent may use");
ABSL_FLAG(std::vector<std::string>, uids, {},
          "agent create: the only uids that may present the token");
ABSL_FLAG(bool, dry_run, false, "apply: only show what would change");

namespace latchkey::ctl {
namespace {

using v1::BrokerAdmin;

constexpr char kAdminSocket[] = "admin.sock";

std::unique_ptr<BrokerAdmin::Stub> Stub() {
  return BrokerAdmin::NewStub(CreateUdsChannel(SocketPath(kAdminSocket)));
}

int Done(const grpc::Status& rpc, const google::protobuf::Message& reply) {
  if (rpc.ok()) PrintReply(reply);
  return Report(rpc, SocketPath(kAdminSocket));
}

int ListCapabilities(const Args&) {
  v1::ListCapabilitiesResponse response;
  return Done(Stub()->ListCapabilities(
                  Context().get(), v1::ListCapabilitiesRequest(), &response),
              response);
}

int WriteCapability(const std::string& file, bool create) {
  v1::Capability capability;
  if (!ReadTextProto(file, &capability)) return kExitUsage;
  v1::Capability response;
  grpc::Status rpc;
  if (create) {
    v1::CreateCapabilityRequest request;
    *request.mutable_capability() = capability;
    rpc = Stub()->CreateCapability(Context().get(), request, &response);
  } else {
    v1::UpdateCapabilityRequest request;
    *request.mutable_capability() = capability;
    rpc = Stub()->UpdateCapability(Context().get(), request, &response);
  }
  return Done(rpc, response);
}

int DeleteCapability(const Args& args) {
  v1::DeleteCapabilityRequest request;
  request.set_name(args[0]);
  v1::DeleteCapabilityResponse response;
  return Done(Stub()->DeleteCapability(Context().get(), request, &response),
              response);
}

int RevokeCapability(const Args& args) {
  v1::RevokeCapabilityRequest request;
  request.set_name(args[0]);
  v1::RevokeResponse response;
  return Done(Stub()->RevokeCapability(Context().get(), request, &response),
              response);
}

int ListSessions(const Args&) {
  v1::ListSessionsRequest request;
  request.set_agent(absl::GetFlag(FLAGS_agent));
  v1::ListSessionsResponse response;
  return Done(Stub()->ListSessions(Context().get(), request, &response),
              response);
}

int RevokeSession(const Args& args) {
  v1::RevokeSessionRequest request;
  request.set_id(args[0]);
  v1::RevokeSessionResponse response;
  return Done(Stub()->RevokeSession(Context().get(), request, &response),
              response);
}

int CreateAgent(const Args& args) {
  v1::CreateAgentRequest request;
  request.set_name(args[0]);
  for (const std::string& name : absl::GetFlag(FLAGS_capabilities)) {
    request.add_capabilities(name);
  }
  for (const std::string& uid : absl::GetFlag(FLAGS_uids)) {
    uint32_t value = 0;
    if (!absl::SimpleAtoi(uid, &value)) {
      return UsageError("--uids takes numeric uids");
    }
    request.add_uids(value);
  }
  v1::CreateAgentResponse response;
  grpc::Status rpc = Stub()->CreateAgent(Context().get(), request, &response);
  if (rpc.ok()) {
    if (JsonOutput()) {
      // The whole reply, token included: a script asked for it.
      PrintReply(response);
    } else {
      PrintReply(response.agent());
      std::cout << "\nAgent token (shown once; give it to the agent as "
                   "LATCHKEY_AGENT_TOKEN):\n"
                << response.token() << "\n";
    }
    CleanseString(response.mutable_token());
  }
  return Report(rpc, SocketPath(kAdminSocket));
}

int ListAgents(const Args&) {
  v1::ListAgentsResponse response;
  return Done(
      Stub()->ListAgents(Context().get(), v1::ListAgentsRequest(), &response),
      response);
}

int DeleteAgent(const Args& args) {
  v1::DeleteAgentRequest request;
  request.set_name(args[0]);
  v1::DeleteAgentResponse response;
  return Done(Stub()->DeleteAgent(Context().get(), request, &response),
              response);
}

int RevokeAgent(const Args& args) {
  v1::RevokeAgentRequest request;
  request.set_name(args[0]);
  v1::RevokeResponse response;
  return Done(Stub()->RevokeAgent(Context().get(), request, &response),
              response);
}

int RevokeAll(const Args&) {
  v1::RevokeResponse response;
  return Done(
      Stub()->RevokeAll(Context().get(), v1::RevokeAllRequest(), &response),
      response);
}

int ListRevocations(const Args&) {
  v1::ListRevocationsResponse response;
  return Done(Stub()->ListRevocations(Context().get(),
                                      v1::ListRevocationsRequest(), &response),
              response);
}

int LiftRevocation(const Args& args) {
  v1::LiftRevocationRequest request;
  const std::string& kind = args[0];
  if (kind == "agent" && args.size() == 2) {
    request.set_kind(v1::Revocation::AGENT);
    request.set_name(args[1]);
  } else if (kind == "capability" && args.size() == 2) {
    request.set_kind(v1::Revocation::CAPABILITY);
    request.set_name(args[1]);
  } else if (kind == "all" && args.size() == 1) {
    request.set_kind(v1::Revocation::ALL);
  } else {
    return UsageError(
        "usage: revocation lift agent NAME | capability NAME | all");
  }
  v1::LiftRevocationResponse response;
  return Done(Stub()->LiftRevocation(Context().get(), request, &response),
              response);
}

int Apply(const Args& args) {
  v1::ApplyRequest request;
  if (!ReadFile(args[0], request.mutable_config_text())) return kExitUsage;
  request.set_dry_run(absl::GetFlag(FLAGS_dry_run));
  v1::ApplyResponse response;
  return Done(Stub()->Apply(Context().get(), request, &response), response);
}

int ExportConfig(const Args&) {
  v1::GetConfigResponse response;
  grpc::Status rpc =
      Stub()->GetConfig(Context().get(), v1::GetConfigRequest(), &response);
  if (rpc.ok()) std::cout << response.config_text();
  return Report(rpc, SocketPath(kAdminSocket));
}

int Explain(const Args&) {
  v1::ExplainRequest request;
  request.set_agent(absl::GetFlag(FLAGS_agent));
  request.set_capability(absl::GetFlag(FLAGS_capability));
  request.set_method(absl::GetFlag(FLAGS_method));
  request.set_path(absl::GetFlag(FLAGS_path));
  v1::ExplainResponse response;
  return Done(Stub()->Explain(Context().get(), request, &response), response);
}

}  // namespace

void AddBrokerCommands(CommandTable* table) {
  table->Add({{"capability", "list"},
              "",
              "list the broker's capabilities",
              ListCapabilities});
  table->Add({{"capability", "create"},
              "FILE",
              "create a Capability given in protobuf text format",
              [](const Args& args) { return WriteCapability(args[0], true); },
              1,
              1});
  table->Add({{"capability", "update"},
              "FILE",
              "replace a Capability given in protobuf text format",
              [](const Args& args) { return WriteCapability(args[0], false); },
              1,
              1});
  table->Add({{"capability", "delete"},
              "NAME",
              "delete a capability (revokes its sessions)",
              DeleteCapability,
              1,
              1});
  table->Add({{"capability", "revoke"},
              "NAME",
              "revoke now; refuse new sessions until lifted",
              RevokeCapability,
              1,
              1});
  table->Add({{"agent", "create"},
              "NAME [--capabilities=A,B] [--uids=U,V]",
              "create an agent; prints its token ONCE",
              CreateAgent,
              1,
              1});
  table->Add({{"agent", "list"}, "", "list agents (never tokens)", ListAgents});
  table->Add(
      {{"agent", "delete"}, "NAME", "delete an agent", DeleteAgent, 1, 1});
  table->Add({{"agent", "revoke"},
              "NAME",
              "revoke the agent's sessions; refuse new ones until lifted",
              RevokeAgent,
              1,
              1});
  table->Add(
      {{"session", "list"}, "[--agent=A]", "list sessions", ListSessions});
  table->Add({{"session", "revoke"},
              "ID",
              "revoke a session now",
              RevokeSession,
              1,
              1});
  table->Add({{"revoke", "all"},
              "",
              "revoke every session; refuse new ones",
              RevokeAll});
  table->Add(
      {{"revocation", "list"}, "", "standing revocations", ListRevocations});
  table->Add({{"revocation", "lift"},
              "agent|capability|all [NAME]",
              "lift a standing revocation",
              LiftRevocation,
              1,
              2});
  table->Add({{"apply"},
              "[--dry_run] FILE",
              "replace the broker configuration from FILE (text format)",
              Apply,
              1,
              1});
  table->Add({{"config", "export"},
              "",
              "print the configuration in force",
              ExportConfig});
  table->Add({{"explain"},
              "--agent=A --capability=C --method=M --path=P",
              "show how the broker would decide a request (executes nothing)",
              Explain});
}

}  // namespace latchkey::ctl
