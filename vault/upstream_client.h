// UpstreamClient performs HTTP(S) calls for the vault with libcurl. Easy
// handles are pooled so that connections to the same origin are reused
// (HTTP keep-alive, HTTP/2 over TLS) across requests. Redirects are never
// followed here: the caller sees the 3xx and decides (see egress_service).
// Every connection goes to the PinnedAddress the caller checked and nowhere
// else (see address_guard.h).
#ifndef LATCHKEY_VAULT_UPSTREAM_CLIENT_H_
#define LATCHKEY_VAULT_UPSTREAM_CLIENT_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/common.pb.h"
#include "vault/address_guard.h"
#include "vault/outgoing_request.h"

namespace latchkey::vault {

// kAcceptEncoding is the only Accept-Encoding the vault sends: whatever the
// agent asked for is replaced, so that an upstream that honours it answers
// plain bytes the scrubber can read (see SetAcceptEncoding).
inline constexpr char kAcceptEncoding[] = "identity";

struct UpstreamResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool truncated = false;
  int64_t latency_us = 0;
  // redirect_url is the absolute URL a 3xx answer's Location points to
  // (resolved against the request URL by curl), empty otherwise.
  std::string redirect_url;
  // new_connections is how many connections this call opened (0 when a
  // pooled connection was reused).
  int64_t new_connections = 0;
  // stopped: the body sink ended the transfer early (PerformStreaming);
  // what it received so far is all there is.
  bool stopped = false;
  // decoded: the answer arrived with a content or transfer coding (gzip,
  // deflate, br, zstd, nested) that curl removed; the body passed on is
  // the decoded one, so the upstream's Content-Encoding and Content-Length
  // no longer describe it.
  bool decoded = false;
};

// SetAcceptEncoding replaces every Accept-Encoding in `headers` by the
// vault's own (kAcceptEncoding). Called before a request is signed, so a
// scheme that signs its headers (SigV4) signs the value that is sent.
void SetAcceptEncoding(
    std::vector<std::pair<std::string, std::string>>* headers);

// UploadSource supplies a request body too large to hold in memory (the
// streaming path). `read` fills up to `max` bytes of `buffer` and returns
// how many it wrote, 0 at the end of the body, or an error that aborts the
// transfer (that error is what PerformStreaming then returns).
struct UploadSource {
  // length is sent as Content-Length; unset means a chunked upload.
  std::optional<uint64_t> length;
  std::function<absl::StatusOr<size_t>(char* buffer, size_t max)> read;
};

// SetContentLength replaces any Content-Length in `request.headers` by
// the vault's own: the upload's length when known (none for a chunked
// upload), else the body's length when a body is sent (a non-empty body,
// or any POST/PUT/PATCH: HTTP asks a client to state an empty one).
// Called before a request is signed, so a scheme that signs its headers
// (SigV4) covers it; curl then adds no length of its own.
void SetContentLength(const UploadSource* upload, OutgoingRequest* request);

// BodySink receives the response body as it arrives; `so_far` holds the
// status and headers of the answer the bytes belong to. Returning false
// stops the transfer (the sink keeps track of why).
using BodySink =
    std::function<bool(const UpstreamResult& so_far, absl::string_view data)>;

class UpstreamClient {
 public:
  UpstreamClient();
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Perform sends `request` over a connection to `pinned` only. Timeouts
  // give DEADLINE_EXCEEDED, connection failures UNAVAILABLE, a connection
  // attempt to any other address PERMISSION_DENIED; a body over the limit
  // is cut and marked truncated.
  absl::StatusOr<UpstreamResult> Perform(const OutgoingRequest& request,
                                         const v1::EgressLimits& limits,
                                         const PinnedAddress& pinned);

  // PerformStreaming is Perform with the body passed to `sink` as it
  // arrives instead of collected (the result's body stays empty; no size
  // cap is applied here, the sink applies its own) and, when `upload` is
  // set, the request body read from it instead of request.body. Perform is
  // this with a sink that collects up to the limit. `proceed`, when set,
  // is asked about once a second and on every chunk whether the call is
  // still wanted: an error it returns stops the transfer (even while the
  // upstream is silent) and is what PerformStreaming returns.
  absl::StatusOr<UpstreamResult> PerformStreaming(
      const OutgoingRequest& request, const v1::EgressLimits& limits,
      const PinnedAddress& pinned, UploadSource* upload, const BodySink& sink,
      const std::function<absl::Status()>& proceed = nullptr);

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  std::mutex mu_;
  std::vector<void*> idle_handles_;  // CURL*, each keeping its connections.
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_UPSTREAM_CLIENT_H_
