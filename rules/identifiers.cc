#include "rules/identifiers.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace latchkey {
namespace {

bool IsIdentifierChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

absl::Status CheckIdentifier(absl::string_view what, absl::string_view value,
                             bool may_be_empty) {
  if (value.empty() && may_be_empty) return absl::OkStatus();
  bool shaped = !value.empty() && value.size() <= kMaxIdentifierBytes;
  for (char c : value) shaped = shaped && IsIdentifierChar(c);
  if (shaped) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      what, " must be 1 to ", kMaxIdentifierBytes,
      " characters of A-Z, a-z, 0-9, '.', '_' or '-' (", value.size(),
      " bytes were sent); pass it back exactly as Latchkey gave it"));
}

std::string PrintableIdentifier(absl::string_view value) {
  std::string out;
  absl::string_view kept = value.substr(0, kMaxIdentifierBytes);
  for (char c : kept) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    }
  }
  if (kept.size() < value.size()) out += "...";
  return out;
}

}  // namespace latchkey
