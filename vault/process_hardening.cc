#include "vault/process_hardening.h"

#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "common/log.h"

namespace latchkey::vault {

absl::Status HardenVaultProcess() {
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    // A seccomp filter without setrlimit (systemd's ~@resources) is fine
    // when the unit already set LimitCORE=0.
    struct rlimit current;
    if (getrlimit(RLIMIT_CORE, &current) != 0 || current.rlim_cur != 0 ||
        current.rlim_max != 0) {
      return absl::InternalError(
          "cannot set RLIMIT_CORE to 0 (and it is not 0 already)");
    }
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return absl::InternalError("cannot clear PR_SET_DUMPABLE");
  }
  // The secure heap needs mlock(); without the allowance (LimitMEMLOCK in
  // the unit) OpenSSL falls back to the ordinary heap, which we report.
  if (CRYPTO_secure_malloc_init(kSecureHeapBytes, 32) != 1) {
    LogWarning("secure_heap_unavailable",
               {{"why",
                 "mlock allowance too small; secrets stay in the "
                 "ordinary heap (still zeroized, not locked)"}});
  }
  return absl::OkStatus();
}

}  // namespace latchkey::vault
