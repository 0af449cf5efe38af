// Streaming through the keyless gateway, end to end with real tools and
// real processes: a `git clone` of a repository of a few hundred MiB and a
// `git push` of a pack above the 8 MiB unary limit through `git
// http-backend`, large downloads and uploads with curl compared by
// SHA-256, the scrubber across chunk boundaries, the capability's size
// limits (refused up front when declared, cut with a broken transfer when
// not), an upstream that fails mid-body, and the peak memory of every
// process on the path (which shows the bodies were streamed, not held).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gateway_harness.h"
#include "tests/leak_scan.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

constexpr uint64_t kMiB = 1024 * 1024;

// The clone's size: a few hundred MiB by default; LK_STREAM_CLONE_MIB
// changes it (e.g. 1024 for a longer manual run).
uint64_t CloneMiB() {
  const char *env = std::getenv("LK_STREAM_CLONE_MIB");
  uint64_t mib = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &mib) && mib > 0) return mib;
  return 256;
}

// VmHWM of a live process, in bytes: its peak resident memory.
uint64_t PeakResidentBytes(pid_t pid) {
  std::string status = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "VmHWM:")) {
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, " kB");
      uint64_t kb = 0;
      if (absl::SimpleAtoi(line, &kb)) return kb * 1024;
    }
  }
  return 0;
}

class GatewayStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    // The demo capability allows a few hundred MiB each way; "small-api"
    // allows 1 MiB, to show the limits.
    options.demo_limits =
        "total_timeout_ms: 300000 max_response_bytes: 1073741824 "
        "max_request_bytes: 536870912";
    options.extra_config =
        "capabilities {\n"
        "  name: \"small-api\"\n"
        "  secret_id: \"demo-token\"\n"
        "  origin: \"@ORIGIN@\"\n"
        "  rules { effect: ALLOW methods: \"GET\" methods: \"POST\" "
        "path: \"/v1/**\" }\n"
        "  agents: \"demo-agent\"\n"
        "  limits { max_response_bytes: 1048576 max_request_bytes: 1048576 }\n"
        "}\n";
    // One bare repository whose only file is CloneMiB() of random bytes
    // (incompressible, so the pack is that large too).
    const std::string prepare = absl::StrCat(
        "set -e; git init -q -b main src && cd src && echo big > README && "
        "head -c ",
        CloneMiB() * kMiB,
        " /dev/urandom > big.bin && git add . && git commit -qm big && "
        "cd .. && git clone -q --bare src repos/big.git && "
        "git --git-dir=repos/big.git config http.receivepack true && "
        "head -c ",
        24 * kMiB,
        " /dev/urandom > upload.bin && sha256sum upload.bin | cut -c1-64 > "
        "upload.sha");
    auto harness = GatewayHarness::Start("tests/upstream/stream_upstream.py",
                                         options, prepare);
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = harness->release();
  }
  static void TearDownTestSuite() {
    delete h_;
    h_ = nullptr;
  }

  static std::vector<json> UpstreamRecords() {
    std::vector<json> records;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(h_->dir() + "/upstream.jsonl"), '\n')) {
      if (!line.empty()) records.push_back(json::parse(line));
    }
    return records;
  }

  // BlobSha256 computes what /v1/blob sends, with the upstream's own
  // generator, so the comparison does not trust the path under test.
  static std::string BlobSha256(uint64_t bytes, const std::string &seed) {
    Ran ran = h_->Sh(absl::StrCat(
        "python3 -c 'import hashlib,sys; sys.path.insert(0, sys.argv[1]); "
        "import stream_upstream as u; h = hashlib.sha256(); "
        "[h.update(p) for p in u.blob_chunks(int(sys.argv[2]), "
        "sys.argv[3].encode())]; print(h.hexdigest())' ",
        ShellQuote(RunfilesDir() + "/tests/upstream"), " ", bytes, " ", seed));
    return std::string(absl::StripAsciiWhitespace(ran.output));
  }
  static std::string RunfilesDir() {
    char cwd[4096];
    return getcwd(cwd, sizeof(cwd)) != nullptr ? std::string(cwd) : ".";
  }

  static GatewayHarness *h_;
};

GatewayHarness *GatewayStreamTest::h_ = nullptr;

