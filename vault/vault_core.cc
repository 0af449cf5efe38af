#include "vault/vault_core.h"

#include <algorithm>

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
#include "vault/auth/ca_bundle.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kSealConfigKey[] = "seal_config";
constexpr char kPassphraseWrapKey[] = "passphrase_wrap";

std::string MethodName(v1::UnsealMethod method) {
  switch (method) {
    case v1::UNSEAL_METHOD_SHAMIR:
      return "shamir";
    case v1::UNSEAL_METHOD_PASSPHRASE:
      return "passphrase";
    case v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL:
      return "systemd_credential";
    default:
      return "unknown";
  }
}

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

// A derived value is bound to its secret version and name: moved to
// another secret, version or purpose, it fails to open.
std::string DerivedAad(const DerivedRow& row) {
  return absl::StrCat("latchkey.derived.v1\n", row.id, "\n", row.version, "\n",
                      row.name, "\n", row.term);
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

VaultCore::VaultCore(std::unique_ptr<SecretStore> store,
                     VaultCoreOptions options)
    : options_(options), store_(std::move(store)) {
  absl::StatusOr<std::optional<std::string>> config =
      store_->GetMeta(kSealConfigKey);
  absl::StatusOr<std::optional<std::string>> wrap =
      store_->GetMeta(kPassphraseWrapKey);
  {
    absl::MutexLock lock(&mu_);
    if (config.ok() && config->has_value()) {
      initialized_ = config_.ParseFromString(**config);
    }
    if (wrap.ok() && wrap->has_value()) passphrase_wrap_ = **wrap;
  }
  if (options_.background_rewrap) {
    rewrap_thread_ = std::thread([this] { RewrapLoop(); });
  }
}

VaultCore::~VaultCore() {
  if (rewrap_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(rewrap_mu_);
      rewrap_stop_ = true;
    }
    rewrap_cv_.notify_all();
    rewrap_thread_.join();
  }
}

v1::VaultStatus VaultCore::Status() const {
  absl::ReaderMutexLock lock(&mu_);
  return StatusLocked();
}

v1::VaultStatus VaultCore::StatusLocked() const {
  v1::VaultStatus status = config_;
  status.set_initialized(initialized_);
  const bool sealed = root_key_.empty();
  status.set_sealed(sealed);
  status.set_keyring_term(sealed ? 0 : newest_term_);
  status.set_progress(sealed ? static_cast<uint32_t>(pending_shares_.size())
                             : 0);
  status.set_rekey_progress(static_cast<uint32_t>(rekey_shares_.size()));
  status.set_version(LATCHKEY_VERSION);
  absl::Duration wait = retry_at_ - absl::Now();
  if (wait > absl::ZeroDuration()) {
    status.set_unseal_retry_after_ms(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(wait)) + 1);
  }
  if (!sealed) {
    absl::StatusOr<uint32_t> old = store_->CountOnOlderTerms(newest_term_);
    if (old.ok()) status.set_versions_on_old_terms(*old);
  }
  return status;
}

absl::StatusOr<VaultCore::SealPlan> VaultCore::MakePlan(
    v1::UnsealMethod method, uint32_t shares, uint32_t threshold,
    absl::string_view passphrase) {
  SealPlan plan;
  plan.method = method == v1::UNSEAL_METHOD_UNSPECIFIED
                    ? v1::UNSEAL_METHOD_SHAMIR
                    : method;
  switch (plan.method) {
    case v1::UNSEAL_METHOD_SHAMIR:
      if (shares == 0 && threshold == 0) {
        shares = kDefaultShares;
        threshold = kDefaultThreshold;
      }
      if (threshold < 1 || threshold > shares || shares > 255) {
        return absl::InvalidArgumentError(
            "Shamir needs 1 <= threshold <= shares <= 255 (default 3 of 5)");
      }
      if (shares > 1 && threshold < 2) {
        return absl::InvalidArgumentError(
            "with several shares the threshold must be at least 2, or any "
            "single share would be the whole root key");
      }
      plan.shares = shares;
      plan.threshold = threshold;
      break;
    case v1::UNSEAL_METHOD_PASSPHRASE:
      if (passphrase.size() < kMinPassphraseBytes ||
          passphrase.size() > kMaxPassphraseBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("the passphrase must be ", kMinPassphraseBytes, " to ",
                         kMaxPassphraseBytes, " bytes"));
      }
      break;
    case v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL:
      break;
    default:
      return absl::InvalidArgumentError("unknown unseal method");
  }
  if (plan.method != v1::UNSEAL_METHOD_SHAMIR &&
      (shares != 0 || threshold != 0)) {
    return absl::InvalidArgumentError(
        "shares and threshold apply to UNSEAL_METHOD_SHAMIR only");
  }
  if (plan.method != v1::UNSEAL_METHOD_PASSPHRASE && !passphrase.empty()) {
    return absl::InvalidArgumentError(
        "a passphrase applies to UNSEAL_METHOD_PASSPHRASE only");
  }
  return plan;
}

