#include "vault/vault_core.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/origin.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "vault/aead.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kSealConfigKey[] = "seal_config";

// Associated data binds each sealed blob to where it belongs, so a row
// copied to another id, version or term (or a swapped keyring row) fails to
// open instead of being used.
std::string KeyringAad(uint32_t term) {
  return absl::StrCat("latchkey.keyring.v1\n", term);
}

std::string SecretAad(const SecretRow& row) {
  // The metadata hash covers the origins and auth scheme: editing where a
  // secret may be sent breaks authentication of its value.
  return absl::StrCat("latchkey.secret.v1\n", row.id, "\n", row.version, "\n",
                      row.term, "\n", Sha256Hex(row.metadata));
}

}  // namespace

absl::Status ValidateSecretId(absl::string_view id) {
  bool ok = !id.empty() && id.size() <= kMaxIdBytes;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    char c = id[i];
    bool alnum = absl::ascii_islower(static_cast<unsigned char>(c)) ||
                 absl::ascii_isdigit(static_cast<unsigned char>(c));
    ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "secret id must match [a-z0-9][a-z0-9._-]{0,127}");
  }
  return absl::OkStatus();
}

VaultCore::VaultCore(std::unique_ptr<SecretStore> store)
    : store_(std::move(store)) {
  absl::StatusOr<std::optional<std::string>> config =
      store_->GetMeta(kSealConfigKey);
  absl::MutexLock lock(&mu_);
  if (config.ok() && config->has_value()) {
    initialized_ = config_.ParseFromString(**config);
  }
}

v1::VaultStatus VaultCore::Status() const {
  absl::ReaderMutexLock lock(&mu_);
  v1::VaultStatus status = config_;
  status.set_initialized(initialized_);
  status.set_sealed(root_key_.empty());
  status.set_keyring_term(root_key_.empty() ? 0 : newest_term_);
  status.set_progress(0);
  status.set_version(LATCHKEY_VERSION);
  return status;
}

absl::StatusOr<v1::InitResponse> VaultCore::Init(
    const v1::InitRequest& request) {
  v1::UnsealMethod method = request.method();
  if (method == v1::UNSEAL_METHOD_UNSPECIFIED) method = v1::UNSEAL_METHOD_SHAMIR;
  if (method != v1::UNSEAL_METHOD_SHAMIR) {
    return absl::UnimplementedError(
        "only UNSEAL_METHOD_SHAMIR with shares=1, threshold=1 (a single "
        "unseal key) is available in this version");
  }
  uint32_t shares = request.shares() == 0 ? 1 : request.shares();
  uint32_t threshold = request.threshold() == 0 ? 1 : request.threshold();
  if (shares != 1 || threshold != 1) {
    return absl::UnimplementedError(
        "k-of-n Shamir shares are not available yet; use shares=1, "
        "threshold=1 (a single unseal key)");
  }
  absl::MutexLock lock(&mu_);
  if (initialized_) {
    return absl::AlreadyExistsError(
        "vault is already initialized; unseal it with the key from Init");
  }
  SecureBuffer root = SecureBuffer::Random(kAeadKeyBytes);
  SecureBuffer data_key = SecureBuffer::Random(kAeadKeyBytes);
  if (root.empty() || data_key.empty()) {
    return absl::InternalError("random key generation failed");
  }

  constexpr uint32_t kFirstTerm = 1;
  LK_ASSIGN_OR_RETURN(std::string sealed_data_key,
                      vault::Seal(root, data_key.view(), KeyringAad(kFirstTerm)));
  v1::VaultStatus config;
  config.set_method(method);
  config.set_shares(shares);
  config.set_threshold(threshold);
  LK_RETURN_IF_ERROR(store_->Initialize(config.SerializeAsString(),
                                        {kFirstTerm, sealed_data_key}));
  config_ = config;
  initialized_ = true;

  v1::InitResponse response;
  response.add_unseal_keys(HexEncode(root.view()));
  LogInfo("vault_initialized", {{"method", "shamir"},
                                {"shares", absl::StrCat(shares)},
                                {"threshold", absl::StrCat(threshold)}});
  // The vault stays sealed after Init: the operator proves they kept the
  // unseal key by unsealing with it.
  *response.mutable_status() = config_;
  response.mutable_status()->set_initialized(true);
  response.mutable_status()->set_sealed(true);
  return response;
}

