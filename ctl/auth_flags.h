// `latchkeyctl secret put` flags that choose the secret's auth scheme:
//   --auth=SCHEME (bearer, header, basic, query_param, hmac, aws_sigv4,
//                  github_app, oauth2, oauth1)
//   --auth_config='field=value;field=value'  fields of that scheme's config
//                  message in proto/vault.proto (repeat a field for lists)
//   --ca_bundle=FILE  extra PEM CA certificates for the secret's origins
#ifndef LATCHKEY_CTL_AUTH_FLAGS_H_
#define LATCHKEY_CTL_AUTH_FLAGS_H_

#include "absl/status/status.h"
#include "proto/vault.pb.h"

namespace latchkey::ctl {

// ApplyAuthFlags fills request->auth and request->ca_bundle_pem from the
// flags; leaves them alone when the flags are unset.
absl::Status ApplyAuthFlags(v1::PutSecretRequest* request);

}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_AUTH_FLAGS_H_
