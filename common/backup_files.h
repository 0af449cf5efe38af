// Pieces of online backup shared by the daemons (which stream a snapshot
// of their state over their admin service's Backup RPC) and latchkeyctl
// (which writes and restores it): what a file of a snapshot is, a
// consistent copy of a live SQLite store, the stream itself and an
// incremental SHA-256 that both ends compute.
#ifndef LATCHKEY_COMMON_BACKUP_FILES_H_
#define LATCHKEY_COMMON_BACKUP_FILES_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/schema_migrations.h"
#include "proto/common.pb.h"

namespace latchkey {

// The version every daemon reports in its backups' manifests.
inline constexpr char kLatchkeyVersion[] = "0.1.0";

// BackupFile is one file of a daemon's snapshot.
struct BackupFile {
  std::string name;  // Its name in the state directory (and the backup).
  std::string path;  // Where to read it now.
  // length is how many bytes to send from the start: a log file can be
  // longer than its last durable record while the daemon keeps writing.
  uint64_t length = 0;
  int schema_version = 0;  // SQLite stores only.
};

// IsPlainFileName: a name without '/', not "." or "..", not empty, printable
// ASCII. Both ends check it so a backup can only name files inside a state
// directory.
bool IsPlainFileName(absl::string_view name);

// Sha256Stream hashes data fed in pieces.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(absl::string_view data);
  std::string FinishHex();

 private:
  EVP_MD_CTX* ctx_;
};

// SnapshotSqliteStore copies the live database `db_path` into a new file
// `out_path` (created 0600; it must not exist) with VACUUM INTO from a
// connection of its own: a consistent snapshot of the last committed
// transaction, taken while the daemon keeps reading and writing. Rows are
// copied as stored (the vault's stay encrypted). Returns the file with
// the store's schema version read by `plan`.
absl::StatusOr<BackupFile> SnapshotSqliteStore(const std::string& db_path,
                                               const std::string& name,
                                               const std::string& out_path,
                                               const SchemaPlan& plan);

// StreamBackupFiles sends `files` on `writer` in chunks of at most
// kBackupChunkBytes, each file's last chunk carrying its size, SHA-256,
// schema version and kLatchkeyVersion. A file shorter than its `length`
// fails the stream with DATA_LOSS.
absl::Status StreamBackupFiles(const std::vector<BackupFile>& files,
                               grpc::ServerWriter<v1::BackupChunk>* writer);

// BackupSqliteStore is the whole Backup RPC of a daemon with one SQLite
// store: snapshot `state_dir`/`name` to a temporary file in `state_dir`
// (same file system and permissions as the store), stream it, delete it.
// One backup at a time per process; a leftover temporary file from a
// crash is replaced.
absl::Status BackupSqliteStore(const std::string& state_dir,
                               const std::string& name, const SchemaPlan& plan,
                               grpc::ServerWriter<v1::BackupChunk>* writer);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_BACKUP_FILES_H_
