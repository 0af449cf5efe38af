// `latchkeyctl status` (all four daemons at a glance) and `latchkeyctl
// metrics` (each daemon's GetMetrics).
#ifndef LATCHKEY_CTL_STATUS_COMMANDS_H_
#define LATCHKEY_CTL_STATUS_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {
void AddStatusCommands(CommandTable* table);
}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_STATUS_COMMANDS_H_
