#include "mcp_adapter/listener_flags.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace latchkey::mcp {

absl::StatusOr<ListenerFlags> LoadListenerFlags(
    absl::string_view kind, absl::string_view address_text,
    const std::function<absl::StatusOr<std::string>()>& load_token,
    std::string* failed_event) {
  absl::StatusOr<LoopbackAddress> address = ParseLoopbackAddress(address_text);
  if (!address.ok()) {
    *failed_event = absl::StrCat("bad_", kind, "_address");
    return address.status();
  }
  absl::StatusOr<std::string> token = load_token();
  if (!token.ok()) {
    *failed_event = absl::StrCat("no_", kind, "_token");
    return token.status();
  }
  return ListenerFlags{*std::move(address), *std::move(token)};
}

}  // namespace latchkey::mcp
