// ResponseScrubber removes every occurrence of a credential from what the
// upstream answered, before a byte of it leaves the vault. Each credential
// is searched in its raw, base64, base64url, hex (both cases) and
// percent-encoded forms, and replaced by kRedactionMarker.
#ifndef LATCHKEY_VAULT_RESPONSE_SCRUBBER_H_
#define LATCHKEY_VAULT_RESPONSE_SCRUBBER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {

inline constexpr absl::string_view kRedactionMarker = "[REDACTED:latchkey]";

class ResponseScrubber {
 public:
  // AddCredential registers a value that must never be returned, for
  // example the secret and the exact header value carrying it.
  void AddCredential(absl::string_view credential);

  // Scrub replaces every encoded form of every credential in `text` and
  // returns how many replacements were made.
  size_t Scrub(std::string* text) const;

  // ScrubStartingBefore is Scrub for a text whose end is not final (a
  // streamed body): it replaces only occurrences that start before
  // `*limit` and moves `*limit` to where the scrubbed part now ends (past
  // any replacement that straddled it). Bytes from there on are unchanged
  // and must be scrubbed again together with what follows them.
  size_t ScrubStartingBefore(std::string* text, size_t* limit) const;

  // ScrubTruncatedTail removes a trailing prefix of any credential form
  // from a body that was cut at the size limit, so that a credential split
  // by the cut does not leak its first bytes. Returns 1 if it cut, else 0.
  size_t ScrubTruncatedTail(std::string* text) const;

  // longest_form is the length of the longest form searched (0 if none).
  size_t longest_form() const {
    return needles_.empty() ? 0 : needles_.front().size();
  }

  // needle_count is for tests: how many distinct forms are searched.
  size_t needle_count() const { return needles_.size(); }

 private:
  // Needles are kept in secure memory and zeroized with the scrubber.
  std::vector<SecureBuffer> needles_;
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_RESPONSE_SCRUBBER_H_
