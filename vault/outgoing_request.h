// OutgoingRequest is one upstream call as the vault will send it: the
// agent's request (already checked) plus the credential parts added by an
// AuthScheme. Credential-bearing parts are SecureBuffers, zeroized when the
// request is destroyed at the end of the call.
#ifndef LATCHKEY_VAULT_OUTGOING_REQUEST_H_
#define LATCHKEY_VAULT_OUTGOING_REQUEST_H_

#include <string>
#include <utility>
#include <vector>

#include "common/secure_buffer.h"

namespace latchkey::vault {

struct OutgoingRequest {
  std::string method;
  std::string origin;  // canonical "scheme://host:port" bound to the secret.
  std::string path;    // normalized path approved by the broker.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<std::string, SecureBuffer>> credential_headers;
  std::vector<std::pair<std::string, SecureBuffer>> credential_query;
  // ca_bundle_pem: extra PEM CA certificates trusted for this call, in
  // addition to the system store (a secret's private CA).
  std::string ca_bundle_pem;
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_OUTGOING_REQUEST_H_
