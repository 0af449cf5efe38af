// RedirectRules checks each redirect hop against the capability's rules
// (the same rules library the broker decides with) before the vault sends
// it: a hop to a path the agent could not ask for itself is refused before
// the credential, or a repeated body, goes anywhere.
#ifndef LATCHKEY_VAULT_REDIRECT_RULES_H_
#define LATCHKEY_VAULT_REDIRECT_RULES_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/common.pb.h"
#include "rules/policy_engine.h"

namespace latchkey::vault {

class RedirectRules {
 public:
  // `rules` must outlive this object.
  explicit RedirectRules(const v1::RequestRules& rules) : rules_(rules) {}

  // Check is OK when the rules allow `method` on `path`; otherwise
  // PERMISSION_DENIED with a message naming the hop and the rule. The
  // rules are compiled on the first hop only: most requests have none.
  absl::Status Check(absl::string_view method, absl::string_view path);

 private:
  const v1::RequestRules& rules_;
  std::optional<absl::StatusOr<policy::PolicyEngine>> engine_;
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_REDIRECT_RULES_H_
