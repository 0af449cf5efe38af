#include "common/origin.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace latchkey {
namespace {

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.';
}

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("origin '", text, "' is not valid: ", why,
                   " (expected scheme://host[:port], e.g. "
                   "https://api.github.com)"));
}

}  // namespace

std::string Origin::ToString() const {
  return absl::StrCat(scheme, "://", host, ":", port);
}

absl::StatusOr<Origin> ParseOrigin(absl::string_view text) {
  Origin origin;
  absl::string_view rest = text;
  size_t sep = rest.find("://");
  if (sep == absl::string_view::npos) return Invalid(text, "no scheme");
  origin.scheme = absl::AsciiStrToLower(rest.substr(0, sep));
  if (origin.scheme != "http" && origin.scheme != "https") {
    return Invalid(text, "scheme must be http or https");
  }
  rest.remove_prefix(sep + 3);
  if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
  if (rest.empty()) return Invalid(text, "no host");
  for (char c : rest) {
    if (c == '@') return Invalid(text, "userinfo is not allowed");
    if (c == '/' || c == '?' || c == '#' || c == '\\') {
      return Invalid(text, "paths, queries and fragments are not allowed");
    }
    if (static_cast<unsigned char>(c) <= 0x20 ||
        static_cast<unsigned char>(c) >= 0x7f || c == '%') {
      return Invalid(text, "control, space, percent or non-ASCII character");
    }
  }
  absl::string_view host = rest;
  absl::string_view port_text;
  if (absl::StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) return Invalid(text, "unclosed [");
    host = rest.substr(0, close + 1);
    absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid(text, "junk after ]");
      port_text = after.substr(1);
    }
    for (char c : host.substr(1, host.size() - 2)) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
          c != '.') {
        return Invalid(text, "bad IPv6 literal");
      }
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon != absl::string_view::npos) {
      host = rest.substr(0, colon);
      port_text = rest.substr(colon + 1);
    }
    for (char c : host) {
      if (!IsHostChar(c)) return Invalid(text, "bad character in host");
    }
    if (host.empty() || host.front() == '.' || host.front() == '-' ||
        absl::StrContains(host, "..")) {
      return Invalid(text, "bad host name");
    }
  }
  origin.host = absl::AsciiStrToLower(host);
  // A trailing dot names the same host; strip it so both forms compare equal.
  if (absl::EndsWith(origin.host, ".")) origin.host.pop_back();
  if (port_text.empty()) {
    if (rest.find(':') != absl::string_view::npos &&
        !absl::StartsWith(rest, "[")) {
      return Invalid(text, "empty port");
    }
    origin.port = origin.scheme == "https" ? 443 : 80;
  } else {
    uint32_t port = 0;
    for (char c : port_text) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        return Invalid(text, "port must be a number");
      }
    }
    if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
      return Invalid(text, "port out of range");
    }
    origin.port = static_cast<uint16_t>(port);
  }
  return origin;
}

}  // namespace latchkey
