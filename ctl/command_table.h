// CommandTable maps "latchkeyctl VERB [SUB]" to the code that runs it. Each
// group of commands lives in its own file and adds itself through an
// Add*Commands function called from main.cc, so that a new command never
// has to touch another group's code.
#ifndef LATCHKEY_CTL_COMMAND_TABLE_H_
#define LATCHKEY_CTL_COMMAND_TABLE_H_

#include <functional>
#include <string>
#include <vector>

namespace latchkey::ctl {

// Args are the positional arguments after the command words, e.g. for
// "latchkeyctl secret put ID" the handler sees {"ID"}.
using Args = std::vector<std::string>;
using Handler = std::function<int(const Args& args)>;

struct Command {
  // words are the command words, e.g. {"secret", "put"} or {"status"}.
  std::vector<std::string> words;
  // synopsis is the usage line after the command words, e.g. "ID --origin=URL".
  std::string synopsis;
  // summary is one line for the command list; help may add more lines.
  std::string summary;
  Handler run;
  // min_args..max_args positional arguments are accepted after the words.
  size_t min_args = 0;
  size_t max_args = 0;
};

class CommandTable {
 public:
  void Add(Command command);
  // Find returns the command whose words are the longest prefix of `argv`
  // and sets *consumed to the number of words matched, or nullptr.
  const Command* Find(const std::vector<std::string>& argv,
                      size_t* consumed) const;
  // Usage is the full command list, for `latchkeyctl help`.
  std::string Usage() const;
  // UsageOf is the usage of one command.
  static std::string UsageOf(const Command& command);

 private:
  std::vector<Command> commands_;
};

}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_COMMAND_TABLE_H_