absl::StatusOr<VaultCore::SealMaterial> VaultCore::MakeMaterial(
    const SealPlan& plan, const SecureBuffer& root_key,
    absl::string_view passphrase) {
  SealMaterial material;
  v1::VaultStatus config;
  config.set_method(plan.method);
  config.set_shares(plan.shares);
  config.set_threshold(plan.threshold);
  material.meta[kSealConfigKey] = config.SerializeAsString();
  if (plan.method == v1::UNSEAL_METHOD_PASSPHRASE) {
    LK_ASSIGN_OR_RETURN(WrappedRootKey wrapped,
                        WrapRootKey(root_key, passphrase, options_.scrypt));
    material.meta[kPassphraseWrapKey] = wrapped.Serialize();
  } else {
    material.delete_meta.push_back(kPassphraseWrapKey);
  }
  if (plan.method == v1::UNSEAL_METHOD_SHAMIR) {
    // shares: locals, zeroized on return; only their text form leaves.
    LK_ASSIGN_OR_RETURN(std::vector<ShamirShare> shares,
                        ShamirSplit(root_key, plan.shares, plan.threshold));
    for (const ShamirShare& share : shares) {
      material.unseal_keys.push_back(EncodeShare(share));
    }
  } else if (plan.method == v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL) {
    material.unseal_keys.push_back(HexEncode(root_key.view()));
  }
  return material;
}

absl::StatusOr<v1::InitResponse> VaultCore::Init(
    const v1::InitRequest& request) {
  LK_ASSIGN_OR_RETURN(SealPlan plan,
                      MakePlan(request.method(), request.shares(),
                               request.threshold(), request.passphrase()));
  absl::MutexLock material_lock(&material_mu_);
  {
    absl::ReaderMutexLock lock(&mu_);
    if (initialized_) {
      return absl::AlreadyExistsError(
          "vault is already initialized; unseal it with the material from "
          "Init");
    }
  }
  // root, data_key: locals of Init, zeroized on return. The vault stays
  // sealed after Init: operators prove they kept the material by unsealing.
  SecureBuffer root = SecureBuffer::Random(kAeadKeyBytes);
  SecureBuffer data_key = SecureBuffer::Random(kAeadKeyBytes);
  if (root.empty() || data_key.empty()) {
    return absl::InternalError("random key generation failed");
  }
  constexpr uint32_t kFirstTerm = 1;
  LK_ASSIGN_OR_RETURN(
      std::string sealed_data_key,
      vault::Seal(root, data_key.view(), KeyringAad(kFirstTerm)));
  LK_ASSIGN_OR_RETURN(SealMaterial material,
                      MakeMaterial(plan, root, request.passphrase()));
  LK_RETURN_IF_ERROR(
      store_->Initialize(material.meta, {kFirstTerm, sealed_data_key}));
  v1::InitResponse response;
  {
    absl::MutexLock lock(&mu_);
    config_.ParseFromString(material.meta[kSealConfigKey]);
    auto wrap = material.meta.find(kPassphraseWrapKey);
    passphrase_wrap_ = wrap == material.meta.end() ? "" : wrap->second;
    initialized_ = true;
    *response.mutable_status() = StatusLocked();
  }
  for (std::string& key : material.unseal_keys) {
    response.add_unseal_keys(key);
    CleanseString(&key);
  }
  LogInfo("vault_initialized", {{"method", MethodName(plan.method)},
                                {"shares", absl::StrCat(plan.shares)},
                                {"threshold", absl::StrCat(plan.threshold)}});
  return response;
}

