// SecureBuffer holds key material or a decrypted secret. Its bytes live in
// OpenSSL's secure heap when the process initialized one (locked, excluded
// from core dumps), and are zeroized with OPENSSL_cleanse when the buffer is
// destroyed or cleared. It has no conversion to std::string, so a secret
// cannot slip into a log line or an RPC field by accident.
#ifndef LATCHKEY_COMMON_SECURE_BUFFER_H_
#define LATCHKEY_COMMON_SECURE_BUFFER_H_

#include <cstddef>
#include <string>
#include "absl/strings/string_view.h"

namespace latchkey {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  explicit SecureBuffer(size_t size);
  // Copies `bytes`; the caller remains responsible for its own copy.
  static SecureBuffer CopyOf(absl::string_view bytes);
  // Random returns `size` bytes from OpenSSL's CSPRNG, or an empty buffer
  // if the generator failed.
  static SecureBuffer Random(size_t size);

  ~SecureBuffer();
  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // view exposes the bytes for the duration of one operation only.
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  // Resize shrinks the logical size (for example after decryption).
  void Shrink(size_t size);
  // Clear zeroizes and frees the bytes now.
  void Clear();

 private:
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// CleanseString zeroizes a std::string that held secret bytes (for example
// a protobuf field) and empties it.
void CleanseString(std::string* text);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_SECURE_BUFFER_H_
