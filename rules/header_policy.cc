#include "rules/header_policy.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"

namespace latchkey {
namespace {

bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
         absl::string_view::npos;
}

struct FamilyEntry {
  absl::string_view name;  // lower case, '-' for '_'
  HeaderFamily family;
};

// Exact names, by family. Prefixes follow below.
constexpr FamilyEntry kFamilies[] = {
    // Credentials: the vault sets them; an agent's own would replace or
    // sit beside the injected one.
    {"authorization", HeaderFamily::kCredential},
    {"cookie", HeaderFamily::kCredential},
    {"cookie2", HeaderFamily::kCredential},
    {"x-amz-date", HeaderFamily::kCredential},
    {"x-amz-security-token", HeaderFamily::kCredential},
    {"x-amz-content-sha256", HeaderFamily::kCredential},
    // Hop by hop: the vault owns the connection and the framing.
    {"connection", HeaderFamily::kConnection},
    {"keep-alive", HeaderFamily::kConnection},
    {"te", HeaderFamily::kConnection},
    {"trailer", HeaderFamily::kConnection},
    {"transfer-encoding", HeaderFamily::kConnection},
    {"upgrade", HeaderFamily::kConnection},
    {"content-length", HeaderFamily::kConnection},
    {"expect", HeaderFamily::kConnection},
    {"http2-settings", HeaderFamily::kConnection},
    // Max-Forwards steers how far proxies pass TRACE and OPTIONS.
    {"max-forwards", HeaderFamily::kConnection},
    // Routing: which virtual host or backend serves the request.
    {"host", HeaderFamily::kRouting},
    {"x-host", HeaderFamily::kRouting},
    {"x-http-host-override", HeaderFamily::kRouting},
    {"x-forwarded-server", HeaderFamily::kRouting},
    // Forwarding and proxy identity: who the client is, as a proxy tells.
    {"forwarded", HeaderFamily::kForwarding},
    {"via", HeaderFamily::kForwarding},
    {"x-real-ip", HeaderFamily::kForwarding},
    {"x-client-ip", HeaderFamily::kForwarding},
    {"client-ip", HeaderFamily::kForwarding},
    {"true-client-ip", HeaderFamily::kForwarding},
    {"x-cluster-client-ip", HeaderFamily::kForwarding},
    {"x-originating-ip", HeaderFamily::kForwarding},
    {"x-remote-ip", HeaderFamily::kForwarding},
    {"x-remote-addr", HeaderFamily::kForwarding},
    {"x-proxyuser-ip", HeaderFamily::kForwarding},
    {"cf-connecting-ip", HeaderFamily::kForwarding},
    {"fastly-client-ip", HeaderFamily::kForwarding},
    {"x-azure-clientip", HeaderFamily::kForwarding},
    {"x-appengine-user-ip", HeaderFamily::kForwarding},
    // Method override: Rails, Laravel, Symfony, Express method-override and
    // Google APIs perform the named method instead of the one sent.
    {"x-http-method-override", HeaderFamily::kMethodOverride},
    {"x-http-method", HeaderFamily::kMethodOverride},
    {"x-method-override", HeaderFamily::kMethodOverride},
    {"x-original-method", HeaderFamily::kMethodOverride},
    // URL rewrite: IIS, Symfony, Zend and some proxies route on these
    // instead of the request line.
    {"x-original-url", HeaderFamily::kUrlRewrite},
    {"x-original-uri", HeaderFamily::kUrlRewrite},
    {"x-rewrite-url", HeaderFamily::kUrlRewrite},
    {"x-override-url", HeaderFamily::kUrlRewrite},
    {"x-envoy-original-path", HeaderFamily::kUrlRewrite},
    {"x-middleware-subrequest", HeaderFamily::kUrlRewrite},
    {"x-invoke-path", HeaderFamily::kUrlRewrite},
    // Content coding: a compressed answer hides a reflected credential
    // from the scrubber, so the vault alone asks for identity.
    {"accept-encoding", HeaderFamily::kContentCoding},
    // Ranges: every slice is scrubbed on its own, so slices of a reflected
    // credential could be stitched together.
    {"range", HeaderFamily::kRange},
    {"if-range", HeaderFamily::kRange},
    {"request-range", HeaderFamily::kRange},
};

struct FamilyPrefix {
  absl::string_view prefix;
  HeaderFamily family;
};

constexpr FamilyPrefix kFamilyPrefixes[] = {
    {"proxy-", HeaderFamily::kConnection},
    {"x-forwarded-", HeaderFamily::kForwarding},
    {"x-original-forwarded-", HeaderFamily::kForwarding},
    {"x-envoy-", HeaderFamily::kRouting},
    {"x-latchkey-", HeaderFamily::kLatchkey},
};

absl::string_view FamilyReason(HeaderFamily family) {
  switch (family) {
    case HeaderFamily::kCredential:
      return "it carries a credential, and Latchkey sets credentials itself";
    case HeaderFamily::kConnection:
      return "it controls the connection or the message framing, which the "
             "vault owns";
    case HeaderFamily::kRouting:
      return "it chooses where the request is routed, which the capability "
             "fixes";
    case HeaderFamily::kForwarding:
      return "it claims a client or proxy identity, which upstreams trust "
             "for access decisions";
    case HeaderFamily::kMethodOverride:
      return "it overrides the HTTP method, so the upstream would perform a "
             "method the rules did not check";
    case HeaderFamily::kUrlRewrite:
      return "it rewrites the URL the upstream routes on, so the rules would "
             "not see the real path";
    case HeaderFamily::kContentCoding:
      return "the vault chooses the response coding itself, so that every "
             "answer can be scrubbed";
    case HeaderFamily::kRange:
      return "partial answers could be stitched together around the "
             "scrubber; only streamed requests to capabilities with "
             "allow_ranges may ask for ranges";
    case HeaderFamily::kLatchkey:
      return "X-Latchkey-* headers are Latchkey's own controls";
    case HeaderFamily::kOrdinary:
      break;
  }
  return "";
}

// CanonicalName is the name in lower case with '_' read as '-'.
std::string CanonicalName(absl::string_view name) {
  std::string out = absl::AsciiStrToLower(name);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

bool IsControlByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7F;
}

constexpr absl::string_view kDroppedResponseHeaders[] = {
    "set-cookie",
    "set-cookie2",
    "proxy-authenticate",
    "proxy-authentication-info",
    "authentication-info",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "trailer",
    "proxy-connection",
};

}  // namespace

