// A backup directory holds one subdirectory per daemon (vault/, broker/,
// audit/) with the files of its state directory, and manifest.json listing
// every file with its size, SHA-256, schema version and daemon version.
// The directory is 0700 and every file 0600: the vault store is encrypted,
// but the audit keys are secrets (see README "Backup and restore").
#include "ctl/backup_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/backup_files.h"
#include "common/limits.h"
#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "nlohmann/json.hpp"
#include "proto/audit.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"

ABSL_FLAG(std::string, from, "", "restore: the backup directory");
ABSL_FLAG(std::string, vault_state_dir, "",
          "restore: the vault's new (empty) state directory");
ABSL_FLAG(std::string, broker_state_dir, "",
          "restore: the broker's new (empty) state directory");
ABSL_FLAG(std::string, audit_state_dir, "",
          "restore: the audit sink's new (empty) state directory");
ABSL_FLAG(int64_t, backup_timeout_seconds, 600,
          "backup: deadline of each daemon's Backup stream");

namespace latchkey::ctl {
namespace {

using nlohmann::json;

constexpr char kManifest[] = "manifest.json";
constexpr char kFormat[] = "latchkey-backup";
constexpr int kFormatVersion = 1;
const char* const kDaemons[] = {"vault", "broker", "audit"};

std::string ErrnoText() { return std::strerror(errno); }

// Fail prints "latchkeyctl: <what>" and returns kExitRefused.
int Fail(const std::string& what) {
  std::cerr << "latchkeyctl: " << what << "\n";
  return kExitRefused;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// The mode a restored file gets: what its daemon creates it with.
mode_t RestoredMode(const std::string& file) {
  return file == "checkpoint.pub" ? 0644 : 0600;
}

// Receives one daemon's Backup stream into `dir`, appending manifest
// entries. False with *error set on any problem.
bool Receive(grpc::ClientReaderInterface<v1::BackupChunk>* reader,
             const std::string& daemon, const std::string& dir,
             json* manifest_files, std::string* error) {
  v1::BackupChunk chunk;
  int fd = -1;
  std::string current;
  uint64_t size = 0;
  std::unique_ptr<Sha256Stream> hash;
  std::set<std::string> seen;
  while (reader->Read(&chunk)) {
    if (fd < 0) {
      if (!IsPlainFileName(chunk.file()) || seen.count(chunk.file()) > 0) {
        *error = absl::StrCat(daemon, " sent a bad file name \"", chunk.file(),
                              "\"");
        return false;
      }
      current = chunk.file();
      seen.insert(current);
      fd = ::open((dir + "/" + current).c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) {
        *error = absl::StrCat("cannot create ", dir, "/", current, ": ",
                              ErrnoText());
        return false;
      }
      size = 0;
      hash = std::make_unique<Sha256Stream>();
    } else if (chunk.file() != current) {
      *error =
          absl::StrCat(daemon, " switched files in the middle of ", current);
      ::close(fd);
      return false;
    }
    hash->Update(chunk.data());
    size += chunk.data().size();
    if (!WriteAll(fd, chunk.data().data(), chunk.data().size())) {
      *error =
          absl::StrCat("cannot write ", dir, "/", current, ": ", ErrnoText());
      ::close(fd);
      return false;
    }
    if (!chunk.file_end()) continue;
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    fd = -1;
    const std::string sha256 = hash->FinishHex();
    if (!synced) {
      *error = absl::StrCat("cannot sync ", dir, "/", current);
      return false;
    }
    if (size != chunk.size() || sha256 != chunk.sha256()) {
      *error = absl::StrCat(daemon, "'s ", current,
                            " arrived damaged (size or SHA-256 differ from "
                            "what the daemon sent); run the backup again");
      return false;
    }
    manifest_files->push_back({{"daemon", daemon},
                               {"file", current},
                               {"size", size},
                               {"sha256", sha256},
                               {"schema_version", chunk.schema_version()},
                               {"daemon_version", chunk.daemon_version()}});
  }
  if (fd >= 0) {
    ::close(fd);
    *error = absl::StrCat(daemon, "'s stream ended in the middle of ", current);
    return false;
  }
  return true;
}

// One daemon's Backup call: the socket it listens on and the call.
struct Source {
  const char* daemon;
  const char* socket;
  std::function<std::unique_ptr<grpc::ClientReaderInterface<v1::BackupChunk>>(
      grpc::ClientContext*)>
      start;
};

std::vector<Source> Sources() {
  return {
      {"vault", "vault.sock",
       [](grpc::ClientContext* context) {
         return std::unique_ptr<grpc::ClientReaderInterface<v1::BackupChunk>>(
             v1::VaultAdmin::NewStub(CreateUdsChannel(SocketPath("vault.sock")))
                 ->Backup(context, v1::BackupVaultRequest()));
       }},
      {"broker", "admin.sock",
       [](grpc::ClientContext* context) {
         return std::unique_ptr<grpc::ClientReaderInterface<v1::BackupChunk>>(
             v1::BrokerAdmin::NewStub(
                 CreateUdsChannel(SocketPath("admin.sock")))
                 ->Backup(context, v1::BackupBrokerRequest()));
       }},
      {"audit", "audit.sock",
       [](grpc::ClientContext* context) {
         return std::unique_ptr<grpc::ClientReaderInterface<v1::BackupChunk>>(
             v1::AuditAdmin::NewStub(CreateUdsChannel(SocketPath("audit.sock")))
                 ->Backup(context, v1::BackupAuditRequest()));
       }},
  };
}

int BackupInto(const std::string& dir) {
  json files = json::array();
  for (const Source& source : Sources()) {
    const std::string sub = dir + "/" + source.daemon;
    if (::mkdir(sub.c_str(), 0700) != 0) {
      return Fail(absl::StrCat("cannot create ", sub, ": ", ErrnoText()));
    }
    grpc::ClientContext context;
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::seconds(absl::GetFlag(FLAGS_backup_timeout_seconds)));
    auto reader = source.start(&context);
    std::string error;
    bool received = Receive(reader.get(), source.daemon, sub, &files, &error);
    if (!received) context.TryCancel();
    grpc::Status status = reader->Finish();
    if (!status.ok()) {
      std::cerr << "latchkeyctl: " << source.daemon << " backup failed\n";
      return Report(status, SocketPath(source.socket));
    }
    if (!received) return Fail(error);
    if (!SyncDir(sub)) return Fail("cannot sync " + sub);
  }
  json manifest = {{"format", kFormat},
                   {"format_version", kFormatVersion},
                   {"created", absl::FormatTime(absl::RFC3339_sec, absl::Now(),
                                                absl::UTCTimeZone())},
                   {"files", files}};
  const std::string text = manifest.dump(2) + "\n";
  const std::string path = dir + "/" + kManifest;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || !WriteAll(fd, text.data(), text.size()) || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return Fail("cannot write " + path + ": " + ErrnoText());
  }
  ::close(fd);
  if (!SyncDir(dir)) return Fail("cannot sync " + dir);
  std::cout << text;
  return kExitOk;
}

int Backup(const Args& args) {
  const std::string dir = args[0];
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return Fail(absl::StrCat("cannot create ", dir, ": ", ErrnoText(),
                             errno == EEXIST
                                 ? " (a backup goes into a new directory; pick "
                                   "another name)"
                                 : ""));
  }
  int rc = BackupInto(dir);
  if (rc != kExitOk) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    std::cerr << "latchkeyctl: nothing was kept in " << dir << "\n";
  }
  return rc;
}

