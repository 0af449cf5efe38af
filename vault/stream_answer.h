// StreamAnswer is ExecuteStream's AnswerSink: it sends the final answer to
// the broker as it arrives, in order head, body chunks (scrubbed through a
// StreamScrubber, at most kStreamChunkBytes each), one StreamEnd. Each
// chunk is written with the blocking gRPC Write from curl's callback, so a
// slow broker slows the upstream down and the body is never buffered
// whole. It stops the transfer when the cap is reached, the broker is gone
// or the vault was sealed.
#ifndef LATCHKEY_VAULT_STREAM_ANSWER_H_
#define LATCHKEY_VAULT_STREAM_ANSWER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "proto/vault.grpc.pb.h"
#include "vault/egress_exchange.h"
#include "vault/response_scrubber.h"
#include "vault/stream_scrubber.h"
#include "vault/vault_core.h"

namespace latchkey::vault {

inline constexpr char kSealedDuringTransfer[] =
    "the vault was sealed during the transfer";

class StreamAnswer final : public AnswerSink {
 public:
  using Stream =
      grpc::ServerReaderWriter<v1::VaultStreamReply, v1::VaultStreamRequest>;

  // `generation` is the vault's seal generation when the secret was
  // opened; `cap` the effective max_response_bytes. `scrubber` and
  // `reply` (which holds the redirects followed) outlive this object.
  StreamAnswer(Stream *stream, const VaultCore *core, uint64_t generation,
               uint64_t cap, const v1::EgressLimits &limits,
               const ResponseScrubber *scrubber,
               const v1::VaultExecuteResponse *reply)
      : stream_(stream),
        core_(core),
        generation_(generation),
        cap_(cap),
        limits_(limits),
        scrubber_(scrubber),
        reply_(reply) {}

  bool Body(const UpstreamResult &hop, absl::string_view data) override;

  // set_head_request: the request is a HEAD, whose answer has no body, so
  // its Content-Length (the size a GET would get) is passed on as is.
  void set_head_request(bool head) { head_request_ = head; }

  // SendHead sends the answer's status and headers (once); false when
  // the broker is gone.
  bool SendHead(const UpstreamResult &hop);
  // Finish passes on the held-back tail and sends the StreamEnd, with
  // `error` when the transfer failed after the head (or the seal message
  // when the vault was sealed meanwhile).
  void Finish(const UpstreamResult &hop, const std::string &error,
              uint64_t request_bytes);

  bool head_sent() const { return head_sent_; }
  bool broker_gone() const { return broker_gone_; }
  const v1::StreamEnd &end() const { return end_; }

 private:
  bool Sealed();
  // Write sends `data` in chunks of at most kStreamChunkBytes.
  bool Write(const std::string &data);

  Stream *stream_;
  const VaultCore *core_;
  const uint64_t generation_;
  const uint64_t cap_;
  const v1::EgressLimits &limits_;
  const ResponseScrubber *scrubber_;
  const v1::VaultExecuteResponse *reply_;
  // Built with the head: every hop is signed by then, so the scrubber
  // holds every credential form.
  std::optional<StreamScrubber> body_scrubber_;
  bool head_sent_ = false;
  bool broker_gone_ = false;
  bool sealed_ = false;
  bool truncated_ = false;
  bool head_request_ = false;
  // The upstream's Content-Length was over the cap: the head says so
  // (body_truncated) and no byte of the body follows.
  bool declared_too_large_ = false;
  uint64_t received_ = 0;  // upstream body bytes taken (before scrubbing).
  size_t header_redactions_ = 0;
  v1::StreamEnd end_;
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_STREAM_ANSWER_H_