absl::Status VaultCore::CheckBackoff() const {
  absl::Duration wait = retry_at_ - absl::Now();
  if (wait > absl::ZeroDuration()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many failed unseal attempts (", failed_attempts_,
        " in a row); retry in ", absl::ToInt64Milliseconds(wait) + 1, " ms"));
  }
  return absl::OkStatus();
}

absl::Status VaultCore::RecordFailure(absl::string_view why) {
  ++failed_attempts_;
  absl::Duration backoff = options_.unseal_backoff_base;
  for (uint32_t i = 1;
       i < failed_attempts_ && backoff < options_.unseal_backoff_max; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, options_.unseal_backoff_max);
  retry_at_ = absl::Now() + backoff;
  LogWarning(
      "unseal_failed",
      {{"why", std::string(why)},
       {"consecutive_failures", absl::StrCat(failed_attempts_)},
       {"backoff_ms", absl::StrCat(absl::ToInt64Milliseconds(backoff))}});
  return absl::OkStatus();
}

absl::Status VaultCore::InstallRootKey(SecureBuffer candidate) {
  LK_ASSIGN_OR_RETURN(std::vector<KeyringRow> keyring, store_->ListKeyring());
  if (keyring.empty()) return absl::DataLossError("keyring is empty");
  std::map<uint32_t, SecureBuffer> keys;
  for (const KeyringRow& row : keyring) {
    absl::StatusOr<SecureBuffer> key =
        vault::Open(candidate, row.sealed_key, KeyringAad(row.term));
    if (!key.ok()) {
      if (row.term == keyring.front().term) {
        return absl::PermissionDeniedError("root key is not valid");
      }
      LogError("keyring_tampered", {{"term", absl::StrCat(row.term)}});
      return absl::DataLossError(
          absl::StrCat("keyring term ", row.term, " failed authentication"));
    }
    keys.emplace(row.term, std::move(*key));
  }
  newest_term_ = keyring.back().term;
  data_keys_ = std::move(keys);
  root_key_ = std::move(candidate);
  failed_attempts_ = 0;
  retry_at_ = absl::InfinitePast();
  pending_shares_.clear();
  LogInfo("vault_unsealed", {{"keyring_term", absl::StrCat(newest_term_)}});
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SecureBuffer>> VaultCore::AddShare(
    absl::string_view text, std::map<uint8_t, ShamirShare>* pending) {
  LK_ASSIGN_OR_RETURN(ShamirShare share, DecodeShare(text));
  if (share.index > config_.shares() || share.bytes.size() != kAeadKeyBytes) {
    return absl::InvalidArgumentError(
        "this share does not belong to this vault's current share set");
  }
  if (pending->count(share.index) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a share with this index was already submitted; progress stays ",
        pending->size(), " of ", config_.threshold()));
  }
  pending->emplace(share.index, std::move(share));
  if (pending->size() < config_.threshold())
    return std::optional<SecureBuffer>();
  std::vector<const ShamirShare*> shares;
  for (const auto& [index, item] : *pending) shares.push_back(&item);
  absl::StatusOr<SecureBuffer> combined = ShamirCombine(shares);
  pending->clear();  // zeroizes the shares whatever happens next.
  if (!combined.ok()) return combined.status();
  return std::optional<SecureBuffer>(std::move(*combined));
}

