#include "rules/request_digest.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "common/crypto.h"

namespace latchkey {
namespace {

// Append adds `part` with an 8-byte big-endian length in front of it.
void Append(std::string* out, absl::string_view part) {
  uint64_t size = part.size();
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((size >> shift) & 0xFF));
  }
  out->append(part.data(), part.size());
}

}  // namespace

RequestDigest DigestRequest(
    absl::string_view method, absl::string_view canonical_path,
    const google::protobuf::RepeatedPtrField<v1::QueryParam>& query,
    const google::protobuf::RepeatedPtrField<v1::Header>& headers,
    std::optional<absl::string_view> body) {
  std::string query_bytes;
  for (const v1::QueryParam& param : query) {
    Append(&query_bytes, param.name());
    Append(&query_bytes, param.value());
  }
  std::string header_bytes;
  for (const v1::Header& header : headers) {
    // Names are case-insensitive on the wire: "Accept" and "accept" are
    // the same request.
    Append(&header_bytes, absl::AsciiStrToLower(header.name()));
    Append(&header_bytes, header.value());
  }
  RequestDigest digest;
  digest.query_sha256 = Sha256Hex(query_bytes);
  digest.headers_sha256 = Sha256Hex(header_bytes);
  if (body.has_value()) digest.body_sha256 = Sha256Hex(*body);
  std::string all;
  Append(&all, method);
  Append(&all, canonical_path);
  Append(&all, digest.query_sha256);
  Append(&all, digest.headers_sha256);
  Append(&all, body.has_value() ? digest.body_sha256 : "streamed");
  digest.request_sha256 = Sha256Hex(all);
  return digest;
}

}  // namespace latchkey
