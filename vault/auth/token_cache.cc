#include "vault/auth/token_cache.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace latchkey::vault {

absl::StatusOr<SecureBuffer> TokenCache::Get(const std::string& key,
                                             absl::Time now,
                                             absl::Duration refresh_before,
                                             const Fetch& fetch) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Entry>& slot = entries_[key];
    if (slot == nullptr) slot = std::make_shared<Entry>();
    if (slot->valid && now + refresh_before < slot->cached.expires) {
      return SecureBuffer::CopyOf(slot->cached.token.view());
    }
    entry = slot;
  }
  // Single flight: whoever holds fetch_mu fetches; the others wait and
  // then find the fresh token.
  std::lock_guard<std::mutex> fetch_lock(entry->fetch_mu);
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entry->valid && now + refresh_before < entry->cached.expires) {
      return SecureBuffer::CopyOf(entry->cached.token.view());
    }
    generation = generation_;
  }
  absl::StatusOr<DerivedToken> fetched = fetch();
  if (!fetched.ok()) return fetched.status();
  if (now + refresh_before >= fetched->expires) {
    return absl::UnavailableError(
        "the token endpoint issued a token that is already (nearly) expired");
  }
  SecureBuffer copy = SecureBuffer::CopyOf(fetched->token.view());
  std::lock_guard<std::mutex> lock(mu_);
  ++fetches_;
  // A Clear or DropSecret since the fetch began wins: do not cache (the
  // entry may also have been removed from the map).
  auto it = entries_.find(key);
  if (generation == generation_ && it != entries_.end() &&
      it->second == entry) {
    entry->cached = std::move(*fetched);
    entry->valid = true;
  }
  return copy;
}

void TokenCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  for (auto& [key, entry] : entries_) {
    entry->cached.token.Clear();
    entry->valid = false;
  }
  entries_.clear();
}

void TokenCache::DropSecret(absl::string_view id) {
  const std::string prefix = absl::StrCat(id, "@");
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (absl::StartsWith(it->first, prefix)) {
      it->second->cached.token.Clear();
      it->second->valid = false;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t TokenCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t valid = 0;
  for (const auto& [key, entry] : entries_) valid += entry->valid ? 1 : 0;
  return valid;
}

uint64_t TokenCache::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

}  // namespace latchkey::vault
