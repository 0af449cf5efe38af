#include "audit_sink/audit_record.h"

#include <regex>

#include "audit_sink/test_util.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/reason_text.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');

TEST(AuditRecordTest, LineHasKeysInOrderAndVerifiableHmac) {
  absl::Time time = absl::FromUnixNanos(1795432740123456789);
  std::string line =
      FormatRecordLine(MakeEvent(7), 7, time, kGenesisHash, kKey);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto json = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (auto it = json.begin(); it != json.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"seq",
                                            "ts",
                                            "source",
                                            "agent",
                                            "session",
                                            "capability",
                                            "method",
                                            "path",
                                            "decision",
                                            "reason_code",
                                            "reason",
                                            "rule",
                                            "upstream_status",
                                            "bytes_in",
                                            "bytes_out",
                                            "latency_us",
                                            "request_id",
                                            "peer_uid",
                                            "agent_reason",
                                            "prev",
                                            "hmac"}));
  EXPECT_EQ(json["seq"], 7);
  EXPECT_EQ(json["ts"], "2026-11-23T11:19:00.123456789Z");
  EXPECT_EQ(json["decision"], "allow");
  EXPECT_EQ(json["reason_code"], "ALLOWED");
  EXPECT_EQ(json["prev"], std::string(kGenesisHash));
  // The MAC is over the record serialized without "hmac".
  std::string mac = json["hmac"];
  json.erase("hmac");
  EXPECT_EQ(mac, HexEncode(HmacSha256(kKey, json.dump())));
  EXPECT_TRUE(LineHmacMatches(line, kKey));
  EXPECT_FALSE(LineHmacMatches(line, std::string(32, 'x')));
  EXPECT_EQ(LineHash(line), Sha256Hex(line));
}

TEST(AuditRecordTest, ParseRoundTrip) {
  v1::AuditEvent event = MakeEvent(3, "agent-b", "stripe", v1::DECISION_DENY);
  absl::Time time = absl::FromUnixNanos(1700000000000000001);
  std::string prev(64, 'a');
  std::string line = FormatRecordLine(event, 42, time, prev, kKey);
  absl::StatusOr<v1::AuditRecord> record = ParseRecordLine(line);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->sequence(), 42u);
  EXPECT_EQ(record->time().seconds(), 1700000000);
  EXPECT_EQ(record->time().nanos(), 1);
  EXPECT_EQ(record->prev_hash(), prev);
  EXPECT_EQ(record->hmac().size(), 64u);
  EXPECT_EQ(record->event().SerializeAsString(), event.SerializeAsString());

  absl::StatusOr<ChainFields> fields = ParseChainFields(line);
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(fields->sequence, 42u);
  EXPECT_EQ(fields->prev_hash, prev);
  EXPECT_EQ(PeekSequence(line), 42u);
}

TEST(AuditRecordTest, ReasonCodeNamesDropPrefix) {
  EXPECT_EQ(ReasonName(v1::REASON_RULE_DENY), "RULE_DENY");
  EXPECT_EQ(ReasonName(v1::REASON_AUDIT_UNAVAILABLE), "AUDIT_UNAVAILABLE");
}

TEST(AuditRecordTest, ValidateEventRejectsWhatCannotBeRecorded) {
  EXPECT_TRUE(ValidateEvent(MakeEvent(1)).ok());
  v1::AuditEvent event = MakeEvent(1);
  event.set_decision(v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(ValidateEvent(event).code(), absl::StatusCode::kInvalidArgument);
  event = MakeEvent(1);
  event.set_path(std::string(kMaxAuditFieldBytes + 1, 'p'));
  EXPECT_EQ(ValidateEvent(event).code(), absl::StatusCode::kInvalidArgument);
  event.set_path(std::string(kMaxAuditFieldBytes, 'p'));
  EXPECT_TRUE(ValidateEvent(event).ok());
  event.set_agent("bad \xff utf-8");
  EXPECT_EQ(ValidateEvent(event).code(), absl::StatusCode::kInvalidArgument);
  event = MakeEvent(1);
  event.set_reason_code(static_cast<v1::ReasonCode>(999));
  EXPECT_EQ(ValidateEvent(event).code(), absl::StatusCode::kInvalidArgument);
  event = MakeEvent(1);
  event.set_bytes_in(-1);
  EXPECT_EQ(ValidateEvent(event).code(), absl::StatusCode::kInvalidArgument);
  event = MakeEvent(1);
  event.clear_source();
  EXPECT_EQ(ValidateEvent(event).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AuditRecordTest, ControlCharactersStayOnOneLine) {
  v1::AuditEvent event = MakeEvent(1);
  event.set_reason(std::string("a\nb\rc\0d\x1f", 8));
  std::string line =
      FormatRecordLine(event, 1, absl::Now(), kGenesisHash, kKey);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  absl::StatusOr<v1::AuditRecord> record = ParseRecordLine(line);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->event().reason(), event.reason());
}

TEST(AuditRecordTest, MalformedLinesAreRejected) {
  EXPECT_FALSE(ParseChainFields("").ok());
  EXPECT_FALSE(ParseChainFields("not json").ok());
  std::string line =
      FormatRecordLine(MakeEvent(1), 1, absl::Now(), kGenesisHash, kKey);
  // hmac must be the last key.
  std::string moved = line;
  moved.insert(moved.size() - 1, ",\"x\":1");
  EXPECT_FALSE(ParseChainFields(moved).ok());
  EXPECT_FALSE(LineHmacMatches(moved, kKey));
  EXPECT_FALSE(ParseRecordLine("{\"seq\":1}").ok());
  EXPECT_EQ(PeekSequence("{\"seq\":12,"), 12u);
  EXPECT_FALSE(PeekSequence("{\"seq\":-1,").has_value());
  EXPECT_FALSE(PeekSequence("{\"seq\":12").has_value());
}

TEST(AuditRecordTest, ApprovalKeysAreWrittenOnlyWhenSetAndRoundTrip) {
  absl::Time time = absl::FromUnixNanos(1700000000000000000);
  std::string prev(64, 'b');
  // An ordinary event has neither key.
  std::string plain = FormatRecordLine(MakeEvent(1), 1, time, prev, kKey);
  EXPECT_EQ(plain.find("approval_id"), std::string::npos);
  EXPECT_EQ(plain.find("operator_uid"), std::string::npos);
  // An operator's decision names the approval and the operator, even root.
  v1::AuditEvent event = MakeEvent(2, "bot", "pay", v1::DECISION_DENY);
  event.set_source("operator");
  event.set_approval_id("00aa11bb22cc33dd");
  event.set_operator_uid(0);
  std::string line = FormatRecordLine(event, 2, time, prev, kKey);
  auto json = nlohmann::ordered_json::parse(line);
  EXPECT_EQ(json["approval_id"], "00aa11bb22cc33dd");
  EXPECT_EQ(json["operator_uid"], 0);
  EXPECT_TRUE(LineHmacMatches(line, kKey));
  absl::StatusOr<v1::AuditRecord> record = ParseRecordLine(line);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->event().SerializeAsString(), event.SerializeAsString());
}

}  // namespace
}  // namespace latchkey::audit_sink
