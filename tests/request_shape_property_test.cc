// A property test over the whole request shape (issue 15): method, path,
// query, headers and body are drawn by a seeded pseudo-random generator
// from a grammar that mixes benign and hostile pieces, sent through the
// broker's Execute RPC (as latchkey-mcp calls it) to the real stack, and
// checked against what the loopback echo upstream really received:
//  - ALLOW: exactly one upstream request carries the request's marker; its
//    method is the request's; its target is the broker's canonical path
//    (NormalizePath, and the path in the broker's audit record) plus the
//    query as the vault encodes it; every agent header arrived with its
//    value; the body arrived byte for byte; no /v1/admin spelling arrived.
//  - DENY (or a gRPC error): nothing carrying the marker reached the
//    upstream, and nothing at all reached a loopback canary whose address
//    the hostile pieces name.
// The seed is fixed (and printed); LATCHKEY_SHAPE_SEED replays another.
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "rules/path_normalizer.h"
#include "tests/audit_query.h"
#include "tests/loopback_canary.h"
#include "tests/process.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

constexpr uint32_t kDefaultSeed = 20261207;
constexpr int kRequests = 400;
// The generator stops early rather than run past this (the test's own
// bound; Bazel's medium timeout is far above it).
constexpr absl::Duration kBudget = absl::Seconds(60);
constexpr char kMarkerHeader[] = "X-Shape-Marker";

constexpr char kShapeConfig[] =
    "capabilities {\n"
    "  name: \"shape-api\"\n"
    "  description: \"Request-shape property test.\"\n"
    "  secret_id: \"demo-token\"\n"
    "  origin: \"@ORIGIN@\"\n"
    "  rules { effect: ALLOW methods: \"GET\" methods: \"POST\" "
    "methods: \"PUT\" path: \"/v1/**\" }\n"
    "  rules { effect: DENY methods: \"*\" path: \"/v1/admin/**\" }\n"
    "  agents: \"demo-agent\"\n"
    "  limits { total_timeout_ms: 5000 }\n"
    "}\n";

// EncodeQuery is the query string as the vault writes it after the path:
// names and values percent-encoded except RFC 3986 unreserved bytes, upper
// case hex, "?n=v&n=v" in order (vault/upstream_client.cc).
std::string EncodeQuery(const v1::HttpRequest& http) {
  auto encode = [](const std::string& text, std::string* out) {
    for (unsigned char c : text) {
      if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
          c == '~') {
        out->push_back(static_cast<char>(c));
      } else {
        absl::StrAppendFormat(out, "%%%02X", c);
      }
    }
  };
  std::string query;
  for (const v1::QueryParam& param : http.query()) {
    query.push_back(query.empty() ? '?' : '&');
    encode(param.name(), &query);
    query.push_back('=');
    encode(param.value(), &query);
  }
  return query;
}

