// Conversion between absl::Status (used inside libraries) and grpc::Status
// (used at the RPC boundary). This is the one place that converts.
//
// Besides code and message, a status may carry one machine-readable
// detail: a google.rpc.ErrorInfo (see common/refusal.h), stored as an
// absl::Status payload under kErrorInfoTypeUrl and sent in gRPC's
// grpc-status-details-bin trailer as a google.rpc.Status, the encoding
// every gRPC client (grpcurl included) expects there.
#ifndef LATCHKEY_COMMON_GRPC_STATUS_H_
#define LATCHKEY_COMMON_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace latchkey {

inline constexpr char kErrorInfoTypeUrl[] =
    "type.googleapis.com/google.rpc.ErrorInfo";

// ToGrpcStatus keeps the code, the message and an ErrorInfo payload; the
// codes are numerically equal.
grpc::Status ToGrpcStatus(const absl::Status& status);

// FromGrpcStatus is the inverse, for clients. Details it cannot parse are
// ignored: the code and message still say what happened.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_GRPC_STATUS_H_
