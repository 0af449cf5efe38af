// vault_bench: the vault's own costs, measured in-process on a real SQLite
// store on disk (no gRPC hop, which adds ~0.1 ms per call):
//  - unseal latency for each method: Shamir 3 of 5 (three shares, one call
//    each), passphrase (scrypt N=2^17 r=8 p=1, the default), systemd
//    credential (read the file + open the keyring);
//  - PutSecret throughput and latency (every write is a durable commit),
//    one writer and four concurrent writers;
//  - the size of the store holding 10k secrets.
// Run: bazel run -c opt //bench:vault_bench [-- --secrets=10000 --dir=/var/tmp]
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "vault/secret_store.h"
#include "vault/unseal_credential.h"
#include "vault/vault_core.h"

ABSL_FLAG(int, secrets, 10000, "secrets stored for the size figure");
ABSL_FLAG(int, unseal_runs, 20, "unseal runs per fast method");
ABSL_FLAG(int, passphrase_runs, 5, "unseal runs with the passphrase");
ABSL_FLAG(std::string, dir, "/var/tmp", "where the bench stores (on disk)");

namespace lk = latchkey;
namespace v1 = latchkey::v1;
using latchkey::vault::VaultCore;

namespace {

struct Stats {
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
};

Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Stats s;
  if (ms.empty()) return s;
  s.p50_ms = ms[ms.size() / 2];
  s.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  double sum = 0;
  for (double v : ms) sum += v;
  s.mean_ms = sum / ms.size();
  return s;
}

void Die(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

std::string NewDir(const std::string& base, const char* name) {
  std::string templ = base + "/lk-vault-bench-" + name + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr)
    Die(absl::InternalError("mkdtemp"), name);
  return templ;
}

