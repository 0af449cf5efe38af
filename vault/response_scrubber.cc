#include "vault/response_scrubber.h"

#include <openssl/evp.h>

#include <algorithm>

namespace latchkey::vault {
namespace {

SecureBuffer Base64(absl::string_view raw, bool url_safe, bool padded) {
  SecureBuffer out(4 * ((raw.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(out.data(),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  size_t len = static_cast<size_t>(n);
  unsigned char* p = out.data();
  if (url_safe) {
    for (size_t i = 0; i < len; ++i) {
      if (p[i] == '+') p[i] = '-';
      if (p[i] == '/') p[i] = '_';
    }
  }
  if (!padded) {
    while (len > 0 && p[len - 1] == '=') --len;
  }
  out.Shrink(len);
  return out;
}

SecureBuffer Hex(absl::string_view raw, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  SecureBuffer out(raw.size() * 2);
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    out.data()[2 * i] = digits[c >> 4];
    out.data()[2 * i + 1] = digits[c & 0xf];
  }
  return out;
}

// PercentEncode encodes every byte outside the RFC 3986 unreserved set, in
// the given hex case; `plus_for_space` gives the form-encoding variant.
SecureBuffer PercentEncode(absl::string_view raw, bool upper,
                           bool plus_for_space) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  SecureBuffer out(raw.size() * 3);
  size_t len = 0;
  for (char ch : raw) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                      c == '_' || c == '~';
    if (unreserved) {
      out.data()[len++] = c;
    } else if (c == ' ' && plus_for_space) {
      out.data()[len++] = '+';
    } else {
      out.data()[len++] = '%';
      out.data()[len++] = digits[c >> 4];
      out.data()[len++] = digits[c & 0xf];
    }
  }
  out.Shrink(len);
  return out;
}

// JsonEscape is `raw` as a JSON string body: an upstream that echoes a
// credential inside JSON escapes '"', '\\' and control bytes (a PEM key's
// line breaks), and some escape '/' too (`escape_slash`).
SecureBuffer JsonEscape(absl::string_view raw, bool escape_slash) {
  static const char kHex[] = "0123456789abcdef";
  SecureBuffer out(raw.size() * 6);
  size_t len = 0;
  auto put = [&](char c) { out.data()[len++] = static_cast<unsigned char>(c); };
  for (char ch : raw) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        put('\\');
        put('"');
        break;
      case '\\':
        put('\\');
        put('\\');
        break;
      case '\n':
        put('\\');
        put('n');
        break;
      case '\r':
        put('\\');
        put('r');
        break;
      case '\t':
        put('\\');
        put('t');
        break;
      case '\b':
        put('\\');
        put('b');
        break;
      case '\f':
        put('\\');
        put('f');
        break;
      default:
        if (c == '/' && escape_slash) {
          put('\\');
          put('/');
        } else if (c < 0x20) {
          for (char e : {'\\', 'u', '0', '0'}) put(e);
          put(kHex[c >> 4]);
          put(kHex[c & 0xf]);
        } else {
          put(ch);
        }
    }
  }
  out.Shrink(len);
  return out;
}

}  // namespace

void ResponseScrubber::AddCredential(absl::string_view credential) {
  if (credential.empty()) return;
  std::vector<SecureBuffer> forms;
  forms.push_back(SecureBuffer::CopyOf(credential));
  for (bool url_safe : {false, true}) {
    for (bool padded : {true, false}) {
      forms.push_back(Base64(credential, url_safe, padded));
    }
  }
  forms.push_back(Hex(credential, false));
  forms.push_back(Hex(credential, true));
  for (bool upper : {true, false}) {
    for (bool plus : {false, true}) {
      forms.push_back(PercentEncode(credential, upper, plus));
    }
  }
  for (bool escape_slash : {false, true}) {
    forms.push_back(JsonEscape(credential, escape_slash));
  }
  for (SecureBuffer& form : forms) {
    if (form.empty()) continue;
    bool duplicate = std::any_of(
        needles_.begin(), needles_.end(),
        [&](const SecureBuffer& n) { return n.view() == form.view(); });
    if (!duplicate) needles_.push_back(std::move(form));
  }
  // Longest first, so a long form is not broken up by a shorter one that
  // happens to be its substring.
  std::sort(needles_.begin(), needles_.end(),
            [](const SecureBuffer& a, const SecureBuffer& b) {
              return a.size() > b.size();
            });
}

size_t ResponseScrubber::Scrub(std::string* text) const {
  size_t limit = text->size();
  return ScrubStartingBefore(text, &limit);
}

size_t ResponseScrubber::ScrubStartingBefore(std::string* text,
                                             size_t* limit) const {
  size_t replaced = 0;
  for (const SecureBuffer& needle : needles_) {
    absl::string_view n = needle.view();
    size_t pos = text->find(n.data(), 0, n.size());
    while (pos != std::string::npos && pos < *limit) {
      text->replace(pos, n.size(), kRedactionMarker.data(),
                    kRedactionMarker.size());
      ++replaced;
      if (pos + n.size() <= *limit) {
        *limit = *limit - n.size() + kRedactionMarker.size();
      } else {
        *limit = pos + kRedactionMarker.size();
      }
      pos = text->find(n.data(), pos + kRedactionMarker.size(), n.size());
    }
  }
  return replaced;
}

size_t ResponseScrubber::ScrubTruncatedTail(std::string* text) const {
  size_t longest = 0;
  for (const SecureBuffer& needle : needles_) {
    absl::string_view n = needle.view();
    size_t max_k = std::min(n.size() - 1, text->size());
    for (size_t k = max_k; k > longest; --k) {
      if (absl::string_view(*text).substr(text->size() - k) == n.substr(0, k)) {
        longest = k;
        break;
      }
    }
  }
  if (longest == 0) return 0;
  text->resize(text->size() - longest);
  text->append(kRedactionMarker.data(), kRedactionMarker.size());
  return 1;
}

}  // namespace latchkey::vault
