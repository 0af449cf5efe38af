// UpstreamClient performs HTTP(S) calls for the vault with libcurl. Easy
// handles are pooled so that connections to the same origin are reused
// (HTTP keep-alive) across requests. Redirects are never followed.
#ifndef LATCHKEY_VAULT_UPSTREAM_CLIENT_H_
#define LATCHKEY_VAULT_UPSTREAM_CLIENT_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/common.pb.h"
#include "vault/outgoing_request.h"

namespace latchkey::vault {

struct UpstreamResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool truncated = false;
  int64_t latency_us = 0;
};

class UpstreamClient {
 public:
  UpstreamClient();
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Perform sends `request`. Timeouts give DEADLINE_EXCEEDED, connection
  // failures UNAVAILABLE; a body over the limit is cut and marked truncated.
  absl::StatusOr<UpstreamResult> Perform(const OutgoingRequest& request,
                                         const v1::EgressLimits& limits);

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  std::mutex mu_;
  std::vector<void*> idle_handles_;  // CURL*, each keeping its connections.
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_UPSTREAM_CLIENT_H_
