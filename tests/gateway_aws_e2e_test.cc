// The real aws CLI (Debian's awscli, /usr/bin/aws) through the keyless
// gateway, with the vault re-signing every request with AWS Signature
// Version 4 (issue #9). The capability comes from the aws-s3 template
// (`latchkeyctl add aws-s3`), its secret is the JSON access key pair, and
// the upstream is a loopback stand-in for S3 (tests/upstream/s3_upstream.py)
// that recomputes each signature with the real secret key and answers
// ListBuckets, ListObjectsV2 and GetObject with S3's XML. The CLI holds only
// the gateway token (as its access key id) and a fake secret key; its own
// signature is thrown away by the gateway.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gateway_harness.h"
#include "tests/leak_scan.h"
#include "tests/process.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

constexpr const char* kGatewayToken = GatewayHarness::kGatewayToken;
// The key pair only the vault (and the stand-in S3) knows.
constexpr char kAccessKeyId[] = "AKIALKTESTS3GATEWAY1";
constexpr char kSecretKey[] = "lkS3SecretKey/9f8e7d6c5b4a+EXAMPLEa1b2c3";
// What the CLI signs with: never valid anywhere.
constexpr char kClientSecret[] = "client-fake-secret-key-0000";
constexpr char kDefaultAws[] = "/usr/bin/aws";
// Over the gateway's 10 MiB response cap, for the (disabled) ranged
// download test.
constexpr size_t kBigObjectBytes = 20u << 20;

class GatewayAwsCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* override_aws = std::getenv("LK_AWS_CLI");
    aws_ = new std::string(override_aws != nullptr && override_aws[0] != '\0'
                               ? override_aws
                               : kDefaultAws);
    auto harness = GatewayHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = harness->release();
    const std::string& d = h_->dir();

    json s3 = {
        {"access_key_id", kAccessKeyId},
        {"secret_access_key", kSecretKey},
        {"region", "us-east-1"},
        {"buckets",
         {{"lk-reports",
           {{"readme.txt", "hello from s3\n"},
            {"2026/q3 summary.txt", "revenue up 12%\nsigned by: vault\n"},
            {"2026/q4.txt", "pending\n"}}},
          {"lk-odd",
           {{"a+b=c&d;e,f.txt", "plus\n"},
            {"caf\xc3\xa9 na\xc3\xafve.txt", "utf-8\n"},
            {"tilde~(1)!*$@.txt", "sub-delims\n"},
            {"50%.txt", "percent\n"}}},
          {"lk-empty", json::object()}}},
        {"generated", {{"lk-big", {{"big.bin", kBigObjectBytes}}}}}};
    std::ofstream(d + "/s3.json") << s3.dump();
    absl::Status started = h_->StartUpstream("tests/upstream/s3_upstream.py",
                                             {"--config=" + d + "/s3.json"});
    ASSERT_TRUE(started.ok()) << started;
    started = h_->StartStack(StackOptions());
    ASSERT_TRUE(started.ok()) << started;

    // What an operator runs: the aws-s3 template, bound to the stand-in's
    // loopback origin, the key pair typed on stdin.
    Ran add = AddAwsS3("", kSecretKey);
    ASSERT_EQ(add.exit_code, 0) << add.output;
    // The same template with a secret key S3 does not know: shows that the
    // stand-in really checks the vault's signature.
    Ran wrong = AddAwsS3("--name=aws-s3-wrong-key",
                         "wrongSecretKey/0000+EXAMPLEEXAMPLE0000");
    ASSERT_EQ(wrong.exit_code, 0) << wrong.output;

    started = h_->StartGateway();
    ASSERT_TRUE(started.ok()) << started;
  }

  static void TearDownTestSuite() {
    delete h_;
    h_ = nullptr;
    delete aws_;
    aws_ = nullptr;
  }

  // CI installs awscli (dev.sh TEST_PACKAGES): a missing CLI is a broken
  // test machine, not a reason to skip.
  void SetUp() override {
    ASSERT_EQ(access(aws_->c_str(), X_OK), 0)
        << *aws_ << " is missing: run `./dev.sh test` (it installs the test "
        << "packages, awscli among them) or `apt-get install awscli`; "
        << "LK_AWS_CLI=/path/to/aws (bazel test --test_env) picks another";
    ASSERT_TRUE(h_ != nullptr && !h_->base().empty())
        << "the fixture did not start";
  }

  static std::string Cwd() {
    char cwd[4096];
    return getcwd(cwd, sizeof(cwd)) == nullptr ? "." : cwd;
  }

  // AddAwsS3 runs `latchkeyctl add aws-s3 <args>` bound to the stand-in's
  // origin, the key pair on stdin from key.json (removed afterwards, never
  // on a command line).
  static Ran AddAwsS3(const std::string& args, const std::string& secret_key) {
    const std::string key_file = h_->dir() + "/key.json";
    std::ofstream(key_file) << json({{"access_key_id", kAccessKeyId},
                                     {"secret_access_key", secret_key}})
                                   .dump();
    Ran ran = h_->Sh(absl::StrCat(
        ShellQuote(Cwd() + "/ctl/latchkeyctl"),
        " --run_dir=", ShellQuote(h_->stack().dir() + "/run"), " add aws-s3 ",
        args, " --internal_origin=http://127.0.0.1:", h_->upstream_port(),
        " --agents=demo-agent < key.json"));
    unlink(key_file.c_str());
    return ran;
  }

  // Aws runs the aws CLI against the gateway as docs/agent-guide.md shows (with a
  // recognisable fake secret key), in an emptied environment (no profile,
  // config or credentials file of the machine), with the gateway token as
  // the access key id.
  static Ran Aws(const std::string& args,
                 const std::string& capability = "aws-s3",
                 const std::string& key_id = kGatewayToken) {
    return h_->Sh(absl::StrCat(
        "env -i PATH=/usr/bin:/bin HOME='", h_->dir(),
        "/home' LANG=C.UTF-8 TZ=UTC AWS_CONFIG_FILE=/dev/null "
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID='",
        key_id, "' AWS_SECRET_ACCESS_KEY='", kClientSecret, "' '", *aws_,
        "' --region us-east-1 --endpoint-url ", h_->base(), "/", capability,
        " ", args));
  }

  static std::vector<json> Records() {
    std::vector<json> records;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(h_->dir() + "/upstream.jsonl"), '\n')) {
      if (!line.empty()) records.push_back(json::parse(line));
    }
    return records;
  }

  // ExpectSignedByTheVault: the stand-in S3 verified the request with the
  // real secret key, the credential names the vault's key id, and each
  // signature header came once, from the vault: botocore signs the SHA-256
  // of the (empty) payload, the aws-s3 template sends UNSIGNED-PAYLOAD.
  static void ExpectSignedByTheVault(const json& record) {
    SCOPED_TRACE(record.dump());
    EXPECT_EQ(record["verified"], true);
    const json& headers = record["headers"];
    for (const char* name :
         {"authorization", "x-amz-date", "x-amz-content-sha256"}) {
      ASSERT_TRUE(headers.contains(name)) << name;
      EXPECT_EQ(headers[name].size(), 1u) << name;
    }
    EXPECT_TRUE(absl::StartsWith(
        headers["authorization"][0]["credential"].get<std::string>(),
        absl::StrCat(kAccessKeyId, "/")));
    EXPECT_EQ(headers["x-amz-content-sha256"], json({"UNSIGNED-PAYLOAD"}));
    // No other AWS header of the client's (x-amz-security-token, ...).
    for (const auto& [name, values] : headers.items()) {
      if (!absl::StartsWith(name, "x-amz-")) continue;
      EXPECT_TRUE(name == "x-amz-date" || name == "x-amz-content-sha256")
          << name;
    }
    EXPECT_FALSE(absl::StrContains(record.dump(), kGatewayToken));
    EXPECT_FALSE(absl::StrContains(record.dump(), kClientSecret));
  }

  static std::string* aws_;
  static GatewayHarness* h_;
};