// ---- restore ----

struct Entry {
  std::string daemon;
  std::string file;
  uint64_t size = 0;
  std::string sha256;
};

// HashFile returns the size and SHA-256 of `path`, copying it to `out_fd`
// when that is not -1. False when it cannot be read (or written).
bool HashFile(const std::string& path, int out_fd, uint64_t* size,
              std::string* sha256) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  Sha256Stream hash;
  *size = 0;
  std::string buffer(kBackupChunkBytes, '\0');
  bool ok = true;
  while (true) {
    ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) ok = false;
    if (got <= 0) break;
    hash.Update(absl::string_view(buffer.data(), static_cast<size_t>(got)));
    *size += static_cast<uint64_t>(got);
    if (out_fd >= 0 &&
        !WriteAll(out_fd, buffer.data(), static_cast<size_t>(got))) {
      ok = false;
      break;
    }
  }
  ::close(fd);
  *sha256 = hash.FinishHex();
  return ok;
}

bool ParseManifest(const std::string& from, std::vector<Entry>* entries,
                   std::string* error) {
  std::string text;
  if (!ReadFile(from + "/" + kManifest, &text)) {
    *error = absl::StrCat(from, " has no readable ", kManifest,
                          ": is it a directory made by latchkeyctl backup?");
    return false;
  }
  json manifest = json::parse(text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() ||
      manifest.value("format", "") != kFormat || !manifest.contains("files") ||
      !manifest["files"].is_array()) {
    *error = absl::StrCat(from, "/", kManifest,
                          " is not a latchkey backup manifest");
    return false;
  }
  if (manifest.value("format_version", 0) != kFormatVersion) {
    *error = absl::StrCat(from, "/", kManifest, " has format_version ",
                          manifest.value("format_version", 0),
                          "; this latchkeyctl reads version ", kFormatVersion);
    return false;
  }
  std::set<std::string> seen;
  for (const json& item : manifest["files"]) {
    Entry entry;
    if (!item.is_object() || !item.contains("size") ||
        !item["size"].is_number_unsigned()) {
      *error = "manifest entry without a size: " + item.dump();
      return false;
    }
    entry.daemon = item.value("daemon", "");
    entry.file = item.value("file", "");
    entry.size = item["size"].get<uint64_t>();
    entry.sha256 = item.value("sha256", "");
    const bool known_daemon = entry.daemon == "vault" ||
                              entry.daemon == "broker" ||
                              entry.daemon == "audit";
    if (!known_daemon || !IsPlainFileName(entry.file) ||
        entry.sha256.size() != 64 ||
        !seen.insert(entry.daemon + "/" + entry.file).second) {
      *error = "bad manifest entry: " + item.dump();
      return false;
    }
    entries->push_back(entry);
  }
  return true;
}