TEST_F(GatewayStreamTest, GitCloneOfAFewHundredMiB) {
  const std::string url = h_->base() + "/demo-api/v1/git/big.git";
  Ran clone = h_->Sh(absl::StrCat(
      "git -c credential.helper= -c 'credential.helper=!f() { echo "
      "username=latchkey; echo password=$LK_GW_TOKEN; }; f' clone -q ",
      ShellQuote(url), " big && cmp big/big.bin src/big.bin && echo same"));
  ASSERT_EQ(clone.exit_code, 0) << clone.output;
  EXPECT_TRUE(absl::StrContains(clone.output, "same"));

  // Streamed, not held: no process on the path came near the pack's size.
  // (Not under AddressSanitizer: its quarantine keeps freed chunks
  // resident by design, up to 256 MiB per process.)
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "peak memory is not meaningful under AddressSanitizer";
#endif
  const uint64_t pack = CloneMiB() * kMiB;
  for (auto [name, pid] : std::vector<std::pair<std::string, pid_t>>{
           {"gateway", h_->gateway().pid()},
           {"broker", h_->stack().broker()->pid()},
           {"vault", h_->stack().vault()->pid()}}) {
    uint64_t peak = PeakResidentBytes(pid);
    // For the record (the figure the README and reports quote).
    std::printf("%s peak RSS %llu MiB after a %llu MiB clone\n", name.c_str(),
                static_cast<unsigned long long>(peak / kMiB),
                static_cast<unsigned long long>(pack / kMiB));
    ASSERT_GT(peak, 0u) << name;
    EXPECT_LT(peak, pack / 2) << name << " peaked at " << peak / kMiB
                              << " MiB for a " << pack / kMiB << " MiB clone";
  }
}

TEST_F(GatewayStreamTest, GitPushOfAPackAboveTheUnaryLimit) {
  const std::string url = h_->base() + "/demo-api/v1/git/big.git";
  Ran push = h_->Sh(absl::StrCat(
      "set -e; rm -rf work && git init -q -b side work && cd work && "
      "cp ../upload.bin pushed.bin && git add pushed.bin && "
      "git commit -qm pushed && git -c \"http.extraHeader=Authorization: "
      "Bearer $LK_GW_TOKEN\" -c http.postBuffer=1048576 push -q ",
      ShellQuote(url),
      " side:side && cd .. && "
      "git --git-dir=repos/big.git cat-file -p side:pushed.bin | cmp - "
      "upload.bin && echo same"));
  ASSERT_EQ(push.exit_code, 0) << push.output;
  EXPECT_TRUE(absl::StrContains(push.output, "same"));
  // The pack went up as one request larger than 8 MiB.
  bool large_post = false;
  for (const json &record : UpstreamRecords()) {
    if (record["method"] == "POST" &&
        absl::EndsWith(record["path"].get<std::string>(), "git-receive-pack")) {
      large_post =
          large_post || record["body_bytes"].get<uint64_t>() > 8 * kMiB;
    }
  }
  EXPECT_TRUE(large_post);
}

TEST_F(GatewayStreamTest, LargeDownloadArrivesWhole) {
  const uint64_t bytes = 96 * kMiB + 12345;
  Ran ran =
      h_->Curl("", absl::StrCat("/demo-api/v1/blob?bytes=", bytes, "&seed=dl"),
               "blob.out");
  ASSERT_EQ(GatewayHarness::StatusOf(ran), 200) << ran.output;
  Ran sum = h_->Sh("sha256sum blob.out | cut -c1-64");
  EXPECT_EQ(absl::StripAsciiWhitespace(sum.output), BlobSha256(bytes, "dl"));
}

TEST_F(GatewayStreamTest, LargeUploadArrivesWhole) {
  const std::string expected = std::string(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(h_->dir() + "/upload.sha")));
  // With Content-Length, and again with chunked transfer coding.
  for (const char *framing : {"", "-H 'Transfer-Encoding: chunked'"}) {
    Ran ran =
        h_->Curl(absl::StrCat("-X POST --data-binary @upload.bin ", framing),
                 "/demo-api/v1/upload");
    ASSERT_EQ(GatewayHarness::StatusOf(ran), 200) << framing << ran.output;
    json body = json::parse(ReadFileOrEmpty(h_->dir() + "/body.out"));
    EXPECT_EQ(body["bytes"], 24 * kMiB) << framing;
    EXPECT_EQ(body["sha256"], expected) << framing;
  }
}

