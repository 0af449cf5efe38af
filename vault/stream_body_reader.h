// StreamBodyReader reads an ExecuteStream request body from the broker's
// stream: first up to kMaxRequestBodyBytes into memory (a body that fits
// is sent like Execute's, so signing and 307/308 replay work), then, for a
// larger body, the rest on demand as curl uploads it. It enforces the
// capability's max_request_bytes and the announced content_length on every
// chunk, so an oversized body is refused before the upstream sees it all.
#ifndef LATCHKEY_VAULT_STREAM_BODY_READER_H_
#define LATCHKEY_VAULT_STREAM_BODY_READER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/vault.grpc.pb.h"

namespace latchkey::vault {

class StreamBodyReader {
 public:
  using Stream =
      grpc::ServerReaderWriter<v1::VaultStreamReply, v1::VaultStreamRequest>;

  // `limit` is the effective max_request_bytes; `content_length` what the
  // head announced, if anything.
  StreamBodyReader(grpc::ServerContext* context, Stream* stream, uint64_t limit,
                   std::optional<uint64_t> content_length)
      : context_(context),
        stream_(stream),
        limit_(limit),
        content_length_(content_length) {}

  // ReadPrefix reads until the end of the body or until more than
  // kMaxRequestBodyBytes are in memory.
  absl::Status ReadPrefix();
  // fits: the whole body is in memory and within kMaxRequestBodyBytes
  // (take it with TakeBody); otherwise it is streamed through Read.
  bool fits() const;
  std::string TakeBody() { return std::move(pending_); }

  // Read is the UploadSource callback: up to `max` bytes, 0 at the end.
  absl::StatusOr<size_t> Read(char* buffer, size_t max);

  // delivered is how many body bytes went to the upstream through Read.
  uint64_t delivered() const { return delivered_; }

 private:
  // Next reads one message into pending_; false at the end of the body.
  absl::StatusOr<bool> Next();

  grpc::ServerContext* context_;
  Stream* stream_;
  const uint64_t limit_;
  const std::optional<uint64_t> content_length_;
  std::string pending_;  // received, not yet given to curl.
  size_t offset_ = 0;    // how much of pending_ curl has taken.
  bool ended_ = false;
  uint64_t received_ = 0;
  uint64_t delivered_ = 0;
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_STREAM_BODY_READER_H_
