// latchkeyctl: the operators' command line over the daemons' admin RPCs
// (and nothing else). Secrets and unseal keys are read from stdin, never
// from the command line, where other users could see them.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/secure_buffer.h"
#include "common/uds_server.h"
#include "google/protobuf/util/json_util.h"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"

ABSL_FLAG(std::string, run_dir, "run", "directory holding the daemons' sockets");
ABSL_FLAG(std::vector<std::string>, origin, {},
          "secret put: origin(s) the secret may be sent to");
ABSL_FLAG(std::string, description, "", "secret put: description");
ABSL_FLAG(std::string, header, "",
          "secret put: send as this header instead of Authorization: Bearer");
ABSL_FLAG(std::string, header_template, "{secret}",
          "secret put: value template for --header");
ABSL_FLAG(std::string, agent, "", "explain: agent name");
ABSL_FLAG(std::string, capability, "", "explain: capability name");
ABSL_FLAG(std::string, method, "GET", "explain: HTTP method");
ABSL_FLAG(std::string, path, "/", "explain: request path");

namespace {

constexpr char kUsage[] = R"(latchkeyctl [--run_dir=DIR] COMMAND

Commands:
  status                       vault seal state
  vault init                   initialize; prints the unseal key ONCE
  vault unseal                 read the unseal key from stdin (no echo)
  vault seal                   zeroize all key material now
  secret put ID --origin=URL   read the value from stdin and store it
  secret list                  list secrets' metadata (never values)
  secret delete ID             destroy every version of a secret
  capability list              list the broker's capabilities
  session list                 list open sessions
  session revoke ID            revoke a session now
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
    latchkey::v1::InitResponse response;
    grpc::Status rpc =
        stub->Init(Context().get(), latchkey::v1::InitRequest(), &response);
    if (rpc.ok()) {
      std::cout << "Unseal key (shown once; store it safely):\n";
      for (const std::string& key : response.unseal_keys()) {
        std::cout << key << "\n";
      }
    }
    return Report(rpc, socket);
  }
  if (verb == "vault" && sub == "unseal") {
    latchkey::SecureBuffer key = ReadSecretFromStdin("Unseal key: ");
    latchkey::v1::UnsealRequest request;
    request.set_key(std::string(key.view()));
    latchkey::v1::VaultStatus status;
    grpc::Status rpc = stub->Unseal(Context().get(), request, &status);
    latchkey::CleanseString(request.mutable_key());
    if (rpc.ok()) Print(status);
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
    latchkey::v1::ListSessionsResponse response;
    grpc::Status rpc = stub->ListSessions(
        Context().get(), latchkey::v1::ListSessionsRequest(), &response);
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
  if (verb == "capability" || verb == "session" || verb == "explain") {
    return BrokerCommand(args);
  }
  if (verb == "audit") return AuditCommand(args);
  return Usage();
}