absl::StatusOr<v1::VaultStatus> VaultCore::Unseal(
    const v1::UnsealRequest& request) {
  absl::MutexLock material_lock(&material_mu_);
  std::string wrap_text;
  {
    absl::MutexLock lock(&mu_);
    if (!initialized_) {
      return absl::FailedPreconditionError(
          "vault is not initialized; run Init first");
    }
    if (request.reset()) {
      pending_shares_.clear();
      LogInfo("unseal_progress_reset");
    }
    const bool nothing = request.key().empty() && request.passphrase().empty();
    if (!root_key_.empty() || nothing) return StatusLocked();
    LK_RETURN_IF_ERROR(CheckBackoff());
    switch (config_.method()) {
      case v1::UNSEAL_METHOD_SHAMIR: {
        if (request.key().empty()) {
          return absl::InvalidArgumentError(
              "this vault unseals with Shamir shares: set key");
        }
        LK_ASSIGN_OR_RETURN(std::optional<SecureBuffer> candidate,
                            AddShare(request.key(), &pending_shares_));
        if (!candidate.has_value()) {
          LogInfo("unseal_share_accepted",
                  {{"progress", absl::StrCat(pending_shares_.size())},
                   {"threshold", absl::StrCat(config_.threshold())}});
          return StatusLocked();
        }
        absl::Status installed = InstallRootKey(std::move(*candidate));
        if (installed.code() == absl::StatusCode::kPermissionDenied) {
          RecordFailure("shares do not reconstruct the root key").IgnoreError();
          return absl::PermissionDeniedError(
              "the submitted shares do not reconstruct the root key (at least "
              "one is wrong or from an older share set); progress was reset, "
              "submit the shares again");
        }
        LK_RETURN_IF_ERROR(installed);
        WakeRewrap();
        return StatusLocked();
      }
      case v1::UNSEAL_METHOD_PASSPHRASE:
        if (request.passphrase().empty()) {
          return absl::InvalidArgumentError(
              "this vault unseals with a passphrase: set passphrase");
        }
        wrap_text = passphrase_wrap_;
        break;
      case v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL:
        return absl::FailedPreconditionError(
            "this vault unseals from its systemd credential at start-up "
            "(latchkey-vault --unseal_credential=NAME); restart the service");
      default:
        return absl::DataLossError("stored seal configuration is unknown");
    }
  }
  // Passphrase: derive outside mu_ (it takes a while); material_mu_ keeps
  // attempts serialized so the backoff holds.
  LK_ASSIGN_OR_RETURN(WrappedRootKey wrapped, WrappedRootKey::Parse(wrap_text));
  absl::StatusOr<SecureBuffer> candidate =
      UnwrapRootKey(wrapped, request.passphrase());
  absl::MutexLock lock(&mu_);
  if (candidate.status().code() == absl::StatusCode::kPermissionDenied) {
    RecordFailure("wrong passphrase").IgnoreError();
    return candidate.status();
  }
  if (!candidate.ok()) return candidate.status();
  absl::Status installed = InstallRootKey(std::move(*candidate));
  if (installed.code() == absl::StatusCode::kPermissionDenied) {
    return absl::DataLossError(
        "the passphrase opened the wrapped root key but it does not open the "
        "keyring: the store was modified");
  }
  LK_RETURN_IF_ERROR(installed);
  WakeRewrap();
  return StatusLocked();
}

absl::StatusOr<v1::VaultStatus> VaultCore::UnsealWithRootKey(
    SecureBuffer root_key) {
  absl::MutexLock material_lock(&material_mu_);
  absl::MutexLock lock(&mu_);
  if (!initialized_) {
    return absl::FailedPreconditionError(
        "vault is not initialized; run Init first");
  }
  if (config_.method() != v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL) {
    return absl::FailedPreconditionError(
        "this vault was not initialized with UNSEAL_METHOD_SYSTEMD_CREDENTIAL");
  }
  if (!root_key_.empty()) return StatusLocked();
  LK_RETURN_IF_ERROR(CheckBackoff());
  if (root_key.size() != kAeadKeyBytes) {
    return absl::InvalidArgumentError("the root key must be 32 bytes");
  }
  absl::Status installed = InstallRootKey(std::move(root_key));
  if (installed.code() == absl::StatusCode::kPermissionDenied) {
    RecordFailure("wrong credential key").IgnoreError();
    return absl::PermissionDeniedError(
        "the credential does not hold this vault's root key");
  }
  LK_RETURN_IF_ERROR(installed);
  WakeRewrap();
  return StatusLocked();
}

