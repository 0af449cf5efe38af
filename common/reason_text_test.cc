// Every reason code a denial can carry has its own next step: none falls
// through to the generic "tell the user" text, and names are stable.
#include "common/reason_text.h"

#include "gtest/gtest.h"

namespace latchkey {
namespace {

TEST(ReasonTextTest, EveryDenialCodeHasItsOwnNextStep) {
  const std::string fallback = NextStep(static_cast<v1::ReasonCode>(9999));
  const google::protobuf::EnumDescriptor* codes = v1::ReasonCode_descriptor();
  for (int i = 0; i < codes->value_count(); ++i) {
    auto code = static_cast<v1::ReasonCode>(codes->value(i)->number());
    if (code == v1::REASON_UNSPECIFIED || code == v1::REASON_ALLOWED) continue;
    EXPECT_NE(NextStep(code), fallback) << codes->value(i)->name();
    EXPECT_EQ("REASON_" + ReasonName(code), codes->value(i)->name());
  }
}

TEST(ReasonTextTest, ApprovalCodesHaveStableNames) {
  EXPECT_EQ(ReasonName(v1::REASON_APPROVAL_PENDING), "APPROVAL_PENDING");
  EXPECT_EQ(ReasonName(v1::REASON_APPROVAL_DENIED), "APPROVAL_DENIED");
  EXPECT_EQ(ReasonName(v1::REASON_APPROVAL_TIMED_OUT), "APPROVAL_TIMED_OUT");
  EXPECT_EQ(ReasonName(v1::REASON_REASON_REQUIRED), "REASON_REQUIRED");
  EXPECT_NE(NextStep(v1::REASON_APPROVAL_PENDING).find("approval_id"),
            std::string::npos);
}

}  // namespace
}  // namespace latchkey
