#include "vault/upstream_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/egress_limits.h"
#include "common/limits.h"
#include "common/secure_buffer.h"
#include "rules/header_policy.h"
#include "vault/wire_encoding.h"

namespace latchkey::vault {
namespace {

// Keep the pool bounded; extra handles beyond this are closed after use.
constexpr size_t kMaxIdleHandles = 64;

struct CallState {
  UpstreamResult* result = nullptr;
  const BodySink* sink = nullptr;
  UploadSource* upload = nullptr;  // null: the body is request.body.
  const PinnedAddress* pinned = nullptr;
  std::string refusal;        // set when OnOpenSocket refused an address.
  absl::Status upload_error;  // set when `upload` failed.
  const std::function<absl::Status()>* proceed = nullptr;  // may be empty.
  absl::Status stop_reason;  // set when `proceed` stopped the call.
};

// OnOpenSocket is the connect-time half of the address check: whatever
// curl resolved or was told, it may only open a socket to the pinned,
// checked address. Reused connections were opened through here too.
curl_socket_t OnOpenSocket(void* user, curlsocktype purpose,
                           curl_sockaddr* address) {
  auto* state = static_cast<CallState*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) {
    state->refusal = "curl asked for a non-IP connection; refused";
    return CURL_SOCKET_BAD;
  }
  absl::Status allowed = CheckConnectAddress(&address->addr, *state->pinned);
  if (!allowed.ok()) {
    state->refusal = std::string(allowed.message());
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<CallState*>(user);
  size_t n = size * count;
  if (!(*state->sink)(*state->result, absl::string_view(data, n))) {
    state->result->stopped = true;
    return 0;  // Abort the transfer: CURLE_WRITE_ERROR, handled below.
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* state = static_cast<CallState*>(user);
  absl::Status proceed = (*state->proceed)();
  if (proceed.ok()) return 0;
  state->stop_reason = proceed;
  return 1;  // CURLE_ABORTED_BY_CALLBACK, handled below.
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* state = static_cast<CallState*>(user);
  absl::StatusOr<size_t> n = state->upload->read(buffer, size * count);
  if (!n.ok()) {
    state->upload_error = n.status();
    return CURL_READFUNC_ABORT;
  }
  return *n;
}

// NamesACoding: a Content-Encoding (or, with `transfer`, Transfer-Encoding)
// value lists a coding that changes the bytes ("identity" and, for
// Transfer-Encoding, "chunked" do not).
bool NamesACoding(absl::string_view value, bool transfer) {
  for (absl::string_view coding : absl::StrSplit(value, ',')) {
    coding = absl::StripAsciiWhitespace(coding);
    if (coding.empty() || absl::EqualsIgnoreCase(coding, "identity")) continue;
    if (transfer && absl::EqualsIgnoreCase(coding, "chunked")) continue;
    return true;
  }
  return false;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<CallState*>(user);
  size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new status line (for example after 100 Continue): start over. The
    // status is kept so that a body sink knows which answer it receives.
    state->result->headers.clear();
    state->result->decoded = false;
    size_t space = line.find(' ');
    int status = 0;
    if (space != absl::string_view::npos &&
        absl::SimpleAtoi(line.substr(space + 1, 3), &status)) {
      state->result->status = status;
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  // curl decodes both (CURLOPT_ACCEPT_ENCODING is set, see below).
  if ((absl::EqualsIgnoreCase(name, "content-encoding") &&
       NamesACoding(value, false)) ||
      (absl::EqualsIgnoreCase(name, "transfer-encoding") &&
       NamesACoding(value, true))) {
    state->result->decoded = true;
  }
  if (state->result->headers.size() < kMaxHeaderCount * 2) {
    state->result->headers.emplace_back(std::move(name), std::move(value));
  }
  return n;
}

// CleanseList zeroizes every header line before curl frees the list, since
// some of them carry the credential.
void FreeHeaderList(curl_slist* list) {
  for (curl_slist* p = list; p != nullptr; p = p->next) {
    OPENSSL_cleanse(p->data, std::strlen(p->data));
  }
  curl_slist_free_all(list);
}

bool IsHeader(absl::string_view name, absl::string_view wanted) {
  return absl::EqualsIgnoreCase(name, wanted);
}

}  // namespace

void SetAcceptEncoding(
    std::vector<std::pair<std::string, std::string>>* headers) {
  headers->erase(std::remove_if(headers->begin(), headers->end(),
                                [](const auto& header) {
                                  return IsHeader(header.first,
                                                  "accept-encoding");
                                }),
                 headers->end());
  headers->emplace_back("Accept-Encoding", kAcceptEncoding);
}

namespace {

// SendsFixedBody: the request carries `request.body` (see SetContentLength).
bool SendsFixedBody(const OutgoingRequest& request) {
  return !request.body.empty() || request.method == "POST" ||
         request.method == "PUT" || request.method == "PATCH";
}

}  // namespace

void SetContentLength(const UploadSource* upload, OutgoingRequest* request) {
  std::vector<std::pair<std::string, std::string>>& headers = request->headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& header) {
                                 return IsHeader(header.first,
                                                 "content-length");
                               }),
                headers.end());
  if (upload != nullptr) {
    if (upload->length.has_value()) {
      headers.emplace_back("Content-Length", std::to_string(*upload->length));
    }
  } else if (SendsFixedBody(*request)) {
    headers.emplace_back("Content-Length",
                         std::to_string(request->body.size()));
  }
}