absl::StatusOr<v1::VaultStatus> VaultCore::Unseal(
    const v1::UnsealRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    if (!initialized_) {
      return absl::FailedPreconditionError(
          "vault is not initialized; run Init first");
    }
    if (request.reset() || !root_key_.empty()) {
      // Nothing to accumulate with a single key; reset is a no-op.
    }
    if (root_key_.empty() && !request.key().empty()) {
      absl::StatusOr<std::string> key_bytes = HexDecode(request.key());
      if (!key_bytes.ok() || key_bytes->size() != kAeadKeyBytes) {
        return absl::InvalidArgumentError(
            "unseal key must be 64 hex characters");
      }
      SecureBuffer candidate = SecureBuffer::CopyOf(*key_bytes);
      CleanseString(&*key_bytes);
      LK_ASSIGN_OR_RETURN(std::vector<KeyringRow> keyring,
                          store_->ListKeyring());
      if (keyring.empty()) return absl::DataLossError("keyring is empty");
      std::map<uint32_t, SecureBuffer> keys;
      for (const KeyringRow& row : keyring) {
        absl::StatusOr<SecureBuffer> key =
            vault::Open(candidate, row.sealed_key, KeyringAad(row.term));
        if (!key.ok()) {
          if (row.term == keyring.front().term) {
            LogWarning("unseal_rejected", {{"why", "wrong unseal key"}});
            return absl::PermissionDeniedError("unseal key is not valid");
          }
          LogError("keyring_tampered", {{"term", absl::StrCat(row.term)}});
          return absl::DataLossError(absl::StrCat(
              "keyring term ", row.term, " failed authentication"));
        }
        keys.emplace(row.term, std::move(*key));
      }
      newest_term_ = keyring.back().term;
      data_keys_ = std::move(keys);
      root_key_ = std::move(candidate);
      LogInfo("vault_unsealed", {{"keyring_term", absl::StrCat(newest_term_)}});
    }
  }
  return Status();
}

v1::VaultStatus VaultCore::Seal() {
  {
    absl::MutexLock lock(&mu_);
    // SecureBuffer destructors zeroize the keys.
    data_keys_.clear();
    root_key_.Clear();
    newest_term_ = 0;
  }
  LogInfo("vault_sealed");
  return Status();
}

absl::Status VaultCore::RequireUnsealed() const {
  if (!initialized_) {
    return absl::FailedPreconditionError("vault is not initialized");
  }
  if (root_key_.empty()) {
    return absl::FailedPreconditionError(
        "vault is sealed; an operator must unseal it");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SecretMetadata> VaultCore::PutSecret(
    const v1::PutSecretRequest& request) {
  LK_RETURN_IF_ERROR(ValidateSecretId(request.id()));
  if (request.value().size() < kMinSecretBytes ||
      request.value().size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secret value must be ", kMinSecretBytes, " to ", kMaxSecretBytes,
        " bytes (short values cannot be reliably scrubbed from responses)"));
  }
  if (request.origins().empty()) {
    return absl::InvalidArgumentError(
        "a secret needs at least one origin it may be sent to, e.g. "
        "https://api.github.com");
  }
  if (request.description().size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError("description is too long");
  }
  v1::SecretMetadata metadata;
  metadata.set_id(request.id());
  metadata.set_description(request.description());
  *metadata.mutable_labels() = request.labels();
  *metadata.mutable_auth() = request.auth();
  if (metadata.auth().scheme_case() == v1::AuthScheme::SCHEME_NOT_SET) {
    metadata.mutable_auth()->mutable_bearer();
  }
  LK_RETURN_IF_ERROR(MakeAuthScheme(metadata.auth()).status());
  for (const std::string& text : request.origins()) {
    LK_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(text));
    metadata.add_origins(origin.ToString());
  }

  absl::MutexLock write_lock(&write_mu_);
  absl::ReaderMutexLock lock(&mu_);
  LK_RETURN_IF_ERROR(RequireUnsealed());
  LK_ASSIGN_OR_RETURN(uint32_t version, store_->NextVersion(request.id()));
  auto now = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  metadata.set_version(version);
  metadata.set_keyring_term(newest_term_);
  *metadata.mutable_update_time() = now;
  *metadata.mutable_create_time() = now;
  if (version > 1) {
    LK_ASSIGN_OR_RETURN(std::optional<SecretRow> previous,
                        store_->GetLatest(request.id()));
    if (previous.has_value()) {
      absl::StatusOr<v1::SecretMetadata> old = DecodeMetadata(*previous);
      if (old.ok()) *metadata.mutable_create_time() = old->create_time();
    }
  }
  SecretRow row;
  row.id = request.id();
  row.version = version;
  row.term = newest_term_;
  row.metadata = metadata.SerializeAsString();
  LK_ASSIGN_OR_RETURN(row.sealed_value,
                      vault::Seal(data_keys_.at(newest_term_), request.value(),
                                  SecretAad(row)));
  LK_RETURN_IF_ERROR(store_->PutVersion(row, kSecretVersionsKept));
  LogInfo("secret_stored", {{"secret_id", row.id},
                            {"version", absl::StrCat(version)}});
  return metadata;
}

