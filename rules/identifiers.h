// Identifiers an agent passes back to Latchkey (session and approval ids,
// capability names) have one shape, checked before anything else: short
// printable ASCII, so that no record, log line or message ever has to cut
// one (cutting inside a UTF-8 character made a record unparsable).
#ifndef LATCHKEY_RULES_IDENTIFIERS_H_
#define LATCHKEY_RULES_IDENTIFIERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace latchkey {

// kMaxIdentifierBytes bounds every identifier an agent passes back.
inline constexpr size_t kMaxIdentifierBytes = 64;

// CheckIdentifier accepts 1 to kMaxIdentifierBytes bytes of
// [A-Za-z0-9._-] (or, with may_be_empty, nothing at all), and otherwise
// returns INVALID_ARGUMENT naming `what` and the shape expected. It never
// echoes the value: a bad one may be anything.
absl::Status CheckIdentifier(absl::string_view what, absl::string_view value,
                             bool may_be_empty);

// PrintableIdentifier renders an identifier that failed CheckIdentifier
// for a record: printable ASCII kept, every other byte as \xNN, at most
// kMaxIdentifierBytes input bytes, "..." marking a cut. The result is
// always valid UTF-8 (it is ASCII).
std::string PrintableIdentifier(absl::string_view value);

}  // namespace latchkey

#endif  // LATCHKEY_RULES_IDENTIFIERS_H_
