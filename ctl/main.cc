// latchkeyctl: the operators' command line over the daemons' admin RPCs
// (and nothing else). Secrets and unseal keys are read from stdin, never
// from the command line, where other users could see them.
#include <termios.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/secure_buffer.h"
#include "common/uds_server.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"

ABSL_FLAG(std::string, run_dir, "run", "directory holding the daemons' sockets");
ABSL_FLAG(std::vector<std::string>, origin, {},
          "secret put: origin(s) the secret may be sent to");
ABSL_FLAG(std::vector<std::string>, internal_origin, {},
          "secret put: origin(s) the secret may be sent to even though they "
          "resolve to loopback, private or link-local addresses");
ABSL_FLAG(std::string, description, "", "secret put: description");
ABSL_FLAG(std::string, header, "",
          "secret put: send as this header instead of Authorization: Bearer");
ABSL_FLAG(std::string, header_template, "{secret}",
          "secret put: value template for --header");
ABSL_FLAG(std::string, agent, "", "explain, session list: agent name");
ABSL_FLAG(std::string, capability, "", "explain: capability name");
ABSL_FLAG(std::string, method, "GET", "explain: HTTP method");
ABSL_FLAG(std::string, path, "/", "explain: request path");
ABSL_FLAG(std::vector<std::string>, capabilities, {},
          "agent create: capabilities the new agent may use");
ABSL_FLAG(std::vector<std::string>, uids, {},
          "agent create: the only uids that may present the token");
ABSL_FLAG(bool, dry_run, false, "apply: only show what would change");
ABSL_FLAG(std::string, unseal_method, "shamir",
          "vault init: shamir, passphrase (read from stdin) or "
          "systemd-credential");
ABSL_FLAG(uint32_t, shares, 0,
          "vault init: number of Shamir shares (0: the vault's default, 5)");
ABSL_FLAG(uint32_t, threshold, 0,
          "vault init: shares needed to unseal (0: the vault's default, 3)");
ABSL_FLAG(bool, reset, false, "vault unseal: discard shares submitted so far");

namespace {

constexpr char kUsage[] = R"(latchkeyctl [--run_dir=DIR] COMMAND

Commands:
  status                       vault seal state
  vault init [--shares=N --threshold=K | --unseal_method=passphrase|
             systemd-credential]
                               initialize; prints the unseal shares ONCE
                               (default 3 of 5; a passphrase is read from
                               stdin)
  vault unseal [--reset]       read one share (or the passphrase) from stdin
                               (no echo); prints progress
  vault seal                   zeroize all key material now
  vault rotate                 add a keyring term (old ones keep decrypting)
  secret put ID --origin=URL   read the value from stdin and store it
               [--internal_origin=URL]  an origin on loopback/private
                               addresses (refused unless marked so)
  secret list                  list secrets' metadata (never values)
  secret delete ID             destroy every version of a secret
  capability list              list the broker's capabilities
  capability create|update FILE  a Capability in protobuf text format
  capability delete NAME       delete (revokes its sessions)
  capability revoke NAME       revoke now; refuse new sessions until lifted
  agent create NAME [--capabilities=A,B] [--uids=U,V]
                               prints the agent's token ONCE
  agent list | agent delete NAME | agent revoke NAME
  session list [--agent=A]     list sessions
  session revoke ID            revoke a session now
  revoke all                   revoke every session; refuse new ones
  revocation list              standing revocations
  revocation lift agent|capability|all [NAME]
  apply [--dry_run] FILE       replace the broker configuration from FILE
  config export                print the configuration in force
  explain --agent=A --capability=C --method=M --path=P
  audit query                  print the latest audit records
  audit verify                 verify the audit log's hash chain and HMACs
Exit codes: 0 ok, 1 the daemon refused, 2 usage error, 3 daemon unreachable.)";

int Usage() {
  std::cerr << kUsage << "\n";
  return 2;
}

std::string Socket(const std::string& name) {
  return absl::GetFlag(FLAGS_run_dir) + "/" + name;
}

template <typename Message>
void Print(const Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

int Report(const grpc::Status& status, const std::string& socket) {
  if (status.ok()) return 0;
  std::cerr << "latchkeyctl: " << status.error_message() << "\n";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << "  (is the daemon running and listening on " << socket
              << "?)\n";
    return 3;
  }
  return 1;
}

