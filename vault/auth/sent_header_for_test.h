// SentHeader, for the auth schemes' unit tests: the value a scheme left on
// a request for header `name` (agent or credential part), or "<missing>".
#ifndef LATCHKEY_VAULT_AUTH_SENT_HEADER_FOR_TEST_H_
#define LATCHKEY_VAULT_AUTH_SENT_HEADER_FOR_TEST_H_

#include <string>

#include "vault/outgoing_request.h"

namespace latchkey::vault {

inline std::string SentHeader(const OutgoingRequest& request,
                              const std::string& name) {
  for (const auto& [n, v] : request.headers) {
    if (n == name) return v;
  }
  for (const auto& [n, v] : request.credential_headers) {
    if (n == name) return std::string(v.view());
  }
  return "<missing>";
}

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_AUTH_SENT_HEADER_FOR_TEST_H_
