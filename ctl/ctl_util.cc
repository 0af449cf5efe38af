#include "ctl/ctl_util.h"

#include <unistd.h>

#include <chrono>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ctl/table_printer.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, run_dir, "run",
          "directory holding the daemons' sockets");
ABSL_FLAG(bool, json, false,
          "print replies as JSON (for scripts) instead of tables");

namespace latchkey::ctl {

std::string SocketPath(const std::string& name) {
  return absl::GetFlag(FLAGS_run_dir) + "/" + name;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

bool JsonOutput() { return absl::GetFlag(FLAGS_json); }

void PrintReply(const google::protobuf::Message& message) {
  if (JsonOutput()) {
    PrintJson(message);
    std::cout << "\n";
  } else {
    std::cout << FormatMessage(message);
  }
}

int Report(const grpc::Status& status, const std::string& socket) {
  if (status.ok()) return kExitOk;
  std::cerr << "latchkeyctl: " << status.error_message() << "\n";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      std::cerr << "  (is the daemon running and listening on " << socket
                << "? start it, or point --run_dir at its socket directory)\n";
      return kExitUnreachable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::cerr << "  (the daemon on " << socket
                << " did not answer in time; check its log)\n";
      return kExitUnreachable;
    case grpc::StatusCode::PERMISSION_DENIED:
      std::cerr << "  (run latchkeyctl as a uid in the daemon's "
                   "--operator_uids, or add yours there)\n";
      return kExitRefused;
    case grpc::StatusCode::UNIMPLEMENTED:
      std::cerr << "  (the daemon on " << socket
                << " is older than this latchkeyctl; upgrade it)\n";
      return kExitRefused;
    default:
      return kExitRefused;
  }
}

int CheckFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    absl::string_view name = arg, value;
    const size_t equals = arg.find('=');
    const bool has_value = equals != absl::string_view::npos;
    if (has_value) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    }
    // absl's own usage flags (--helpfull, --version, ...) are its to handle.
    if (name == "helpfull" || name == "helpshort" || name == "helppackage" ||
        name == "version" || name == "only_check_args" || name == "helpmatch" ||
        name == "helpon") {
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && !has_value) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) {
      return UsageError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) continue;
      if (i + 1 >= argc) {
        return UsageError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = argv[++i];
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return UsageError(absl::StrCat("bad value for --", name, ": ", error));
    }
  }
  return kExitOk;
}

int UsageError(const std::string& message) {
  std::cerr << "latchkeyctl: " << message
            << "\n  (`latchkeyctl help` lists the commands)\n";
  return kExitUsage;
}

NoEchoPrompt::NoEchoPrompt(const char* prompt) : tty_(isatty(STDIN_FILENO)) {
  if (!tty_) return;
  std::cerr << prompt << std::flush;
  tcgetattr(STDIN_FILENO, &saved_);
  struct termios quiet = saved_;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
}

NoEchoPrompt::~NoEchoPrompt() {
  if (!tty_) return;
  tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  std::cerr << "\n";
}

SecureBuffer ReadSecretFromStdin(const char* prompt) {
  std::string value;
  {
    NoEchoPrompt quiet(prompt);
    std::getline(std::cin, value);
  }
  SecureBuffer buffer =
      SecureBuffer::CopyOf(absl::StripTrailingAsciiWhitespace(value));
  CleanseString(&value);
  return buffer;
}

SecureBuffer ReadMultilineSecretFromStdin(const char* prompt) {
  // Reserved up front so that growing never leaves secret copies behind in
  // freed memory; a PEM key or credential JSON is far smaller.
  constexpr size_t kMaxMultilineSecret = 64 * 1024;
  std::string value, line;
  value.reserve(kMaxMultilineSecret + 4096);
  {
    NoEchoPrompt quiet(prompt);
    while (value.size() < kMaxMultilineSecret && std::getline(std::cin, line)) {
      if (quiet.tty() && line.empty()) break;
      value += line;
      value += '\n';
      CleanseString(&line);
    }
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ' ||
                            value.back() == '\r')) {
    value.pop_back();
  }
  SecureBuffer buffer = SecureBuffer::CopyOf(value);
  CleanseString(&value);
  return buffer;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "latchkeyctl: cannot read " << path << "\n";
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

bool ReadTextProto(const std::string& path,
                   google::protobuf::Message* message) {
  std::string text;
  if (!ReadFile(path, &text)) return false;
  if (!google::protobuf::TextFormat::ParseFromString(text, message)) {
    std::cerr << "latchkeyctl: " << path << " is not a valid "
              << message->GetDescriptor()->name()
              << " (protobuf text format)\n";
    return false;
  }
  return true;
}

}  // namespace latchkey::ctl
