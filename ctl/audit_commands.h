// Commands over the audit sink's admin socket: query, tail, verify,
// checkpoint.
#ifndef LATCHKEY_CTL_AUDIT_COMMANDS_H_
#define LATCHKEY_CTL_AUDIT_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {
void AddAuditCommands(CommandTable* table);
}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_AUDIT_COMMANDS_H_
