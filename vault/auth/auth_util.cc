#include "vault/auth/auth_util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "nlohmann/json.hpp"
#include "vault/wire_encoding.h"

namespace latchkey::vault::auth {

bool IsNameToken(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

absl::Status RefuseHeaderCollision(const OutgoingRequest& request,
                                   absl::string_view name) {
  for (const auto& [agent_name, value] : request.headers) {
    if (absl::EqualsIgnoreCase(agent_name, name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header '", agent_name,
          "' is set by the capability's credential and may not be sent by "
          "the agent"));
    }
  }
  // Two credential headers of one name (a multi-part secret's
  // secret_headers naming the scheme's own header) would both be sent,
  // and an upstream reading the first could take a part for the signature.
  for (const auto& [credential_name, value] : request.credential_headers) {
    if (absl::EqualsIgnoreCase(credential_name, name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "header '", name,
          "' is set twice by the secret's auth config (secret_headers and "
          "the scheme); change the config with PutSecret"));
    }
  }
  return absl::OkStatus();
}

absl::Status RefuseQueryCollision(const OutgoingRequest& request,
                                  absl::string_view name) {
  for (const auto& [agent_name, value] : request.query) {
    if (agent_name == name) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query parameter '", agent_name,
          "' is set by the capability's credential and may not be sent by "
          "the agent"));
    }
  }
  return absl::OkStatus();
}

SecureBuffer SecureConcat(absl::string_view prefix, absl::string_view middle,
                          absl::string_view suffix) {
  SecureBuffer out(prefix.size() + middle.size() + suffix.size());
  unsigned char* p = out.data();
  if (!prefix.empty()) std::memcpy(p, prefix.data(), prefix.size());
  if (!middle.empty()) {
    std::memcpy(p + prefix.size(), middle.data(), middle.size());
  }
  if (!suffix.empty()) {
    std::memcpy(p + prefix.size() + middle.size(), suffix.data(),
                suffix.size());
  }
  return out;
}

absl::Status AddCredentialHeader(absl::string_view name, SecureBuffer value,
                                 OutgoingRequest* request,
                                 ResponseScrubber* scrubber) {
  if (absl::Status s = RefuseHeaderCollision(*request, name); !s.ok()) {
    return s;
  }
  for (unsigned char c : value.view()) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return absl::FailedPreconditionError(
          "the stored secret contains CR, LF or NUL and cannot be sent in a "
          "header; replace it with PutSecret");
    }
  }
  scrubber->AddCredential(value.view());
  request->credential_headers.emplace_back(std::string(name), std::move(value));
  return absl::OkStatus();
}

absl::Status AddPlainHeader(absl::string_view name, absl::string_view value,
                            OutgoingRequest* request) {
  if (absl::Status s = RefuseHeaderCollision(*request, name); !s.ok()) {
    return s;
  }
  request->headers.emplace_back(std::string(name), std::string(value));
  return absl::OkStatus();
}

std::string PercentEncode(absl::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  AppendPercentEncoded(text, &out);
  return out;
}

std::string PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() &&
               absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      auto nibble = [](char h) {
        return absl::ascii_isdigit(static_cast<unsigned char>(h))
                   ? h - '0'
                   : absl::ascii_tolower(static_cast<unsigned char>(h)) - 'a' +
                         10;
      };
      out.push_back(
          static_cast<char>(nibble(text[i + 1]) * 16 + nibble(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string WireQuery(const OutgoingRequest& request) {
  std::string out;
  for (const auto& [name, value] : request.query) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, PercentEncode(name), "=", PercentEncode(value));
  }
  return out;
}

std::string HostHeader(absl::string_view origin) {
  size_t scheme_end = origin.find("://");
  if (scheme_end == absl::string_view::npos) return std::string(origin);
  absl::string_view scheme = origin.substr(0, scheme_end);
  absl::string_view authority = origin.substr(scheme_end + 3);
  size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos &&
      authority.find(']', colon) == absl::string_view::npos) {
    absl::string_view port = authority.substr(colon + 1);
    if ((scheme == "https" && port == "443") ||
        (scheme == "http" && port == "80")) {
      return std::string(authority.substr(0, colon));
    }
  }
  return std::string(authority);
}

