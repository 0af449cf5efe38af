// Commands over the audit sink's admin socket: query, tail, verify,
// checkpoint.
#ifndef LATCHKEY_CTL_AUDIT_COMMANDS_H_
#define LATCHKEY_CTL_AUDIT_COMMANDS_H_

#include "ctl/command_table.h"

namespace latchkey::ctl {
void AddAuditCommands(CommandTable* table);
// NoteAuditArgv keeps every --expect of the command line (Abseil keeps
// only the last one of a repeated flag); call it before parsing flags.
void NoteAuditArgv(int argc, char** argv);
}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_AUDIT_COMMANDS_H_
