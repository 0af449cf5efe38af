// Conversion between absl::Status (used inside libraries) and grpc::Status
// (used at the RPC boundary). This is the one place that converts.
#ifndef LATCHKEY_COMMON_GRPC_STATUS_H_
#define LATCHKEY_COMMON_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace latchkey {

// ToGrpcStatus keeps the code and message; the codes are numerically equal.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// FromGrpcStatus is the inverse, for clients.
inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_GRPC_STATUS_H_