UpstreamClient::UpstreamClient() {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
}

UpstreamClient::~UpstreamClient() {
  for (void* handle : idle_handles_) curl_easy_cleanup(handle);
}

void* UpstreamClient::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void UpstreamClient::ReleaseHandle(void* handle) {
  // curl_easy_reset clears options but keeps live connections and caches.
  curl_easy_reset(handle);
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_handles_.size() < kMaxIdleHandles) {
    idle_handles_.push_back(handle);
  } else {
    curl_easy_cleanup(handle);
  }
}

absl::StatusOr<UpstreamResult> UpstreamClient::Perform(
    const OutgoingRequest& request, const v1::EgressLimits& limits,
    const PinnedAddress& pinned) {
  const uint64_t max_body = MaxResponseBytes(limits);
  std::string body;
  bool truncated = false;
  BodySink collect = [&](const UpstreamResult&, absl::string_view data) {
    if (body.size() + data.size() > max_body) {
      body.append(data.data(), max_body - body.size());
      truncated = true;
      return false;
    }
    body.append(data.data(), data.size());
    return true;
  };
  absl::StatusOr<UpstreamResult> result =
      PerformStreaming(request, limits, pinned, nullptr, collect);
  if (!result.ok()) return result;
  result->body = std::move(body);
  result->truncated = truncated;
  return result;
}