v1::VaultStatus VaultCore::Seal() {
  v1::VaultStatus status;
  {
    absl::MutexLock lock(&mu_);
    // Bump first: an in-flight UseSecret that already holds a decrypted
    // value will see the change and discard its response.
    seal_generation_.fetch_add(1);
    // SecureBuffer destructors zeroize the keys, shares and passphrase.
    data_keys_.clear();
    root_key_.Clear();
    pending_shares_.clear();
    rekey_shares_.clear();
    rekey_plan_.reset();
    rekey_new_passphrase_.Clear();
    newest_term_ = 0;
    status = StatusLocked();
  }
  // Derived tokens are secrets too: zeroized with the keys.
  tokens_.Clear();
  LogInfo("vault_sealed");
  return status;
}

absl::StatusOr<v1::RekeyResponse> VaultCore::Rekey(
    const v1::RekeyRequest& request) {
  absl::MutexLock material_lock(&material_mu_);
  v1::RekeyResponse response;
  std::string wrap_text;
  SealPlan plan;
  {
    absl::MutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
    if (request.reset()) {
      rekey_plan_.reset();
      rekey_shares_.clear();
      rekey_new_passphrase_.Clear();
      LogInfo("rekey_reset");
      if (request.key().empty() && request.passphrase().empty() &&
          request.new_passphrase().empty() &&
          request.method() == v1::UNSEAL_METHOD_UNSPECIFIED) {
        *response.mutable_status() = StatusLocked();
        return response;
      }
    }
    LK_ASSIGN_OR_RETURN(
        plan, MakePlan(request.method(), request.shares(), request.threshold(),
                       request.new_passphrase()));
    if (rekey_plan_.has_value() && (rekey_plan_->method != plan.method ||
                                    rekey_plan_->shares != plan.shares ||
                                    rekey_plan_->threshold != plan.threshold)) {
      return absl::InvalidArgumentError(
          "a rekey with a different configuration is in progress; send "
          "reset first");
    }
    if (!rekey_plan_.has_value()) {
      rekey_plan_ = plan;
      rekey_new_passphrase_ = SecureBuffer::CopyOf(request.new_passphrase());
    }
    LK_RETURN_IF_ERROR(CheckBackoff());
    response.set_threshold(config_.threshold());
    switch (config_.method()) {
      case v1::UNSEAL_METHOD_SHAMIR: {
        if (request.key().empty()) {
          return absl::InvalidArgumentError(
              "rekeying a Shamir vault needs the threshold of current shares, "
              "one per call: set key");
        }
        LK_ASSIGN_OR_RETURN(std::optional<SecureBuffer> candidate,
                            AddShare(request.key(), &rekey_shares_));
        if (!candidate.has_value()) {
          response.set_progress(static_cast<uint32_t>(rekey_shares_.size()));
          *response.mutable_status() = StatusLocked();
          return response;
        }
        if (!ConstantTimeEquals(candidate->view(), root_key_.view())) {
          rekey_plan_.reset();
          rekey_new_passphrase_.Clear();
          RecordFailure("rekey shares do not reconstruct the root key")
              .IgnoreError();
          return absl::PermissionDeniedError(
              "the submitted shares do not reconstruct the root key; the "
              "rekey was reset");
        }
        break;
      }
      case v1::UNSEAL_METHOD_PASSPHRASE:
        if (request.passphrase().empty()) {
          return absl::InvalidArgumentError(
              "rekeying a passphrase vault needs the current passphrase");
        }
        wrap_text = passphrase_wrap_;
        break;
      case v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL:
        // The running, unsealed vault already proved it holds the
        // credential; an operator replaces the credential file afterwards.
        break;
      default:
        return absl::DataLossError("stored seal configuration is unknown");
    }
  }
  if (!wrap_text.empty()) {
    LK_ASSIGN_OR_RETURN(WrappedRootKey wrapped,
                        WrappedRootKey::Parse(wrap_text));
    absl::StatusOr<SecureBuffer> current =
        UnwrapRootKey(wrapped, request.passphrase());
    absl::MutexLock lock(&mu_);
    if (!current.ok()) {
      rekey_plan_.reset();
      rekey_new_passphrase_.Clear();
      RecordFailure("rekey with a wrong passphrase").IgnoreError();
      return current.status();
    }
  }

  // Complete: a new root key re-seals the data keys; no secret is touched.
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  LK_RETURN_IF_ERROR(RequireUnsealed());
  if (!rekey_plan_.has_value()) {
    return absl::AbortedError("the rekey was reset meanwhile");
  }
  // new_root: a local until it replaces root_key_.
  SecureBuffer new_root = SecureBuffer::Random(kAeadKeyBytes);
  if (new_root.empty()) return absl::InternalError("random generation failed");
  std::vector<KeyringRow> keyring;
  for (const auto& [term, key] : data_keys_) {
    LK_ASSIGN_OR_RETURN(std::string sealed,
                        vault::Seal(new_root, key.view(), KeyringAad(term)));
    keyring.push_back({term, std::move(sealed)});
  }
  LK_ASSIGN_OR_RETURN(
      SealMaterial material,
      MakeMaterial(*rekey_plan_, new_root, rekey_new_passphrase_.view()));
  LK_RETURN_IF_ERROR(store_->ReplaceSealMaterial(
      material.meta, material.delete_meta, keyring));
  root_key_ = std::move(new_root);  // zeroizes the old root key.
  config_.ParseFromString(material.meta[kSealConfigKey]);
  auto wrap = material.meta.find(kPassphraseWrapKey);
  passphrase_wrap_ = wrap == material.meta.end() ? "" : wrap->second;
  rekey_plan_.reset();
  rekey_new_passphrase_.Clear();
  rekey_shares_.clear();
  response.set_complete(true);
  for (std::string& key : material.unseal_keys) {
    response.add_unseal_keys(key);
    CleanseString(&key);
  }
  response.set_threshold(config_.threshold());
  *response.mutable_status() = StatusLocked();
  LogInfo("vault_rekeyed", {{"method", MethodName(config_.method())},
                            {"shares", absl::StrCat(config_.shares())},
                            {"threshold", absl::StrCat(config_.threshold())}});
  return response;
}