std::string* GatewayAwsCliTest::aws_ = nullptr;
GatewayHarness* GatewayAwsCliTest::h_ = nullptr;

TEST_F(GatewayAwsCliTest, ListBuckets) {
  Ran ran = Aws("s3 ls");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_EQ(ran.output,
            "2026-01-02 03:04:05 lk-big\n"
            "2026-01-02 03:04:05 lk-empty\n"
            "2026-01-02 03:04:05 lk-odd\n"
            "2026-01-02 03:04:05 lk-reports\n");
  json record = Records().back();
  EXPECT_EQ(record["method"], "GET");
  // The signed path is the upstream's, without the /aws-s3 prefix.
  EXPECT_EQ(record["path"], "/");
  ExpectSignedByTheVault(record);
}

TEST_F(GatewayAwsCliTest, ListObjectsV2) {
  Ran ran = Aws("s3 ls s3://lk-reports/");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_EQ(ran.output,
            "                           PRE 2026/\n"
            "2026-01-02 03:04:05         14 readme.txt\n");
  json record = Records().back();
  EXPECT_EQ(record["path"], "/lk-reports");
  EXPECT_TRUE(
      absl::StrContains(record["query"].get<std::string>(), "list-type=2"));
  ExpectSignedByTheVault(record);

  Ran recursive = Aws("s3 ls --recursive s3://lk-reports/2026/");
  ASSERT_EQ(recursive.exit_code, 0) << recursive.output;
  EXPECT_EQ(recursive.output,
            "2026-01-02 03:04:05         32 2026/q3 summary.txt\n"
            "2026-01-02 03:04:05          8 2026/q4.txt\n");
  ExpectSignedByTheVault(Records().back());
}

// GetObject of a key with a space: S3's canonical URI encodes the path
// once, and the vault must sign "/lk-reports/2026/q3%20summary.txt".
TEST_F(GatewayAwsCliTest, GetObject) {
  const size_t before = Records().size();
  Ran ran = Aws("s3 cp 's3://lk-reports/2026/q3 summary.txt' -");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_EQ(ran.output, "revenue up 12%\nsigned by: vault\n");
  std::vector<json> records = Records();
  ASSERT_GT(records.size(), before);
  bool got = false;
  for (size_t i = before; i < records.size(); ++i) {
    EXPECT_EQ(records[i]["path"], "/lk-reports/2026/q3%20summary.txt");
    got = got || records[i]["method"] == "GET";
    ExpectSignedByTheVault(records[i]);
  }
  EXPECT_TRUE(got) << "no GetObject reached the upstream";

  Ran missing = Aws("s3 cp s3://lk-reports/nope.txt -");
  EXPECT_NE(missing.exit_code, 0) << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "404")) << missing.output;
}

// A ranged GetObject (s3api): Range is a client header the vault signs
// along, and S3 answers 206 with the part.
// The gateway's HTTP server must not apply the Range a second time to the
// upstream's 206 answer (it once did: 416, or two Content-Range headers).
TEST_F(GatewayAwsCliTest, RangedGetObject) {
  Ran ranged =
      Aws("s3api get-object --bucket lk-reports --key readme.txt "
          "--range bytes=6-9 part.out --query ContentRange --output text && "
          "cat part.out");
  ASSERT_EQ(ranged.exit_code, 0) << ranged.output;
  EXPECT_EQ(ranged.output, "bytes 6-9/14\nfrom") << ranged.output;
  json range_record = Records().back();
  EXPECT_EQ(range_record["headers"]["range"], json({"bytes=6-9"}));
  EXPECT_TRUE(absl::StrContains(
      range_record["headers"]["authorization"][0]["signed_headers"].dump(),
      "range"));
  ExpectSignedByTheVault(range_record);
}

