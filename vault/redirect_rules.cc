#include "vault/redirect_rules.h"

#include "absl/strings/str_cat.h"

namespace latchkey::vault {

absl::Status RedirectRules::Check(absl::string_view method,
                                  absl::string_view path) {
  if (!engine_.has_value()) {
    engine_ = policy::PolicyEngine::Compile(rules_.rules());
  }
  if (!engine_->ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the upstream redirected to ", method, " ", path,
                     ", and the capability's rules could not be checked (",
                     engine_->status().message(), ")"));
  }
  policy::PolicyDecision decision = (*engine_)->CheckRequest(method, path);
  if (decision.allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("the upstream redirected to ", method, " ", path,
                   ", which this capability's rules do not allow (",
                   decision.message, "); the hop was not sent"));
}

}  // namespace latchkey::vault
