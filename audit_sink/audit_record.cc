#include "audit_sink/audit_record.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/reason_text.h"
#include "nlohmann/json.hpp"

namespace latchkey::audit_sink {
namespace {

using Json = nlohmann::ordered_json;

constexpr absl::string_view kHmacPrefix = ",\"hmac\":\"";
constexpr size_t kHexDigestBytes = 64;
// `,"hmac":"` + 64 hex digits + `"}`.
constexpr size_t kHmacSuffixBytes = kHmacPrefix.size() + kHexDigestBytes + 2;
constexpr absl::string_view kSeqPrefix = "{\"seq\":";
constexpr absl::string_view kTimeFormat = "%Y-%m-%dT%H:%M:%E9SZ";

bool IsLowerHexDigest(absl::string_view text) {
  if (text.size() != kHexDigestBytes) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// SplitHmac returns the hex MAC at the end of `line` and sets `body` to
// the line without it; nullopt when the line does not end that way.
std::optional<absl::string_view> SplitHmac(absl::string_view line,
                                           absl::string_view* body) {
  if (line.size() < kHmacSuffixBytes + 1 || line.front() != '{' ||
      !absl::EndsWith(line, "\"}")) {
    return std::nullopt;
  }
  absl::string_view suffix = line.substr(line.size() - kHmacSuffixBytes);
  if (!absl::StartsWith(suffix, kHmacPrefix)) return std::nullopt;
  absl::string_view mac = suffix.substr(kHmacPrefix.size(), kHexDigestBytes);
  if (!IsLowerHexDigest(mac)) return std::nullopt;
  *body = line.substr(0, line.size() - kHmacSuffixBytes);
  return mac;
}

// IsJsonString is true when nlohmann can serialize `text`, i.e. it is
// valid UTF-8; the log must never hold a line it cannot re-read.
bool IsJsonString(const std::string& text) {
  try {
    (void)Json(text).dump();
    return true;
  } catch (const Json::exception&) {
    return false;
  }
}

absl::StatusOr<Json> ParseObject(absl::string_view line) {
  Json json = Json::parse(line.data(), line.data() + line.size(),
                          /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError("audit line is not a JSON object");
  }
  return json;
}

absl::Status FieldError(absl::string_view key) {
  return absl::DataLossError(absl::StrCat(
      "audit record field '", key, "' is missing or has the wrong type"));
}

absl::Status GetString(const Json& json, const char* key, std::string* out) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_string()) return FieldError(key);
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetUint(const Json& json, const char* key, uint64_t max,
                     uint64_t* out) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_number_unsigned()) return FieldError(key);
  *out = it->get<uint64_t>();
  if (*out > max) return FieldError(key);
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateEvent(const v1::AuditEvent& event) {
  if (event.source().empty()) {
    return absl::InvalidArgumentError("audit event has no source");
  }
  if (event.decision() != v1::DECISION_ALLOW &&
      event.decision() != v1::DECISION_DENY) {
    return absl::InvalidArgumentError(
        "audit event decision must be DECISION_ALLOW or DECISION_DENY");
  }
  if (!v1::ReasonCode_IsValid(event.reason_code())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown reason code ", event.reason_code()));
  }
  const std::pair<const char*, const std::string*> fields[] = {
      {"source", &event.source()},
      {"agent", &event.agent()},
      {"session_id", &event.session_id()},
      {"capability", &event.capability()},
      {"method", &event.method()},
      {"path", &event.path()},
      {"reason", &event.reason()},
      {"rule", &event.rule()},
      {"request_id", &event.request_id()},
      {"agent_reason", &event.agent_reason()},
      {"approval_id", &event.approval_id()},
  };
  for (const auto& [name, value] : fields) {
    if (value->size() > kMaxAuditFieldBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit event field ", name, " is ", value->size(),
                       " bytes; the limit is ", kMaxAuditFieldBytes));
    }
    if (!IsJsonString(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit event field ", name, " is not valid UTF-8"));
    }
  }
  if (event.upstream_status() < 0 || event.upstream_status() > 999) {
    return absl::InvalidArgumentError(
        absl::StrCat("upstream_status ", event.upstream_status(),
                     " is not an HTTP status (0 if not called)"));
  }
  if (event.bytes_in() < 0 || event.bytes_out() < 0 || event.latency_us() < 0) {
    return absl::InvalidArgumentError(
        "bytes_in, bytes_out and latency_us must not be negative");
  }
  return absl::OkStatus();
}