// The secret planted across the 256 KiB chunk boundaries (and at the very
// end) is replaced wherever it falls.
TEST_F(GatewayStreamTest, SecretSplitAcrossChunksIsScrubbed) {
  const uint64_t bytes = 2 * kMiB;
  const size_t secret = std::string(Stack::kSecret).size();
  std::vector<uint64_t> plants = {262144 - 5, 524288 - 1, 786432 - secret + 1,
                                  1048576, bytes - secret};
  Ran ran =
      h_->Curl("",
               absl::StrCat("/demo-api/v1/blob?bytes=", bytes,
                            "&seed=pl&plant=", absl::StrJoin(plants, ",")),
               "planted.out");
  ASSERT_EQ(GatewayHarness::StatusOf(ran), 200) << ran.output;
  std::string body = ReadFileOrEmpty(h_->dir() + "/planted.out");
  EXPECT_FALSE(FindForms(body, {Stack::kSecret}).size() > 0);
  size_t markers = 0;
  for (size_t at = body.find("[REDACTED:latchkey]"); at != std::string::npos;
       at = body.find("[REDACTED:latchkey]", at + 1)) {
    ++markers;
  }
  EXPECT_EQ(markers, plants.size());
}

TEST_F(GatewayStreamTest, DeclaredOversizeUploadIsRefusedBeforeItIsSent) {
  size_t before = UpstreamRecords().size();
  Ran ran =
      h_->Curl("-X POST --data-binary @upload.bin", "/small-api/v1/upload");
  EXPECT_EQ(GatewayHarness::StatusOf(ran), 400) << ran.output;
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(h_->dir() + "/body.out"),
                                "INVALID_REQUEST"));
  EXPECT_EQ(UpstreamRecords().size(), before) << "nothing went upstream";
}

TEST_F(GatewayStreamTest, UndeclaredOversizeUploadIsRefused) {
  Ran ran = h_->Curl(
      "-X POST --data-binary @upload.bin -H 'Transfer-Encoding: chunked'",
      "/small-api/v1/upload");
  EXPECT_EQ(GatewayHarness::StatusOf(ran), 400) << ran.output;
  EXPECT_TRUE(
      absl::StrContains(ReadFileOrEmpty(h_->dir() + "/body.out"), "1048576"));
}

// An answer over the capability's limit cannot be refused once its status
// line has gone out: the transfer is broken off, so curl fails instead of
// keeping a short body.
TEST_F(GatewayStreamTest, AnswerOverTheLimitBreaksTheTransfer) {
  Ran ran = h_->Curl("", absl::StrCat("/small-api/v1/blob?bytes=", 3 * kMiB));
  EXPECT_NE(ran.exit_code, 0) << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "curl: (18)") ||
              absl::StrContains(ran.output, "curl: (56)"))
      << ran.output;
}

TEST_F(GatewayStreamTest, UpstreamFailingMidBodyBreaksTheTransfer) {
  Ran ran = h_->Curl("", absl::StrCat("/demo-api/v1/drop?bytes=", 3 * kMiB));
  EXPECT_NE(ran.exit_code, 0) << ran.output;
}

// A refused request with a body: the body is never read or forwarded, and
// the gateway keeps serving the next request.
TEST_F(GatewayStreamTest, RefusedUploadIsAnsweredAndTheGatewayGoesOn) {
  Ran ran =
      h_->Curl("-X POST --data-binary @upload.bin", "/demo-api/v2/not-allowed");
  EXPECT_EQ(GatewayHarness::StatusOf(ran), 403) << ran.output;
  Ran next = h_->Curl("", "/demo-api/v1/blob?bytes=10");
  EXPECT_EQ(GatewayHarness::StatusOf(next), 200) << next.output;
}

// Last: nothing on the path or in any output holds the secret.
TEST_F(GatewayStreamTest, ZZLeakScan) {
  std::vector<std::string> forms = SecretForms(Stack::kSecret);
  EXPECT_TRUE(FindForms(h_->outputs(), forms).empty());
  EXPECT_TRUE(FindForms(h_->GatewayLog(), forms).empty());
  size_t bytes_read = 0;
  auto found = ScanProcessMemory(h_->gateway().pid(), forms, &bytes_read);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->empty());
  EXPECT_GT(bytes_read, 0u);
  auto broker =
      ScanProcessMemory(h_->stack().broker()->pid(), forms, &bytes_read);
  ASSERT_TRUE(broker.ok()) << broker.status();
  EXPECT_TRUE(broker->empty());
}

}  // namespace
}  // namespace latchkey::testing
