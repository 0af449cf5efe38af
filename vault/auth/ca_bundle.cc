#include "vault/auth/ca_bundle.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"

namespace latchkey::vault::auth {

absl::Status ValidateCaBundle(absl::string_view pem) {
  if (pem.size() > kMaxCaBundleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA bundle exceeds ", kMaxCaBundleBytes,
                     " bytes; pass only the "
                     "private CA's certificates"));
  }
  if (absl::StrContains(pem, "PRIVATE KEY")) {
    return absl::InvalidArgumentError(
        "CA bundle contains a private key; pass only the CA certificates");
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf failed");
  int certificates = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    ++certificates;
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();
  // Every BEGIN must have been a certificate OpenSSL could read.
  size_t blocks = 0;
  for (size_t at = pem.find("-----BEGIN "); at != absl::string_view::npos;
       at = pem.find("-----BEGIN ", at + 1)) {
    ++blocks;
  }
  if (certificates == 0 || blocks != static_cast<size_t>(certificates)) {
    return absl::InvalidArgumentError(
        "CA bundle must be PEM certificates (-----BEGIN CERTIFICATE-----), "
        "e.g. the contents of your private CA's ca.crt");
  }
  return absl::OkStatus();
}

}  // namespace latchkey::vault::auth
