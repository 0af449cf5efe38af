#include "mcp_adapter/gateway_request.h"

#include <cstdint>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/limits.h"
#include "common/reason_text.h"
#include "mcp_adapter/broker_refusal.h"
#include "mcp_adapter/json_util.h"
#include "rules/header_policy.h"

namespace latchkey::mcp {
namespace {

// Names the gateway's HTTP library adds to a request's header list itself;
// they are not the client's headers.
constexpr absl::string_view kHttpLibraryPseudoHeaders[] = {
    "remote_addr",
    "remote_port",
    "local_addr",
    "local_port",
};

// Response headers the gateway's HTTP server sets itself.
constexpr absl::string_view kDroppedResponseHeaders[] = {
    "content-length", "content-type",     "transfer-encoding", "connection",
    "keep-alive",     "proxy-connection", "trailer",           "upgrade",
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// DecodeQueryPart percent-decodes one name or value; false on a broken
// escape.
bool DecodeQueryPart(absl::string_view in, std::string *out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool IsCapabilityChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

GatewayReply JsonReply(int status, const OJson &body) {
  GatewayReply reply;
  reply.status = status;
  reply.content_type = "application/json";
  reply.body = DumpLine(body) + "\n";
  return reply;
}

}  // namespace

bool IsDroppedGatewayHeader(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view pseudo : kHttpLibraryPseudoHeaders) {
    if (lower == pseudo) return true;
  }
  // The client's own credentials (the vault adds the real one; AWS
  // signature headers are recomputed by the vault), the connection and
  // routing (which the vault owns), the gateway's own controls, and
  // Accept-Encoding (the vault asks for identity so that its scrubber sees
  // every byte) are dropped: a stock client sends them without being asked.
  // Every other family goes on to the broker, which refuses what no agent
  // may send and says why.
  switch (ClassifyRequestHeader(name)) {
    case HeaderFamily::kCredential:
    case HeaderFamily::kConnection:
    case HeaderFamily::kRouting:
    case HeaderFamily::kLatchkey:
    case HeaderFamily::kContentCoding:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<v1::ExecuteRequest> BuildGatewayRequest(
    absl::string_view method, absl::string_view target,
    const HeaderList &headers, std::string body) {
  if (target.empty() || target[0] != '/') {
    return absl::InvalidArgumentError(
        "the request target must be a path such as /<capability>/<path>; "
        "absolute URLs (proxy requests) are not served");
  }
  absl::string_view path = target;
  absl::string_view query;
  if (size_t mark = target.find('?'); mark != absl::string_view::npos) {
    path = target.substr(0, mark);
    query = target.substr(mark + 1);
  }
  if (size_t hash = query.find('#'); hash != absl::string_view::npos) {
    query = query.substr(0, hash);
  }
  // "/cap/rest" -> "cap", "/rest"; "/cap" -> "cap", "/".
  absl::string_view rest = path.substr(1);
  size_t slash = rest.find('/');
  absl::string_view capability = rest.substr(0, slash);
  if (capability.empty() || capability.size() > kMaxIdBytes) {
    return absl::NotFoundError(
        "no capability in the URL: use http://127.0.0.1:PORT/<capability>/"
        "<path on the capability's origin>; latchkeyctl capabilities (or "
        "the MCP list_capabilities tool) shows the names");
  }
  for (char c : capability) {
    if (!IsCapabilityChar(c)) {
      return absl::NotFoundError(absl::StrCat(
          "\"", TruncateUtf8(capability, 64),
          "\" is not a capability name (letters, digits, '-', '_', '.'); use "
          "http://127.0.0.1:PORT/<capability>/<path>"));
    }
  }
  absl::string_view upstream_path =
      slash == absl::string_view::npos ? "/" : rest.substr(slash);
  if (upstream_path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the path is ", upstream_path.size(), " bytes; at most ",
                     kMaxPathBytes, " are allowed"));
  }
  if (query.size() > kMaxQueryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the query string is ", query.size(), " bytes; at most ",
                     kMaxQueryBytes, " are allowed"));
  }
  if (body.size() > kMaxRequestBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request body is ", body.size(), " bytes; at most ",
                     kMaxRequestBodyBytes, " are allowed"));
  }

  v1::ExecuteRequest request;
  request.set_capability(std::string(capability));
  v1::HttpRequest *http = request.mutable_request();
  http->set_method(absl::AsciiStrToUpper(method));
  http->set_path(std::string(upstream_path));
  if (!query.empty()) {
    for (absl::string_view pair : absl::StrSplit(query, '&')) {
      if (pair.empty()) continue;
      if (static_cast<size_t>(http->query_size()) >= kMaxQueryParams) {
        return absl::InvalidArgumentError(
            absl::StrCat("more than ", kMaxQueryParams, " query parameters"));
      }
      size_t eq = pair.find('=');
      v1::QueryParam *param = http->add_query();
      std::string decoded;
      if (!DecodeQueryPart(pair.substr(0, eq), &decoded)) {
        return absl::InvalidArgumentError(
            "the query string has a broken %-escape (use %XX with two hex "
            "digits)");
      }
      param->set_name(decoded);
      if (eq != absl::string_view::npos) {
        if (!DecodeQueryPart(pair.substr(eq + 1), &decoded)) {
          return absl::InvalidArgumentError(
              "the query string has a broken %-escape (use %XX with two "
              "hex digits)");
        }
        param->set_value(decoded);
      }
    }
  }
  for (const auto &[name, value] : headers) {
    if (absl::EqualsIgnoreCase(name, kGatewayReasonHeader)) {
      request.set_reason(value.substr(0, kMaxReasonBytes));
      continue;
    }
    if (IsDroppedGatewayHeader(name)) continue;
    v1::Header *header = http->add_headers();
    header->set_name(name);
    header->set_value(value);
  }
  http->set_body(std::move(body));
  return request;
}