std::unique_ptr<VaultCore> OpenCore(const std::string& dir,
                                    lk::vault::VaultCoreOptions options = {}) {
  auto store = lk::vault::OpenSqliteSecretStore(dir + "/state");
  Die(store.status(), "open store");
  options.background_rewrap = false;
  return std::make_unique<VaultCore>(std::move(*store), options);
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

v1::PutSecretRequest Secret(int i) {
  v1::PutSecretRequest put;
  put.set_id(absl::StrCat("secret-", i));
  put.set_value(absl::StrFormat("tok_%040d", i));  // a 44-byte token
  put.set_description("benchmark secret");
  put.add_origins("https://api.example.com");
  return put;
}

void PrintStats(const char* name, const Stats& s) {
  std::printf("  %-34s p50 %8.3f ms   p99 %8.3f ms   mean %8.3f ms\n", name,
              s.p50_ms, s.p99_ms, s.mean_ms);
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string base = absl::GetFlag(FLAGS_dir);
  const int runs = absl::GetFlag(FLAGS_unseal_runs);
  std::printf(
      "latchkey vault_bench (in-process VaultCore, SQLite WAL "
      "synchronous=FULL under %s)\n\n",
      base.c_str());

  std::printf("Unseal latency (Seal, then unseal from scratch):\n");
  {
    std::string dir = NewDir(base, "shamir");
    auto core = OpenCore(dir);
    auto init = core->Init(v1::InitRequest());
    Die(init.status(), "init");
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      core->Seal();
      absl::Time start = absl::Now();
      for (int k : {0, 2, 4}) {
        v1::UnsealRequest unseal;
        unseal.set_key(init->unseal_keys(k));
        Die(core->Unseal(unseal).status(), "unseal");
      }
      ms.push_back(Ms(absl::Now() - start));
      if (core->Status().sealed()) Die(absl::InternalError("sealed"), "shamir");
    }
    PrintStats("shamir 3 of 5 (3 calls)", Summarize(ms));
    core.reset();
    (void)!std::system(("rm -rf " + dir).c_str());
  }
  {
    std::string dir = NewDir(base, "passphrase");
    auto core = OpenCore(dir);
    v1::InitRequest init;
    init.set_method(v1::UNSEAL_METHOD_PASSPHRASE);
    init.set_passphrase("benchmark passphrase, long enough");
    Die(core->Init(init).status(), "init");
    std::vector<double> ms;
    for (int i = 0; i < absl::GetFlag(FLAGS_passphrase_runs); ++i) {
      core->Seal();
      v1::UnsealRequest unseal;
      unseal.set_passphrase("benchmark passphrase, long enough");
      absl::Time start = absl::Now();
      Die(core->Unseal(unseal).status(), "unseal");
      ms.push_back(Ms(absl::Now() - start));
    }
    PrintStats("passphrase (scrypt 2^17,8,1)", Summarize(ms));
    core.reset();
    (void)!std::system(("rm -rf " + dir).c_str());
  }
  {
    std::string dir = NewDir(base, "credential");
    auto core = OpenCore(dir);
    v1::InitRequest init;
    init.set_method(v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL);
    auto response = core->Init(init);
    Die(response.status(), "init");
    std::string creds = dir + "/creds";
    mkdir(creds.c_str(), 0700);
    std::ofstream(creds + "/root") << response->unseal_keys(0) << "\n";
    chmod((creds + "/root").c_str(), 0400);
    setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      core->Seal();
      absl::Time start = absl::Now();
      auto key = lk::vault::ReadRootKeyCredential("root");
      Die(key.status(), "read credential");
      Die(core->UnsealWithRootKey(std::move(*key)).status(), "unseal");
      ms.push_back(Ms(absl::Now() - start));
    }
    unsetenv("CREDENTIALS_DIRECTORY");
    PrintStats("systemd credential", Summarize(ms));
    core.reset();
    (void)!std::system(("rm -rf " + dir).c_str());
  }

  std::printf("\nPutSecret (each one a durable SQLite commit):\n");
  const int secrets = absl::GetFlag(FLAGS_secrets);
  std::string dir = NewDir(base, "store");
  int64_t db_bytes = 0;
  {
    auto core = OpenCore(dir);
    v1::InitRequest init;
    init.set_method(v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL);
    auto response = core->Init(init);
    Die(response.status(), "init");
    std::string creds = dir + "/creds";
    mkdir(creds.c_str(), 0700);
    std::ofstream(creds + "/root") << response->unseal_keys(0) << "\n";
    chmod((creds + "/root").c_str(), 0400);
    setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
    Die(core->UnsealWithRootKey(*lk::vault::ReadRootKeyCredential("root"))
            .status(),
        "unseal");
    // One writer.
    const int single = std::min(secrets / 2, 2000);
    std::vector<double> ms;
    absl::Time start = absl::Now();
    for (int i = 0; i < single; ++i) {
      absl::Time t = absl::Now();
      Die(core->PutSecret(Secret(i)).status(), "put");
      ms.push_back(Ms(absl::Now() - t));
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    PrintStats("1 writer, latency", Summarize(ms));
    std::printf("  %-34s %8.0f puts/s (%d puts)\n", "1 writer, throughput",
                single / seconds, single);
    // Four concurrent writers fill the rest up to `secrets`.
    const int rest = secrets - single;
    constexpr int kWriters = 4;
    start = absl::Now();
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        for (int i = single + w; i < secrets; i += kWriters) {
          Die(core->PutSecret(Secret(i)).status(), "put");
        }
      });
    }
    for (auto& t : threads) t.join();
    seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("  %-34s %8.0f puts/s (%d puts)\n", "4 writers, throughput",
                rest / seconds, rest);
    auto listed = core->ListSecrets();
    Die(listed.status(), "list");
    std::printf("  (%d secrets listed back)\n", listed->secrets_size());
    unsetenv("CREDENTIALS_DIRECTORY");
    std::printf(
        "\nStore size for %d secrets (44-byte values, one origin, "
        "description):\n",
        secrets);
    std::printf("  while open: vault.db %lld bytes + vault.db-wal %lld bytes\n",
                static_cast<long long>(FileSize(dir + "/state/vault.db")),
                static_cast<long long>(FileSize(dir + "/state/vault.db-wal")));
  }
  // Closing the last connection checkpoints the WAL into the database.
  db_bytes = FileSize(dir + "/state/vault.db");
  std::printf(
      "  after close: vault.db %lld bytes (%.1f MiB, %.0f bytes per "
      "secret), WAL %lld bytes\n",
      static_cast<long long>(db_bytes), db_bytes / 1048576.0,
      static_cast<double>(db_bytes) / secrets,
      static_cast<long long>(FileSize(dir + "/state/vault.db-wal")));
  (void)!std::system(("rm -rf " + dir).c_str());
  return 0;
}