absl::StatusOr<v1::RotateKeyringResponse> VaultCore::RotateKeyring() {
  absl::MutexLock material_lock(&material_mu_);
  absl::MutexLock write_lock(&write_mu_);
  v1::RotateKeyringResponse response;
  {
    absl::MutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
    const uint32_t term = newest_term_ + 1;
    // data_key: moved into data_keys_ (lives until Seal).
    SecureBuffer data_key = SecureBuffer::Random(kAeadKeyBytes);
    if (data_key.empty())
      return absl::InternalError("random generation failed");
    LK_ASSIGN_OR_RETURN(
        std::string sealed,
        vault::Seal(root_key_, data_key.view(), KeyringAad(term)));
    LK_RETURN_IF_ERROR(store_->AddKeyringTerm({term, std::move(sealed)}));
    data_keys_.emplace(term, std::move(data_key));
    newest_term_ = term;
    response.set_keyring_term(term);
    *response.mutable_status() = StatusLocked();
  }
  LogInfo("keyring_rotated",
          {{"keyring_term", absl::StrCat(response.keyring_term())}});
  WakeRewrap();
  return response;
}

absl::StatusOr<uint32_t> VaultCore::RewrapBatch(size_t limit) {
  std::vector<SecretStore::Rewrapped> updates;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (root_key_.empty()) return 0u;
    const uint32_t newest = newest_term_;
    LK_ASSIGN_OR_RETURN(std::vector<SecretRow> rows,
                        store_->ListOnOlderTerms(newest, limit));
    for (const SecretRow& row : rows) {
      // value: decrypted for the time it takes to re-seal it.
      absl::StatusOr<SecureBuffer> value = OpenValue(row);
      if (!value.ok()) continue;  // logged by OpenValue; left as it is.
      absl::StatusOr<v1::SecretMetadata> metadata = DecodeMetadata(row);
      if (!metadata.ok()) continue;
      metadata->set_keyring_term(newest);
      SecretRow moved = row;
      moved.term = newest;
      moved.metadata = metadata->SerializeAsString();
      LK_ASSIGN_OR_RETURN(
          std::string sealed,
          vault::Seal(data_keys_.at(newest), value->view(), SecretAad(moved)));
      updates.push_back({row.id, row.version, row.term, newest,
                         std::move(moved.metadata), std::move(sealed)});
    }
  }
  LK_ASSIGN_OR_RETURN(uint32_t derived, RewrapDerivedBatch(limit));
  if (updates.empty()) return derived;
  // A Seal in between does not matter: the rows are already sealed.
  LK_ASSIGN_OR_RETURN(uint32_t changed, store_->Rewrap(updates));
  LogInfo("keyring_rewrap", {{"versions", absl::StrCat(changed)}});
  return changed + derived;
}

