#include "common/header_policy.h"

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

// Headers an agent may never set: they carry credentials, choose where the
// request goes, or control the connection (which the vault owns).
constexpr absl::string_view kForbiddenRequestHeaders[] = {
    "authorization",  "proxy-authorization", "cookie",   "host",
    "connection",     "keep-alive",          "te",       "trailer",
    "transfer-encoding", "upgrade",          "content-length", "expect",
    "forwarded",      "x-forwarded-for",     "x-forwarded-host",
    "x-forwarded-proto", "x-real-ip",        "http2-settings",
};

constexpr absl::string_view kDroppedResponseHeaders[] = {
    "set-cookie",        "set-cookie2",   "proxy-authenticate",
    "proxy-authentication-info", "authentication-info", "connection",
    "keep-alive",        "transfer-encoding", "upgrade", "trailer",
    "proxy-connection",
};

}  // namespace

absl::Status CheckAgentHeaders(
    const google::protobuf::RepeatedPtrField<v1::Header>& headers) {
  if (static_cast<size_t>(headers.size()) > kMaxHeaderCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many headers (", headers.size(), "; at most ",
                     kMaxHeaderCount, ")"));
  }
  for (const v1::Header& header : headers) {
    const std::string& name = header.name();
    if (name.empty() || name.size() > kMaxHeaderNameBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("header name must be 1 to ", kMaxHeaderNameBytes,
                       " bytes"));
    }
    for (char c : name) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError(
            "header name contains a character that is not allowed in a "
            "header name (CR, LF, NUL, space, ':' or non-ASCII)");
      }
    }
    std::string lower = absl::AsciiStrToLower(name);
    for (absl::string_view forbidden : kForbiddenRequestHeaders) {
      if (lower == forbidden) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header '", name,
            "' may not be set by an agent: Latchkey sets credentials and "
            "routing itself"));
      }
    }
    if (absl::StartsWith(lower, "proxy-")) {
      return absl::InvalidArgumentError(
          absl::StrCat("header '", name, "' (Proxy-*) may not be set"));
    }
    if (header.value().size() > kMaxHeaderValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header '", name, "' value exceeds ", kMaxHeaderValueBytes,
          " bytes"));
    }
    for (char c : header.value()) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return absl::InvalidArgumentError(absl::StrCat(
            "header '", name, "' value contains CR, LF or NUL"));
      }
    }
  }
  return absl::OkStatus();
}

bool IsDroppedResponseHeader(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view dropped : kDroppedResponseHeaders) {
    if (lower == dropped) return true;
  }
  return false;
}

}  // namespace latchkey
