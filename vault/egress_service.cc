#include "vault/egress_service.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/egress_limits.h"
#include "common/grpc_status.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/origin.h"
#include "common/status_macros.h"
#include "rules/header_policy.h"
#include "rules/path_normalizer.h"
#include "vault/address_guard.h"
#include "vault/auth_scheme.h"
#include "vault/egress_exchange.h"
#include "vault/response_scrubber.h"
#include "vault/vault_metrics.h"

// Secret-bearing buffers during one Execute, and how long each lives:
//  - the decrypted secret: VaultCore::UseSecret's SecureBuffer, alive only
//    while the lambda below runs, zeroized when UseSecret returns.
//  - the credential header / query values built by the AuthScheme:
//    SecureBuffers in `outgoing`, destroyed (zeroized) when the lambda
//    returns.
//  - the scrubber's search forms (raw, base64, hex, percent-encoded):
//    SecureBuffers in `scrubber`, destroyed at the end of the lambda.
//  - UpstreamClient's header lines and URL: std::strings with reserved
//    capacity, cleansed right after the call; the curl_slist copies are
//    cleansed before curl frees them (see upstream_client.cc).
//  - copies we do not control: libcurl's internal copy of the URL for
//    query-parameter auth, and OpenSSL's TLS record buffers; both are
//    freed at the end of the transfer without our zeroization.
// If the vault is sealed while the upstream call runs, UseSecret fails
// with FAILED_PRECONDITION and the response built below is discarded.
namespace latchkey::vault {
namespace {

constexpr char kExecuteMethod[] = "/latchkey.v1.VaultEgress/Execute";

bool IsMethodToken(absl::string_view method) {
  if (method.empty() || method.size() > 32) return false;
  return std::all_of(method.begin(), method.end(), [](char c) {
    return absl::ascii_isupper(static_cast<unsigned char>(c));
  });
}

// CollectingSink is the unary answer: the body collected up to `cap`.
class CollectingSink final : public AnswerSink {
 public:
  explicit CollectingSink(uint64_t cap) : cap_(cap) {}
  bool Body(const UpstreamResult&, absl::string_view data) override {
    if (body.size() + data.size() > cap_) {
      body.append(data.data(), cap_ - body.size());
      truncated = true;
      return false;
    }
    body.append(data.data(), data.size());
    return true;
  }
  std::string body;
  bool truncated = false;

 private:
  const uint64_t cap_;
};

}  // namespace

AuthContext EgressService::MakeAuthContext(const v1::SecretMetadata& metadata,
                                           const v1::EgressLimits& limits) {
  AuthContext context;
  context.tokens = tokens_;
  context.cache_key = absl::StrCat(metadata.id(), "@", metadata.version());
  context.bound_origins.assign(metadata.origins().begin(),
                               metadata.origins().end());
  context.ca_bundle_pem = metadata.ca_bundle_pem();
  // Derived state (a rotated refresh token) of exactly this version.
  VaultCore* core = core_;
  const uint32_t version = metadata.version();
  context.load_state = [core, id = metadata.id(),
                        version](absl::string_view name) {
    return core->LoadDerivedState(id, version, name);
  };
  context.save_state = [core, id = metadata.id(), version](
                           absl::string_view name, const SecureBuffer& value) {
    return core->SaveDerivedState(id, version, name, value);
  };
  UpstreamClient* client = client_;
  context.fetch = [client, limits, internal = metadata.internal_origins()](
                      const OutgoingRequest& token_request)
      -> absl::StatusOr<TokenResponse> {
    v1::EgressLimits token_limits = limits;
    token_limits.set_max_response_bytes(kMaxTokenResponseBytes);
    // The token endpoint gets the same address check and pinning as any
    // upstream: a client secret must not be sent to a rebound name either.
    // A refusal surfaces as UNAVAILABLE, an upstream failure the operator
    // can read, not as a vault fault.
    LK_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(token_request.origin));
    absl::StatusOr<PinnedAddress> pinned =
        ResolveAndCheck(origin, IsInternal(internal, origin.ToString()));
    if (!pinned.ok()) {
      return absl::UnavailableError(
          absl::StrCat("token endpoint refused: ", pinned.status().message()));
    }
    LK_ASSIGN_OR_RETURN(UpstreamResult result,
                        client->Perform(token_request, token_limits, *pinned));
    if (result.truncated) {
      CleanseString(&result.body);
      return absl::UnavailableError("the token endpoint's answer is too long");
    }
    return TokenResponse{result.status, std::move(result.body)};
  };
  return context;
}