absl::StatusOr<uint32_t> VaultCore::RewrapDerivedBatch(size_t limit) {
  std::vector<SecretStore::RewrappedDerived> updates;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (root_key_.empty()) return 0u;
    const uint32_t newest = newest_term_;
    LK_ASSIGN_OR_RETURN(std::vector<DerivedRow> rows,
                        store_->ListDerivedOnOlderTerms(newest, limit));
    for (const DerivedRow& row : rows) {
      auto key = data_keys_.find(row.term);
      if (key == data_keys_.end()) continue;
      // value: decrypted for the time it takes to re-seal it.
      absl::StatusOr<SecureBuffer> value =
          vault::Open(key->second, row.sealed_value, DerivedAad(row));
      if (!value.ok()) {
        LogError(
            "derived_state_tampered",
            {{"secret_id", row.id}, {"version", absl::StrCat(row.version)}});
        continue;  // left as it is; loading it fails the same way.
      }
      SecretStore::RewrappedDerived moved{row, row.term};
      moved.row.term = newest;
      LK_ASSIGN_OR_RETURN(moved.row.sealed_value,
                          vault::Seal(data_keys_.at(newest), value->view(),
                                      DerivedAad(moved.row)));
      updates.push_back(std::move(moved));
    }
  }
  if (updates.empty()) return 0u;
  LK_ASSIGN_OR_RETURN(uint32_t changed, store_->RewrapDerived(updates));
  LogInfo("keyring_rewrap", {{"derived_state", absl::StrCat(changed)}});
  return changed;
}

absl::StatusOr<std::optional<SecureBuffer>> VaultCore::LoadDerivedState(
    absl::string_view id, uint32_t version, absl::string_view name) {
  absl::ReaderMutexLock lock(&mu_);
  LK_RETURN_IF_ERROR(RequireUnsealed());
  LK_ASSIGN_OR_RETURN(std::optional<DerivedRow> row,
                      store_->GetDerived(id, version, name));
  if (!row.has_value()) return std::optional<SecureBuffer>();
  auto key = data_keys_.find(row->term);
  absl::StatusOr<SecureBuffer> value =
      key == data_keys_.end()
          ? absl::DataLossError("unknown keyring term")
          : vault::Open(key->second, row->sealed_value, DerivedAad(*row));
  if (!value.ok()) {
    LogError("derived_state_tampered",
             {{"secret_id", row->id}, {"version", absl::StrCat(version)}});
    return absl::DataLossError(absl::StrCat(
        "the stored state derived from secret '", id,
        "' (a rotated refresh token) failed authentication; store the secret "
        "again with PutSecret"));
  }
  return std::optional<SecureBuffer>(std::move(*value));
}

absl::Status VaultCore::SaveDerivedState(absl::string_view id, uint32_t version,
                                         absl::string_view name,
                                         const SecureBuffer& value) {
  if (value.size() > kMaxDerivedTokenBytes) {
    return absl::InvalidArgumentError("derived state is too long");
  }
  absl::ReaderMutexLock lock(&mu_);
  LK_RETURN_IF_ERROR(RequireUnsealed());
  DerivedRow row;
  row.id = std::string(id);
  row.version = version;
  row.name = std::string(name);
  row.term = newest_term_;
  LK_ASSIGN_OR_RETURN(
      row.sealed_value,
      vault::Seal(data_keys_.at(row.term), value.view(), DerivedAad(row)));
  LK_ASSIGN_OR_RETURN(bool stored, store_->PutDerived(row));
  if (!stored) {
    // The version was replaced or deleted meanwhile: its state is moot.
    LogInfo("derived_state_discarded",
            {{"secret_id", row.id}, {"version", absl::StrCat(version)}});
  }
  return absl::OkStatus();
}

