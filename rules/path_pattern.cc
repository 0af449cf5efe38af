// The regex is built over the path with its trailing '/' removed ("/" then
// becomes ""), one piece per pattern segment:
//   literal L -> "/" + QuoteMeta(L)
//   "*"       -> "/[^/]+"
//   "**"      -> "(?:/[^/]+)*"
// and matched in full. Normalized paths have no empty segments, so "[^/]+"
// is exactly "one segment".
#include "rules/path_pattern.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/limits.h"
#include "re2/re2.h"
#include "rules/path_normalizer.h"

namespace latchkey::policy {
namespace {

absl::Status Invalid(absl::string_view pattern, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("path pattern \"", pattern, "\": ", why));
}

// TrimTrailingSlash drops the one trailing '/' a normalized path may have;
// the root "/" becomes "" (the regex's view of the root).
absl::string_view TrimTrailingSlash(absl::string_view path) {
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return path;
}

}  // namespace

absl::StatusOr<PathPattern> PathPattern::Compile(absl::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/') {
    return Invalid(pattern, "must start with '/'");
  }
  if (pattern.size() > kMaxPathBytes) {
    return Invalid(pattern.substr(0, 64),
                   absl::StrCat("longer than ", kMaxPathBytes, " bytes"));
  }
  if (pattern.find_first_of("?#") != absl::string_view::npos) {
    return Invalid(pattern,
                   "'?' and '#' are not allowed; rules match the path only");
  }

  absl::string_view body = pattern.substr(1);
  const bool trailing_slash = !body.empty() && body.back() == '/';
  if (trailing_slash) body.remove_suffix(1);
  if (trailing_slash && body.empty()) {
    return Invalid(pattern, "empty segment (\"//\"); write \"/\" for the root");
  }

  std::vector<std::string> segments;  // canonical text of each segment
  std::string regex;
  std::string literal_prefix;
  bool seen_wildcard = false;
  bool first_wildcard_is_dstar = false;
  if (!body.empty()) {
    for (absl::string_view seg : absl::StrSplit(body, '/')) {
      if (seg.empty()) {
        return Invalid(pattern,
                       "empty segment (\"//\"); normalized paths never "
                       "contain one, so it could never match");
      }
      if (seg == "*" || seg == "**") {
        const char* piece = seg == "*" ? "/[^/]+" : "(?:/[^/]+)*";
        if (!seen_wildcard) {
          first_wildcard_is_dstar = seg == "**";
          if (seg == "*") literal_prefix.push_back('/');
        }
        seen_wildcard = true;
        regex += piece;
        segments.emplace_back(seg);
        continue;
      }
      if (seg.find('*') != absl::string_view::npos) {
        return Invalid(pattern,
                       absl::StrCat("'*' inside the segment \"", seg,
                                    "\"; '*' and '**' must be a whole "
                                    "segment (write a literal '*' as %2A)"));
      }
      // A literal goes through the request-path normalizer so that it is
      // compared in the very form requests are turned into. The "/x/"
      // prefix makes a dot segment show up as a changed prefix ("/x/.." ->
      // "/", "/x/." -> "/x/") instead of a root-escape error.
      absl::StatusOr<std::string> normalized =
          NormalizePath(absl::StrCat("/x/", seg));
      if (!normalized.ok()) {
        return Invalid(pattern, absl::StrCat("segment \"", seg, "\": ",
                                             normalized.status().message()));
      }
      absl::string_view lit = *normalized;
      if (!absl::ConsumePrefix(&lit, "/x/") || lit.empty() ||
          lit.find('/') != absl::string_view::npos) {
        return Invalid(pattern, absl::StrCat("\"", seg,
                                             "\" is a '.' or '..' segment; "
                                             "write the path without it"));
      }
      regex += "/";
      regex += RE2::QuoteMeta(re2::StringPiece(lit.data(), lit.size()));
      if (!seen_wildcard) absl::StrAppend(&literal_prefix, "/", lit);
      segments.emplace_back(lit);
    }
  }

  PathPattern p;
  p.pattern_ = absl::StrCat("/", absl::StrJoin(segments, "/"),
                            trailing_slash && !segments.empty() ? "/" : "");
  p.literal_prefix_ = std::move(literal_prefix);
  p.slash_after_prefix_ = first_wildcard_is_dstar;
  if (!seen_wildcard) {
    p.kind_ = Kind::kLiteral;
  } else if (first_wildcard_is_dstar && segments.back() == "**" &&
             std::count(segments.begin(), segments.end(), "*") == 0 &&
             std::count(segments.begin(), segments.end(), "**") == 1) {
    p.kind_ = Kind::kSubtree;
  }
  // Latin-1: every byte is one character, so "[^/]" can never be tripped up
  // by how a UTF-8 decoder treats a stray byte.
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(regex, options);
  if (!re->ok()) {
    return Invalid(pattern.substr(0, 64),
                   absl::StrCat("too complex to compile: ", re->error()));
  }
  p.re_ = std::move(re);
  return p;
}

bool PathPattern::Matches(absl::string_view normalized_path) const {
  const absl::string_view path = TrimTrailingSlash(normalized_path);
  if (kind_ == Kind::kLiteral) return path == literal_prefix_;
  if (!absl::StartsWith(path, literal_prefix_)) return false;
  const size_t n = literal_prefix_.size();
  if (slash_after_prefix_ && path.size() > n && path[n] != '/') return false;
  if (kind_ == Kind::kSubtree) return true;
  // Debian's RE2 (2022-06) takes its own StringPiece, not absl's.
  return RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *re_);
}

const std::string& PathPattern::regex() const { return re_->pattern(); }

}  // namespace latchkey::policy
