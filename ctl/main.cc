// latchkeyctl: the operators' command line over the daemons' admin RPCs
// (and nothing else). Secrets and unseal keys are read from stdin, never
// from the command line, where other users could see them. main only
// builds the command table and dispatches; each group of commands lives in
// its own file.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "ctl/approval_commands.h"
#include "ctl/audit_commands.h"
#include "ctl/backup_commands.h"
#include "ctl/broker_commands.h"
#include "ctl/command_table.h"
#include "ctl/ctl_util.h"
#include "ctl/status_commands.h"
#include "ctl/template_commands.h"
#include "ctl/vault_commands.h"

namespace {

bool AsksForHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using latchkey::ctl::CommandTable;
  CommandTable table;
  latchkey::ctl::AddVaultCommands(&table);
  latchkey::ctl::AddBrokerCommands(&table);
  latchkey::ctl::AddAuditCommands(&table);
  latchkey::ctl::AddTemplateCommands(&table);
  latchkey::ctl::AddApprovalCommands(&table);
  latchkey::ctl::AddBackupCommands(&table);
  latchkey::ctl::AddStatusCommands(&table);

  // Per-command help is answered before flag parsing so that
  // `latchkeyctl secret put --help` shows that command, not every flag.
  if (AsksForHelp(argc, argv)) {
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
      if (argv[i][0] != '-') words.push_back(argv[i]);
    }
    size_t consumed = 0;
    const latchkey::ctl::Command* command = table.Find(words, &consumed);
    std::cout << (command ? CommandTable::UsageOf(*command) + "\n"
                          : table.Usage());
    return 0;
  }
  absl::SetProgramUsageMessage(table.Usage());
  if (int checked = latchkey::ctl::CheckFlags(argc, argv)) return checked;
  latchkey::ctl::NoteAuditArgv(argc, argv);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty() || args[0] == "help") {
    std::cout << table.Usage();
    return args.empty() ? latchkey::ctl::kExitUsage : 0;
  }
  size_t consumed = 0;
  const latchkey::ctl::Command* command = table.Find(args, &consumed);
  if (command == nullptr) {
    return latchkey::ctl::UsageError(
        absl::StrCat("unknown command \"", args[0], "\""));
  }
  args.erase(args.begin(), args.begin() + consumed);
  if (args.size() < command->min_args || args.size() > command->max_args) {
    std::cerr << "usage: " << CommandTable::UsageOf(*command) << "\n";
    return latchkey::ctl::kExitUsage;
  }
  return command->run(args);
}