std::string PrepareEventJson(const v1::AuditEvent& event) {
  Json json;
  json["source"] = event.source();
  json["agent"] = event.agent();
  json["session"] = event.session_id();
  json["capability"] = event.capability();
  json["method"] = event.method();
  json["path"] = event.path();
  json["decision"] = event.decision() == v1::DECISION_ALLOW ? "allow" : "deny";
  json["reason_code"] = ReasonName(event.reason_code());
  json["reason"] = event.reason();
  json["rule"] = event.rule();
  json["upstream_status"] = event.upstream_status();
  json["bytes_in"] = event.bytes_in();
  json["bytes_out"] = event.bytes_out();
  json["latency_us"] = event.latency_us();
  json["request_id"] = event.request_id();
  json["peer_uid"] = event.peer_uid();
  json["agent_reason"] = event.agent_reason();
  // Approval keys are written only when set, so records without an
  // approval, and all but operators' events, keep the exact bytes they had
  // before these keys existed.
  if (!event.approval_id().empty()) json["approval_id"] = event.approval_id();
  // An operator's decision always names the operator, even uid 0 (root).
  if (event.source() == "operator") json["operator_uid"] = event.operator_uid();
  std::string body = json.dump();
  // Strip the braces: the leader puts seq and ts before, prev after.
  return body.substr(1, body.size() - 2);
}

namespace {

// SealLine turns `{...}` (a compact JSON object without "hmac") into the
// line with "hmac" as its last key. The MAC covers the object as given;
// appending the key to that text gives exactly what dump() would with
// "hmac" added last.
std::string SealLine(std::string body, absl::string_view hmac_key) {
  std::string mac = HexEncode(HmacSha256(hmac_key, body));
  body.pop_back();  // The closing '}'.
  absl::StrAppend(&body, kHmacPrefix, mac, "\"}");
  return body;
}

std::string JsonTime(absl::Time time) {
  return absl::FormatTime(kTimeFormat, time, absl::UTCTimeZone());
}

}  // namespace

std::string FormatPreparedLine(absl::string_view prepared, uint64_t sequence,
                               absl::Time time, absl::string_view prev_hash,
                               absl::string_view hmac_key) {
  // The timestamp's format has no characters JSON would escape.
  std::string body =
      absl::StrCat(kSeqPrefix, sequence, ",\"ts\":\"", JsonTime(time), "\",",
                   prepared, ",\"prev\":\"", prev_hash, "\"}");
  return SealLine(std::move(body), hmac_key);
}

std::string FormatRecordLine(const v1::AuditEvent& event, uint64_t sequence,
                             absl::Time time, absl::string_view prev_hash,
                             absl::string_view hmac_key) {
  return FormatPreparedLine(PrepareEventJson(event), sequence, time, prev_hash,
                            hmac_key);
}

std::string FormatHeaderLine(const FileHeader& header, absl::Time time,
                             absl::string_view hmac_key) {
  Json json;
  json["header"] = std::string(kHeaderMagic);
  json["prev_seq"] = header.prev_sequence;
  json["prev"] = header.prev_hash;
  json["ts"] = JsonTime(time);
  return SealLine(json.dump(), hmac_key);
}

bool IsHeaderLine(absl::string_view line) {
  return absl::StartsWith(line, "{\"header\":");
}

absl::StatusOr<FileHeader> ParseHeaderLine(absl::string_view line) {
  absl::string_view body;
  if (!IsHeaderLine(line) || !SplitHmac(line, &body).has_value()) {
    return absl::DataLossError("not an audit file header");
  }
  absl::StatusOr<Json> json = ParseObject(line);
  if (!json.ok()) return json.status();
  std::string magic;
  FileHeader header;
  const absl::Status checks[] = {
      GetString(*json, "header", &magic),
      GetUint(*json, "prev_seq", std::numeric_limits<uint64_t>::max(),
              &header.prev_sequence),
      GetString(*json, "prev", &header.prev_hash),
  };
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  if (magic != kHeaderMagic) {
    return absl::DataLossError(
        absl::StrCat("unknown audit file header version '", magic, "'"));
  }
  if (!IsLowerHexDigest(header.prev_hash)) {
    return absl::DataLossError("audit file header has a bad prev");
  }
  return header;
}

std::string LineHash(absl::string_view line) { return Sha256Hex(line); }

absl::StatusOr<ChainFields> ParseChainFields(absl::string_view line) {
  absl::string_view body;
  if (!SplitHmac(line, &body).has_value()) {
    return absl::DataLossError("audit line does not end with its hmac");
  }
  absl::StatusOr<Json> json = ParseObject(line);
  if (!json.ok()) return json.status();
  ChainFields fields;
  absl::Status status = GetUint(
      *json, "seq", std::numeric_limits<uint64_t>::max(), &fields.sequence);
  if (!status.ok()) return status;
  status = GetString(*json, "prev", &fields.prev_hash);
  if (!status.ok()) return status;
  if (fields.sequence == 0 || !IsLowerHexDigest(fields.prev_hash)) {
    return absl::DataLossError("audit line has a bad seq or prev");
  }
  return fields;
}

