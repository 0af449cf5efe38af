#include "mcp_adapter/http_checks.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"

namespace latchkey::mcp {
namespace {

// SplitHostPort splits "host[:port]" or "[v6][:port]"; the port may be
// absent. The host comes back lowercased, without brackets.
bool SplitHostPort(absl::string_view text, std::string* host,
                   absl::string_view* port) {
  *port = absl::string_view();
  if (absl::ConsumePrefix(&text, "[")) {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return false;
    *host = absl::AsciiStrToLower(text.substr(0, close));
    absl::string_view rest = text.substr(close + 1);
    if (rest.empty()) return true;
    if (!absl::ConsumePrefix(&rest, ":")) return false;
    *port = rest;
    return true;
  }
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    *host = absl::AsciiStrToLower(text);
  } else {
    *host = absl::AsciiStrToLower(text.substr(0, colon));
    *port = text.substr(colon + 1);
  }
  return host->find(':') == std::string::npos;
}

bool IsLoopbackName(absl::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

bool ValidPort(absl::string_view port, int* out) {
  int value = 0;
  if (port.empty() || port.size() > 5 || !absl::SimpleAtoi(port, &value) ||
      value < 0 || value > 65535) {
    return false;
  }
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = value;
  return true;
}

}  // namespace

absl::StatusOr<LoopbackAddress> ParseLoopbackAddress(absl::string_view text) {
  std::string host;
  absl::string_view port;
  LoopbackAddress address;
  if (!SplitHostPort(text, &host, &port) || !ValidPort(port, &address.port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http must be HOST:PORT with a loopback host, e.g. 127.0.0.1:8765 "
        "(PORT 0 picks a free port); got \"",
        text.substr(0, 64), "\""));
  }
  if (!IsLoopbackName(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http refuses \"", host.substr(0, 64),
        "\": the MCP adapter acts with an agent's authority and only listens "
        "on loopback (127.0.0.1, [::1] or localhost). Reach it from elsewhere "
        "through an SSH tunnel, not by binding a public address."));
  }
  address.host = host == "localhost" ? "127.0.0.1" : host;
  return address;
}

bool IsLoopbackOrigin(absl::string_view origin) {
  origin = absl::StripAsciiWhitespace(origin);
  if (!absl::ConsumePrefix(&origin, "http://") &&
      !absl::ConsumePrefix(&origin, "https://")) {
    return false;
  }
  std::string host;
  absl::string_view port;
  int port_value = 0;
  if (!SplitHostPort(origin, &host, &port)) return false;
  if (!port.empty() && !ValidPort(port, &port_value)) return false;
  return IsLoopbackName(host);
}

bool IsLoopbackHost(absl::string_view value) {
  std::string host;
  absl::string_view port;
  int port_value = 0;
  if (!SplitHostPort(absl::StripAsciiWhitespace(value), &host, &port)) {
    return false;
  }
  if (!port.empty() && !ValidPort(port, &port_value)) return false;
  return IsLoopbackName(host);
}

bool BearerMatches(absl::string_view authorization, absl::string_view token) {
  if (authorization.size() < 7 ||
      !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return false;
  }
  absl::string_view presented =
      absl::StripAsciiWhitespace(authorization.substr(7));
  // Hashed first so that the comparison does not depend on the length of
  // what was presented either.
  return !token.empty() && ConstantTimeEquals(Sha256(presented), Sha256(token));
}

bool AcceptsMediaType(absl::string_view accept, absl::string_view type) {
  std::string wildcard = absl::StrCat(type.substr(0, type.find('/')), "/*");
  for (absl::string_view item : absl::StrSplit(accept, ',')) {
    absl::string_view media =
        absl::StripAsciiWhitespace(item.substr(0, item.find(';')));
    if (absl::EqualsIgnoreCase(media, type) || media == "*/*" ||
        absl::EqualsIgnoreCase(media, wildcard)) {
      return true;
    }
  }
  return false;
}

}  // namespace latchkey::mcp
