#include "vault/stream_body_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/status_macros.h"

namespace latchkey::vault {

absl::StatusOr<bool> StreamBodyReader::Next() {
  v1::VaultStreamRequest message;
  if (!stream_->Read(&message)) {
    if (context_->IsCancelled()) {
      return absl::CancelledError(
          "the broker cancelled the call while sending the request body");
    }
    ended_ = true;
    if (content_length_.has_value() && received_ != *content_length_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the request body ended after ", received_,
          " bytes but content_length announced ", *content_length_));
    }
    return false;
  }
  if (message.part_case() != v1::VaultStreamRequest::kBodyChunk) {
    return absl::InvalidArgumentError(
        "only body_chunk messages may follow the head");
  }
  received_ += message.body_chunk().size();
  if (received_ > limit_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request body exceeds the capability's max_request_bytes (", limit_,
        " bytes)"));
  }
  if (content_length_.has_value() && received_ > *content_length_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request body is longer than its content_length (",
                     *content_length_, " bytes)"));
  }
  pending_.append(message.body_chunk());
  return true;
}

bool StreamBodyReader::fits() const {
  return ended_ && pending_.size() <= kMaxRequestBodyBytes;
}

absl::Status StreamBodyReader::ReadPrefix() {
  while (!ended_ && pending_.size() <= kMaxRequestBodyBytes) {
    LK_RETURN_IF_ERROR(Next().status());
  }
  // All announced bytes are here: the end must follow (see Read).
  while (!ended_ && content_length_.has_value() &&
         received_ == *content_length_) {
    LK_RETURN_IF_ERROR(Next().status());
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> StreamBodyReader::Read(char* buffer, size_t max) {
  while (offset_ == pending_.size()) {
    pending_.clear();
    offset_ = 0;
    if (ended_) return 0;
    LK_ASSIGN_OR_RETURN(bool more, Next());
    // Announced length reached: wait for the end of the body before the
    // last bytes go out, so that a longer body is refused before the
    // upstream has a complete request.
    while (more && content_length_.has_value() &&
           received_ == *content_length_) {
      LK_ASSIGN_OR_RETURN(more, Next());
    }
  }
  size_t n = std::min(max, pending_.size() - offset_);
  std::memcpy(buffer, pending_.data() + offset_, n);
  offset_ += n;
  delivered_ += n;
  return n;
}

}  // namespace latchkey::vault
