#include "common/backup_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sqlite_db.h"
#include "common/status_macros.h"

namespace latchkey {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

bool IsPlainFileName(absl::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255) {
    return false;
  }
  for (char c : name) {
    if (c == '/' || c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }

void Sha256Stream::Update(absl::string_view data) {
  EVP_DigestUpdate(ctx_, data.data(), data.size());
}

std::string Sha256Stream::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx_, digest, &size);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), size));
}

absl::StatusOr<BackupFile> SnapshotSqliteStore(const std::string& db_path,
                                               const std::string& name,
                                               const std::string& out_path,
                                               const SchemaPlan& plan) {
  // VACUUM INTO takes an absent or empty file; creating it ourselves gives
  // it mode 0600 whatever the umask.
  int fd = ::open(out_path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", out_path, ": ", ErrnoText()));
  }
  ::close(fd);
  // A second connection to the live store: WAL lets it read the last
  // committed state while the daemon's connection keeps writing.
  LK_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(db_path));
  LK_ASSIGN_OR_RETURN(int version, plan.read_version(*db));
  LK_ASSIGN_OR_RETURN(SqliteStatement vacuum, db->Prepare("VACUUM INTO ?"));
  vacuum.Bind(1, out_path);
  LK_RETURN_IF_ERROR(vacuum.Run());
  struct stat st;
  if (::stat(out_path.c_str(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", out_path, ": ", ErrnoText()));
  }
  return BackupFile{name, out_path, static_cast<uint64_t>(st.st_size), version};
}

absl::Status StreamBackupFiles(const std::vector<BackupFile>& files,
                               grpc::ServerWriter<v1::BackupChunk>* writer) {
  std::string buffer(kBackupChunkBytes, '\0');
  for (const BackupFile& file : files) {
    int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot open ", file.path, ": ", ErrnoText()));
    }
    Sha256Stream hash;
    uint64_t sent = 0;
    absl::Status status;
    while (true) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(buffer.size(), file.length - sent));
      ssize_t got = want == 0 ? 0 : ::pread(fd, buffer.data(), want, sent);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        status = absl::UnavailableError(
            absl::StrCat("cannot read ", file.path, ": ", ErrnoText()));
        break;
      }
      if (got == 0 && sent < file.length) {
        status = absl::DataLossError(
            absl::StrCat(file.path, " is shorter than expected (", sent, " of ",
                         file.length, " bytes)"));
        break;
      }
      absl::string_view data(buffer.data(), static_cast<size_t>(got));
      hash.Update(data);
      sent += static_cast<uint64_t>(got);
      v1::BackupChunk chunk;
      chunk.set_file(file.name);
      chunk.set_data(data.data(), data.size());
      if (sent == file.length) {
        chunk.set_file_end(true);
        chunk.set_size(sent);
        chunk.set_sha256(hash.FinishHex());
        chunk.set_schema_version(file.schema_version);
        chunk.set_daemon_version(kLatchkeyVersion);
      }
      if (!writer->Write(chunk)) {
        status = absl::CancelledError("backup client went away");
        break;
      }
      if (chunk.file_end()) break;
    }
    ::close(fd);
    LK_RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

absl::Status BackupSqliteStore(const std::string& state_dir,
                               const std::string& name, const SchemaPlan& plan,
                               grpc::ServerWriter<v1::BackupChunk>* writer) {
  static std::mutex* one_at_a_time = new std::mutex;
  std::lock_guard<std::mutex> lock(*one_at_a_time);
  const std::string temp = state_dir + "/" + name + ".backup-tmp";
  ::unlink(temp.c_str());  // Left by a crash mid-backup, if any.
  absl::StatusOr<BackupFile> file =
      SnapshotSqliteStore(state_dir + "/" + name, name, temp, plan);
  absl::Status status = file.status();
  if (status.ok()) status = StreamBackupFiles({*file}, writer);
  ::unlink(temp.c_str());
  LogInfo("backup", {{"file", name},
                     {"bytes", file.ok() ? absl::StrCat(file->length) : "0"},
                     {"outcome", status.ok() ? "ok" : status.ToString()}});
  return status;
}

}  // namespace latchkey
