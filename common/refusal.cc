#include "common/refusal.h"

#include <google/protobuf/unknown_field_set.h>

#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "common/grpc_status.h"

namespace latchkey {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// google.rpc.ErrorInfo field numbers.
constexpr int kReason = 1;
constexpr int kDomain = 2;
constexpr char kLatchkeyDomain[] = "latchkey";

constexpr Refusal kAll[] = {
    Refusal::kPeerNotAllowed,  Refusal::kPeerUnverified, Refusal::kAgentUnknown,
    Refusal::kAgentNotAllowed, Refusal::kRevoked,
};

}  // namespace

absl::string_view RefusalTag(Refusal why) {
  switch (why) {
    case Refusal::kNone:
      return "";
    case Refusal::kPeerNotAllowed:
      return "PEER_NOT_ALLOWED";
    case Refusal::kPeerUnverified:
      return "PEER_UNVERIFIED";
    case Refusal::kAgentUnknown:
      return "AGENT_UNKNOWN";
    case Refusal::kAgentNotAllowed:
      return "AGENT_NOT_ALLOWED";
    case Refusal::kRevoked:
      return "REVOKED";
  }
  return "";
}

absl::Status WithRefusal(absl::Status status, Refusal why) {
  if (status.ok() || why == Refusal::kNone) return status;
  UnknownFieldSet info;
  info.AddLengthDelimited(kReason, std::string(RefusalTag(why)));
  info.AddLengthDelimited(kDomain, kLatchkeyDomain);
  std::string bytes;
  info.SerializeToString(&bytes);
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(bytes));
  return status;
}

absl::Status Refuse(absl::StatusCode code, Refusal why,
                    absl::string_view message) {
  return WithRefusal(absl::Status(code, message), why);
}

Refusal RefusalOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorInfoTypeUrl);
  if (!payload.has_value()) return Refusal::kNone;
  UnknownFieldSet info;
  if (!info.ParseFromString(std::string(*payload))) return Refusal::kNone;
  std::string reason;
  std::string domain;
  for (int i = 0; i < info.field_count(); ++i) {
    const UnknownField& field = info.field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    if (field.number() == kReason) reason = field.length_delimited();
    if (field.number() == kDomain) domain = field.length_delimited();
  }
  if (domain != kLatchkeyDomain) return Refusal::kNone;
  for (Refusal why : kAll) {
    if (RefusalTag(why) == reason) return why;
  }
  return Refusal::kNone;
}

}  // namespace latchkey
