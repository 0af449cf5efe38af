// latchkey-audit-verify: checks an audit log offline with the key in the
// state directory. Prints one line; exits 0 when the log verifies, 1
// otherwise. Offline, a truncated tail is only seen when the file ends
// mid-line (the live sink's Verify also knows what it acknowledged), and a
// record being written by a running sink can show as "truncated".
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/hmac_key.h"
#include "common/secure_buffer.h"

ABSL_FLAG(std::string, state_dir, "state/audit",
          "The sink's state directory (audit.log and hmac.key).");
ABSL_FLAG(uint64_t, first, 0, "First sequence to check (0: the start).");
ABSL_FLAG(uint64_t, last, 0, "Last sequence to check (0: the end).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "latchkey-audit-verify --state_dir=DIR: verify the audit log's hash "
      "chain and HMACs offline");
  absl::ParseCommandLine(argc, argv);
  const std::string dir = absl::GetFlag(FLAGS_state_dir);
  absl::StatusOr<std::string> key = latchkey::LoadHmacKey(dir + "/hmac.key");
  if (!key.ok()) {
    std::printf("error: %s\n", std::string(key.status().message()).c_str());
    return 1;
  }
  latchkey::VerifyOptions options;
  options.first_sequence = absl::GetFlag(FLAGS_first);
  options.last_sequence = absl::GetFlag(FLAGS_last);
  const std::string path = dir + "/audit.log";
  absl::StatusOr<latchkey::v1::VerifyResponse> result =
      latchkey::VerifyChainFile(path, *key, options);
  latchkey::CleanseString(&*key);
  if (!result.ok()) {
    std::printf("error: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  if (result->ok()) {
    std::printf("ok: %s: %llu records verified\n", path.c_str(),
                static_cast<unsigned long long>(result->records_checked()));
    return 0;
  }
  std::printf(
      "FAILED: %s: %s at sequence %llu (%llu records verified "
      "before it)\n",
      path.c_str(), result->problem().c_str(),
      static_cast<unsigned long long>(result->first_bad_sequence()),
      static_cast<unsigned long long>(result->records_checked()));
  return 1;
}
