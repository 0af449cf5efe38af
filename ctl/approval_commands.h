// Commands of the approval gate, over the broker's admin socket:
// approval list, approve, deny.
#ifndef LATCHKEY_CTL_APPROVAL_COMMANDS_H_
#define LATCHKEY_CTL_APPROVAL_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {
void AddApprovalCommands(CommandTable* table);
}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_APPROVAL_COMMANDS_H_
