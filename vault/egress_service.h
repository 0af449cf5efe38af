// EgressService implements latchkey.v1.VaultEgress: the broker asks the
// vault to perform one request with a secret; the vault checks the request
// again, injects the credential, calls the upstream, scrubs the answer.
#ifndef LATCHKEY_VAULT_EGRESS_SERVICE_H_
#define LATCHKEY_VAULT_EGRESS_SERVICE_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "common/peer_guard.h"
#include "proto/vault.grpc.pb.h"
#include "vault/auth_scheme.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"

namespace latchkey::vault {

class EgressService final : public v1::VaultEgress::Service {
 public:
  EgressService(VaultCore* core, UpstreamClient* client, const PeerGuard* guard)
      : core_(core), client_(client), guard_(guard), tokens_(core->tokens()) {}

  grpc::Status Execute(grpc::ServerContext* context,
                       const v1::VaultExecuteRequest* request,
                       v1::VaultExecuteResponse* response) override;

  // ExecuteStream is Execute with the bodies in chunks (egress_stream.cc).
  grpc::Status ExecuteStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::VaultStreamReply, v1::VaultStreamRequest>*
          stream) override;

  // ExecuteChecked is Execute without the peer check, for tests and benches.
  absl::StatusOr<v1::VaultExecuteResponse> ExecuteChecked(
      const v1::VaultExecuteRequest& request);

 private:
  // StreamSummary is what ExecuteStream logs about one call.
  struct StreamSummary {
    v1::VaultExecuteResponse reply;  // redirects, refusal, upstream_error.
    v1::StreamEnd end;
    int status = 0;  // the final answer's HTTP status.
    bool broker_gone = false;
  };
  // ExecuteStreamChecked is ExecuteStream after the peer check and the
  // head: a non-OK status means nothing was sent (the broker maps it like
  // Execute's).
  absl::Status ExecuteStreamChecked(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::VaultStreamReply, v1::VaultStreamRequest>*
          stream,
      v1::VaultExecuteRequest request, std::optional<uint64_t> content_length,
      StreamSummary* summary);

  // MakeAuthContext gives the auth scheme the secret's cache key, bound
  // origins and CA bundle, and token fetching through `client_`.
  AuthContext MakeAuthContext(const v1::SecretMetadata& metadata,
                              const v1::EgressLimits& limits);

  VaultCore* core_;
  UpstreamClient* client_;
  const PeerGuard* guard_;
  TokenCache* tokens_;
};

// ValidateEgressRequest checks everything that does not need the secret:
// method, canonical path, query, headers, body size, origin syntax.
absl::Status ValidateEgressRequest(const v1::VaultExecuteRequest& request,
                                   bool streamed);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_EGRESS_SERVICE_H_