// Latin1Bytes undoes Python's reading of header bytes as ISO-8859-1 (the
// echo upstream's JSON holds them as code points U+0000..U+00FF, which
// nlohmann hands back as UTF-8). Returns false for a code point above 0xFF.
bool Latin1Bytes(const std::string& utf8, std::string* out) {
  out->clear();
  for (size_t i = 0; i < utf8.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
    } else if ((c & 0xE0) == 0xC0 && i + 1 < utf8.size()) {
      unsigned cp = ((c & 0x1F) << 6) | (utf8[i + 1] & 0x3F);
      if (cp > 0xFF) return false;
      out->push_back(static_cast<char>(cp));
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

// AdminSpelling is true when a path the upstream saw would reach
// /v1/admin on some server: its second segment, percent-decoded, with
// fullwidth letters folded, in any case, cut at ';' (a path parameter),
// with trailing dots and spaces dropped (IIS) and, when it is the last
// segment, a format suffix dropped (Rails, Spring: "admin.json"), is
// "admin". A suffix in a middle segment ("/v1/admin.json/x") is not an
// equivalence of any server we know, nor one the rules claim.
bool AdminSpelling(const std::string& path) {
  std::vector<std::string> segments = absl::StrSplit(path, '/');
  if (segments.size() < 3 || !segments[0].empty()) return false;
  if (absl::AsciiStrToLower(segments[1]) != "v1") return false;
  std::string decoded;
  absl::string_view s = segments[2];
  for (size_t i = 0; i < s.size(); ++i) {
    int value = 0;
    if (s[i] == '%' && i + 2 < s.size() && absl::ascii_isxdigit(s[i + 1]) &&
        absl::ascii_isxdigit(s[i + 2])) {
      value = std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16);
      decoded.push_back(static_cast<char>(value));
      i += 2;
    } else {
      decoded.push_back(s[i]);
    }
  }
  // Fullwidth Latin letters U+FF21..U+FF3A and U+FF41..U+FF5A.
  std::string folded;
  for (size_t i = 0; i < decoded.size(); ++i) {
    unsigned char a = decoded[i];
    if (a == 0xEF && i + 2 < decoded.size()) {
      unsigned char b = decoded[i + 1], c = decoded[i + 2];
      if (b == 0xBC && c >= 0xA1 && c <= 0xBA) {
        folded.push_back('a' + (c - 0xA1));
        i += 2;
        continue;
      }
      if (b == 0xBD && c >= 0x81 && c <= 0x9A) {
        folded.push_back('a' + (c - 0x81));
        i += 2;
        continue;
      }
    }
    folded.push_back(static_cast<char>(a));
  }
  std::string name = absl::AsciiStrToLower(folded);
  name = name.substr(0, name.find(';'));
  const bool last =
      segments.size() == 3 || (segments.size() == 4 && segments[3].empty());
  if (last) name = name.substr(0, name.find('.'));
  while (!name.empty() && (name.back() == ' ' || name.back() == '.')) {
    name.pop_back();
  }
  return name == "admin";
}

// Describe prints a request escaped, to reproduce a failure by hand.
std::string Describe(const v1::HttpRequest& http) {
  std::string out =
      absl::StrCat("method=\"", absl::CEscape(http.method()), "\" path=\"",
                   absl::CEscape(http.path()), "\"");
  for (const v1::QueryParam& q : http.query()) {
    absl::StrAppend(&out, " query[\"", absl::CEscape(q.name()), "\"]=\"",
                    absl::CEscape(q.value()), "\"");
  }
  for (const v1::Header& h : http.headers()) {
    absl::StrAppend(&out, " header[\"", absl::CEscape(h.name()), "\"]=\"",
                    absl::CEscape(h.value()), "\"");
  }
  absl::StrAppend(&out, " body(", http.body().size(), ")=\"",
                  absl::CEscape(http.body().substr(0, 64)),
                  http.body().size() > 64 ? "...\"" : "\"");
  return out;
}

// RequestGrammar draws requests: mostly shapes the rules allow, each piece
// replaced by a hostile one often enough that every family shows up many
// times in a run.
class RequestGrammar {
 public:
  RequestGrammar(uint32_t seed, int canary_port)
      : rng_(seed), canary_(absl::StrCat("127.0.0.1:", canary_port)) {}

  v1::HttpRequest Draw(const std::string& marker) {
    v1::HttpRequest http;
    http.set_method(Method());
    http.set_path(Path(marker));
    int params = Below(4);
    for (int i = 0; i < params; ++i) {
      v1::QueryParam* param = http.add_query();
      param->set_name(QueryName());
      param->set_value(QueryValue());
    }
    // The marker is an ordinary header, placed anywhere among the others.
    int headers = Below(4);
    int marker_at = Below(headers + 1);
    for (int i = 0; i <= headers; ++i) {
      v1::Header* header = http.add_headers();
      if (i == marker_at) {
        header->set_name(kMarkerHeader);
        header->set_value(marker);
      } else {
        auto [name, value] = Header();
        header->set_name(name);
        header->set_value(value);
      }
    }
    http.set_body(Body());
    return http;
  }

 private:
  int Below(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }
  bool Chance(int percent) { return Below(100) < percent; }
  template <typename T>
  T Pick(const std::vector<T>& list) {
    return list[Below(static_cast<int>(list.size()))];
  }

  std::string Method() {
    static const std::vector<std::string> allowed = {"GET", "POST", "PUT"};
    static const std::vector<std::string> hostile = {
        "get",     "Get",
        "TRACE",   "G ET",
        "PURGE",   "DELETE",
        "HEAD",    "OPTIONS",
        "PATCH",   "CONNECT",
        "",        "GET\r\n",
        "*",       "POST /v1/admin/x HTTP/1.1\r\nX:",
        "PUT\t",   "GET/1",
        "M-SEARCH"};
    return Chance(70) ? Pick(allowed) : Pick(hostile);
  }

  std::string Path(const std::string& marker) {
    static const std::vector<std::string> benign = {
        "users", "items", "items/7", "orders", "a-b_c.d~e", "v2", "search"};
    // One segment each; "" makes "//". The fullwidth letters are split
    // off so the hex escape does not swallow the next letter.
    // clang-format off
    static const std::vector<std::string> hostile = {
        "admin", "ADMIN", "Admin.", "admin;x=1", "..", ".", "%2e%2e", "%2E",
        "%2F", "a%2fb", ";x=1", "%3B", "x%3By", "%25", "%252e", "%252e%252e",
        "\xEF\xBD\x81" "dmin", "caf\xC3\xA9", "caf%C3%A9", "a b", "%20", "",
        "%61dmin", "admin.json", "Admin", "~user", "a%00b", "\\", "%5C",
        "a\tb", "%ff", "x?y", "x#y", "a+b", "@", ":", "%7e", "..;",
        "admin%20", "\xEF\xBC\xA1" "DMIN", "a\r\nb", "!$&'()*+,=:@", "%3F",
        "%23", "{x}", "[x]", "|^`\"<>", "%2e%2E%2e", ".%2e"};
    // clang-format on
    std::string prefix = "/v1";
    if (Chance(15)) {
      prefix = Pick(std::vector<std::string>{
          "/V1", "/v1/..", "", "http://" + canary_ + "/v1",
          "//" + canary_ + "/v1", "/v2", "/v1/%2e%2e/v1", "\\v1", "v1",
          "/v1/admin", "/%76%31"});
    }
    std::string path = prefix;
    int segments = Below(4);
    for (int i = 0; i < segments; ++i) {
      absl::StrAppend(&path, "/", Chance(55) ? Pick(benign) : Pick(hostile));
    }
    absl::StrAppend(&path, "/", marker);
    if (Chance(25)) {
      absl::StrAppend(&path, Pick(std::vector<std::string>{
                                 "/", "/.", "/..", ".json", ";x=1", "/admin",
                                 "/../..", "%2F..", "/%2e"}));
    }
    return path;
  }

  std::string QueryName() {
    static const std::vector<std::string> names = {
        "q", "page", "a&b",          "a=b",         "%",       "%25", "x y",
        "",  "to",   "\xEF\xBD\x81", "caf\xC3\xA9", "_method", "q[]", "#"};
    return Pick(names);
  }
  std::string QueryValue() {
    std::vector<std::string> values = {"1",
                                       "a&b=c",
                                       "%2e%2e",
                                       "/v1/admin/x",
                                       "http://" + canary_ + "/",
                                       "caf\xC3\xA9",
                                       "\r\nX-Injected: 1",
                                       "",
                                       "x+y",
                                       std::string("a\0b", 3),
                                       "DELETE",
                                       "=&=&",
                                       "%"};
    return Pick(values);
  }

  std::pair<std::string, std::string> Header() {
    static const std::vector<std::pair<std::string, std::string>> ordinary = {
        {"Accept", "application/json"},
        {"X-Trace-Id", "trace-0001"},
        {"Content-Type", "application/json"},
        {"If-None-Match", "\"etag-1\""},
        {"X-Request-Id", "req-42"},
        {"Accept-Language", "fr-CH, fr;q=0.9"},
        {"X-Note", "caf\xC3\xA9"},
        {"X-Note", "a,b;c=\"d\""},
        {"X-Note", "trailing "},
        {"X-Note", ""},
        {"X-Note", "   "},
        {"X-Note", "ctl\xC2\x80"},
        {"X-Note", std::string(8192, 'v')},
        {"User-Agent", "shape/1"},
        {"Content-Type", "text/plain; charset=utf-8"},
    };
    std::vector<std::pair<std::string, std::string>> hostile = {
        {"X-HTTP-Method-Override", "DELETE"},
        {"X-Original-URL", "/v1/admin/x"},
        {"X-Rewrite-URL", "/v1/admin/x"},
        {"Accept-Encoding", "gzip"},
        {"Range", "bytes=0-3"},
        {"Authorization", "Bearer agent-chosen"},
        {"Host", canary_},
        {"Transfer-Encoding", "chunked"},
        {"x_forwarded_for", "127.0.0.1"},
        {"X-Forwarded-Host", canary_},
        {"Cookie", "a=b"},
        {"Content-Length", "5"},
        {"Connection", "close"},
        {"Proxy-Authorization", "Basic eDp5"},
        {"x_http_method_override", "DELETE"},
        {"X-Trace-Id", "a\r\nX-Injected: 1"},
        {"X-Trace-Id", "a\nb"},
        {"X-Trace-Id", std::string("a\0b", 3)},
        {"X-Trace-Id", "a\x7f"},
        {"X-Trace-Id", "\tpadded "},
        {"X Trace", "1"},
        {"X-Trace:", "1"},
        {"", "empty name"},
        {"X-\xC3\x9cnicode", "1"},
        {"X-Latchkey-Origin", "http://" + canary_},
        {"Expect", "100-continue"},
        {"X-Real-IP", "127.0.0.1"},
        {"Max-Forwards", "0"},
        {"TE", "trailers"},
        {"Upgrade", "h2c"},
        {"X-Note", std::string(8193, 'v')},
        {"x-shape-marker", "shape-0"},
    };
    return Chance(80) ? Pick(ordinary) : Pick(hostile);
  }

  std::string Body() {
    switch (Below(5)) {
      case 0:
      case 1:
        return "";
      case 2:
        return "{\"n\":1,\"s\":\"caf\xC3\xA9\"}";
      case 3: {
        std::string binary(Below(64) + 1, '\0');
        for (char& ch : binary) ch = static_cast<char>(Below(256));
        return binary;
      }
      default:
        return std::string(4096, 'b') + std::string("\0\xff\r\n", 4);
    }
  }

  std::mt19937 rng_;
  std::string canary_;
};

std::string CodeName(v1::ReasonCode code) {
  return v1::ReasonCode_Name(code).substr(sizeof("REASON_") - 1);
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(15));
}

