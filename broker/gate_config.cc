#include "broker/gate_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"

namespace latchkey::broker {
namespace {

absl::Status Bad(const std::string& where, const char* field,
                 absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ".", field, ": ", message));
}

}  // namespace

absl::Status CheckGates(const v1::Capability& capability,
                        const std::string& where) {
  if (capability.max_reason_bytes() > kMaxReasonBytes) {
    return Bad(where, "max_reason_bytes",
               absl::StrCat("must be at most ", kMaxReasonBytes, " (0 means ",
                            kMaxReasonBytes, ")"));
  }
  if (!v1::ApprovalMode_IsValid(capability.approval())) {
    return Bad(where, "approval",
               "must be APPROVAL_MODE_NONE, "
               "APPROVAL_MODE_FIRST_REQUEST_OF_SESSION or "
               "APPROVAL_MODE_EVERY_REQUEST");
  }
  const auto& timeout = capability.approval_timeout();
  if (timeout.seconds() < 0 || timeout.nanos() < 0 ||
      timeout.seconds() > kMaxApprovalTimeoutSeconds) {
    return Bad(where, "approval_timeout",
               absl::StrCat("must be between 0 (default, ",
                            kDefaultApprovalTimeoutSeconds, " s) and ",
                            kMaxApprovalTimeoutSeconds, " seconds"));
  }
  const v1::HealthRequest& health = capability.health_request();
  if (!health.path().empty() || !health.method().empty()) {
    if (health.path().empty() || health.path()[0] != '/' ||
        health.path().size() > kMaxPathBytes) {
      return Bad(where, "health_request.path",
                 "must be an absolute path such as \"/v1/balance\"");
    }
    for (char c : health.method()) {
      if (!absl::ascii_isupper(c)) {
        return Bad(where, "health_request.method",
                   "must be an upper-case HTTP method such as \"GET\"");
      }
    }
    if (health.method().size() > kMaxMethodBytes) {
      return Bad(where, "health_request.method", "is too long");
    }
  }
  return absl::OkStatus();
}

}  // namespace latchkey::broker
