#include "ctl/command_table.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace latchkey::ctl {

void CommandTable::Add(Command command) {
  commands_.push_back(std::move(command));
}

const Command* CommandTable::Find(const std::vector<std::string>& argv,
                                  size_t* consumed) const {
  const Command* best = nullptr;
  size_t best_words = 0;
  for (const Command& command : commands_) {
    const size_t n = command.words.size();
    if (n > argv.size() || n <= best_words) continue;
    bool match = true;
    for (size_t i = 0; i < n && match; ++i) match = argv[i] == command.words[i];
    if (match) {
      best = &command;
      best_words = n;
    }
  }
  *consumed = best_words;
  return best;
}

std::string CommandTable::UsageOf(const Command& command) {
  std::string line =
      absl::StrCat("latchkeyctl ", absl::StrJoin(command.words, " "));
  if (!command.synopsis.empty()) absl::StrAppend(&line, " ", command.synopsis);
  return absl::StrCat(line, "\n  ", command.summary);
}

std::string CommandTable::Usage() const {
  std::string text =
      "latchkeyctl [--run_dir=DIR] COMMAND [ARGS] [--flags]\n\nCommands:\n";
  for (const Command& command : commands_) {
    std::string words = absl::StrJoin(command.words, " ");
    if (!command.synopsis.empty())
      absl::StrAppend(&words, " ", command.synopsis);
    absl::StrAppend(&text, "  ", words, "\n      ", command.summary, "\n");
  }
  absl::StrAppend(&text,
                  "\n`latchkeyctl COMMAND --help` shows one command's usage.\n"
                  "Exit codes: 0 ok, 1 the daemon refused, 2 usage error, "
                  "3 daemon unreachable.\n");
  return text;
}

}  // namespace latchkey::ctl
