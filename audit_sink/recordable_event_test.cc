#include "common/recordable_event.h"

#include <string>
#include <vector>

#include "audit_sink/audit_record.h"
#include "common/limits.h"
#include "gtest/gtest.h"

namespace latchkey::audit_sink {
namespace {

// Inputs an agent can put into a record's fields: cut UTF-8, lone
// continuation bytes, overlong forms, surrogates, NUL, and long text.
std::vector<std::string> HostileTexts() {
  return {std::string(63, 'a') + "\xc3",
          "\xc3\xa9",
          "\x80\x80",
          "\xc0\xaf",
          "\xed\xa0\x80",
          "\xf4\x90\x80\x80",
          std::string("a\0b", 3),
          std::string(kMaxAuditFieldBytes * 2, 'x'),
          std::string(kMaxAuditFieldBytes - 1, 'x') + "\xc3\xa9",
          std::string(kMaxAuditFieldBytes, '\xff'),
          ""};
}

TEST(RecordableEventTest, SinkAcceptsWhatWritersMake) {
  for (const std::string& text : HostileTexts()) {
    v1::AuditEvent event;
    event.set_source("broker");
    event.set_decision(v1::DECISION_DENY);
    event.set_agent(text);
    event.set_session_id(text);
    event.set_capability(text);
    event.set_method(text);
    event.set_path(text);
    event.set_reason(text);
    event.set_rule(text);
    event.set_request_id(text);
    event.set_agent_reason(text);
    event.set_approval_id(text);
    event.set_bytes_in(-5);
    MakeRecordable(&event);
    EXPECT_TRUE(ValidateEvent(event).ok())
        << ValidateEvent(event) << " for input of " << text.size() << " bytes";
    EXPECT_LE(event.reason().size(), kMaxAuditFieldBytes);
    EXPECT_EQ(event.bytes_in(), 0);
  }
}

TEST(RecordableEventTest, ValidTextIsKeptAndBadBytesAreShown) {
  EXPECT_EQ(RecordableText("caf\xc3\xa9", 64), "caf\xc3\xa9");
  EXPECT_EQ(RecordableText("a\xc3", 64), "a\\xc3");
  EXPECT_EQ(RecordableText(std::string(10, 'x'), 6), "xxx...");
  // A cut never splits a character.
  EXPECT_EQ(RecordableText("ab\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8),
            "ab\xc3\xa9...");
}

}  // namespace
}  // namespace latchkey::audit_sink
