#include "vault/wire_encoding.h"

#include "absl/strings/ascii.h"

namespace latchkey::vault {

void AppendPercentEncoded(absl::string_view text, std::string* out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out->push_back(ch);
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    }
  }
}

}  // namespace latchkey::vault