struct Sent {
  std::string marker;
  v1::HttpRequest http;
  bool rpc_ok = false;
  std::string rpc_error;
  v1::ExecuteResponse response;
};

// MarkerOf is the X-Shape-Marker value of an upstream record, or "".
std::string MarkerOf(const json& record) {
  if (!record.contains("headers")) return "";
  for (const auto& [name, value] : record["headers"].items()) {
    if (absl::EqualsIgnoreCase(name, kMarkerHeader) && value.is_string()) {
      return value.get<std::string>();
    }
  }
  return "";
}

TEST(RequestShapePropertyTest, BrokerDecisionIsWhatTheUpstreamSees) {
  uint32_t seed = kDefaultSeed;
  if (const char* env = std::getenv("LATCHKEY_SHAPE_SEED")) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &seed)) << env;
  }
  std::printf("request shape property: seed %u, %d requests\n", seed,
              kRequests);
  RecordProperty("seed", std::to_string(seed));

  auto canary = LoopbackCanary::Start();
  ASSERT_TRUE(canary.ok()) << canary.status();
  StackOptions options;
  options.start_mcp = false;
  options.extra_config = kShapeConfig;
  auto started = Stack::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<Stack> stack = std::move(*started);

  auto broker =
      v1::Broker::NewStub(CreateUdsChannel(stack->run("broker.sock")));
  auto authorize = [&](grpc::ClientContext* context) {
    context->AddMetadata("authorization", "Bearer " + stack->agent_token());
    SetDeadline(context);
  };
  std::string session_id;
  {
    grpc::ClientContext context;
    authorize(&context);
    v1::OpenSessionRequest open;
    open.add_capabilities("shape-api");
    v1::Session session;
    grpc::Status rpc = broker->OpenSession(&context, open, &session);
    ASSERT_TRUE(rpc.ok()) << rpc.error_message();
    session_id = session.id();
  }

  // Send every request first, then judge them all against the records.
  RequestGrammar grammar(seed, (*canary)->port());
  std::vector<Sent> sent;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    if (absl::Now() - start > kBudget) {
      ADD_FAILURE() << "stopped after " << i << " requests: over the budget";
      break;
    }
    Sent s;
    s.marker = absl::StrFormat("shape-%u-%04d", seed, i);
    s.http = grammar.Draw(s.marker);
    grpc::ClientContext context;
    authorize(&context);
    v1::ExecuteRequest request;
    request.set_session_id(session_id);
    request.set_capability("shape-api");
    *request.mutable_request() = s.http;
    grpc::Status rpc = broker->Execute(&context, request, &s.response);
    s.rpc_ok = rpc.ok();
    if (!rpc.ok()) {
      s.rpc_error = absl::StrCat(rpc.error_code(), " ", rpc.error_message());
    }
    sent.push_back(std::move(s));
  }
  const absl::Duration elapsed = absl::Now() - start;

  // What the upstream received, by marker; and the broker's audit records.
  std::vector<json> upstream;
  for (absl::string_view line :
       absl::StrSplit(ReadFileOrEmpty(stack->upstream_record_path()), '\n',
                      absl::SkipEmpty())) {
    upstream.push_back(json::parse(line));
  }
  std::map<std::string, std::vector<const json*>> by_marker;
  for (const json& record : upstream) {
    by_marker[MarkerOf(record)].push_back(&record);
  }
  std::map<std::string, v1::AuditEvent> broker_events;
  for (const v1::AuditRecord& record :
       QueryAuditRecords(stack->run("audit.sock"))) {
    if (record.event().source() == "broker") {
      broker_events[record.event().request_id()] = record.event();
    }
  }

  std::map<std::string, int> outcomes;
  std::map<std::string, std::vector<std::string>> examples;
  std::set<std::string> allowed_headers;
  int allowed = 0;
  for (const Sent& s : sent) {
    SCOPED_TRACE(absl::StrCat(s.marker, ": ", Describe(s.http)));
    auto seen = by_marker.find(s.marker);
    const size_t hits = seen == by_marker.end() ? 0 : seen->second.size();
    const bool allow = s.rpc_ok && s.response.decision() == v1::DECISION_ALLOW;
    if (!allow) {
      const std::string outcome =
          s.rpc_ok ? CodeName(s.response.denial().code()) : "(gRPC error)";
      ++outcomes[outcome];
      if (examples[outcome].size() < 3) {
        examples[outcome].push_back(absl::StrCat(
            Describe(s.http), "\n      -> ",
            s.rpc_ok ? s.response.denial().message() : s.rpc_error));
      }
      EXPECT_EQ(hits, 0u) << "a refused request reached the upstream: "
                          << (s.rpc_ok ? s.response.denial().message()
                                       : s.rpc_error);
      // Also by the marker in the path, should the header have been lost.
      for (const json& record : upstream) {
        EXPECT_FALSE(absl::StrContains(record.value("raw_path", ""), s.marker))
            << "a refused request reached the upstream: " << record.dump();
      }
      continue;
    }
    ++allowed;
    ++outcomes["ALLOWED"];
    for (const v1::Header& header : s.http.headers()) {
      allowed_headers.insert(absl::CEscape(header.name()));
    }
    EXPECT_EQ(hits, 1u) << "an allowed request reached the upstream " << hits
                        << " times";
    if (hits != 1) continue;
    const json& record = *seen->second.front();

    EXPECT_EQ(record.value("method", ""), s.http.method());

    absl::StatusOr<std::string> canonical =
        policy::NormalizePath(s.http.path());
    EXPECT_TRUE(canonical.ok())
        << "allowed, but NormalizePath refuses it: " << canonical.status();
    if (!canonical.ok()) continue;
    auto event = broker_events.find(s.response.request_id());
    EXPECT_NE(event, broker_events.end())
        << "no broker audit record for " << s.response.request_id();
    if (event != broker_events.end()) {
      EXPECT_EQ(event->second.path(), *canonical);
    }
    EXPECT_EQ(record.value("raw_path", ""), *canonical + EncodeQuery(s.http));

    for (const v1::Header& header : s.http.headers()) {
      std::string arrived;
      bool found = false;
      for (const auto& [name, value] : record["headers"].items()) {
        if (absl::EqualsIgnoreCase(name, header.name())) {
          found = Latin1Bytes(value.get<std::string>(), &arrived);
        }
      }
      // Empty values arrive as empty values (the vault sends "Name;"),
      // values with surrounding whitespace are refused by the rules.
      EXPECT_TRUE(found) << "header " << header.name() << " did not arrive";
      if (!found) continue;
      EXPECT_EQ(absl::CEscape(arrived), absl::CEscape(header.value()))
          << "header " << header.name();
    }

    std::string body;
    EXPECT_TRUE(absl::Base64Unescape(record.value("body_base64", ""), &body));
    EXPECT_EQ(absl::CEscape(body), absl::CEscape(s.http.body()))
        << "the body did not arrive byte for byte";
  }

  // The property is only worth something if both sides were exercised: a
  // broken upstream or capability would otherwise pass by refusing all.
  // (At least a tenth: the rules refuse most hostile pieces.)
  EXPECT_GE(allowed, static_cast<int>(sent.size()) / 10)
      << "too few requests were allowed for the property to mean much";
  EXPECT_GE(static_cast<int>(sent.size()) - allowed,
            static_cast<int>(sent.size()) / 5);

  // Globally: the upstream saw exactly the allowed requests, no spelling of
  // /v1/admin, and the canary saw nothing.
  EXPECT_EQ(upstream.size(), static_cast<size_t>(allowed))
      << "the upstream saw requests that no allowed request explains";
  for (const json& record : upstream) {
    EXPECT_FALSE(AdminSpelling(record.value("path", ""))) << record.dump();
  }
  EXPECT_EQ((*canary)->connections(), 0)
      << "a request reached the loopback canary";

  std::printf("request shape property: seed %u, %zu requests in %s\n", seed,
              sent.size(), absl::FormatDuration(elapsed).c_str());
  for (const auto& [outcome, count] : outcomes) {
    std::printf("  %-22s %d\n", outcome.c_str(), count);
    for (const std::string& example : examples[outcome]) {
      std::printf("    e.g. %s\n", example.c_str());
    }
  }
  std::printf("  upstream records       %zu\n", upstream.size());
  std::printf("  header names allowed:  %s\n",
              absl::StrJoin(allowed_headers, ", ").c_str());
}

}  // namespace
}  // namespace latchkey::testing
