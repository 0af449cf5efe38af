#include "rules/identifiers.h"

#include <string>

#include "gtest/gtest.h"

namespace latchkey {
namespace {

TEST(IdentifiersTest, AcceptsTheShapesLatchkeyHandsOut) {
  EXPECT_TRUE(CheckIdentifier("approval_id", "0123456789abcdef", false).ok());
  EXPECT_TRUE(CheckIdentifier("capability", "github.issues_v2-x", false).ok());
  EXPECT_TRUE(CheckIdentifier("approval_id", "", true).ok());
  EXPECT_TRUE(CheckIdentifier("session_id",
                              std::string(kMaxIdentifierBytes, 'a'), false)
                  .ok());
}

TEST(IdentifiersTest, RefusesInsteadOfCutting) {
  // The review's input: 63 ASCII bytes and an "é" straddling byte 64.
  std::string straddling = std::string(63, 'a') + "\xc3\xa9";
  for (const std::string& bad :
       {straddling, std::string(kMaxIdentifierBytes + 1, 'a'), std::string(),
        std::string("a b"), std::string("a/b"), std::string("\xc3\xa9"),
        std::string("a\0b", 3), std::string("a\nb"), std::string("a%62")}) {
    absl::Status status = CheckIdentifier("approval_id", bad, false);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("approval_id"), std::string::npos);
  }
}

TEST(IdentifiersTest, PrintableIdentifierIsAsciiAndBounded) {
  std::string straddling = std::string(63, 'a') + "\xc3\xa9";
  std::string shown = PrintableIdentifier(straddling);
  for (char c : shown) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    EXPECT_LT(static_cast<unsigned char>(c), 0x7F);
  }
  EXPECT_EQ(shown, std::string(63, 'a') + "\\xc3...");
  EXPECT_EQ(PrintableIdentifier("a\\b"), "a\\x5cb");
}

}  // namespace
}  // namespace latchkey