// ReadSecretFromStdin reads one line (or all of stdin when piped), with
// echo off on a terminal, into secure memory.
latchkey::SecureBuffer ReadSecretFromStdin(const char* prompt) {
  bool tty = isatty(STDIN_FILENO);
  struct termios saved;
  if (tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    struct termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string value;
  std::getline(std::cin, value);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  latchkey::SecureBuffer buffer = latchkey::SecureBuffer::CopyOf(
      absl::StripTrailingAsciiWhitespace(value));
  latchkey::CleanseString(&value);
  return buffer;
}

// ReadTextProto parses a protobuf text-format file, reporting its errors.
template <typename Message>
bool ReadTextProto(const std::string& path, Message* message) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "latchkeyctl: cannot read " << path << "\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), message)) {
    std::cerr << "latchkeyctl: " << path << " is not a valid "
              << Message::descriptor()->name() << " (protobuf text format)\n";
    return false;
  }
  return true;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

int VaultCommand(const std::vector<std::string>& args) {
  std::string socket = Socket("vault.sock");
  auto stub = latchkey::v1::VaultAdmin::NewStub(latchkey::CreateUdsChannel(socket));
  const std::string& verb = args[0];
  if (verb == "status") {
    latchkey::v1::VaultStatus status;
    grpc::Status rpc =
        stub->GetStatus(Context().get(), latchkey::v1::GetStatusRequest(), &status);
    if (rpc.ok()) Print(status);
    return Report(rpc, socket);
  }
  if (args.size() < 2) return Usage();
  const std::string& sub = args[1];
  if (verb == "vault" && sub == "init") {
    latchkey::v1::InitRequest request;
    const std::string method = absl::GetFlag(FLAGS_unseal_method);
    if (method == "shamir") {
      request.set_method(latchkey::v1::UNSEAL_METHOD_SHAMIR);
      request.set_shares(absl::GetFlag(FLAGS_shares));
      request.set_threshold(absl::GetFlag(FLAGS_threshold));
    } else if (method == "passphrase") {
      request.set_method(latchkey::v1::UNSEAL_METHOD_PASSPHRASE);
      latchkey::SecureBuffer passphrase =
          ReadSecretFromStdin("New vault passphrase: ");
      request.set_passphrase(std::string(passphrase.view()));
    } else if (method == "systemd-credential") {
      request.set_method(latchkey::v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL);
    } else {
      return Usage();
    }
    latchkey::v1::InitResponse response;
    grpc::Status rpc = stub->Init(Context().get(), request, &response);
    latchkey::CleanseString(request.mutable_passphrase());
    if (rpc.ok()) {
      // First line: a header; then one unseal key per line (scripts use
      // `tail -n +2`).
      if (method == "shamir") {
        std::cout << "Unseal shares (shown once; give each to a different "
                     "operator; any "
                  << response.status().threshold() << " of "
                  << response.status().shares() << " unseal):\n";
      } else if (method == "passphrase") {
        std::cout << "Initialized; unseal with the passphrase.\n";
      } else {
        std::cout << "Root key for systemd-creds encrypt (shown once):\n";
      }
      for (const std::string& key : response.unseal_keys()) {
        std::cout << key << "\n";
      }
    }
    return Report(rpc, socket);
  }
  if (verb == "vault" && sub == "unseal") {
    latchkey::v1::UnsealRequest request;
    request.set_reset(absl::GetFlag(FLAGS_reset));
    latchkey::v1::VaultStatus current;
    grpc::Status probe = stub->GetStatus(
        Context().get(), latchkey::v1::GetStatusRequest(), &current);
    if (!probe.ok()) return Report(probe, socket);
    if (!request.reset() || !isatty(STDIN_FILENO)) {
      if (current.method() == latchkey::v1::UNSEAL_METHOD_PASSPHRASE) {
        latchkey::SecureBuffer passphrase =
            ReadSecretFromStdin("Vault passphrase: ");
        request.set_passphrase(std::string(passphrase.view()));
      } else {
        latchkey::SecureBuffer key = ReadSecretFromStdin("Unseal share: ");
        request.set_key(std::string(key.view()));
      }
    }
    latchkey::v1::VaultStatus status;
    grpc::Status rpc = stub->Unseal(Context().get(), request, &status);
    latchkey::CleanseString(request.mutable_key());
    latchkey::CleanseString(request.mutable_passphrase());
    if (rpc.ok() && status.sealed() && status.threshold() > 0) {
      std::cerr << status.progress() << " of " << status.threshold()
                << " shares submitted\n";
    }
    if (rpc.ok()) Print(status);
    return Report(rpc, socket);
  }
  if (verb == "vault" && sub == "rotate") {
    latchkey::v1::RotateKeyringResponse response;
    grpc::Status rpc = stub->RotateKeyring(
        Context().get(), latchkey::v1::RotateKeyringRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "vault" && sub == "seal") {
    latchkey::v1::VaultStatus status;
    grpc::Status rpc =
        stub->Seal(Context().get(), latchkey::v1::SealRequest(), &status);
    if (rpc.ok()) Print(status);
    return Report(rpc, socket);
  }
  if (verb == "secret" && sub == "put" && args.size() == 3) {
    latchkey::v1::PutSecretRequest request;
    request.set_id(args[2]);
    request.set_description(absl::GetFlag(FLAGS_description));
    for (const std::string& origin : absl::GetFlag(FLAGS_origin)) {
      request.add_origins(origin);
    }
    for (const std::string& origin : absl::GetFlag(FLAGS_internal_origin)) {
      request.add_internal_origins(origin);
    }
    if (!absl::GetFlag(FLAGS_header).empty()) {
      auto* header = request.mutable_auth()->mutable_header();
      header->set_name(absl::GetFlag(FLAGS_header));
      header->set_value_template(absl::GetFlag(FLAGS_header_template));
    }
    latchkey::SecureBuffer value = ReadSecretFromStdin("Secret value: ");
    request.set_value(std::string(value.view()));
    latchkey::v1::SecretMetadata metadata;
    grpc::Status rpc = stub->PutSecret(Context().get(), request, &metadata);
    latchkey::CleanseString(request.mutable_value());
    if (rpc.ok()) Print(metadata);
    return Report(rpc, socket);
  }
  if (verb == "secret" && sub == "list") {
    latchkey::v1::ListSecretsResponse response;
    grpc::Status rpc = stub->ListSecrets(
        Context().get(), latchkey::v1::ListSecretsRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "secret" && sub == "delete" && args.size() == 3) {
    latchkey::v1::DeleteSecretRequest request;
    request.set_id(args[2]);
    latchkey::v1::DeleteSecretResponse response;
    grpc::Status rpc = stub->DeleteSecret(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  return Usage();
}

int BrokerCommand(const std::vector<std::string>& args) {
  std::string socket = Socket("admin.sock");
  auto stub =
      latchkey::v1::BrokerAdmin::NewStub(latchkey::CreateUdsChannel(socket));
  const std::string& verb = args[0];
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (verb == "capability" && sub == "list") {
    latchkey::v1::ListCapabilitiesResponse response;
    grpc::Status rpc = stub->ListCapabilities(
        Context().get(), latchkey::v1::ListCapabilitiesRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "session" && sub == "list") {
    latchkey::v1::ListSessionsRequest request;
    request.set_agent(absl::GetFlag(FLAGS_agent));
    latchkey::v1::ListSessionsResponse response;
    grpc::Status rpc =
        stub->ListSessions(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "session" && sub == "revoke" && args.size() == 3) {
    latchkey::v1::RevokeSessionRequest request;
    request.set_id(args[2]);
    latchkey::v1::RevokeSessionResponse response;
    grpc::Status rpc = stub->RevokeSession(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "capability" && (sub == "create" || sub == "update") &&
      args.size() == 3) {
    latchkey::v1::Capability capability;
    if (!ReadTextProto(args[2], &capability)) return 2;
    latchkey::v1::Capability response;
    grpc::Status rpc;
    if (sub == "create") {
      latchkey::v1::CreateCapabilityRequest request;
      *request.mutable_capability() = capability;
      rpc = stub->CreateCapability(Context().get(), request, &response);
    } else {
      latchkey::v1::UpdateCapabilityRequest request;
      *request.mutable_capability() = capability;
      rpc = stub->UpdateCapability(Context().get(), request, &response);
    }
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "capability" && sub == "delete" && args.size() == 3) {
    latchkey::v1::DeleteCapabilityRequest request;
    request.set_name(args[2]);
    latchkey::v1::DeleteCapabilityResponse response;
    grpc::Status rpc =
        stub->DeleteCapability(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "capability" && sub == "revoke" && args.size() == 3) {
    latchkey::v1::RevokeCapabilityRequest request;
    request.set_name(args[2]);
    latchkey::v1::RevokeResponse response;
    grpc::Status rpc =
        stub->RevokeCapability(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "agent" && sub == "create" && args.size() == 3) {
    latchkey::v1::CreateAgentRequest request;
    request.set_name(args[2]);
    for (const std::string& name : absl::GetFlag(FLAGS_capabilities)) {
      request.add_capabilities(name);
    }
    for (const std::string& uid : absl::GetFlag(FLAGS_uids)) {
      uint32_t value = 0;
      if (!absl::SimpleAtoi(uid, &value)) {
        std::cerr << "latchkeyctl: --uids takes numeric uids\n";
        return 2;
      }
      request.add_uids(value);
    }
    latchkey::v1::CreateAgentResponse response;
    grpc::Status rpc = stub->CreateAgent(Context().get(), request, &response);
    if (rpc.ok()) {
      Print(response.agent());
      std::cout << "\nAgent token (shown once; give it to the agent as "
                   "LATCHKEY_AGENT_TOKEN):\n"
                << response.token() << "\n";
      latchkey::CleanseString(response.mutable_token());
    }
    return Report(rpc, socket);
  }
  if (verb == "agent" && sub == "list") {
    latchkey::v1::ListAgentsResponse response;
    grpc::Status rpc = stub->ListAgents(
        Context().get(), latchkey::v1::ListAgentsRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "agent" && sub == "delete" && args.size() == 3) {
    latchkey::v1::DeleteAgentRequest request;
    request.set_name(args[2]);
    latchkey::v1::DeleteAgentResponse response;
    grpc::Status rpc = stub->DeleteAgent(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "agent" && sub == "revoke" && args.size() == 3) {
    latchkey::v1::RevokeAgentRequest request;
    request.set_name(args[2]);
    latchkey::v1::RevokeResponse response;
    grpc::Status rpc = stub->RevokeAgent(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "revoke" && sub == "all" && args.size() == 2) {
    latchkey::v1::RevokeResponse response;
    grpc::Status rpc = stub->RevokeAll(
        Context().get(), latchkey::v1::RevokeAllRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "revocation" && sub == "list") {
    latchkey::v1::ListRevocationsResponse response;
    grpc::Status rpc = stub->ListRevocations(
        Context().get(), latchkey::v1::ListRevocationsRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "revocation" && sub == "lift" && args.size() >= 3) {
    latchkey::v1::LiftRevocationRequest request;
    const std::string& kind = args[2];
    if (kind == "agent" && args.size() == 4) {
      request.set_kind(latchkey::v1::Revocation::AGENT);
      request.set_name(args[3]);
    } else if (kind == "capability" && args.size() == 4) {
      request.set_kind(latchkey::v1::Revocation::CAPABILITY);
      request.set_name(args[3]);
    } else if (kind == "all" && args.size() == 3) {
      request.set_kind(latchkey::v1::Revocation::ALL);
    } else {
      return Usage();
    }
    latchkey::v1::LiftRevocationResponse response;
    grpc::Status rpc =
        stub->LiftRevocation(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "apply" && args.size() == 2) {
    std::ifstream in(args[1]);
    if (!in) {
      std::cerr << "latchkeyctl: cannot read " << args[1] << "\n";
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    latchkey::v1::ApplyRequest request;
    request.set_config_text(text.str());
    request.set_dry_run(absl::GetFlag(FLAGS_dry_run));
    latchkey::v1::ApplyResponse response;
    grpc::Status rpc = stub->Apply(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (verb == "config" && sub == "export") {
    latchkey::v1::GetConfigResponse response;
    grpc::Status rpc = stub->GetConfig(
        Context().get(), latchkey::v1::GetConfigRequest(), &response);
    if (rpc.ok()) std::cout << response.config_text();
    return Report(rpc, socket);
  }
  if (verb == "explain") {
    latchkey::v1::ExplainRequest request;
    request.set_agent(absl::GetFlag(FLAGS_agent));
    request.set_capability(absl::GetFlag(FLAGS_capability));
    request.set_method(absl::GetFlag(FLAGS_method));
    request.set_path(absl::GetFlag(FLAGS_path));
    latchkey::v1::ExplainResponse response;
    grpc::Status rpc = stub->Explain(Context().get(), request, &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  return Usage();
}

int AuditCommand(const std::vector<std::string>& args) {
  std::string socket = Socket("audit.sock");
  auto stub =
      latchkey::v1::AuditAdmin::NewStub(latchkey::CreateUdsChannel(socket));
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (sub == "query") {
    latchkey::v1::QueryResponse response;
    grpc::Status rpc =
        stub->Query(Context().get(), latchkey::v1::QueryRequest(), &response);
    if (rpc.ok()) Print(response);
    return Report(rpc, socket);
  }
  if (sub == "verify") {
    latchkey::v1::VerifyResponse response;
    grpc::Status rpc =
        stub->Verify(Context().get(), latchkey::v1::VerifyRequest(), &response);
    if (rpc.ok()) Print(response);
    if (rpc.ok() && !response.ok()) return 1;
    return Report(rpc, socket);
  }
  return Usage();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty()) return Usage();
  const std::string& verb = args[0];
  if (verb == "status" || verb == "vault" || verb == "secret") {
    return VaultCommand(args);
  }
  if (verb == "capability" || verb == "session" || verb == "explain" ||
      verb == "agent" || verb == "revoke" || verb == "revocation" ||
      verb == "apply" || verb == "config") {
    return BrokerCommand(args);
  }
  if (verb == "audit") return AuditCommand(args);
  return Usage();
}
