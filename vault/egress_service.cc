#include "vault/egress_service.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "broker/policy/path_normalizer.h"
#include "common/grpc_status.h"
#include "common/header_policy.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/origin.h"
#include "common/status_macros.h"
#include "vault/auth_scheme.h"
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

}  // namespace

absl::Status ValidateEgressRequest(const v1::VaultExecuteRequest& request) {
  if (!IsMethodToken(request.method())) {
    return absl::InvalidArgumentError(
        "method must be an upper-case HTTP method such as GET");
  }
  // The broker approved a normalized path; the vault sends it only if it is
  // already canonical, so what was checked is byte for byte what is sent.
  absl::StatusOr<std::string> normalized = policy::NormalizePath(request.path());
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
  LK_RETURN_IF_ERROR(CheckAgentHeaders(request.headers()));
  if (request.body().size() > kMaxRequestBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request body exceeds ", kMaxRequestBodyBytes, " bytes"));
  }
  return ParseOrigin(request.origin()).status();
}

absl::StatusOr<v1::VaultExecuteResponse> EgressService::ExecuteChecked(
    const v1::VaultExecuteRequest& request) {
  LK_RETURN_IF_ERROR(ValidateEgressRequest(request));
  LK_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(request.origin()));
  const std::string origin_text = origin.ToString();

  v1::VaultExecuteResponse reply;
  v1::HttpResponse& response = *reply.mutable_response();
  absl::Status status = core_->UseSecret(
      request.secret_id(),
      [&](const v1::SecretMetadata& metadata,
          const SecureBuffer& secret) -> absl::Status {
        // Origin binding: the secret only goes where it was bound to go.
        if (std::find(metadata.origins().begin(), metadata.origins().end(),
                      origin_text) == metadata.origins().end()) {
          return absl::PermissionDeniedError(absl::StrCat(
              "secret '", metadata.id(), "' is not bound to origin ",
              origin_text));
        }
        LK_ASSIGN_OR_RETURN(std::unique_ptr<AuthScheme> scheme,
                            MakeAuthScheme(metadata.auth()));
        OutgoingRequest outgoing;
        outgoing.method = request.method();
        outgoing.origin = origin.scheme + "://" + origin.host + ":" +
                          std::to_string(origin.port);
        outgoing.path = request.path();
        for (const v1::QueryParam& param : request.query()) {
          outgoing.query.emplace_back(param.name(), param.value());
        }
        for (const v1::Header& header : request.headers()) {
          outgoing.headers.emplace_back(header.name(), header.value());
        }
        outgoing.body = request.body();
        ResponseScrubber scrubber;
        LK_RETURN_IF_ERROR(scheme->Apply(secret, &outgoing, &scrubber));
        absl::StatusOr<UpstreamResult> performed =
            client_->Perform(outgoing, request.limits());
        RecordUpstreamCall(performed);
        if (!performed.ok()) {
          // The upstream failed, not the vault: report it in the reply.
          // curl's messages never include the URL or headers.
          reply.set_upstream_error(std::string(performed.status().message()));
          reply.set_upstream_timed_out(performed.status().code() ==
                                       absl::StatusCode::kDeadlineExceeded);
          return absl::OkStatus();
        }
        UpstreamResult& result = *performed;

        // Nothing leaves before it is scrubbed.
        size_t redactions = 0;
        if (result.truncated) {
          redactions += scrubber.ScrubTruncatedTail(&result.body);
        }
        redactions += scrubber.Scrub(&result.body);
        for (auto& [name, value] : result.headers) {
          if (IsDroppedResponseHeader(name)) continue;
          redactions += scrubber.Scrub(&value);
          v1::Header* header = response.add_headers();
          header->set_name(name);
          header->set_value(value);
        }
        response.set_status(result.status);
        response.set_body(std::move(result.body));
        response.set_body_truncated(result.truncated);
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
  LogInfo("egress", {{"request_id", request->request_id()},
                     {"secret_id", request->secret_id()},
                     {"method", request->method()},
                     {"status", absl::StrCat(result->response().status())},
                     {"upstream_error", result->upstream_error()},
                     {"upstream_us",
                      absl::StrCat(result->response().upstream_latency_us())},
                     {"redactions", absl::StrCat(result->response().redactions())}});
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace latchkey::vault
