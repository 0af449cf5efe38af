#include "common/secure_buffer.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <new>
#include <utility>

namespace latchkey {

SecureBuffer::SecureBuffer(size_t size) : size_(size), capacity_(size) {
  if (size == 0) return;
  // OPENSSL_secure_zalloc falls back to the ordinary heap when no secure
  // heap was initialized; the vault initializes one at start.
  data_ = static_cast<unsigned char*>(OPENSSL_secure_zalloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
}

SecureBuffer SecureBuffer::CopyOf(absl::string_view bytes) {
  SecureBuffer buffer(bytes.size());
  if (!bytes.empty()) std::memcpy(buffer.data_, bytes.data(), bytes.size());
  return buffer;
}

SecureBuffer SecureBuffer::Random(size_t size) {
  SecureBuffer buffer(size);
  if (size > 0 && RAND_bytes(buffer.data_, static_cast<int>(size)) != 1) {
    return SecureBuffer();
  }
  return buffer;
}

void CleanseString(std::string* text) {
  if (!text->empty()) OPENSSL_cleanse(text->data(), text->size());
  text->clear();
}

SecureBuffer::~SecureBuffer() { Clear(); }

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void SecureBuffer::Shrink(size_t size) {
  if (size >= size_) return;
  OPENSSL_cleanse(data_ + size, size_ - size);
  size_ = size;
}

void SecureBuffer::Clear() {
  if (data_ != nullptr) {
    // OPENSSL_secure_clear_free cleanses before freeing.
    OPENSSL_secure_clear_free(data_, capacity_);
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

}  // namespace latchkey
