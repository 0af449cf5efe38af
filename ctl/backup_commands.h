// latchkeyctl backup DIR / restore --from DIR: online snapshots of the
// vault store, the broker state and the audit log through the daemons'
// Backup RPCs, and their offline restore into empty state directories.
#ifndef LATCHKEY_CTL_BACKUP_COMMANDS_H_
#define LATCHKEY_CTL_BACKUP_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {

void AddBackupCommands(CommandTable* table);

}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_BACKUP_COMMANDS_H_
