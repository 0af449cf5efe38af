// The one percent-encoding the vault puts on the wire. UpstreamClient
// builds the URL with it and every signing scheme signs with it, so what is
// signed is byte for byte what is sent.
#ifndef LATCHKEY_VAULT_WIRE_ENCODING_H_
#define LATCHKEY_VAULT_WIRE_ENCODING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace latchkey::vault {

// AppendPercentEncoded appends `text` with every byte but RFC 3986's
// unreserved characters (ALPHA DIGIT - . _ ~) encoded as upper-case %XX:
// RFC 3986 query components, AWS's UriEncode and RFC 5849's encoding.
// It appends in place so a caller building a secret-bearing URL in a
// reserved buffer never reallocates.
void AppendPercentEncoded(absl::string_view text, std::string* out);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_WIRE_ENCODING_H_
