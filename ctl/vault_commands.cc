#include "ctl/vault_commands.h"

#include <unistd.h>

#include "absl/flags/flag.h"
#include "common/uds_server.h"
#include "ctl/auth_flags.h"
#include "ctl/ctl_util.h"
#include "proto/vault.grpc.pb.h"

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
ABSL_FLAG(std::string, unseal_method, "shamir",
          "vault init: shamir, passphrase (read from stdin) or "
          "systemd-credential");
ABSL_FLAG(uint32_t, shares, 0,
          "vault init: number of Shamir shares (0: the vault's default, 5)");
ABSL_FLAG(uint32_t, threshold, 0,
          "vault init: shares needed to unseal (0: the vault's default, 3)");
ABSL_FLAG(bool, reset, false, "vault unseal: discard shares submitted so far");

namespace latchkey::ctl {
namespace {

using v1::VaultAdmin;

constexpr char kVaultSocket[] = "vault.sock";

std::unique_ptr<VaultAdmin::Stub> Stub() {
  return VaultAdmin::NewStub(CreateUdsChannel(SocketPath(kVaultSocket)));
}

// Done prints a successful reply (table or --json) and maps the status to an
// exit code.
int Done(const grpc::Status& rpc, const google::protobuf::Message& reply) {
  if (rpc.ok()) PrintReply(reply);
  return Report(rpc, SocketPath(kVaultSocket));
}

int Status(const Args&) {
  v1::VaultStatus status;
  return Done(
      Stub()->GetStatus(Context().get(), v1::GetStatusRequest(), &status),
      status);
}

int Init(const Args&) {
  v1::InitRequest request;
  const std::string method = absl::GetFlag(FLAGS_unseal_method);
  if (method == "shamir") {
    request.set_method(v1::UNSEAL_METHOD_SHAMIR);
    request.set_shares(absl::GetFlag(FLAGS_shares));
    request.set_threshold(absl::GetFlag(FLAGS_threshold));
  } else if (method == "passphrase") {
    request.set_method(v1::UNSEAL_METHOD_PASSPHRASE);
    SecureBuffer passphrase = ReadSecretFromStdin("New vault passphrase: ");
    request.set_passphrase(std::string(passphrase.view()));
  } else if (method == "systemd-credential") {
    request.set_method(v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL);
  } else {
    return UsageError(
        "--unseal_method must be shamir, passphrase or "
        "systemd-credential");
  }
  v1::InitResponse response;
  grpc::Status rpc = Stub()->Init(Context().get(), request, &response);
  CleanseString(request.mutable_passphrase());
  if (rpc.ok()) {
    // First line: a header; then one unseal key per line (scripts use
    // `tail -n +2`, or --json).
    if (JsonOutput()) {
      PrintReply(response);
    } else if (method == "shamir") {
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
      if (!JsonOutput()) std::cout << key << "\n";
    }
    for (std::string& key : *response.mutable_unseal_keys()) {
      CleanseString(&key);
    }
  }
  return Report(rpc, SocketPath(kVaultSocket));
}

int Unseal(const Args&) {
  auto stub = Stub();
  v1::UnsealRequest request;
  request.set_reset(absl::GetFlag(FLAGS_reset));
  v1::VaultStatus current;
  grpc::Status probe =
      stub->GetStatus(Context().get(), v1::GetStatusRequest(), &current);
  if (!probe.ok()) return Report(probe, SocketPath(kVaultSocket));
  if (!request.reset() || !isatty(STDIN_FILENO)) {
    if (current.method() == v1::UNSEAL_METHOD_PASSPHRASE) {
      SecureBuffer passphrase = ReadSecretFromStdin("Vault passphrase: ");
      request.set_passphrase(std::string(passphrase.view()));
    } else {
      SecureBuffer key = ReadSecretFromStdin("Unseal share: ");
      request.set_key(std::string(key.view()));
    }
  }
  v1::VaultStatus status;
  grpc::Status rpc = stub->Unseal(Context().get(), request, &status);
  CleanseString(request.mutable_key());
  CleanseString(request.mutable_passphrase());
  if (rpc.ok() && status.sealed() && status.threshold() > 0) {
    std::cerr << status.progress() << " of " << status.threshold()
              << " shares submitted\n";
  }
  return Done(rpc, status);
}

int Rotate(const Args&) {
  v1::RotateKeyringResponse response;
  return Done(Stub()->RotateKeyring(Context().get(), v1::RotateKeyringRequest(),
                                    &response),
              response);
}

int Seal(const Args&) {
  v1::VaultStatus status;
  return Done(Stub()->Seal(Context().get(), v1::SealRequest(), &status),
              status);
}

int PutSecret(const Args& args) {
  v1::PutSecretRequest request;
  request.set_id(args[0]);
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
  if (absl::Status auth = ApplyAuthFlags(&request); !auth.ok()) {
    return UsageError(std::string(auth.message()));
  }
  SecureBuffer value = ReadSecretFromStdin("Secret value: ");
  request.set_value(std::string(value.view()));
  v1::SecretMetadata metadata;
  grpc::Status rpc = Stub()->PutSecret(Context().get(), request, &metadata);
  CleanseString(request.mutable_value());
  return Done(rpc, metadata);
}

int ListSecrets(const Args&) {
  v1::ListSecretsResponse response;
  return Done(
      Stub()->ListSecrets(Context().get(), v1::ListSecretsRequest(), &response),
      response);
}

int DeleteSecret(const Args& args) {
  v1::DeleteSecretRequest request;
  request.set_id(args[0]);
  v1::DeleteSecretResponse response;
  return Done(Stub()->DeleteSecret(Context().get(), request, &response),
              response);
}

}  // namespace

void AddVaultCommands(CommandTable* table) {
  table->Add({{"vault", "status"}, "", "vault seal state", Status});
  table->Add({{"vault", "init"},
              "[--shares=N --threshold=K | --unseal_method=passphrase|"
              "systemd-credential]",
              "initialize; prints the unseal shares ONCE (default 3 of 5; a "
              "passphrase is read from stdin)",
              Init});
  table->Add({{"vault", "unseal"},
              "[--reset]",
              "read one share (or the passphrase) from stdin (no echo); "
              "prints progress",
              Unseal});
  table->Add({{"vault", "seal"}, "", "zeroize all key material now", Seal});
  table->Add({{"vault", "rotate"},
              "",
              "add a keyring term (old ones keep decrypting)",
              Rotate});
  table->Add({{"secret", "put"},
              "ID --origin=URL [--internal_origin=URL] "
              "[--header=NAME --header_template=T] "
              "[--auth=SCHEME --auth_config='field=value;...'] "
              "[--secret_field=F --secret_header=NAME=FIELD] "
              "[--ca_bundle=FILE]",
              "read the value from stdin (no echo) and store it; --auth signs "
              "or exchanges it instead of Bearer (README \"Auth schemes\")",
              PutSecret,
              1,
              1});
  table->Add({{"secret", "list"},
              "",
              "list secrets' metadata (never values)",
              ListSecrets});
  table->Add({{"secret", "delete"},
              "ID",
              "destroy every version of a secret",
              DeleteSecret,
              1,
              1});
}

}  // namespace latchkey::ctl