bool LineHmacMatches(absl::string_view line, absl::string_view hmac_key) {
  absl::string_view body;
  std::optional<absl::string_view> mac = SplitHmac(line, &body);
  if (!mac.has_value()) return false;
  std::string expected =
      HexEncode(HmacSha256(hmac_key, absl::StrCat(body, "}")));
  return ConstantTimeEquals(expected, *mac);
}

absl::StatusOr<v1::AuditRecord> ParseRecordLine(absl::string_view line) {
  absl::StatusOr<Json> parsed = ParseObject(line);
  if (!parsed.ok()) return parsed.status();
  const Json& json = *parsed;
  v1::AuditRecord record;
  v1::AuditEvent* event = record.mutable_event();
  std::string ts, decision, reason_code;
  uint64_t sequence = 0, upstream_status = 0, bytes_in = 0, bytes_out = 0,
           latency_us = 0, peer_uid = 0;
  constexpr uint64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
  const absl::Status checks[] = {
      GetUint(json, "seq", std::numeric_limits<uint64_t>::max(), &sequence),
      GetString(json, "ts", &ts),
      GetString(json, "source", event->mutable_source()),
      GetString(json, "agent", event->mutable_agent()),
      GetString(json, "session", event->mutable_session_id()),
      GetString(json, "capability", event->mutable_capability()),
      GetString(json, "method", event->mutable_method()),
      GetString(json, "path", event->mutable_path()),
      GetString(json, "decision", &decision),
      GetString(json, "reason_code", &reason_code),
      GetString(json, "reason", event->mutable_reason()),
      GetString(json, "rule", event->mutable_rule()),
      GetUint(json, "upstream_status", 999, &upstream_status),
      GetUint(json, "bytes_in", kMaxInt64, &bytes_in),
      GetUint(json, "bytes_out", kMaxInt64, &bytes_out),
      GetUint(json, "latency_us", kMaxInt64, &latency_us),
      GetString(json, "request_id", event->mutable_request_id()),
      GetUint(json, "peer_uid", std::numeric_limits<uint32_t>::max(),
              &peer_uid),
      GetString(json, "agent_reason", event->mutable_agent_reason()),
      GetString(json, "prev", record.mutable_prev_hash()),
      GetString(json, "hmac", record.mutable_hmac()),
  };
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  record.set_sequence(sequence);
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, ts, &time, &error)) {
    return absl::DataLossError(
        absl::StrCat("audit record ts '", ts, "' is not RFC 3339: ", error));
  }
  int64_t seconds = absl::ToUnixSeconds(time);
  record.mutable_time()->set_seconds(seconds);
  record.mutable_time()->set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  if (decision == "allow") {
    event->set_decision(v1::DECISION_ALLOW);
  } else if (decision == "deny") {
    event->set_decision(v1::DECISION_DENY);
  } else {
    return FieldError("decision");
  }
  v1::ReasonCode code;
  if (!v1::ReasonCode_Parse(absl::StrCat("REASON_", reason_code), &code)) {
    return FieldError("reason_code");
  }
  event->set_reason_code(code);
  event->set_upstream_status(static_cast<int32_t>(upstream_status));
  event->set_bytes_in(static_cast<int64_t>(bytes_in));
  event->set_bytes_out(static_cast<int64_t>(bytes_out));
  event->set_latency_us(static_cast<int64_t>(latency_us));
  event->set_peer_uid(static_cast<uint32_t>(peer_uid));
  // Optional keys (see PrepareEventJson).
  if (json.contains("approval_id")) {
    absl::Status s =
        GetString(json, "approval_id", event->mutable_approval_id());
    if (!s.ok()) return s;
  }
  if (json.contains("operator_uid")) {
    uint64_t operator_uid = 0;
    absl::Status s =
        GetUint(json, "operator_uid", std::numeric_limits<uint32_t>::max(),
                &operator_uid);
    if (!s.ok()) return s;
    event->set_operator_uid(static_cast<uint32_t>(operator_uid));
  }
  return record;
}

std::optional<uint64_t> PeekSequence(absl::string_view line) {
  if (!absl::ConsumePrefix(&line, kSeqPrefix)) return std::nullopt;
  size_t digits = 0;
  while (digits < line.size() && absl::ascii_isdigit(line[digits])) ++digits;
  uint64_t sequence = 0;
  if (digits == 0 || digits >= line.size() || line[digits] != ',' ||
      !absl::SimpleAtoi(line.substr(0, digits), &sequence)) {
    return std::nullopt;
  }
  return sequence;
}

}  // namespace latchkey::audit_sink