int HttpStatusForReason(v1::ReasonCode code, absl::string_view message) {
  switch (code) {
    case v1::REASON_CAPABILITY_NOT_FOUND:
      return 404;
    case v1::REASON_PATH_REJECTED:
    case v1::REASON_INVALID_REQUEST:
      return 400;
    case v1::REASON_RATE_LIMITED:
      return 429;
    case v1::REASON_VAULT_SEALED:
    case v1::REASON_VAULT_UNAVAILABLE:
    case v1::REASON_SECRET_UNAVAILABLE:
    case v1::REASON_AUDIT_UNAVAILABLE:
      return 503;
    case v1::REASON_UPSTREAM_ERROR:
      return absl::StartsWith(message, "the upstream timed out") ? 504 : 502;
    default:
      return 403;
  }
}

GatewayReply ReplyForExecute(const v1::ExecuteResponse &response) {
  if (response.decision() != v1::DECISION_ALLOW) {
    const v1::Denial &denial = response.denial();
    OJson body{
        {"error", ReasonName(denial.code())},
        {"message", denial.message()},
        {"next_step", denial.next_step().empty() ? NextStep(denial.code())
                                                 : denial.next_step()}};
    if (!denial.rule().empty()) body["rule"] = denial.rule();
    body["request_id"] = response.request_id();
    GatewayReply reply =
        JsonReply(HttpStatusForReason(denial.code(), denial.message()), body);
    reply.headers.emplace_back("X-Latchkey-Reason", ReasonName(denial.code()));
    if (denial.code() == v1::REASON_RATE_LIMITED) {
      int64_t seconds = denial.retry_after().seconds() +
                        (denial.retry_after().nanos() > 0 ? 1 : 0);
      reply.headers.emplace_back("Retry-After",
                                 std::to_string(seconds < 1 ? 1 : seconds));
    }
    reply.headers.emplace_back("X-Latchkey-Request-Id", response.request_id());
    return reply;
  }
  const v1::HttpResponse &http = response.response();
  if (http.body_truncated()) {
    GatewayReply reply = JsonReply(
        502,
        OJson{{"error", "RESPONSE_TOO_LARGE"},
              {"message",
               "the upstream answer is larger than the capability's "
               "response limit (limits.max_response_bytes) and was not "
               "forwarded"},
              {"next_step",
               "ask for less (a range, a page, a shallow clone) or ask the "
               "operator to raise limits.max_response_bytes (at most 4 GiB "
               "through the gateway)"},
              {"request_id", response.request_id()}});
    reply.headers.emplace_back("X-Latchkey-Request-Id", response.request_id());
    return reply;
  }
  GatewayReply reply;
  reply.status = http.status();
  reply.content_type = "application/octet-stream";
  for (const v1::Header &header : http.headers()) {
    std::string lower = absl::AsciiStrToLower(header.name());
    if (lower == "content-type") {
      reply.content_type = header.value();
      continue;
    }
    bool dropped = false;
    for (absl::string_view name : kDroppedResponseHeaders) {
      if (lower == name) dropped = true;
    }
    if (!dropped) reply.headers.emplace_back(header.name(), header.value());
  }
  reply.headers.emplace_back("X-Latchkey-Request-Id", response.request_id());
  reply.body = http.body();
  return reply;
}

GatewayReply ReplyForBrokerFailure(const absl::Status &status,
                                   absl::string_view broker_socket) {
  if (std::optional<RefusalAdvice> advice =
          AdviceForRefusal(status, broker_socket)) {
    return JsonReply(
        advice->http_status,
        OJson{{"error", absl::StatusCodeToString(status.code())},
              {"reason", advice->tag},
              {"message", absl::StrCat(advice->what, ": ", status.message())},
              {"next_step", advice->next_step}});
  }
  int http_status = 502;
  std::string next_step = "tell the operator if it persists";
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      http_status = 503;
      next_step = absl::StrCat("the broker is not reachable at ", broker_socket,
                               "; ask the operator to start it");
      break;
    case absl::StatusCode::kDeadlineExceeded:
      http_status = 504;
      next_step =
          "the broker did not answer in time; the request may or may not "
          "have reached the upstream: check before retrying a change";
      break;
    case absl::StatusCode::kInvalidArgument:
      http_status = 400;
      next_step = "fix the request and retry";
      break;
    case absl::StatusCode::kResourceExhausted:
      http_status = 429;
      next_step = "wait before retrying";
      break;
    case absl::StatusCode::kUnauthenticated:
      http_status = 502;
      next_step =
          "the broker refused this adapter's agent token; ask the operator "
          "for a valid agent token";
      break;
    case absl::StatusCode::kPermissionDenied:
      http_status = 502;
      // Untagged (an older broker): do not guess which refusal it was.
      next_step =
          "the broker refused this adapter (see message); tell the operator";
      break;
    default:
      break;
  }
  GatewayReply reply = JsonReply(
      http_status, OJson{{"error", absl::StatusCodeToString(status.code())},
                         {"message", std::string(status.message())},
                         {"next_step", next_step}});
  if (http_status == 429) reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

GatewayReply ReplyForBadRequest(const absl::Status &status) {
  return JsonReply(status.code() == absl::StatusCode::kNotFound ? 404 : 400,
                   OJson{{"error", status.code() == absl::StatusCode::kNotFound
                                       ? "NO_CAPABILITY"
                                       : "INVALID_REQUEST"},
                         {"message", std::string(status.message())},
                         {"next_step", "fix the URL or request and retry"}});
}

}  // namespace latchkey::mcp
