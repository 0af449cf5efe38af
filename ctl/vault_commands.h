// Commands over the vault's admin socket: status, vault init/unseal/seal/
// rotate, secret put/list/delete.
#ifndef LATCHKEY_CTL_VAULT_COMMANDS_H_
#define LATCHKEY_CTL_VAULT_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {
void AddVaultCommands(CommandTable* table);
}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_VAULT_COMMANDS_H_
