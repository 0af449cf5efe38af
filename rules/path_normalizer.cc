// Single pass over the raw path: each byte (or %XX escape) is checked and
// appended in canonical form to `out`; at every '/' the segment just
// finished is resolved ("" and "." dropped, ".." pops), so no second buffer
// or segment vector is needed.
#include "rules/path_normalizer.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/limits.h"

namespace latchkey::policy {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 unreserved: decoding these never changes a URI's meaning
// (section 6.2.2.2), so "%7E" and "~" become one form.
bool IsUnreserved(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

// Characters RFC 3986 allows raw in a path besides unreserved: sub-delims,
// ':' and '@' (pchar). They are kept raw, and their %XX forms are kept
// encoded: decoding a reserved character can change what a server routes
// on, so the two forms stay distinct (RFC 3986 6.2.2.2).
bool IsRawAllowedReserved(uint8_t c) {
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
      return true;
    default:
      return false;
  }
}

bool IsControl(uint8_t c) { return c < 0x20 || c == 0x7F; }

void AppendEscaped(uint8_t c, std::string* out) {
  out->push_back('%');
  out->push_back(kHexUpper[c >> 4]);
  out->push_back(kHexUpper[c & 0xF]);
}

absl::Status Reject(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("path rejected: ", why));
}

std::string ControlName(uint8_t c) {
  switch (c) {
    case 0x00:
      return "NUL";
    case '\t':
      return "TAB";
    case '\r':
      return "CR";
    case '\n':
      return "LF";
    case 0x7F:
      return "DEL";
    default:
      return absl::StrFormat("0x%02X", c);
  }
}

// Utf8Checker validates the stream of non-ASCII bytes as strict UTF-8
// (Unicode Table 3-7): no overlong forms (so no "\xC0\xAF" for '/'), no
// surrogates, nothing above U+10FFFF. Raw bytes and decoded %XX bytes feed
// the same checker, so a character split across both forms is judged whole.
class Utf8Checker {
 public:
  // Feed returns false when `b` cannot continue or start a valid sequence.
  bool Feed(uint8_t b) {
    if (need_ == 0) {
      if (b < 0x80) return true;
      lo_ = 0x80;
      hi_ = 0xBF;
      code_point_ = b & (b >= 0xF0 ? 0x07 : b >= 0xE0 ? 0x0F : 0x1F);
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b == 0xE0) {
        need_ = 2;
        lo_ = 0xA0;  // below is overlong
      } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
        need_ = 2;
      } else if (b == 0xED) {
        need_ = 2;
        hi_ = 0x9F;  // above is a UTF-16 surrogate
      } else if (b == 0xF0) {
        need_ = 3;
        lo_ = 0x90;  // below is overlong
      } else if (b >= 0xF1 && b <= 0xF3) {
        need_ = 3;
      } else if (b == 0xF4) {
        need_ = 3;
        hi_ = 0x8F;  // above is beyond U+10FFFF
      } else {
        return false;  // 0x80..0xC1 (stray or overlong lead), 0xF5..0xFF
      }
      return true;
    }
    if (b < lo_ || b > hi_) return false;
    lo_ = 0x80;
    hi_ = 0xBF;
    code_point_ = (code_point_ << 6) | (b & 0x3F);
    --need_;
    return true;
  }
  bool InSequence() const { return need_ != 0; }
  // code_point is the character the last complete sequence encoded.
  uint32_t code_point() const { return code_point_; }

 private:
  int need_ = 0;
  uint32_t code_point_ = 0;
  uint8_t lo_ = 0x80;
  uint8_t hi_ = 0xBF;
};

// FoldsToAscii is true for characters that Unicode compatibility
// normalization (NFKC, as Java's and .NET's normalizers, IIS and several
// frameworks apply) or case folding turns into ASCII: fullwidth forms
// ("ａｄｍｉｎ"), mathematical and enclosed alphanumerics, super- and
// subscripts, letterlike symbols (the Kelvin sign is 'K'), ligatures
// ("ﬁ"), small forms, the one-dot leader ('.'), the long s and the
// Turkish dotted/dotless i. A rule written "/admin" must not be walked
// around by a spelling that becomes "/admin" behind it, so such a path is
// refused rather than guessed at.
bool FoldsToAscii(uint32_t cp) {
  return (cp >= 0xFF01 && cp <= 0xFF5E) ||    // fullwidth ASCII
         (cp >= 0x1D400 && cp <= 0x1D7FF) ||  // mathematical alphanumerics
         (cp >= 0x2460 && cp <= 0x24FF) ||    // enclosed alphanumerics
         (cp >= 0x1F100 && cp <= 0x1F1FF) ||  // enclosed supplement
         (cp >= 0x2070 && cp <= 0x209F) ||    // super- and subscripts
         (cp >= 0x2100 && cp <= 0x214F) ||    // letterlike symbols
         (cp >= 0x2150 && cp <= 0x218F) ||    // number forms (Roman)
         (cp >= 0xFB00 && cp <= 0xFB06) ||    // Latin ligatures
         (cp >= 0xFE50 && cp <= 0xFE6F) ||    // small forms
         (cp >= 0x2024 && cp <= 0x2026) ||    // one/two-dot leader, ellipsis
         (cp >= 0x00B2 && cp <= 0x00B3) || cp == 0x00B9 ||  // superscripts
         (cp >= 0x00BC && cp <= 0x00BE) ||                  // fractions
         cp == 0x00AA || cp == 0x00BA ||    // ordinal indicators
         cp == 0x017F ||                    // long s
         cp == 0x0130 || cp == 0x0131 ||    // dotted / dotless i
         cp == 0x3000 ||                    // ideographic space
         (cp >= 0x2000 && cp <= 0x200A) ||  // compatibility spaces
         cp == 0x2044 || cp == 0x2215 ||    // fraction / division slash
         cp == 0xFE68 || cp == 0xFF3C;      // small / fullwidth backslash
}

