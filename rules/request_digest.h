// RequestDigest fingerprints the whole of a request as the vault will send
// it: method, canonical path, query, headers and body. An approval is
// bound to it (any difference is a different request) and the intent
// record carries its parts, so an operator can tell what was sent.
#ifndef LATCHKEY_RULES_REQUEST_DIGEST_H_
#define LATCHKEY_RULES_REQUEST_DIGEST_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "proto/common.pb.h"

namespace latchkey {

struct RequestDigest {
  std::string query_sha256;    // hex
  std::string headers_sha256;  // hex
  std::string body_sha256;     // hex; empty when the body is streamed
  std::string request_sha256;  // hex, over everything above and more
};

// DigestRequest hashes each part length-prefixed, so that no two
// different requests share an encoding. `body` is nullopt for a streamed
// body (not known yet): request_sha256 then says so instead.
RequestDigest DigestRequest(
    absl::string_view method, absl::string_view canonical_path,
    const google::protobuf::RepeatedPtrField<v1::QueryParam>& query,
    const google::protobuf::RepeatedPtrField<v1::Header>& headers,
    std::optional<absl::string_view> body);

}  // namespace latchkey

#endif  // LATCHKEY_RULES_REQUEST_DIGEST_H_
