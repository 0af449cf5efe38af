#include "audit_sink/checkpoint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit_sink/file_util.h"
#include "audit_sink/range_line_reader.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secure_buffer.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace latchkey::audit_sink {
namespace {

using Json = nlohmann::ordered_json;

constexpr absl::string_view kSigPrefix = ",\"sig\":\"";
constexpr size_t kSignatureBytes = 64;
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr size_t kMaxCheckpointLineBytes = 1024;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size > 0 ? static_cast<size_t>(size) : 0);
}

absl::StatusOr<EVP_PKEY*> GenerateKey() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 &&
            EVP_PKEY_keygen(ctx, &key) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return absl::InternalError("Ed25519 key generation failed");
  return key;
}

// SplitSignature returns the hex signature at the end of `line` and sets
// `body` to the signed bytes (the line without it, closed with '}').
std::optional<std::string> SplitSignature(absl::string_view line,
                                          std::string* body) {
  const size_t suffix = kSigPrefix.size() + 2 * kSignatureBytes + 2;
  if (line.size() < suffix + 1 || line.front() != '{' ||
      !absl::EndsWith(line, "\"}")) {
    return std::nullopt;
  }
  absl::string_view tail = line.substr(line.size() - suffix);
  if (!absl::StartsWith(tail, kSigPrefix)) return std::nullopt;
  *body = absl::StrCat(line.substr(0, line.size() - suffix), "}");
  return std::string(tail.substr(kSigPrefix.size(), 2 * kSignatureBytes));
}

}  // namespace

CheckpointKey::~CheckpointKey() { EVP_PKEY_free(key_); }

absl::StatusOr<std::unique_ptr<CheckpointKey>> CheckpointKey::LoadOrCreate(
    const std::string& dir) {
  const std::string path = dir + "/checkpoint.key";
  absl::StatusOr<std::string> pem =
      ReadKeyFile(path, "the checkpoint signing key", kMaxKeyFileBytes,
                  /*owner_only=*/true);
  if (pem.status().code() == absl::StatusCode::kNotFound) {
    struct stat st;
    const std::string checkpoints = dir + "/checkpoints.jsonl";
    if (::stat(checkpoints.c_str(), &st) == 0 && st.st_size > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is missing but ", checkpoints,
          " holds checkpoints signed with it; restore the key file (a new "
          "key could not continue them)"));
    }
    LK_ASSIGN_OR_RETURN(EVP_PKEY * generated, GenerateKey());
    BioPtr bio(BIO_new(BIO_s_mem()));
    bool written = bio != nullptr &&
                   PEM_write_bio_PrivateKey(bio.get(), generated, nullptr,
                                            nullptr, 0, nullptr, nullptr) == 1;
    EVP_PKEY_free(generated);
    if (!written) return absl::InternalError("cannot encode the Ed25519 key");
    std::string text = BioText(bio.get());
    absl::Status status =
        WriteFileAtomically(dir, path, text, 0600, /*exclusive=*/true);
    CleanseString(&text);
    LK_RETURN_IF_ERROR(status);
    LogInfo("checkpoint_key_created", {{"path", path}});
    pem = ReadKeyFile(path, "the checkpoint signing key", kMaxKeyFileBytes,
                      /*owner_only=*/true);
  }
  if (!pem.ok()) return pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  EVP_PKEY* key = bio == nullptr ? nullptr
                                 : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                           nullptr, nullptr);
  CleanseString(&*pem);
  if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::FailedPreconditionError(
        absl::StrCat(path, " does not hold an Ed25519 private key (PEM)"));
  }
  std::unique_ptr<CheckpointKey> result(new CheckpointKey(key, true));
  const std::string pub_path = dir + "/checkpoint.pub";
  const std::string pub = result->PublicPem();
  absl::StatusOr<std::string> existing =
      ReadKeyFile(pub_path, "the checkpoint public key", kMaxKeyFileBytes,
                  /*owner_only=*/false);
  if (!existing.ok() || *existing != pub) {
    LK_RETURN_IF_ERROR(
        WriteFileAtomically(dir, pub_path, pub, 0644, /*exclusive=*/false));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<CheckpointKey>> CheckpointKey::LoadPublic(
    const std::string& path) {
  LK_ASSIGN_OR_RETURN(std::string pem,
                      ReadKeyFile(path, "the checkpoint public key",
                                  kMaxKeyFileBytes, /*owner_only=*/false));
  return FromPublicPem(pem);
}

absl::StatusOr<std::unique_ptr<CheckpointKey>> CheckpointKey::FromPublicPem(
    absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = bio == nullptr ? nullptr
                                 : PEM_read_bio_PUBKEY(bio.get(), nullptr,
                                                       nullptr, nullptr);
  if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(
        "the checkpoint public key is not an Ed25519 public key in PEM");
  }
  return std::unique_ptr<CheckpointKey>(new CheckpointKey(key, false));
}

