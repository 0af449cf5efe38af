#include "vault/stream_scrubber.h"

#include <algorithm>

#include "common/secure_buffer.h"

namespace latchkey::vault {

StreamScrubber::StreamScrubber(const ResponseScrubber* scrubber)
    : scrubber_(scrubber),
      hold_(scrubber->longest_form() == 0 ? 0 : scrubber->longest_form() - 1) {
  // Reserved once so that assigning the tail never reallocates and leaves
  // an uncleansed credential prefix in freed memory.
  held_.reserve(hold_);
}

StreamScrubber::~StreamScrubber() { CleanseString(&held_); }

void StreamScrubber::Feed(absl::string_view data, std::string* out) {
  std::string buffer;
  // Room for the replacements too (a marker may be longer than what it
  // replaces), so that scrubbing rarely reallocates a copy it cannot
  // cleanse.
  buffer.reserve(held_.size() + data.size() + 2 * kRedactionMarker.size());
  buffer.append(held_);
  buffer.append(data.data(), data.size());
  CleanseString(&held_);
  // An occurrence starting before `release` lies wholly in `buffer`; one
  // starting later may continue in the next chunk (or be the start of a
  // longer form, such as padded base64), so those bytes wait, unscrubbed.
  size_t release = buffer.size() - std::min(hold_, buffer.size());
  redactions_ += scrubber_->ScrubStartingBefore(&buffer, &release);
  out->append(buffer, 0, release);
  held_.append(buffer, release, std::string::npos);
  CleanseString(&buffer);
}

void StreamScrubber::Finish(bool truncated, std::string* out) {
  std::string tail;
  tail.reserve(held_.size() + 2 * kRedactionMarker.size());
  tail.append(held_);
  CleanseString(&held_);
  // The same order as a whole body's (egress_service.cc).
  if (truncated) redactions_ += scrubber_->ScrubTruncatedTail(&tail);
  redactions_ += scrubber_->Scrub(&tail);
  out->append(tail);
  CleanseString(&tail);
}

}  // namespace latchkey::vault