absl::Status ValidateEgressRequest(const v1::VaultExecuteRequest& request,
                                   bool streamed) {
  if (!IsMethodToken(request.method())) {
    return absl::InvalidArgumentError(
        "method must be an upper-case HTTP method such as GET");
  }
  // The broker approved a normalized path; the vault sends it only if it is
  // already canonical, so what was checked is byte for byte what is sent.
  absl::StatusOr<std::string> normalized =
      policy::NormalizePath(request.path());
  if (!normalized.ok() || *normalized != request.path()) {
    return absl::InvalidArgumentError(
        "path is not in canonical form; it must come from the broker's "
        "normalizer");
  }
  if (static_cast<size_t>(request.query_size()) > kMaxQueryParams) {
    return absl::InvalidArgumentError("too many query parameters");
  }
  size_t query_bytes = 0;
  for (const v1::QueryParam& param : request.query()) {
    query_bytes += param.name().size() + param.value().size();
    if (param.name().empty()) {
      return absl::InvalidArgumentError("query parameter without a name");
    }
  }
  if (query_bytes > kMaxQueryBytes) {
    return absl::InvalidArgumentError("query string is too long");
  }
  // The same header rules the broker applied, with the capability's own
  // allow-list and range setting: the last check before a byte leaves.
  LK_RETURN_IF_ERROR(
      CheckAgentHeaders(request.headers(), request.rules(), streamed));
  if (request.body().size() > kMaxRequestBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body exceeds ", kMaxRequestBodyBytes, " bytes"));
  }
  return ParseOrigin(request.origin()).status();
}

absl::StatusOr<v1::VaultExecuteResponse> EgressService::ExecuteChecked(
    const v1::VaultExecuteRequest& request) {
  LK_RETURN_IF_ERROR(ValidateEgressRequest(request, /*streamed=*/false));
  // A capability may allow larger bodies for the streaming path; the
  // unary answer stays within its message-sized limits whatever it says.
  const uint64_t max_request = std::min<uint64_t>(
      MaxRequestBytes(request.limits()), kMaxRequestBodyBytes);
  if (request.body().size() > max_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request body exceeds the capability's max_request_bytes (",
        max_request, " bytes)"));
  }
  const uint64_t cap = std::min<uint64_t>(MaxResponseBytes(request.limits()),
                                          kDefaultMaxResponseBytes);

  v1::VaultExecuteResponse reply;
  absl::Status status = core_->UseSecret(
      request.secret_id(),
      [&](const v1::SecretMetadata& metadata,
          const SecureBuffer& secret) -> absl::Status {
        ResponseScrubber scrubber;
        CollectingSink sink(cap);
        UpstreamResult result;
        Exchange exchange;
        exchange.request = &request;
        exchange.sink = &sink;
        exchange.scrubber = &scrubber;
        exchange.reply = &reply;
        exchange.final_hop = &result;
        LK_RETURN_IF_ERROR(
            RunExchange(exchange, metadata, secret,
                        MakeAuthContext(metadata, request.limits()), client_));
        if (!Answered(reply)) return absl::OkStatus();
        // Nothing leaves before it is scrubbed.
        std::string& body = sink.body;
        size_t redactions = 0;
        // libcurl 7.88 accepts a compressed stream that ends early: a
        // decoded body may be cut like a truncated one.
        if (sink.truncated || result.decoded) {
          redactions += scrubber.ScrubTruncatedTail(&body);
        }
        redactions += scrubber.Scrub(&body);
        v1::HttpResponse& response = *reply.mutable_response();
        redactions +=
            AppendAnswerHeaders(result, request.limits(), scrubber,
                                /*streamed=*/false, response.mutable_headers());
        response.set_status(result.status);
        response.set_body(std::move(body));
        response.set_body_truncated(sink.truncated);
        response.set_upstream_latency_us(result.latency_us);
        response.set_redactions(static_cast<uint32_t>(redactions));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return reply;
}

grpc::Status EgressService::Execute(grpc::ServerContext* context,
                                    const v1::VaultExecuteRequest* request,
                                    v1::VaultExecuteResponse* response) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, kExecuteMethod);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  absl::StatusOr<v1::VaultExecuteResponse> result = ExecuteChecked(*request);
  if (!result.ok()) {
    LogWarning("egress_refused", {{"request_id", request->request_id()},
                                  {"secret_id", request->secret_id()},
                                  {"error", result.status().ToString()}});
    return ToGrpcStatus(result.status());
  }
  LogInfo(
      "egress",
      {{"request_id", request->request_id()},
       {"secret_id", request->secret_id()},
       {"method", request->method()},
       {"status", absl::StrCat(result->response().status())},
       {"upstream_error", result->upstream_error()},
       {"refusal", result->refusal_message()},
       {"upstream_us", absl::StrCat(result->response().upstream_latency_us())},
       {"redactions", absl::StrCat(result->response().redactions())}});
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace latchkey::vault