absl::StatusOr<std::string> CheckpointKey::Sign(
    absl::string_view message) const {
  if (!can_sign_) return absl::InternalError("public key cannot sign");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string signature(kSignatureBytes, '\0');
  size_t size = signature.size();
  bool ok = ctx != nullptr &&
            EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
            EVP_DigestSign(
                ctx, reinterpret_cast<unsigned char*>(&signature[0]), &size,
                reinterpret_cast<const unsigned char*>(message.data()),
                message.size()) == 1 &&
            size == kSignatureBytes;
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("Ed25519 signing failed");
  return signature;
}

bool CheckpointKey::Verify(absl::string_view message,
                           absl::string_view signature) const {
  if (signature.size() != kSignatureBytes) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                signature.size(),
                reinterpret_cast<const unsigned char*>(message.data()),
                message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string CheckpointKey::PublicPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_) != 1) return "";
  return BioText(bio.get());
}

absl::StatusOr<SignedCheckpoint> SignCheckpoint(uint64_t sequence,
                                                absl::string_view head_hash,
                                                absl::Time time,
                                                const CheckpointKey& key) {
  SignedCheckpoint signed_checkpoint;
  Checkpoint& checkpoint = signed_checkpoint.checkpoint;
  checkpoint.sequence = sequence;
  checkpoint.head_hash = std::string(head_hash);
  checkpoint.time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", time, absl::UTCTimeZone());
  Json json;
  json["seq"] = sequence;
  json["head"] = checkpoint.head_hash;
  json["ts"] = checkpoint.time;
  std::string body = json.dump();
  LK_ASSIGN_OR_RETURN(checkpoint.signature, key.Sign(body));
  body.pop_back();
  absl::StrAppend(&body, kSigPrefix, HexEncode(checkpoint.signature), "\"}");
  signed_checkpoint.line = std::move(body);
  return signed_checkpoint;
}

absl::StatusOr<std::string> FormatCheckpointLine(uint64_t sequence,
                                                 absl::string_view head_hash,
                                                 absl::Time time,
                                                 const CheckpointKey& key) {
  LK_ASSIGN_OR_RETURN(SignedCheckpoint signed_checkpoint,
                      SignCheckpoint(sequence, head_hash, time, key));
  return std::move(signed_checkpoint.line);
}

absl::StatusOr<Checkpoint> ParseCheckpointLine(absl::string_view line,
                                               const CheckpointKey& key) {
  std::string body;
  std::optional<std::string> hex = SplitSignature(line, &body);
  if (!hex.has_value()) {
    return absl::DataLossError("checkpoint line does not end with its sig");
  }
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || json.size() != 3 ||
      !json["seq"].is_number_unsigned() || !json["head"].is_string() ||
      !json["ts"].is_string()) {
    return absl::DataLossError("checkpoint line is malformed");
  }
  Checkpoint checkpoint;
  checkpoint.sequence = json["seq"].get<uint64_t>();
  checkpoint.head_hash = json["head"].get<std::string>();
  checkpoint.time = json["ts"].get<std::string>();
  absl::StatusOr<std::string> signature = HexDecode(*hex);
  if (!signature.ok() || !key.Verify(body, *signature)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "checkpoint ", checkpoint.sequence,
        " does not carry a valid signature of the checkpoint key"));
  }
  checkpoint.signature = std::move(*signature);
  return checkpoint;
}

