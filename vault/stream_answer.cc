#include "vault/stream_answer.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/limits.h"

namespace latchkey::vault {

bool StreamAnswer::Sealed() {
  sealed_ = sealed_ || core_->seal_generation() != generation_;
  return sealed_;
}

bool StreamAnswer::Write(const std::string &data) {
  for (size_t offset = 0; offset < data.size(); offset += kStreamChunkBytes) {
    v1::VaultStreamReply message;
    message.set_body_chunk(data.substr(offset, kStreamChunkBytes));
    if (!stream_->Write(message)) {
      broker_gone_ = true;
      return false;
    }
    end_.set_body_bytes(end_.body_bytes() +
                        std::min(kStreamChunkBytes, data.size() - offset));
  }
  return true;
}

bool StreamAnswer::SendHead(const UpstreamResult &hop) {
  if (head_sent_) return !broker_gone_;
  head_sent_ = true;
  v1::VaultStreamReply message;
  v1::VaultExecuteResponse &head = *message.mutable_head();
  *head.mutable_redirects() = reply_->redirects();
  v1::HttpResponse &response = *head.mutable_response();
  response.set_status(hop.status);
  header_redactions_ = AppendAnswerHeaders(hop, limits_, *scrubber_,
                                           /*streamed=*/!head_request_,
                                           response.mutable_headers());
  // 204 and 304 carry no body whatever their Content-Length says.
  // A decoded answer's Content-Length is the encoded size; the cap is
  // applied to the decoded bytes as they arrive.
  if (!head_request_ && !hop.decoded && hop.status != 204 &&
      hop.status != 304) {
    for (const auto &[name, value] : hop.headers) {
      uint64_t declared = 0;
      if (absl::EqualsIgnoreCase(name, "content-length") &&
          absl::SimpleAtoi(value, &declared) && declared > cap_) {
        // Refused whole rather than cut: the client gets a clear answer
        // (the gateway's 502 RESPONSE_TOO_LARGE) instead of a broken one.
        declared_too_large_ = true;
        truncated_ = true;
        response.set_body_truncated(true);
      }
    }
  }
  body_scrubber_.emplace(scrubber_);
  if (!stream_->Write(message)) broker_gone_ = true;
  return !broker_gone_;
}

bool StreamAnswer::Body(const UpstreamResult &hop, absl::string_view data) {
  if (Sealed() || broker_gone_) return false;
  if (!SendHead(hop)) return false;
  if (declared_too_large_) return false;
  if (received_ + data.size() > cap_) {
    data = data.substr(0, cap_ - received_);
    truncated_ = true;
  }
  received_ += data.size();
  std::string out;
  body_scrubber_->Feed(data, &out);
  if (!Write(out)) return false;
  return !truncated_;
}

void StreamAnswer::Finish(const UpstreamResult &hop, const std::string &error,
                          uint64_t request_bytes) {
  // Sealed before the head: nothing is sent; UseSecret's refusal
  // (FAILED_PRECONDITION) is the answer.
  if (broker_gone_ || (!head_sent_ && Sealed())) return;
  if (!SendHead(hop)) return;
  std::string tail;
  // A failed or sealed transfer ends without its held-back tail: it may
  // be the start of a credential the rest of the body would have shown.
  if (error.empty() && !Sealed() && !declared_too_large_) {
    // libcurl 7.88 accepts a compressed stream that ends early: a decoded
    // body may be cut like a truncated one.
    body_scrubber_->Finish(truncated_ || hop.decoded, &tail);
    if (!Write(tail)) return;
  }
  end_.set_body_truncated(truncated_);
  end_.set_redactions(
      static_cast<uint32_t>(header_redactions_ + body_scrubber_->redactions()));
  end_.set_upstream_latency_us(hop.latency_us);
  end_.set_request_bytes(request_bytes);
  if (Sealed()) {
    end_.set_error(kSealedDuringTransfer);
  } else if (declared_too_large_) {
    end_.set_error("");  // Not a failure: refused by the head.
  } else {
    end_.set_error(error);
  }
  v1::VaultStreamReply message;
  *message.mutable_end() = end_;
  if (!stream_->Write(message)) broker_gone_ = true;
}

}  // namespace latchkey::vault
