// RunExchange is one upstream exchange with a secret, every hop of it:
// origin binding, signing, the address check and pinning, same-origin
// redirects. Execute and ExecuteStream both run it; they differ only in
// where the request body comes from (request.body or an UploadSource) and
// where the final answer's body goes (an AnswerSink that collects it or
// one that streams it on).
#ifndef LATCHKEY_VAULT_EGRESS_EXCHANGE_H_
#define LATCHKEY_VAULT_EGRESS_EXCHANGE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"
#include "vault/response_scrubber.h"
#include "vault/upstream_client.h"

namespace latchkey::vault {

class AnswerSink {
 public:
  virtual ~AnswerSink() = default;
  // Body receives the final answer's body as it arrives, unscrubbed;
  // `hop` holds its status and headers. Bodies of redirects that are
  // followed never reach it. Returning false stops the transfer (the sink
  // knows why: its cap, its client gone, the vault sealed).
  virtual bool Body(const UpstreamResult& hop, absl::string_view data) = 0;
};

struct Exchange {
  // request is validated; its body is empty when `upload` is set.
  const v1::VaultExecuteRequest* request = nullptr;
  // upload streams a body too large to hold in memory.
  UploadSource* upload = nullptr;
  AnswerSink* sink = nullptr;
  // scrubber receives every credential form as each hop is signed.
  ResponseScrubber* scrubber = nullptr;
  // reply gets the redirects followed, or a refusal / upstream_error.
  v1::VaultExecuteResponse* reply = nullptr;
  // final_hop gets the final answer's status, headers and latency (its
  // body went to `sink`).
  UpstreamResult* final_hop = nullptr;
  // proceed, when set, can stop a transfer in flight (the broker gone,
  // the vault sealed); its error is RunExchange's result.
  std::function<absl::Status()> proceed;
};

// RunExchange runs inside VaultCore::UseSecret. OK means *reply holds a
// refusal or an upstream_error, or else *final_hop holds the answer
// (Answered). An error status refuses the request itself (origin not bound
// PERMISSION_DENIED, bad request INVALID_ARGUMENT).
absl::Status RunExchange(const Exchange& exchange,
                         const v1::SecretMetadata& metadata,
                         const SecureBuffer& secret,
                         const AuthContext& auth_context,
                         UpstreamClient* client);

// Answered: the exchange reached an answer (no refusal, no upstream error).
bool Answered(const v1::VaultExecuteResponse& reply);

// AppendAnswerHeaders filters the upstream's headers (credential-bearing
// ones are dropped unless the capability passes them) and scrubs the rest
// into `out`; `streamed` also drops Content-Length and Transfer-Encoding
// (scrubbing changes the length; the stream frames the body).
// Content-Encoding is always dropped (the body passed on is decoded), and
// so is Content-Length when the answer was decoded. Returns how many
// redactions it made.
size_t AppendAnswerHeaders(const UpstreamResult& hop,
                           const v1::EgressLimits& limits,
                           const ResponseScrubber& scrubber, bool streamed,
                           google::protobuf::RepeatedPtrField<v1::Header>* out);

// IsInternal: `origin` (canonical) is among the secret's internal origins.
bool IsInternal(const google::protobuf::RepeatedPtrField<std::string>& internal,
                const std::string& origin);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_EGRESS_EXCHANGE_H_
