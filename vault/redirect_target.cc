#include "vault/redirect_target.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rules/path_normalizer.h"

namespace latchkey::vault {
namespace {

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

// Part returns one URL component, or "" when it is absent.
std::string Part(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, flags) != CURLUE_OK || text == nullptr) {
    return "";
  }
  std::string out = text;
  curl_free(text);
  return out;
}

std::string Unescape(absl::string_view text) {
  int length = 0;
  char* raw = curl_easy_unescape(nullptr, text.data(),
                                 static_cast<int>(text.size()), &length);
  if (raw == nullptr) return "";
  std::string out(raw, static_cast<size_t>(length));
  curl_free(raw);
  return out;
}

absl::Status Refuse(absl::string_view why) {
  return absl::PermissionDeniedError(
      absl::StrCat("the upstream redirected ", why,
                   "; only same-origin redirects are followed and the "
                   "credential is never sent to another origin"));
}

}  // namespace

bool IsRedirectStatus(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

absl::StatusOr<RedirectTarget> ParseRedirectTarget(absl::string_view url,
                                                   const Origin& origin) {
  std::unique_ptr<CURLU, UrlDeleter> parsed(curl_url());
  if (parsed == nullptr) return absl::InternalError("curl_url failed");
  std::string text(url);
  if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return Refuse("to a URL that does not parse");
  }
  if (!Part(parsed.get(), CURLUPART_USER).empty() ||
      !Part(parsed.get(), CURLUPART_PASSWORD).empty()) {
    return Refuse("to a URL with userinfo");
  }
  std::string scheme = Part(parsed.get(), CURLUPART_SCHEME);
  std::string host = Part(parsed.get(), CURLUPART_HOST);
  std::string port = Part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  absl::StatusOr<Origin> target =
      ParseOrigin(absl::StrCat(scheme, "://", host, ":", port));
  if (!target.ok() || !(*target == origin)) {
    return Refuse(absl::StrCat(
        "from ", origin.ToString(), " to another origin (",
        target.ok() ? target->ToString() : absl::StrCat(scheme, "://", host),
        ")"));
  }
  RedirectTarget result;
  absl::StatusOr<std::string> path =
      policy::NormalizePath(Part(parsed.get(), CURLUPART_PATH));
  if (!path.ok()) {
    return Refuse(
        absl::StrCat("to a path that is refused: ", path.status().message()));
  }
  result.path = *path;
  std::string query = Part(parsed.get(), CURLUPART_QUERY);
  if (!query.empty()) {
    for (absl::string_view pair : absl::StrSplit(query, '&')) {
      if (pair.empty()) continue;
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      result.query.emplace_back(Unescape(kv.first), Unescape(kv.second));
    }
  }
  return result;
}

}  // namespace latchkey::vault
