// Service template commands: `search`, `templates show` and `add`, over the
// catalog compiled into latchkeyctl (//templates:catalog).
#ifndef LATCHKEY_CTL_TEMPLATE_COMMANDS_H_
#define LATCHKEY_CTL_TEMPLATE_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {

void AddTemplateCommands(CommandTable* table);

}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_TEMPLATE_COMMANDS_H_