absl::StatusOr<CheckpointList> ReadCheckpoints(const std::string& path,
                                               const CheckpointKey& key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::string message = absl::StrCat("cannot open ", path, ": ", ErrnoText());
    return errno == ENOENT ? absl::NotFoundError(message)
                           : absl::UnavailableError(message);
  }
  CheckpointList list;
  RangeLineReader reader(fd, 0, std::numeric_limits<uint64_t>::max(),
                    kMaxCheckpointLineBytes);
  absl::string_view line;
  while (reader.Next(&line)) {
    absl::StatusOr<Checkpoint> checkpoint = ParseCheckpointLine(line, key);
    if (!checkpoint.ok()) {
      std::optional<uint64_t> sequence;
      Json json = Json::parse(line.begin(), line.end(), nullptr, false);
      if (json.is_object() && json.contains("seq") &&
          json["seq"].is_number_unsigned()) {
        list.problem_sequence = json["seq"].get<uint64_t>();
      }
      list.problem = "bad checkpoint";
      break;
    }
    if (!list.checkpoints.empty() &&
        checkpoint->sequence < list.checkpoints.back().sequence) {
      list.problem = "bad checkpoint";
      list.problem_sequence = checkpoint->sequence;
      break;
    }
    list.checkpoints.push_back(std::move(*checkpoint));
  }
  absl::Status status = reader.status();
  ::close(fd);
  if (!status.ok()) return status;
  return list;
}

absl::StatusOr<std::unique_ptr<CheckpointFile>> CheckpointFile::Open(
    const std::string& dir, const CheckpointKey* key) {
  std::string path = dir + "/checkpoints.jsonl";
  int fd = ::open(path.c_str(),
                  O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path, ": ", ErrnoText()));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  }
  // Find the last complete line; cut an unterminated one (never a
  // completed checkpoint, so nothing anyone relied on).
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t keep = 0;
  uint64_t last_sequence = 0;
  SignedCheckpoint last;
  {
    RangeLineReader reader(fd, 0, size, kMaxCheckpointLineBytes);
    absl::string_view line;
    while (reader.Next(&line)) {
      keep = reader.position();
      absl::StatusOr<Checkpoint> checkpoint = ParseCheckpointLine(line, *key);
      if (checkpoint.ok()) {
        last_sequence = checkpoint->sequence;
        last = SignedCheckpoint{std::move(*checkpoint), std::string(line)};
      }
    }
    if (!reader.status().ok()) {
      ::close(fd);
      return reader.status();
    }
  }
  if (keep < size) {
    if (::ftruncate(fd, static_cast<off_t>(keep)) != 0 || ::fsync(fd) != 0) {
      absl::Status error = absl::UnavailableError(absl::StrCat(
          "cannot cut the partial last line of ", path, ": ", ErrnoText()));
      ::close(fd);
      return error;
    }
    LogWarning("partial_checkpoint_cut",
               {{"path", path}, {"bytes", absl::StrCat(size - keep)}});
  }
  absl::Status synced = SyncDirectory(dir);
  if (!synced.ok()) {
    ::close(fd);
    return synced;
  }
  return std::unique_ptr<CheckpointFile>(new CheckpointFile(
      std::move(path), fd, key, keep, last_sequence, std::move(last)));
}

CheckpointFile::~CheckpointFile() { ::close(fd_); }

absl::Status CheckpointFile::Append(uint64_t sequence,
                                    absl::string_view head_hash) {
  LK_ASSIGN_OR_RETURN(SignedCheckpoint signed_checkpoint,
                      SignCheckpoint(sequence, head_hash, absl::Now(), *key_));
  std::string line = signed_checkpoint.line + "\n";
  absl::Status status = WriteAll(fd_, line);
  if (status.ok() && ::fdatasync(fd_) != 0) {
    status = absl::UnavailableError(absl::StrCat("fdatasync: ", ErrnoText()));
  }
  if (!status.ok()) {
    // Leave no half checkpoint behind.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      LogError("checkpoint_truncate_failed",
               {{"path", path_}, {"error", ErrnoText()}});
    }
    return absl::UnavailableError(absl::StrCat("cannot write checkpoint ",
                                               sequence, " to ", path_, ": ",
                                               status.message()));
  }
  size_ += line.size();
  last_sequence_ = sequence;
  last_ = std::move(signed_checkpoint);
  return absl::OkStatus();
}

}  // namespace latchkey::audit_sink