absl::Status FoldingCharacter(size_t offset) {
  return Reject(absl::StrCat(
      "the character ending at byte ", offset,
      " is a compatibility or case-folding form of ASCII (fullwidth, "
      "mathematical, ligature, ...), which some servers read as the plain "
      "letter; spell the path in plain ASCII"));
}

absl::Status InvalidUtf8(size_t offset) {
  return Reject(absl::StrCat(
      "invalid UTF-8 at byte ", offset,
      " (overlong, surrogate, truncated or out-of-range sequence, raw or "
      "percent-encoded); send the path as valid UTF-8"));
}

// A "." or ".." segment with ';' parameters ("..;jsessionid=x", "..%3B")
// is ".." to servlet containers that strip path parameters first.
bool IsDotSegmentWithParameters(absl::string_view seg) {
  size_t dots = 0;
  while (dots < seg.size() && dots < 2 && seg[dots] == '.') ++dots;
  if (dots == 0) return false;
  absl::string_view rest = seg.substr(dots);
  return (!rest.empty() && rest[0] == ';') ||
         (rest.size() >= 3 && rest.substr(0, 3) == "%3B");
}

// ResolveSegment applies RFC 3986 5.2.4 to the segment that occupies
// out[seg_begin..]; its '/' is at seg_begin - 1.
absl::Status ResolveSegment(std::string* out, size_t seg_begin,
                            size_t raw_offset) {
  absl::string_view seg(out->data() + seg_begin, out->size() - seg_begin);
  if (seg.empty() || seg == ".") {
    // "//" collapses; "/./" is the same directory.
    out->resize(seg_begin - 1);
    return absl::OkStatus();
  }
  if (seg == "..") {
    out->resize(seg_begin - 1);
    if (out->empty()) {
      // Clamping ("/../x" -> "/x") would hide an attempt to leave the API
      // prefix; refusing it tells the model its path is wrong.
      return Reject(absl::StrCat(
          "'..' segment ending at byte ", raw_offset,
          " would go above the root '/'; remove the '..' segments"));
    }
    out->resize(out->rfind('/'));
    return absl::OkStatus();
  }
  if (absl::EndsWith(seg, ".") || absl::EndsWith(seg, "%20")) {
    // Windows servers (IIS, Kestrel on Windows) and Tomcat on Windows drop
    // trailing dots and spaces: "admin." and "admin%20" are "admin".
    return Reject(absl::StrCat(
        "segment ending at byte ", raw_offset,
        " ends with '.' or a space, which some servers drop (\"admin.\" is "
        "\"admin\" to them); remove it"));
  }
  if (absl::StrContains(seg, "::$")) {
    return Reject(absl::StrCat(
        "segment ending at byte ", raw_offset,
        " names an NTFS stream (\"::$\"), which reaches the file itself on "
        "Windows servers; remove it"));
  }
  if (IsDotSegmentWithParameters(seg)) {
    return Reject(absl::StrCat(
        "segment ending at byte ", raw_offset,
        " is '.' or '..' followed by ';' parameters, which some servers "
        "treat as a dot segment; remove it"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NormalizePath(absl::string_view raw) {
  if (raw.empty()) {
    return Reject("the path is empty; it must start with '/', e.g. \"/v1/x\"");
  }
  if (raw.size() > kMaxPathBytes) {
    return Reject(absl::StrCat("the path is ", raw.size(),
                               " bytes, more than the limit of ",
                               kMaxPathBytes));
  }
  if (raw[0] != '/') {
    return Reject(
        "the path must start with '/' (send only the path, e.g. "
        "\"/v1/x\", not a full URL; the capability fixes the origin)");
  }

  std::string out;
  out.reserve(raw.size() + 16);
  out.push_back('/');
  size_t seg_begin = 1;  // current segment is out[seg_begin..]
  Utf8Checker utf8;

  for (size_t i = 1; i < raw.size();) {
    const uint8_t c = static_cast<uint8_t>(raw[i]);
    if (c == '%') {
      if (i + 2 >= raw.size() || HexValue(raw[i + 1]) < 0 ||
          HexValue(raw[i + 2]) < 0) {
        return Reject(absl::StrCat(
            "malformed percent escape at byte ", i,
            ": '%' must be followed by two hex digits (write a literal '%' "
            "as %25)"));
      }
      const uint8_t v = static_cast<uint8_t>(HexValue(raw[i + 1]) * 16 +
                                             HexValue(raw[i + 2]));
      if (v == '/' || v == '\\') {
        // Servers disagree on whether %2F separates segments; an encoded
        // separator could smuggle "/admin" past a "/v1/*" rule.
        return Reject(absl::StrCat(
            "encoded ", v == '/' ? "'/' (%2F)" : "'\\' (%5C)", " at byte ", i,
            " is ambiguous across servers and is not allowed; use literal "
            "'/' between segments"));
      }
      if (v == '%' && i + 4 < raw.size() && HexValue(raw[i + 3]) >= 0 &&
          HexValue(raw[i + 4]) >= 0) {
        // A second decoding (some proxies and frameworks decode twice)
        // would turn "%252e%252e" into "..": an encoded '%' may not start
        // another escape. ("50%25.txt" is fine: nothing to decode twice.)
        return Reject(absl::StrCat(
            "encoded '%' (%25) at byte ", i,
            " is not allowed: servers that decode twice would read what "
            "follows as another escape; send each character encoded once"));
      }
      if (IsControl(v)) {
        return Reject(
            absl::StrCat("encoded control character ", ControlName(v), " (%",
                         raw.substr(i + 1, 2), ") at byte ", i,
                         "; control characters are not allowed in a path"));
      }
      // Feed also refuses an ASCII byte inside a multi-byte sequence.
      if (!utf8.Feed(v)) return InvalidUtf8(i);
      if (v >= 0x80 && !utf8.InSequence() && FoldsToAscii(utf8.code_point())) {
        return FoldingCharacter(i);
      }
      if (v >= 0x80) {
        AppendEscaped(v, &out);
      } else if (IsUnreserved(v)) {
        out.push_back(static_cast<char>(v));
      } else {
        AppendEscaped(v, &out);
      }
      i += 3;
      continue;
    }

    if (c >= 0x80) {
      if (!utf8.Feed(c)) return InvalidUtf8(i);
      if (!utf8.InSequence() && FoldsToAscii(utf8.code_point())) {
        return FoldingCharacter(i);
      }
      AppendEscaped(c, &out);
      ++i;
      continue;
    }
    // An ASCII byte may not interrupt a multi-byte sequence.
    if (utf8.InSequence()) return InvalidUtf8(i);

    if (c == '/') {
      if (absl::Status s = ResolveSegment(&out, seg_begin, i); !s.ok()) {
        return s;
      }
      out.push_back('/');
      seg_begin = out.size();
      ++i;
      continue;
    }
    if (IsControl(c)) {
      return Reject(absl::StrCat("control character ", ControlName(c),
                                 " at byte ", i, " is not allowed in a path"));
    }
    if (c == '\\') {
      return Reject(absl::StrCat(
          "backslash at byte ", i,
          " is not allowed (some servers treat it as '/'); use '/'"));
    }
    if (c == ';') {
      return Reject(absl::StrCat(
          "';' at byte ", i,
          " is not allowed: Tomcat, Jetty and Spring strip ';' path "
          "parameters, so \"/a;x=1/b\" reaches \"/a/b\" while the rules see "
          "another path; remove the parameters"));
    }
    if (c == '?' || c == '#') {
      return Reject(absl::StrCat(
          "'", std::string(1, static_cast<char>(c)), "' at byte ", i,
          " is not allowed in the path; put query parameters in the "
          "request's query field (fragments are never sent)"));
    }
    if (IsUnreserved(c) || IsRawAllowedReserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      // space " < > [ ] ^ ` { | }: not valid raw in a path; one form only.
      AppendEscaped(c, &out);
    }
    ++i;
  }
  if (utf8.InSequence()) return InvalidUtf8(raw.size());

  // A final "", "." or ".." segment means the result names a directory, so
  // it keeps (or, per RFC 3986 5.2.4, gains) a trailing '/'.
  const absl::string_view last(out.data() + seg_begin, out.size() - seg_begin);
  const bool last_segment_is_dir = last.empty() || last == "." || last == "..";
  if (absl::Status s = ResolveSegment(&out, seg_begin, raw.size()); !s.ok()) {
    return s;
  }
  if (out.empty() || last_segment_is_dir) out.push_back('/');

  // Checked on the output too: it is what goes upstream, and an output the
  // normalizer itself would refuse would break the fixed-point property.
  if (out.size() > kMaxPathBytes) {
    return Reject(absl::StrCat(
        "the path is ", out.size(),
        " bytes once non-ASCII and special characters are percent-encoded, "
        "more than the limit of ",
        kMaxPathBytes));
  }
  return out;
}

}  // namespace latchkey::policy