absl::StatusOr<v1::SecretMetadata> VaultCore::DecodeMetadata(
    const SecretRow& row) const {
  v1::SecretMetadata metadata;
  if (!metadata.ParseFromString(row.metadata) || metadata.id() != row.id ||
      metadata.version() != row.version) {
    return absl::DataLossError(
        absl::StrCat("metadata of secret '", row.id, "' is corrupt"));
  }
  return metadata;
}

absl::StatusOr<SecureBuffer> VaultCore::OpenValue(const SecretRow& row) const {
  auto key = data_keys_.find(row.term);
  if (key == data_keys_.end()) {
    return absl::DataLossError(absl::StrCat(
        "secret '", row.id, "' names unknown keyring term ", row.term));
  }
  absl::StatusOr<SecureBuffer> value =
      vault::Open(key->second, row.sealed_value, SecretAad(row));
  if (!value.ok()) {
    LogError("secret_tampered", {{"secret_id", row.id},
                                 {"version", absl::StrCat(row.version)}});
    return absl::DataLossError(absl::StrCat(
        "secret '", row.id, "' failed authentication: the stored value or "
        "its metadata was modified"));
  }
  return value;
}

absl::StatusOr<v1::SecretMetadata> VaultCore::GetSecretMetadata(
    absl::string_view id) {
  LK_RETURN_IF_ERROR(ValidateSecretId(id));
  {
    absl::ReaderMutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
  }
  LK_ASSIGN_OR_RETURN(std::optional<SecretRow> row, store_->GetLatest(id));
  if (!row.has_value()) {
    return absl::NotFoundError(absl::StrCat("no secret '", id, "'"));
  }
  return DecodeMetadata(*row);
}

absl::StatusOr<v1::ListSecretsResponse> VaultCore::ListSecrets() {
  {
    absl::ReaderMutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
  }
  LK_ASSIGN_OR_RETURN(std::vector<SecretRow> rows, store_->ListLatest());
  v1::ListSecretsResponse response;
  for (const SecretRow& row : rows) {
    LK_ASSIGN_OR_RETURN(*response.add_secrets(), DecodeMetadata(row));
  }
  return response;
}

absl::StatusOr<v1::DeleteSecretResponse> VaultCore::DeleteSecret(
    absl::string_view id) {
  LK_RETURN_IF_ERROR(ValidateSecretId(id));
  {
    absl::ReaderMutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
  }
  absl::MutexLock write_lock(&write_mu_);
  LK_ASSIGN_OR_RETURN(uint32_t deleted, store_->Delete(id));
  if (deleted == 0) {
    return absl::NotFoundError(absl::StrCat("no secret '", id, "'"));
  }
  LogInfo("secret_deleted", {{"secret_id", std::string(id)},
                             {"versions", absl::StrCat(deleted)}});
  v1::DeleteSecretResponse response;
  response.set_versions_destroyed(deleted);
  return response;
}

absl::Status VaultCore::UseSecret(absl::string_view id, const SecretUse& use) {
  LK_RETURN_IF_ERROR(ValidateSecretId(id));
  v1::SecretMetadata metadata;
  SecureBuffer value;
  {
    absl::ReaderMutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
    LK_ASSIGN_OR_RETURN(std::optional<SecretRow> row, store_->GetLatest(id));
    if (!row.has_value()) {
      return absl::NotFoundError(absl::StrCat("no secret '", id, "'"));
    }
    LK_ASSIGN_OR_RETURN(value, OpenValue(*row));
    LK_ASSIGN_OR_RETURN(metadata, DecodeMetadata(*row));
  }
  // `value` is zeroized when this function returns.
  return use(metadata, value);
}

}  // namespace latchkey::vault
