#include "vault/egress_service.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/policy/path_normalizer.h"
#include "common/grpc_status.h"
#include "common/header_policy.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/origin.h"
#include "common/status_macros.h"
#include "vault/address_guard.h"
#include "vault/auth_scheme.h"
#include "vault/redirect_target.h"
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

// PassesResponseHeader: the capability explicitly lets the agent see this
// otherwise dropped header (for example Set-Cookie). Its value is still
// scrubbed.
bool PassesResponseHeader(absl::string_view name,
                          const v1::EgressLimits& limits) {
  for (const std::string& allowed : limits.pass_response_headers()) {
    if (absl::EqualsIgnoreCase(allowed, name)) return true;
  }
  return false;
}

bool IsMethodToken(absl::string_view method) {
  if (method.empty() || method.size() > 32) return false;
  return std::all_of(method.begin(), method.end(), [](char c) {
    return absl::ascii_isupper(static_cast<unsigned char>(c));
  });
}

// IsInternal: `origin` (canonical) is among the secret's internal origins.
bool IsInternal(const google::protobuf::RepeatedPtrField<std::string>& internal,
                const std::string& origin) {
  return std::find(internal.begin(), internal.end(), origin) != internal.end();
}

}  // namespace

AuthContext EgressService::MakeAuthContext(const v1::SecretMetadata& metadata,
                                           const v1::EgressLimits& limits) {
  AuthContext context;
  context.tokens = tokens_;
  context.cache_key = absl::StrCat(metadata.id(), "@", metadata.version());
  context.bound_origins.assign(metadata.origins().begin(),
                               metadata.origins().end());
  context.ca_bundle_pem = metadata.ca_bundle_pem();
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

absl::Status ValidateEgressRequest(const v1::VaultExecuteRequest& request) {
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
  LK_RETURN_IF_ERROR(CheckAgentHeaders(request.headers()));
  if (request.body().size() > kMaxRequestBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body exceeds ", kMaxRequestBodyBytes, " bytes"));
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
          return absl::PermissionDeniedError(
              absl::StrCat("secret '", metadata.id(),
                           "' is not bound to origin ", origin_text));
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
        outgoing.ca_bundle_pem = metadata.ca_bundle_pem();
        ResponseScrubber scrubber;
        AuthContext auth_context = MakeAuthContext(metadata, request.limits());
        // The agent's own headers, kept so that every redirect hop is
        // signed afresh (HMAC, SigV4 and OAuth1 sign the path and query).
        const std::vector<std::pair<std::string, std::string>> agent_headers =
            outgoing.headers;
        // Sign puts the credential on `outgoing`; a value means stop and
        // return it. A token endpoint (OAuth2, GitHub) that failed is an
        // upstream failure, reported like one: its message names the HTTP
        // status and OAuth error code only, never a credential.
        auto sign = [&]() -> std::optional<absl::Status> {
          absl::Status applied =
              scheme->Apply(secret, auth_context, &outgoing, &scrubber);
          if (applied.code() == absl::StatusCode::kUnavailable) {
            reply.set_upstream_error(std::string(applied.message()));
            return absl::OkStatus();
          }
          if (!applied.ok()) return applied;
          return std::nullopt;
        };
        if (std::optional<absl::Status> stop = sign()) return *stop;
        const bool internal =
            IsInternal(metadata.internal_origins(), origin_text);
        // A refusal the agent should see as such (not as a vault failure).
        // Messages may quote what the upstream sent (a Location), so they
        // are scrubbed like everything else that leaves.
        auto refuse = [&](v1::ReasonCode code, absl::string_view message) {
          std::string text(message);
          scrubber.Scrub(&text);
          reply.clear_response();
          reply.set_refusal_code(code);
          reply.set_refusal_message(text);
          return absl::OkStatus();
        };
        auto upstream_failed = [&](const absl::Status& failure) {
          // The upstream failed, not the vault: report it in the reply.
          // curl's messages never include the URL or headers.
          reply.set_upstream_error(std::string(failure.message()));
          reply.set_upstream_timed_out(failure.code() ==
                                       absl::StatusCode::kDeadlineExceeded);
          return absl::OkStatus();
        };
        const int max_redirects =
            std::min<int>(static_cast<int>(request.limits().max_redirects()),
                          kMaxRedirectsCap);
        absl::StatusOr<UpstreamResult> performed;
        for (int hop = 0;; ++hop) {
          // Resolve, check and pin on every hop: a redirect (or a DNS
          // answer that changed since the last hop) is checked afresh.
          absl::StatusOr<PinnedAddress> pinned =
              ResolveAndCheck(origin, internal);
          if (!pinned.ok()) {
            if (pinned.status().code() == absl::StatusCode::kPermissionDenied) {
              return refuse(v1::REASON_ADDRESS_REFUSED,
                            pinned.status().message());
            }
            return upstream_failed(pinned.status());
          }
          performed = client_->Perform(outgoing, request.limits(), *pinned);
          RecordUpstreamCall(performed);
          if (!performed.ok()) {
            if (performed.status().code() ==
                absl::StatusCode::kPermissionDenied) {
              return refuse(v1::REASON_ADDRESS_REFUSED,
                            performed.status().message());
            }
            return upstream_failed(performed.status());
          }
          bool has_location = false;
          for (const auto& header : performed->headers) {
            has_location = has_location ||
                           absl::EqualsIgnoreCase(header.first, "location");
          }
          if (max_redirects == 0 || !IsRedirectStatus(performed->status) ||
              !has_location) {
            break;
          }
          if (hop >= max_redirects) {
            return refuse(v1::REASON_REDIRECT_REFUSED,
                          absl::StrCat("the upstream redirected more than ",
                                       max_redirects,
                                       " times (the capability's "
                                       "max_redirects)"));
          }
          absl::StatusOr<RedirectTarget> target =
              ParseRedirectTarget(performed->redirect_url, origin);
          if (!target.ok()) {
            return refuse(v1::REASON_REDIRECT_REFUSED,
                          target.status().message());
          }
          // 303 always, and 301/302 after a POST, continue as a GET
          // without a body (what browsers and curl do); 307/308 repeat
          // the request as it was.
          if (performed->status == 303 ||
              (performed->status != 307 && performed->status != 308 &&
               outgoing.method == "POST")) {
            outgoing.method = "GET";
            outgoing.body.clear();
          }
          outgoing.path = target->path;
          outgoing.query.clear();
          for (auto& [name, value] : target->query) {
            // The credential's own parameters are added by the scheme.
            bool credential = false;
            for (const auto& cq : outgoing.credential_query) {
              credential = credential || cq.first == name;
            }
            if (!credential) outgoing.query.emplace_back(name, value);
          }
          // Sign the hop as a request of its own: a signature over the
          // first hop's path would be refused by the upstream.
          outgoing.headers = agent_headers;
          outgoing.credential_headers.clear();
          outgoing.credential_query.clear();
          if (std::optional<absl::Status> stop = sign()) return *stop;
          // "METHOD /path": the broker checks each hop against the
          // capability's rules before the answer reaches the agent.
          std::string hop_text = outgoing.method + " " + outgoing.path;
          scrubber.Scrub(&hop_text);
          reply.add_redirects(hop_text);
        }
        UpstreamResult& result = *performed;

        // Nothing leaves before it is scrubbed.
        size_t redactions = 0;
        if (result.truncated) {
          redactions += scrubber.ScrubTruncatedTail(&result.body);
        }
        redactions += scrubber.Scrub(&result.body);
        for (auto& [name, value] : result.headers) {
          if (IsDroppedResponseHeader(name) &&
              !PassesResponseHeader(name, request.limits())) {
            continue;
          }
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