// An object larger than one gateway response: downloaded to a file, the
// CLI first asks HeadObject for the size, then fetches 8 MiB ranges
// (Range is a signed header) and reassembles them byte for byte.
// This needs the upstream's Content-Length on the gateway's HEAD answer
// (it once came back as 0, and the CLI made one whole GetObject).
TEST_F(GatewayAwsCliTest, GetObjectLargerThanOneResponseInRanges) {
  std::string expected;
  expected.reserve(kBigObjectBytes);
  while (expected.size() < kBigObjectBytes) {
    for (int i = 0; i < 251 && expected.size() < kBigObjectBytes; ++i) {
      expected.push_back(static_cast<char>(i));
    }
  }
  std::ofstream(h_->dir() + "/big.expected", std::ios::binary) << expected;
  const size_t before = Records().size();
  Ran ran =
      Aws("s3 cp s3://lk-big/big.bin big.out && cmp big.out big.expected && "
          "echo same");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_TRUE(absl::EndsWith(ran.output, "same\n")) << ran.output;
  std::vector<json> records = Records();
  int ranges = 0;
  for (size_t i = before; i < records.size(); ++i) {
    ExpectSignedByTheVault(records[i]);
    if (records[i]["headers"].contains("range")) {
      ++ranges;
      EXPECT_TRUE(absl::StrContains(
          records[i]["headers"]["authorization"][0]["signed_headers"]
              .get<std::string>(),
          "range"));
    }
  }
  EXPECT_GE(ranges, 3) << "expected 8 MiB ranges of a 20 MiB object";
}

// Keys with characters SigV4 encodes (S3: each path segment encoded once,
// unreserved characters kept): the vault's canonical URI must match what
// S3 computes from the path it receives.
TEST_F(GatewayAwsCliTest, GetObjectsWithReservedCharactersInTheKey) {
  const std::vector<std::pair<std::string, std::string>> objects = {
      {"a+b=c&d;e,f.txt", "plus\n"},
      {"caf\xc3\xa9 na\xc3\xafve.txt", "utf-8\n"},
      {"tilde~(1)!*$@.txt", "sub-delims\n"},
      {"50%.txt", "percent\n"}};
  // One recursive copy: ListObjectsV2, then a HeadObject and GetObject per
  // key, several at once.
  const size_t before = Records().size();
  Ran ran = Aws("s3 cp --recursive --only-show-errors s3://lk-odd/ odd/");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  for (const auto& [key, content] : objects) {
    EXPECT_EQ(ReadFileOrEmpty(h_->dir() + "/odd/" + key), content) << key;
  }
  std::vector<json> records = Records();
  EXPECT_GE(records.size(), before + 1 + objects.size());
  for (size_t i = before; i < records.size(); ++i) {
    ExpectSignedByTheVault(records[i]);
  }
  // The same characters in the query (ListObjectsV2's prefix): "+" must
  // stay a plus on the wire and in the canonical query.
  for (const char* prefix : {"a+b=c&d", "caf\xc3\xa9 na"}) {
    Ran ran = Aws(absl::StrCat("s3 ls 's3://lk-odd/", prefix, "'"));
    EXPECT_EQ(ran.exit_code, 0) << prefix << ": " << ran.output;
    EXPECT_EQ(std::count(ran.output.begin(), ran.output.end(), '\n'), 1)
        << prefix << ": " << ran.output;
    EXPECT_TRUE(absl::StrContains(ran.output, prefix)) << ran.output;
    ExpectSignedByTheVault(Records().back());
  }
}

