#include "common/refusal.h"

#include <string>

#include "common/grpc_status.h"
#include "gtest/gtest.h"

namespace latchkey {
namespace {

constexpr Refusal kAll[] = {
    Refusal::kPeerNotAllowed,  Refusal::kPeerUnverified, Refusal::kAgentUnknown,
    Refusal::kAgentNotAllowed, Refusal::kRevoked,
};

TEST(RefusalTest, EveryRefusalSurvivesTheGrpcBoundary) {
  for (Refusal why : kAll) {
    SCOPED_TRACE(std::string(RefusalTag(why)));
    EXPECT_FALSE(RefusalTag(why).empty());
    absl::Status status =
        Refuse(absl::StatusCode::kPermissionDenied, why, "the reason");
    EXPECT_EQ(RefusalOf(status), why);
    grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(wire.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(wire.error_message(), "the reason");
    EXPECT_FALSE(wire.error_details().empty());
    absl::Status back = FromGrpcStatus(wire);
    EXPECT_EQ(back.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(back.message(), "the reason");
    EXPECT_EQ(RefusalOf(back), why);
  }
}

TEST(RefusalTest, UntaggedStatusHasNoDetailsAndNoRefusal) {
  absl::Status plain = absl::PermissionDeniedError("no");
  EXPECT_EQ(RefusalOf(plain), Refusal::kNone);
  grpc::Status wire = ToGrpcStatus(plain);
  EXPECT_TRUE(wire.error_details().empty());
  EXPECT_EQ(RefusalOf(FromGrpcStatus(wire)), Refusal::kNone);
  EXPECT_TRUE(WithRefusal(absl::OkStatus(), Refusal::kRevoked).ok());
}

TEST(RefusalTest, ForeignOrBrokenDetailsAreIgnored) {
  for (const std::string& details :
       {std::string("\xff\xff\xff"), std::string("garbage"),
        std::string("\x08\x07", 2)}) {
    absl::Status back = FromGrpcStatus(
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "m", details));
    EXPECT_EQ(back.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(back.message(), "m");
    EXPECT_EQ(RefusalOf(back), Refusal::kNone);
  }
}

}  // namespace
}  // namespace latchkey
