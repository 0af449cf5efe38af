// The effective value of each EgressLimits field: 0 in a capability's
// limits means the default in common/limits.h. The broker and the vault
// both read limits through these, so a default lives in one place.
#ifndef LATCHKEY_COMMON_EGRESS_LIMITS_H_
#define LATCHKEY_COMMON_EGRESS_LIMITS_H_

#include <cstdint>

#include "common/limits.h"
#include "proto/common.pb.h"

namespace latchkey {

// max_request_bytes, 0: kMaxRequestBodyBytes (8 MiB).
inline uint64_t MaxRequestBytes(const v1::EgressLimits& limits) {
  return limits.max_request_bytes() == 0 ? kMaxRequestBodyBytes
                                         : limits.max_request_bytes();
}

// max_response_bytes, 0: kDefaultMaxResponseBytes (10 MiB).
inline uint64_t MaxResponseBytes(const v1::EgressLimits& limits) {
  return limits.max_response_bytes() == 0 ? kDefaultMaxResponseBytes
                                          : limits.max_response_bytes();
}

// connect_timeout_ms, 0: kDefaultConnectTimeoutMs.
inline uint32_t ConnectTimeoutMs(const v1::EgressLimits& limits) {
  return limits.connect_timeout_ms() == 0 ? kDefaultConnectTimeoutMs
                                          : limits.connect_timeout_ms();
}

// total_timeout_ms, 0: kDefaultTotalTimeoutMs.
inline uint32_t TotalTimeoutMs(const v1::EgressLimits& limits) {
  return limits.total_timeout_ms() == 0 ? kDefaultTotalTimeoutMs
                                        : limits.total_timeout_ms();
}

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_EGRESS_LIMITS_H_