std::string Hmac(absl::string_view digest, absl::string_view key,
                 absl::string_view data) {
  const EVP_MD* md = EVP_get_digestbyname(std::string(digest).c_str());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md == nullptr || HMAC(md, key.data(), static_cast<int>(key.size()),
                            reinterpret_cast<const unsigned char*>(data.data()),
                            data.size(), out, &len) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Base64Encode(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

SecureBuffer Base64EncodeSecure(absl::string_view bytes) {
  SecureBuffer out(4 * ((bytes.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(out.data(),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.Shrink(static_cast<size_t>(n));
  return out;
}

absl::StatusOr<SecureBuffer> Base64Decode(absl::string_view text) {
  std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.size() % 4 != 0) {
    CleanseString(&trimmed);
    return absl::InvalidArgumentError("value is not valid base64");
  }
  SecureBuffer out(trimmed.size() / 4 * 3 + 1);
  int n = EVP_DecodeBlock(
      out.data(), reinterpret_cast<const unsigned char*>(trimmed.data()),
      static_cast<int>(trimmed.size()));
  size_t padding = 0;
  if (!trimmed.empty() && trimmed.back() == '=') ++padding;
  if (trimmed.size() > 1 && trimmed[trimmed.size() - 2] == '=') ++padding;
  CleanseString(&trimmed);
  if (n < 0) return absl::InvalidArgumentError("value is not valid base64");
  out.Shrink(static_cast<size_t>(n) - padding);
  return out;
}

std::string RandomNonce() {
  absl::StatusOr<std::string> bytes = RandomBytes(16);
  return bytes.ok() ? HexEncode(*bytes) : std::string();
}

absl::StatusOr<std::map<std::string, SecureBuffer>> SecretFields(
    const SecureBuffer& secret, const std::vector<std::string>& required,
    const std::vector<std::string>& optional) {
  const std::string expected = absl::StrCat(
      "a JSON object with string fields ", absl::StrJoin(required, ", "),
      optional.empty() ? "" : " (optional: ", absl::StrJoin(optional, ", "),
      optional.empty() ? "" : ")");
  nlohmann::json doc =
      nlohmann::json::parse(secret.view().begin(), secret.view().end(), nullptr,
                            /*allow_exceptions=*/false);
  std::map<std::string, SecureBuffer> fields;
  absl::Status status = absl::OkStatus();
  if (!doc.is_object()) {
    status = absl::InvalidArgumentError(
        absl::StrCat("the secret value must be ", expected));
  } else {
    for (auto& [name, value] : doc.items()) {
      bool known =
          std::find(required.begin(), required.end(), name) != required.end() ||
          std::find(optional.begin(), optional.end(), name) != optional.end();
      if (!known || !value.is_string()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("the secret value has ",
                         known ? "a non-string field '" : "an unknown field '",
                         name, "'; it must be ", expected));
        break;
      }
      fields[name] = SecureBuffer::CopyOf(value.get_ref<std::string&>());
    }
    if (status.ok()) {
      for (const std::string& name : required) {
        auto it = fields.find(name);
        if (it == fields.end() || it->second.empty()) {
          status = absl::InvalidArgumentError(
              absl::StrCat("the secret value lacks field '", name,
                           "'; it must be ", expected));
          break;
        }
      }
    }
  }
  // Cleanse the parser's copies of every string before they are freed.
  if (doc.is_object()) {
    for (auto& [name, value] : doc.items()) {
      if (value.is_string()) CleanseString(&value.get_ref<std::string&>());
    }
  }
  if (!status.ok()) return status;
  return fields;
}

}  // namespace latchkey::vault::auth