// CheckTarget: `dir` must be absent or an empty directory.
bool CheckTarget(const std::string& flag, const std::string& dir,
                 std::string* error) {
  if (dir.empty()) {
    *error = absl::StrCat("restore needs --", flag, "=DIR");
    return false;
  }
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return true;
  if (!std::filesystem::is_directory(dir, ec) ||
      !std::filesystem::is_empty(dir, ec) || ec) {
    *error = absl::StrCat(
        "refusing to restore into ", dir, " (--", flag,
        "): it is not an empty directory. Stop the daemon, move its old "
        "state aside and restore into a new or empty directory");
    return false;
  }
  return true;
}

int Restore(const Args&) {
  const std::string from = absl::GetFlag(FLAGS_from);
  if (from.empty()) return UsageError("restore needs --from=DIR");
  const std::map<std::string, std::pair<std::string, std::string>> targets = {
      {"vault", {"vault_state_dir", absl::GetFlag(FLAGS_vault_state_dir)}},
      {"broker", {"broker_state_dir", absl::GetFlag(FLAGS_broker_state_dir)}},
      {"audit", {"audit_state_dir", absl::GetFlag(FLAGS_audit_state_dir)}},
  };
  std::string error;
  std::vector<Entry> entries;
  if (!ParseManifest(from, &entries, &error)) return Fail(error);
  // Everything is checked before anything is written.
  for (const auto& [daemon, target] : targets) {
    if (!CheckTarget(target.first, target.second, &error)) return Fail(error);
  }
  for (const char* daemon : kDaemons) {
    bool any = false;
    for (const Entry& entry : entries) any |= entry.daemon == daemon;
    if (!any) {
      return Fail(absl::StrCat("the backup in ", from, " has no ", daemon,
                               " files; it is incomplete"));
    }
  }
  for (const Entry& entry : entries) {
    const std::string path = from + "/" + entry.daemon + "/" + entry.file;
    uint64_t size = 0;
    std::string sha256;
    if (!HashFile(path, -1, &size, &sha256)) {
      return Fail("cannot read " + path + ": the backup is incomplete");
    }
    if (size != entry.size || sha256 != entry.sha256) {
      return Fail(absl::StrCat(
          path, " does not match the manifest (size ", size, " vs ", entry.size,
          ", SHA-256 ", sha256, " vs ", entry.sha256,
          "): the backup is damaged or was modified; nothing was restored. "
          "Use another backup"));
    }
  }
  for (const auto& [daemon, target] : targets) {
    const std::string& dir = target.second;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || ::chmod(dir.c_str(), 0700) != 0) {
      return Fail(absl::StrCat("cannot create ", dir, ": ", ec.message()));
    }
  }
  for (const Entry& entry : entries) {
    const std::string source = from + "/" + entry.daemon + "/" + entry.file;
    const std::string dest = targets.at(entry.daemon).second + "/" + entry.file;
    const mode_t mode = RestoredMode(entry.file);
    int fd = ::open(dest.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return Fail("cannot create " + dest + ": " + ErrnoText());
    ::fchmod(fd, mode);  // Whatever the umask.
    uint64_t size = 0;
    std::string sha256;
    bool copied = HashFile(source, fd, &size, &sha256) && ::fsync(fd) == 0;
    ::close(fd);
    if (!copied || size != entry.size || sha256 != entry.sha256) {
      return Fail(absl::StrCat("copying ", source, " to ", dest,
                               " failed or the file changed meanwhile; the "
                               "target directories are incomplete: empty "
                               "them and run restore again"));
    }
  }
  for (const auto& [daemon, target] : targets) {
    if (!SyncDir(target.second)) return Fail("cannot sync " + target.second);
    std::cout << "restored " << daemon << " into " << target.second << "\n";
  }
  std::cout << "start the daemons on these directories, then unseal the "
               "vault with its unseal keys (they are not in the backup)\n";
  return kExitOk;
}

}  // namespace

void AddBackupCommands(CommandTable* table) {
  table->Add({{"backup"},
              "DIR",
              "snapshot the vault store, broker state and audit log (online) "
              "into the new directory DIR",
              Backup,
              1,
              1});
  table->Add({{"restore"},
              "--from=DIR --vault_state_dir=D --broker_state_dir=D "
              "--audit_state_dir=D",
              "restore a backup into empty state directories (daemons "
              "stopped)",
              Restore});
}

}  // namespace latchkey::ctl
