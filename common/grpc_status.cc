#include "common/grpc_status.h"

#include <google/protobuf/unknown_field_set.h>

#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"

namespace latchkey {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Field numbers of google.rpc.Status and google.protobuf.Any. The protos
// are not in Debian's protobuf headers, so the few fields are written
// with UnknownFieldSet, which produces the same wire bytes.
constexpr int kStatusCode = 1;
constexpr int kStatusMessage = 2;
constexpr int kStatusDetails = 3;
constexpr int kAnyTypeUrl = 1;
constexpr int kAnyValue = 2;

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  absl::optional<absl::Cord> info = status.GetPayload(kErrorInfoTypeUrl);
  if (!info.has_value()) return grpc::Status(code, message);
  UnknownFieldSet any;
  any.AddLengthDelimited(kAnyTypeUrl, kErrorInfoTypeUrl);
  any.AddLengthDelimited(kAnyValue, std::string(*info));
  UnknownFieldSet rpc_status;
  rpc_status.AddVarint(kStatusCode, static_cast<uint64_t>(status.code()));
  rpc_status.AddLengthDelimited(kStatusMessage, message);
  any.SerializeToString(rpc_status.AddLengthDelimited(kStatusDetails));
  std::string details;
  if (!rpc_status.SerializeToString(&details)) {
    return grpc::Status(code, message);
  }
  return grpc::Status(code, message, details);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
  const std::string& details = status.error_details();
  UnknownFieldSet rpc_status;
  if (details.empty() || !rpc_status.ParseFromString(details)) return result;
  for (int i = 0; i < rpc_status.field_count(); ++i) {
    const UnknownField& field = rpc_status.field(i);
    if (field.number() != kStatusDetails ||
        field.type() != UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    UnknownFieldSet any;
    if (!any.ParseFromString(field.length_delimited())) continue;
    std::string type_url;
    std::string value;
    for (int j = 0; j < any.field_count(); ++j) {
      const UnknownField& part = any.field(j);
      if (part.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
      if (part.number() == kAnyTypeUrl) type_url = part.length_delimited();
      if (part.number() == kAnyValue) value = part.length_delimited();
    }
    if (type_url == kErrorInfoTypeUrl) {
      result.SetPayload(kErrorInfoTypeUrl, absl::Cord(value));
    }
  }
  return result;
}

}  // namespace latchkey
