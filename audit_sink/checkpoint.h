// Signed checkpoints of the audit chain.
//
// The sink holds an Ed25519 key (`<state_dir>/checkpoint.key`, PKCS#8 PEM,
// mode 0600, created on first start) and exports its public half to
// `<state_dir>/checkpoint.pub` (PEM). Periodically and on every file
// rotation it appends one line to `<state_dir>/checkpoints.jsonl`:
//
//   {"seq":N,"head":"<hex SHA-256 of record N's line>","ts":"...",
//    "sig":"<hex Ed25519 signature>"}
//
// The signature covers the line without "sig", i.e. the bytes up to
// `,"sig":` followed by `}`. A checkpoint is written only once record N is
// durable, so it proves that records 1..N existed with exactly these
// bytes: a verifier holding only the public key (and a copy of the
// checkpoints kept elsewhere) detects a truncated log or a replaced file.
#ifndef LATCHKEY_AUDIT_SINK_CHECKPOINT_H_
#define LATCHKEY_AUDIT_SINK_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace latchkey::audit_sink {

// CheckpointKey is an Ed25519 key: private (it can sign) or public only.
class CheckpointKey {
 public:
  // LoadOrCreate loads `dir`/checkpoint.key or creates it (0600, through a
  // temporary file linked into place), then (re)writes `dir`/checkpoint.pub
  // when it is missing or differs. It refuses to create a new key when
  // `dir`/checkpoints.jsonl already holds checkpoints signed by the old one.
  static absl::StatusOr<std::unique_ptr<CheckpointKey>> LoadOrCreate(
      const std::string& dir);
  // LoadPublic reads a PEM public key (or a PEM private key's public half).
  static absl::StatusOr<std::unique_ptr<CheckpointKey>> LoadPublic(
      const std::string& path);
  static absl::StatusOr<std::unique_ptr<CheckpointKey>> FromPublicPem(
      absl::string_view pem);

  ~CheckpointKey();
  CheckpointKey(const CheckpointKey&) = delete;
  CheckpointKey& operator=(const CheckpointKey&) = delete;

  bool can_sign() const { return can_sign_; }
  // Sign returns the 64-byte signature of `message`; INTERNAL on failure
  // or when the key is public only.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;
  bool Verify(absl::string_view message, absl::string_view signature) const;
  // PublicPem is the SubjectPublicKeyInfo PEM of the key.
  std::string PublicPem() const;

 private:
  CheckpointKey(EVP_PKEY* key, bool can_sign)
      : key_(key), can_sign_(can_sign) {}
  EVP_PKEY* key_;
  bool can_sign_;
};

struct Checkpoint {
  uint64_t sequence = 0;
  std::string head_hash;  // Hex SHA-256 of record `sequence`'s line.
  std::string time;       // RFC 3339, UTC, nanoseconds.
  std::string signature;  // The 64 raw bytes of the Ed25519 signature.
};

// SignedCheckpoint is a checkpoint and its line (without newline).
struct SignedCheckpoint {
  Checkpoint checkpoint;
  std::string line;
};

// SignCheckpoint signs a checkpoint of record `sequence` taken at `time`.
absl::StatusOr<SignedCheckpoint> SignCheckpoint(uint64_t sequence,
                                                absl::string_view head_hash,
                                                absl::Time time,
                                                const CheckpointKey& key);

// FormatCheckpointLine signs `checkpoint` (its time is set from `time`)
// and returns the line without newline.
absl::StatusOr<std::string> FormatCheckpointLine(uint64_t sequence,
                                                 absl::string_view head_hash,
                                                 absl::Time time,
                                                 const CheckpointKey& key);

// ParseCheckpointLine parses a line and checks its signature: DATA_LOSS
// when it is malformed, UNAUTHENTICATED when the signature is wrong.
absl::StatusOr<Checkpoint> ParseCheckpointLine(absl::string_view line,
                                               const CheckpointKey& key);

// CheckpointList is what a checkpoints file proves, for Verify.
struct CheckpointList {
  // Checkpoints with valid signatures, in file order (increasing sequence).
  std::vector<Checkpoint> checkpoints;
  // When a line is forged, unparseable or out of order: the problem, and
  // the sequence it names (0 if unreadable). Checkpoints after it are not
  // used.
  std::optional<std::string> problem;
  uint64_t problem_sequence = 0;
};

// ReadCheckpoints reads a checkpoints file. A partial last line (a crash
// while appending) is ignored. NOT_FOUND when the file does not exist.
absl::StatusOr<CheckpointList> ReadCheckpoints(const std::string& path,
                                               const CheckpointKey& key);

// CheckpointFile appends checkpoints to `dir`/checkpoints.jsonl (0600),
// each made durable with fdatasync.
class CheckpointFile {
 public:
  // Open creates the file or, after a crash, cuts an unterminated last
  // line (a checkpoint that was never completed) from it. The last
  // complete checkpoint's sequence is last_sequence().
  static absl::StatusOr<std::unique_ptr<CheckpointFile>> Open(
      const std::string& dir, const CheckpointKey* key);
  ~CheckpointFile();

  absl::Status Append(uint64_t sequence, absl::string_view head_hash);
  uint64_t last_sequence() const { return last_sequence_; }
  // last is the newest complete, validly signed checkpoint (sequence 0
  // and an empty line when there is none). Not thread-safe, like Append.
  const SignedCheckpoint& last() const { return last_; }
  const std::string& path() const { return path_; }

 private:
  CheckpointFile(std::string path, int fd, const CheckpointKey* key,
                 uint64_t size, uint64_t last_sequence, SignedCheckpoint last)
      : path_(std::move(path)),
        fd_(fd),
        key_(key),
        size_(size),
        last_sequence_(last_sequence),
        last_(std::move(last)) {}
  const std::string path_;
  const int fd_;
  const CheckpointKey* const key_;
  uint64_t size_;
  uint64_t last_sequence_;
  SignedCheckpoint last_;
};

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_CHECKPOINT_H_
