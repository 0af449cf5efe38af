// AuditAdmin.Backup: everything a restored sink needs to continue the same
// chain, consistent and ending on a record boundary while appends go on:
//   1. checkpoints.jsonl up to its last complete line, read first, so no
//      checkpoint in the backup names a record after the backed-up end;
//   2. every log file, the last one up to the durable end taken under the
//      log's lock (files are append-only: nothing before it changes);
//   3. hmac.key (verifies and continues the chain), checkpoint.key and
//      checkpoint.pub (sign and check checkpoints). These are secrets of the
//      audit trail: whoever holds hmac.key can forge records.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit_sink/audit_service.h"
#include "common/backup_files.h"
#include "common/grpc_status.h"
#include "common/log.h"

namespace latchkey::audit_sink {
namespace {

// CompleteLinesLength is the length of `path` up to and including its last
// newline (0 if it does not exist).
absl::StatusOr<uint64_t> CompleteLinesLength(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return absl::UnavailableError("cannot open " + path);
  }
  uint64_t complete = 0;
  uint64_t offset = 0;
  char buffer[64 * 1024];
  while (true) {
    ssize_t got = ::pread(fd, buffer, sizeof(buffer), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    for (ssize_t i = 0; i < got; ++i) {
      if (buffer[i] == '\n') complete = offset + i + 1;
    }
    offset += static_cast<uint64_t>(got);
  }
  ::close(fd);
  return complete;
}

absl::StatusOr<std::vector<BackupFile>> AuditBackupFiles(const AuditLog& log) {
  const std::string& dir = log.dir();
  std::vector<BackupFile> files;
  const std::string checkpoints = dir + "/checkpoints.jsonl";
  absl::StatusOr<uint64_t> checkpoint_length = CompleteLinesLength(checkpoints);
  if (!checkpoint_length.ok()) return checkpoint_length.status();
  const AuditLog::DurableEnd end = log.durable_end();
  for (size_t i = 0; i < end.files.size(); ++i) {
    const std::string& path = end.files[i].path;
    BackupFile file;
    file.name = path.substr(path.rfind('/') + 1);
    file.path = path;
    if (i + 1 == end.files.size()) {
      file.length = end.last_file_size;
    } else {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        return absl::UnavailableError("cannot stat " + path);
      }
      file.length = static_cast<uint64_t>(st.st_size);
    }
    files.push_back(file);
  }
  if (*checkpoint_length > 0) {
    files.push_back({"checkpoints.jsonl", checkpoints, *checkpoint_length, 0});
  }
  for (const char* name : {"hmac.key", "checkpoint.key", "checkpoint.pub"}) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;  // No checkpoint key.
    files.push_back({name, path, static_cast<uint64_t>(st.st_size), 0});
  }
  LogInfo("backup", {{"last_sequence", absl::StrCat(end.last_sequence)},
                     {"files", absl::StrCat(files.size())}});
  return files;
}

}  // namespace

grpc::Status AuditAdminService::Backup(
    grpc::ServerContext* context, const v1::BackupAuditRequest*,
    grpc::ServerWriter<v1::BackupChunk>* writer) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, "/latchkey.v1.AuditAdmin/Backup");
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  absl::StatusOr<std::vector<BackupFile>> files = AuditBackupFiles(*log_);
  if (!files.ok()) return ToGrpcStatus(files.status());
  return ToGrpcStatus(StreamBackupFiles(*files, writer));
}

}  // namespace latchkey::audit_sink