// A vault secret with the wrong secret key: the stand-in S3 refuses the
// vault's signature as S3 would, and the CLI shows S3's error.
TEST_F(GatewayAwsCliTest, WrongVaultKeyIsRefusedByTheUpstream) {
  Ran ran = Aws("s3 ls", "aws-s3-wrong-key");
  EXPECT_NE(ran.exit_code, 0) << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "SignatureDoesNotMatch"))
      << ran.output;
  json record = Records().back();
  EXPECT_EQ(record["path"], "/");
  EXPECT_TRUE(
      absl::StrContains(record["verified"].dump(), "signature we calculated"))
      << record.dump();
}

// The aws-s3 template is read only: PutObject is refused by the broker
// with the gateway's 403 and never reaches the upstream.
TEST_F(GatewayAwsCliTest, PutIsDeniedWithTheGateways403) {
  const size_t before = Records().size();
  // --debug also shows the gateway's reason (header and JSON body).
  Ran ran =
      Aws("--debug s3 cp - s3://lk-reports/new.txt <<< 'should not land'");
  EXPECT_NE(ran.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(ran.output,
                                "An error occurred (403) when calling the "
                                "PutObject operation: Forbidden"))
      << ran.output;
  EXPECT_TRUE(
      absl::StrContains(ran.output, "'X-Latchkey-Reason': 'NO_RULE_MATCHED'"))
      << ran.output;
  EXPECT_EQ(Records().size(), before) << "the PUT reached the upstream";
  // The broker audited the denial with its reason code.
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(h_->stack().audit_log_path()),
                                "NO_RULE_MATCHED"));
}

// Another key id than the gateway token (a real AWS key the agent found,
// say) is refused by the gateway before anything is forwarded.
TEST_F(GatewayAwsCliTest, OtherAccessKeyIdIs401) {
  const size_t before = Records().size();
  Ran ran = Aws("s3 ls", "aws-s3", "AKIAIOSFODNN7EXAMPLE");
  EXPECT_NE(ran.exit_code, 0) << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "(401)")) << ran.output;
  EXPECT_EQ(Records().size(), before);
}

// Last: the secret key in none of the CLI's outputs, the gateway's and
// daemons' logs, the audit log, the upstream's record; nor in the memory of
// the gateway or the broker (only the vault may hold it).
TEST_F(GatewayAwsCliTest, ZZLeakScan) {
  std::vector<std::string> forms = SecretForms(kSecretKey);
  for (const std::string& form :
       SecretForms(json({{"access_key_id", kAccessKeyId},
                         {"secret_access_key", kSecretKey}})
                       .dump())) {
    forms.push_back(form);
  }
  std::vector<std::string> found = FindForms(h_->outputs(), forms);
  EXPECT_TRUE(found.empty()) << "a command's output holds " << found[0];
  EXPECT_GT(h_->outputs().size(), 300u) << "the scan would be vacuous";
  const std::string& d = h_->dir();
  Stack& stack = h_->stack();
  for (const std::string& path :
       {d + "/gateway.log", stack.log_path("vault"), stack.log_path("broker"),
        stack.log_path("audit"), stack.audit_log_path(), d + "/upstream.jsonl",
        d + "/upstream.log"}) {
    std::string text = ReadFileOrEmpty(path);
    found = FindForms(text, forms);
    EXPECT_TRUE(found.empty()) << path << " holds " << found[0];
  }
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(h_->stack().audit_log_path()),
                                "aws-s3"))
      << "the audit log scan would be vacuous";
  for (ChildProcess* process : {&h_->gateway(), stack.broker()}) {
    size_t bytes = 0;
    auto in_memory = ScanProcessMemory(process->pid(), forms, &bytes);
    ASSERT_TRUE(in_memory.ok()) << in_memory.status();
    EXPECT_GT(bytes, 1u << 20) << "memory scan read too little";
    EXPECT_TRUE(in_memory->empty())
        << "pid " << process->pid() << " holds " << (*in_memory)[0];
  }
}

}  // namespace
}  // namespace latchkey::testing
