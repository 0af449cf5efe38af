// latchkey-audit-verify: checks an audit log offline. Prints one line;
// exits 0 when the log verifies, 1 otherwise.
//
// It reads every log file of --state_dir (audit.log and its rotations).
// With the state directory's hmac.key (when readable) it checks every
// record's HMAC; with --public_key (the sink's checkpoint.pub, ideally a
// copy kept elsewhere) it checks the signed checkpoints in --checkpoints
// (default: <state_dir>/checkpoints.jsonl, ideally also a copy kept
// elsewhere) and so detects a truncated log or a replaced file without
// the HMAC key. Without checkpoints, a truncated tail is only seen when
// the file ends mid-line, and a record being written by a running sink
// can show as "truncated".
//
// Whoever can write the state directory can also cut the log's tail and
// empty checkpoints.jsonl. --expect=SEQ:HEAD names a head known from
// outside the host (`latchkeyctl audit checkpoint` output or a checkpoint
// line from the journal, kept elsewhere): the log must still reach record
// SEQ, and that record must hash to HEAD.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/hmac_key.h"
#include "common/secure_buffer.h"

ABSL_FLAG(std::string, state_dir, "state/audit",
          "The directory holding the log files (audit.log, audit.log.N).");
ABSL_FLAG(std::string, public_key, "",
          "PEM Ed25519 public key of the sink (checkpoint.pub): check the "
          "signed checkpoints.");
ABSL_FLAG(std::string, checkpoints, "",
          "Checkpoints file (default <state_dir>/checkpoints.jsonl).");
ABSL_FLAG(std::string, hmac_key, "",
          "HMAC key file (default <state_dir>/hmac.key, used when present; "
          "required without --public_key).");
ABSL_FLAG(uint64_t, first, 0, "First sequence to check (0: the start).");
ABSL_FLAG(uint64_t, last, 0, "Last sequence to check (0: the end).");
ABSL_FLAG(std::vector<std::string>, expect, {},
          "SEQ:HEAD[,SEQ:HEAD...] (repeatable): heads known from outside "
          "this host "
          "(latchkeyctl audit checkpoint); fail when the log ends before "
          "SEQ or record SEQ does not hash to HEAD.");

namespace {

int Error(const absl::Status& status) {
  std::printf("error: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "latchkey-audit-verify --state_dir=DIR [--public_key=checkpoint.pub]: "
      "verify the audit log's hash chain, HMACs and signed checkpoints "
      "offline");
  absl::ParseCommandLine(argc, argv);
  const std::string dir = absl::GetFlag(FLAGS_state_dir);
  const std::string public_key_path = absl::GetFlag(FLAGS_public_key);

  std::string key_path = absl::GetFlag(FLAGS_hmac_key);
  const bool key_given = !key_path.empty();
  if (!key_given) key_path = dir + "/hmac.key";
  std::string hmac_key;
  absl::StatusOr<std::string> key = latchkey::audit_sink::LoadHmacKey(key_path);
  if (key.ok()) {
    hmac_key = std::move(*key);
  } else if (key.status().code() != absl::StatusCode::kNotFound || key_given ||
             public_key_path.empty()) {
    // Only a state directory without hmac.key, verified with the public
    // checkpoint key, goes without the HMAC check.
    return Error(key.status());
  }
  const bool with_hmac = !hmac_key.empty();

  latchkey::audit_sink::VerifyOptions options;
  options.first_sequence = absl::GetFlag(FLAGS_first);
  options.last_sequence = absl::GetFlag(FLAGS_last);
  std::vector<std::string> expect_flags =
      latchkey::audit_sink::FlagValues(argc, argv, "expect");
  if (expect_flags.empty()) expect_flags = absl::GetFlag(FLAGS_expect);
  absl::StatusOr<std::vector<latchkey::audit_sink::ExpectedHead>> expect =
      latchkey::audit_sink::ParseExpectedHeads(expect_flags);
  if (!expect.ok()) return Error(expect.status());
  options.expect = std::move(*expect);
  latchkey::audit_sink::CheckpointList checkpoints;
  if (!public_key_path.empty()) {
    absl::StatusOr<std::unique_ptr<latchkey::audit_sink::CheckpointKey>>
        public_key =
            latchkey::audit_sink::CheckpointKey::LoadPublic(public_key_path);
    if (!public_key.ok()) return Error(public_key.status());
    std::string checkpoints_path = absl::GetFlag(FLAGS_checkpoints);
    if (checkpoints_path.empty()) checkpoints_path = dir + "/checkpoints.jsonl";
    absl::StatusOr<latchkey::audit_sink::CheckpointList> read =
        latchkey::audit_sink::ReadCheckpoints(checkpoints_path, **public_key);
    if (!read.ok()) return Error(read.status());
    checkpoints = std::move(*read);
    options.checkpoints = &checkpoints;
  }

  absl::StatusOr<std::vector<latchkey::audit_sink::LogFile>> files =
      latchkey::audit_sink::ListLogFiles(dir);
  if (!files.ok()) return Error(files.status());
  absl::StatusOr<latchkey::v1::VerifyResponse> result =
      latchkey::audit_sink::VerifyChainFiles(*files, hmac_key, options);
  latchkey::CleanseString(&hmac_key);
  if (!result.ok()) return Error(result.status());
  std::string checks = with_hmac ? "hmac" : "no hmac key";
  if (options.checkpoints != nullptr) {
    absl::StrAppend(&checks, ", ", result->checkpoints_checked(), " of ",
                    checkpoints.checkpoints.size(),
                    " signed checkpoints matched");
  }
  if (!options.expect.empty()) {
    absl::StrAppend(&checks, ", ", result->expectations_checked(), " of ",
                    options.expect.size(), " expected heads matched");
  }
  if (result->ok()) {
    std::printf("ok: %s: %llu records verified in %zu files (%s)\n",
                dir.c_str(),
                static_cast<unsigned long long>(result->records_checked()),
                files->size(), checks.c_str());
    return 0;
  }
  std::printf(
      "FAILED: %s: %s at sequence %llu (%llu records verified "
      "before it; %s)%s%s\n",
      dir.c_str(), result->problem().c_str(),
      static_cast<unsigned long long>(result->first_bad_sequence()),
      static_cast<unsigned long long>(result->records_checked()),
      checks.c_str(), result->detail().empty() ? "" : ": ",
      result->detail().c_str());
  return 1;
}