HeaderFamily ClassifyRequestHeader(absl::string_view name) {
  std::string canonical = CanonicalName(name);
  for (const FamilyEntry& entry : kFamilies) {
    if (canonical == entry.name) return entry.family;
  }
  for (const FamilyPrefix& entry : kFamilyPrefixes) {
    if (absl::StartsWith(canonical, entry.prefix)) return entry.family;
  }
  return HeaderFamily::kOrdinary;
}

absl::Status CheckAgentHeaders(
    const google::protobuf::RepeatedPtrField<v1::Header>& headers,
    const v1::RequestRules& rules, bool streamed) {
  if (static_cast<size_t>(headers.size()) > kMaxHeaderCount) {
    return absl::InvalidArgumentError(absl::StrCat("too many headers (",
                                                   headers.size(), "; at most ",
                                                   kMaxHeaderCount, ")"));
  }
  std::vector<std::string> seen;
  seen.reserve(headers.size());
  for (const v1::Header& header : headers) {
    const std::string& name = header.name();
    if (name.empty() || name.size() > kMaxHeaderNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header name must be 1 to ", kMaxHeaderNameBytes, " bytes"));
    }
    for (char c : name) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError(
            "header name contains a character that is not allowed in a "
            "header name (CR, LF, NUL, space, ':' or non-ASCII)");
      }
    }
    HeaderFamily family = ClassifyRequestHeader(name);
    bool range_allowed =
        family == HeaderFamily::kRange && streamed && rules.allow_ranges();
    if (family != HeaderFamily::kOrdinary && !range_allowed) {
      return absl::InvalidArgumentError(
          absl::StrCat("header '", name,
                       "' may not be set by an agent: ", FamilyReason(family)));
    }
    std::string canonical = CanonicalName(name);
    for (const std::string& earlier : seen) {
      if (earlier == canonical) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header '", name,
            "' is sent twice (counting '_' as '-'); send it once"));
      }
    }
    seen.push_back(canonical);
    if (!rules.allowed_request_headers().empty()) {
      bool listed = false;
      for (const std::string& allowed : rules.allowed_request_headers()) {
        if (CanonicalName(allowed) == canonical) listed = true;
      }
      if (!listed) {
        return absl::InvalidArgumentError(
            absl::StrCat("header '", name,
                         "' is not one this capability accepts (its "
                         "allowed_request_headers list)"));
      }
    }
    if (header.value().size() > kMaxHeaderValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("header '", name, "' value exceeds ",
                       kMaxHeaderValueBytes, " bytes"));
    }
    const std::string& value = header.value();
    if (!value.empty() && (value.front() == ' ' || value.front() == '\t' ||
                           value.back() == ' ' || value.back() == '\t')) {
      // HTTP strips it (RFC 9110 5.5), so the upstream would not see the
      // value that was judged and that an approval's digest binds.
      return absl::InvalidArgumentError(absl::StrCat(
          "header '", name,
          "' value starts or ends with a space or TAB, which HTTP drops; "
          "send the value without it"));
    }
    for (char c : value) {
      if (IsControlByte(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header '", name,
            "' value contains a control byte (CR, LF, NUL or another byte "
            "below 0x20 but TAB, or DEL)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAgentHeaders(
    const google::protobuf::RepeatedPtrField<v1::Header>& headers) {
  return CheckAgentHeaders(headers, v1::RequestRules::default_instance(),
                           /*streamed=*/false);
}

bool IsDroppedResponseHeader(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view dropped : kDroppedResponseHeaders) {
    if (lower == dropped) return true;
  }
  return false;
}

}  // namespace latchkey