void VaultCore::WakeRewrap() {
  if (!rewrap_thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(rewrap_mu_);
    rewrap_wake_ = true;
  }
  rewrap_cv_.notify_all();
}

void VaultCore::RewrapLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(rewrap_mu_);
      rewrap_cv_.wait(lock, [this] { return rewrap_wake_ || rewrap_stop_; });
      if (rewrap_stop_) return;
      rewrap_wake_ = false;
    }
    while (true) {
      {
        std::lock_guard<std::mutex> lock(rewrap_mu_);
        if (rewrap_stop_) return;
      }
      absl::StatusOr<uint32_t> moved = RewrapBatch(options_.rewrap_batch);
      if (!moved.ok()) {
        LogWarning("keyring_rewrap_failed",
                   {{"error", moved.status().ToString()}});
        break;
      }
      if (*moved == 0) break;
    }
  }
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
  if (request.origins().empty() && request.internal_origins().empty()) {
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
  {
    LK_ASSIGN_OR_RETURN(std::unique_ptr<AuthScheme> scheme,
                        MakeAuthScheme(metadata.auth()));
    // Multi-part credentials (JSON) and keys are checked now, not at the
    // first request. The copy is zeroized when it goes out of scope.
    LK_RETURN_IF_ERROR(
        scheme->ValidateSecret(SecureBuffer::CopyOf(request.value())));
  }
  if (!request.ca_bundle_pem().empty()) {
    LK_RETURN_IF_ERROR(auth::ValidateCaBundle(request.ca_bundle_pem()));
    metadata.set_ca_bundle_pem(request.ca_bundle_pem());
  }
  for (const std::string& text : request.origins()) {
    LK_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(text));
    metadata.add_origins(origin.ToString());
  }
  // An internal origin is a bound origin that may also resolve to a
  // non-public address (loopback, private, link-local): it is listed in
  // both fields, so the binding check stays one lookup in origins.
  for (const std::string& text : request.internal_origins()) {
    LK_ASSIGN_OR_RETURN(Origin origin, ParseOrigin(text));
    std::string canonical = origin.ToString();
    if (std::find(metadata.origins().begin(), metadata.origins().end(),
                  canonical) == metadata.origins().end()) {
      metadata.add_origins(canonical);
    }
    metadata.add_internal_origins(canonical);
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
  tokens_.DropSecret(row.id);
  // The request's copy of the value is the caller's (AdminService cleanses
  // it); nothing here kept a plaintext copy.
  LogInfo("secret_stored",
          {{"secret_id", row.id}, {"version", absl::StrCat(version)}});
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
    LogError("secret_tampered",
             {{"secret_id", row.id}, {"version", absl::StrCat(row.version)}});
    return absl::DataLossError(
        absl::StrCat("secret '", row.id,
                     "' failed authentication: the stored value or "
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
  tokens_.DropSecret(id);
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
  // value: the decrypted secret, alive for this call only; zeroized by its
  // destructor on every return path.
  SecureBuffer value;
  uint64_t generation = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    LK_RETURN_IF_ERROR(RequireUnsealed());
    generation = seal_generation_.load();
    LK_ASSIGN_OR_RETURN(std::optional<SecretRow> row, store_->GetLatest(id));
    if (!row.has_value()) {
      return absl::NotFoundError(absl::StrCat("no secret '", id, "'"));
    }
    LK_ASSIGN_OR_RETURN(value, OpenValue(*row));
    LK_ASSIGN_OR_RETURN(metadata, DecodeMetadata(*row));
  }
  absl::Status status = use(metadata, value);
  value.Clear();
  if (seal_generation_.load() != generation) {
    // Sealed while the request was in flight: whatever `use` produced was
    // obtained with a key that no longer exists; refuse it.
    return absl::FailedPreconditionError(
        "vault is sealed; it was sealed while this request was in flight and "
        "the response was discarded");
  }
  return status;
}

}  // namespace latchkey::vault
