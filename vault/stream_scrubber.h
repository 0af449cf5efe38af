// StreamScrubber scrubs a body that arrives in pieces (ExecuteStream): it
// applies a ResponseScrubber to what is safe to release and holds back the
// last (longest credential form - 1) bytes, so a credential split across
// two upstream chunks is still found once its second half arrives.
#ifndef LATCHKEY_VAULT_STREAM_SCRUBBER_H_
#define LATCHKEY_VAULT_STREAM_SCRUBBER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "vault/response_scrubber.h"

namespace latchkey::vault {

class StreamScrubber {
 public:
  // `scrubber` holds the credential forms and must outlive this object.
  explicit StreamScrubber(const ResponseScrubber* scrubber);
  // Zeroizes the held-back tail: it may hold the start of a credential.
  ~StreamScrubber();
  StreamScrubber(const StreamScrubber&) = delete;
  StreamScrubber& operator=(const StreamScrubber&) = delete;

  // Feed scrubs `data` together with the held-back tail and appends to
  // `out` everything that no later byte can turn into a credential.
  void Feed(absl::string_view data, std::string* out);

  // Finish releases the held-back tail at the end of the body. When the
  // body was cut (`truncated`), a trailing credential prefix is redacted
  // too (ResponseScrubber::ScrubTruncatedTail).
  void Finish(bool truncated, std::string* out);

  // redactions counts the replacements made so far.
  size_t redactions() const { return redactions_; }

 private:
  const ResponseScrubber* scrubber_;
  size_t hold_;  // longest credential form - 1.
  std::string held_;
  size_t redactions_ = 0;
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_STREAM_SCRUBBER_H_