absl::StatusOr<UpstreamResult> UpstreamClient::PerformStreaming(
    const OutgoingRequest& request, const v1::EgressLimits& limits,
    const PinnedAddress& pinned, UploadSource* upload, const BodySink& sink,
    const std::function<absl::Status()>& proceed) {
  if (pinned.empty()) {
    return absl::InternalError("upstream call without a checked address");
  }
  // A stated length that is not the body's would split or join requests
  // on a kept-alive connection: refuse rather than send it.
  for (const auto& [name, value] : request.headers) {
    if (IsHeader(name, "content-length") && upload == nullptr &&
        value != std::to_string(request.body.size())) {
      return absl::InternalError(
          "the request's Content-Length does not match its body");
    }
  }
  // A credential header (a multi-part secret's part, a header scheme's
  // name) may not frame or route the message: a second Content-Length or
  // a Transfer-Encoding beside the vault's length would split or join
  // requests on a kept-alive connection. The families are the rules
  // library's, the same that refuse such headers from an agent. Only the
  // name is quoted.
  for (const auto& [name, value] : request.credential_headers) {
    const HeaderFamily family = ClassifyRequestHeader(name);
    if (family == HeaderFamily::kConnection ||
        family == HeaderFamily::kRouting) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the credential may not set header '", name,
          "' (it frames or routes the request); change the secret's "
          "auth config"));
    }
  }
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");

  // The URL may carry a credential (query-parameter auth), so it is built in
  // a string that is cleansed after the call.
  // Reserve the worst case (every query byte percent-encoded) up front:
  // a reallocation would leave an uncleansed copy of the credential in
  // freed heap memory.
  size_t url_capacity = request.origin.size() + request.path.size() + 1;
  for (const auto& [name, value] : request.query) {
    url_capacity += 2 + 3 * (name.size() + value.size());
  }
  for (const auto& [name, value] : request.credential_query) {
    url_capacity += 2 + 3 * (name.size() + value.size());
  }
  std::string url;
  url.reserve(url_capacity);
  url.append(request.origin).append(request.path);
  bool first = true;
  auto add_param = [&](absl::string_view name, absl::string_view value) {
    url.push_back(first ? '?' : '&');
    first = false;
    AppendPercentEncoded(name, &url);
    url.push_back('=');
    AppendPercentEncoded(value, &url);
  };
  for (const auto& [name, value] : request.query) add_param(name, value);
  for (const auto& [name, value] : request.credential_query) {
    add_param(name, value.view());
  }

  curl_slist* headers = nullptr;
  bool has_accept = false;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    // The vault alone decides the encoding it accepts: curl sends
    // kAcceptEncoding (CURLOPT_ACCEPT_ENCODING below), whatever was asked.
    if (IsHeader(name, "accept-encoding")) continue;
    has_accept = has_accept || IsHeader(name, "accept");
    has_content_type = has_content_type || IsHeader(name, "content-type");
    // curl drops "Name: " (no value) from a request; "Name;" is how it
    // sends a header whose value is empty, which the broker judged.
    headers = curl_slist_append(
        headers, (value.empty() ? absl::StrCat(name, ";")
                                : absl::StrCat(name, ": ", value))
                     .c_str());
  }
  for (const auto& [name, value] : request.credential_headers) {
    has_accept = has_accept || IsHeader(name, "accept");
    has_content_type = has_content_type || IsHeader(name, "content-type");
    std::string line = absl::StrCat(name, ": ", value.view());
    headers = curl_slist_append(headers, line.c_str());
    CleanseString(&line);
  }
  // Send no header that neither the agent nor the auth scheme asked for:
  // "Name:" removes curl's own default. curl would add "Accept: */*" to
  // every request and "Content-Type: application/x-www-form-urlencoded"
  // to a body (even an empty POST's) that has no type; the upstream must
  // not be told what the agent did not say (and a signature over the
  // headers must cover all of them). The automatic
  // "Expect: 100-continue" round trip is suppressed too.
  if (!has_accept) headers = curl_slist_append(headers, "Accept:");
  if (!has_content_type) {
    headers = curl_slist_append(headers, "Content-Type:");
  }
  headers = curl_slist_append(headers, "Expect:");

  UpstreamResult result;
  CallState state;
  state.result = &result;
  state.sink = &sink;
  state.upload = upload;
  state.pinned = &pinned;
  state.proceed = &proceed;
  long connect_ms = ConnectTimeoutMs(limits);
  long total_ms = TotalTimeoutMs(limits);

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  // Connect to the checked address whatever host the URL names ("any
  // host, any port" -> pinned address, origin port); the URL keeps the
  // name for Host and TLS (SNI, certificate check). curl keys connection
  // reuse on this too, so a pooled connection to another address for the
  // same name is never reused. Proxies from the environment are ignored.
  std::string connect_to = absl::StrCat(
      "::", pinned.address.ss_family == AF_INET6 ? "[" : "", pinned.ip,
      pinned.address.ss_family == AF_INET6 ? "]" : "", ":",
      ntohs(pinned.address.ss_family == AF_INET6
                ? reinterpret_cast<const sockaddr_in6*>(&pinned.address)
                      ->sin6_port
                : reinterpret_cast<const sockaddr_in*>(&pinned.address)
                      ->sin_port));
  curl_slist* connect_to_list = curl_slist_append(nullptr, connect_to.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to_list);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &state);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
  if (proceed) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  }
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  // Ask for the identity coding only, so that the scrubber sees the bytes
  // the agent will see. A set value also makes curl decode whatever
  // Content-Encoding an upstream sends anyway (gzip, deflate, br and zstd
  // in Debian 12's libcurl 7.88, nested ones too); curl decodes
  // Transfer-Encoding codings regardless. An unknown coding or corrupt
  // data fails the call (CURLE_BAD_CONTENT_ENCODING, refused below):
  // encoded bytes never reach the sink.
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, kAcceptEncoding);
  curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
  if (!request.ca_bundle_pem.empty()) {
    // The secret's private CA, trusted in addition to the system store
    // (curl keeps its default CA path); curl copies the blob.
    curl_blob ca_blob{const_cast<char*>(request.ca_bundle_pem.data()),
                      request.ca_bundle_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca_blob);
  }
  if (upload != nullptr) {
    // A streamed body: curl pulls it through OnUpload, with the known
    // length as Content-Length or else chunked. Larger buffers mean fewer,
    // larger pieces on both sides (kStreamChunkBytes is what one stream
    // message carries).
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &state);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                     upload->length.has_value()
                         ? static_cast<curl_off_t>(*upload->length)
                         : static_cast<curl_off_t>(-1));
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE,
                     static_cast<long>(kStreamChunkBytes));
  } else if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (upload == nullptr && SendsFixedBody(request)) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    if (request.method == "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "GET");
    }
  }

  absl::Time start = absl::Now();
  CURLcode code = curl_easy_perform(curl);
  result.latency_us = absl::ToInt64Microseconds(absl::Now() - start);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  // Zero when no connection was ever ready (new or reused): the connect
  // phase is what timed out.
  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  result.new_connections = connects;
  curl_off_t connected_at = 0;
  curl_easy_getinfo(curl, CURLINFO_PRETRANSFER_TIME_T, &connected_at);
  if (status >= 300 && status < 400) {
    char* location = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
      result.redirect_url = location;
    }
  }

  // Drop our references to credential-bearing memory before the handle
  // goes back to the pool.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_CONNECT_TO, nullptr);
  curl_slist_free_all(connect_to_list);
  FreeHeaderList(headers);
  CleanseString(&url);
  ReleaseHandle(curl);

  // The body source's own error (a body longer than announced, the
  // client gone) says more than curl's "aborted by callback".
  if (!state.upload_error.ok()) return state.upload_error;
  if (!state.stop_reason.ok()) return state.stop_reason;
  if (code == CURLE_WRITE_ERROR && result.stopped) return result;
  if (code == CURLE_OK) return result;
  if (!state.refusal.empty()) {
    return absl::PermissionDeniedError(state.refusal);
  }
  // A coding curl cannot decode, or data that does not decode (curl
  // reports trailing bytes after a compressed stream as a write error).
  // The coding's name is not quoted: it is the upstream's text, and this
  // message is not scrubbed.
  if (code == CURLE_BAD_CONTENT_ENCODING ||
      (code == CURLE_WRITE_ERROR && result.decoded)) {
    return absl::UnavailableError(absl::StrCat(
        "the answer from ", request.origin,
        " was refused: it uses a content coding the vault cannot decode "
        "(it decodes gzip, deflate, br and zstd) or its encoded data is "
        "corrupt; the vault asks for identity (uncompressed) answers and "
        "never passes encoded bytes on"));
  }
  std::string what = curl_easy_strerror(code);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    if (connected_at == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("upstream ", request.origin, " did not accept a ",
                       "connection within ", connect_ms, " ms (", what, ")"));
    }
    return absl::DeadlineExceededError(absl::StrCat(
        "upstream did not answer within ", total_ms, " ms (", what, ")"));
  }
  if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
      code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
      code == CURLE_GOT_NOTHING) {
    return absl::UnavailableError(
        absl::StrCat("upstream ", request.origin, " is unreachable: ", what));
  }
  return absl::UnavailableError(
      absl::StrCat("upstream call to ", request.origin, " failed: ", what));
}

}  // namespace latchkey::vault
