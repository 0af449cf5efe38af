#include "ctl/ctl_util.h"

#include <termios.h>
#include <unistd.h>

#include <chrono>

#include "absl/flags/flag.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, run_dir, "run",
          "directory holding the daemons' sockets");

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

int Report(const grpc::Status& status, const std::string& socket) {
  if (status.ok()) return kExitOk;
  std::cerr << "latchkeyctl: " << status.error_message() << "\n";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << "  (is the daemon running and listening on " << socket
              << "?)\n";
    return kExitUnreachable;
  }
  return kExitRefused;
}

int UsageError(const std::string& message) {
  std::cerr << "latchkeyctl: " << message
            << "\n  (`latchkeyctl help` lists the commands)\n";
  return kExitUsage;
}

SecureBuffer ReadSecretFromStdin(const char* prompt) {
  bool tty = isatty(STDIN_FILENO);
  struct termios saved;
  if (tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    struct termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string value;
  std::getline(std::cin, value);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  SecureBuffer buffer =
      SecureBuffer::CopyOf(absl::StripTrailingAsciiWhitespace(value));
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
