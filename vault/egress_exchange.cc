#include "vault/egress_exchange.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/origin.h"
#include "common/status_macros.h"
#include "rules/header_policy.h"
#include "vault/address_guard.h"
#include "vault/redirect_rules.h"
#include "vault/redirect_target.h"
#include "vault/vault_metrics.h"

namespace latchkey::vault {
namespace {

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

bool HasLocation(const UpstreamResult& hop) {
  for (const auto& header : hop.headers) {
    if (absl::EqualsIgnoreCase(header.first, "location")) return true;
  }
  return false;
}

// FollowsRedirect: `hop` is a redirect the vault acts on rather than an
// answer. Its body is never passed on, whatever is decided next.
bool FollowsRedirect(const UpstreamResult& hop, int max_redirects) {
  return max_redirects != 0 && IsRedirectStatus(hop.status) && HasLocation(hop);
}

// SchemeName is the configured scheme's field name ("hmac", "aws_sigv4").
std::string SchemeName(const v1::AuthScheme& auth) {
  const google::protobuf::OneofDescriptor* oneof =
      auth.GetDescriptor()->FindOneofByName("scheme");
  const google::protobuf::FieldDescriptor* field =
      oneof == nullptr
          ? nullptr
          : auth.GetReflection()->GetOneofFieldDescriptor(auth, oneof);
  return field == nullptr ? "configured" : field->name();
}

}  // namespace

bool IsInternal(const google::protobuf::RepeatedPtrField<std::string>& internal,
                const std::string& origin) {
  return std::find(internal.begin(), internal.end(), origin) != internal.end();
}

bool Answered(const v1::VaultExecuteResponse& reply) {
  return reply.upstream_error().empty() &&
         reply.refusal_code() == v1::REASON_UNSPECIFIED;
}

size_t AppendAnswerHeaders(
    const UpstreamResult& hop, const v1::EgressLimits& limits,
    const ResponseScrubber& scrubber, bool streamed,
    google::protobuf::RepeatedPtrField<v1::Header>* out) {
  size_t redactions = 0;
  for (const auto& [name, raw_value] : hop.headers) {
    if (IsDroppedResponseHeader(name) && !PassesResponseHeader(name, limits)) {
      continue;
    }
    // The body passed on is never encoded (curl decoded it, or the call
    // was refused), so no header may say it is; the upstream's length
    // was the encoded one.
    if (absl::EqualsIgnoreCase(name, "content-encoding") ||
        (hop.decoded && absl::EqualsIgnoreCase(name, "content-length"))) {
      continue;
    }
    if (streamed && (absl::EqualsIgnoreCase(name, "content-length") ||
                     absl::EqualsIgnoreCase(name, "transfer-encoding"))) {
      continue;
    }
    std::string value = raw_value;
    redactions += scrubber.Scrub(&value);
    v1::Header* header = out->Add();
    header->set_name(name);
    header->set_value(std::move(value));
  }
  return redactions;
}

absl::Status RunExchange(const Exchange& exchange,
                         const v1::SecretMetadata& metadata,
                         const SecureBuffer& secret,
                         const AuthContext& auth_context,
                         UpstreamClient* client) {
  const v1::VaultExecuteRequest& request = *exchange.request;
  v1::VaultExecuteResponse& reply = *exchange.reply;
  ResponseScrubber& scrubber = *exchange.scrubber;
  LK_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(request.origin()));
  const std::string origin_text = origin.ToString();
  // Origin binding: the secret only goes where it was bound to go.
  if (std::find(metadata.origins().begin(), metadata.origins().end(),
                origin_text) == metadata.origins().end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "secret '", metadata.id(), "' is not bound to origin ", origin_text));
  }
  LK_ASSIGN_OR_RETURN(std::unique_ptr<AuthScheme> scheme,
                      MakeAuthScheme(metadata.auth()));
  OutgoingRequest outgoing;
  outgoing.method = request.method();
  outgoing.origin =
      origin.scheme + "://" + origin.host + ":" + std::to_string(origin.port);
  outgoing.path = request.path();
  for (const v1::QueryParam& param : request.query()) {
    outgoing.query.emplace_back(param.name(), param.value());
  }
  for (const v1::Header& header : request.headers()) {
    outgoing.headers.emplace_back(header.name(), header.value());
  }
  // The vault, not the agent, chooses the encoding: signed as sent.
  SetAcceptEncoding(&outgoing.headers);
  outgoing.body = request.body();
  outgoing.ca_bundle_pem = metadata.ca_bundle_pem();
  UploadSource* upload = exchange.upload;
  if (upload != nullptr && scheme->SignsBody(outgoing)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", SchemeName(metadata.auth()),
        " auth scheme signs the request body, so the body must be at most ",
        kMaxRequestBodyBytes,
        " bytes (8 MiB) to be held in memory and signed; send a smaller "
        "body or use a scheme that does not sign it"));
  }
  // The agent's own headers, kept so that every redirect hop is
  // signed afresh (HMAC, SigV4 and OAuth1 sign the path and query).
  const std::vector<std::pair<std::string, std::string>> agent_headers =
      outgoing.headers;
  // Sign puts the credential on `outgoing`; a value means stop and
  // return it. A token endpoint (OAuth2, GitHub) that failed is an
  // upstream failure, reported like one: its message names the HTTP
  // status and OAuth error code only, never a credential.
  auto sign = [&]() -> std::optional<absl::Status> {
    // Stated before signing (SigV4 signs it) and again after: a scheme
    // may add to the body (Kraken's nonce), and a stale length would
    // desynchronize the connection.
    SetContentLength(upload, &outgoing);
    absl::Status applied =
        scheme->Apply(secret, auth_context, &outgoing, &scrubber);
    SetContentLength(upload, &outgoing);
    if (applied.code() == absl::StatusCode::kUnavailable) {
      reply.set_upstream_error(std::string(applied.message()));
      return absl::OkStatus();
    }
    if (!applied.ok()) return applied;
    return std::nullopt;
  };
  if (std::optional<absl::Status> stop = sign()) return *stop;
  const bool internal = IsInternal(metadata.internal_origins(), origin_text);
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
  const int max_redirects = std::min<int>(
      static_cast<int>(request.limits().max_redirects()), kMaxRedirectsCap);
  RedirectRules hop_rules(request.rules());
  // Only the final answer's body reaches the sink.
  const BodySink body_sink = [&](const UpstreamResult& so_far,
                                 absl::string_view data) {
    if (FollowsRedirect(so_far, max_redirects)) return true;
    return exchange.sink->Body(so_far, data);
  };
  absl::StatusOr<UpstreamResult> performed;
  for (int hop = 0;; ++hop) {
    // Resolve, check and pin on every hop: a redirect (or a DNS
    // answer that changed since the last hop) is checked afresh.
    absl::StatusOr<PinnedAddress> pinned = ResolveAndCheck(origin, internal);
    if (!pinned.ok()) {
      if (pinned.status().code() == absl::StatusCode::kPermissionDenied) {
        return refuse(v1::REASON_ADDRESS_REFUSED, pinned.status().message());
      }
      return upstream_failed(pinned.status());
    }
    performed = client->PerformStreaming(outgoing, request.limits(), *pinned,
                                         upload, body_sink, exchange.proceed);
    RecordUpstreamCall(performed);
    if (!performed.ok()) {
      // The body source's own failure (a body longer than announced) and
      // a stop asked by the caller (the broker gone, the vault sealed) are
      // not the upstream's; curl's own failures never carry these codes.
      const absl::StatusCode code = performed.status().code();
      if ((upload != nullptr && code == absl::StatusCode::kInvalidArgument) ||
          code == absl::StatusCode::kCancelled ||
          code == absl::StatusCode::kFailedPrecondition) {
        return performed.status();
      }
      if (performed.status().code() == absl::StatusCode::kPermissionDenied) {
        return refuse(v1::REASON_ADDRESS_REFUSED, performed.status().message());
      }
      return upstream_failed(performed.status());
    }
    if (!FollowsRedirect(*performed, max_redirects)) break;
    if (hop >= max_redirects) {
      return refuse(
          v1::REASON_REDIRECT_REFUSED,
          absl::StrCat("the upstream redirected more than ", max_redirects,
                       " times (the capability's max_redirects)"));
    }
    absl::StatusOr<RedirectTarget> target =
        ParseRedirectTarget(performed->redirect_url, origin);
    if (!target.ok()) {
      return refuse(v1::REASON_REDIRECT_REFUSED, target.status().message());
    }
    // 303 always, and 301/302 after a POST, continue as a GET
    // without a body (what browsers and curl do); 307/308 repeat
    // the request as it was.
    const bool drops_body =
        performed->status == 303 ||
        (performed->status != 307 && performed->status != 308 &&
         outgoing.method == "POST");
    if (upload != nullptr && !drops_body) {
      return refuse(v1::REASON_REDIRECT_REFUSED,
                    absl::StrCat("the upstream answered ", performed->status,
                                 " to repeat the request elsewhere, but a "
                                 "streamed body cannot be sent again"));
    }
    if (drops_body) {
      outgoing.method = "GET";
      outgoing.body.clear();
      upload = nullptr;
    } else {
      // The hop repeats the agent's own body: the scheme may have added
      // to it (Kraken's nonce) and adds afresh when it signs the hop.
      outgoing.body = request.body();
    }
    // The hop is a request of its own: the capability's rules decide it
    // before a byte (or the credential) is sent.
    if (absl::Status allowed = hop_rules.Check(outgoing.method, target->path);
        !allowed.ok()) {
      return refuse(v1::REASON_REDIRECT_REFUSED, allowed.message());
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
    // "METHOD /path": the broker checks each hop against the
    // capability's rules before the answer reaches the agent. Taken
    // before signing, which may re-encode the path for the wire (S3).
    std::string hop_text = outgoing.method + " " + outgoing.path;
    if (std::optional<absl::Status> stop = sign()) return *stop;
    scrubber.Scrub(&hop_text);
    reply.add_redirects(hop_text);
  }
  *exchange.final_hop = std::move(*performed);
  return absl::OkStatus();
}

}  // namespace latchkey::vault
