// Commands over the broker's admin socket: capabilities, agents, sessions,
// revocations, apply, config export, explain.
#ifndef LATCHKEY_CTL_BROKER_COMMANDS_H_
#define LATCHKEY_CTL_BROKER_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {
void AddBrokerCommands(CommandTable* table);
}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_BROKER_COMMANDS_H_
