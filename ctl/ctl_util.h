// Shared plumbing for latchkeyctl commands: where the sockets are, how a
// reply is printed, how an RPC failure becomes an exit code and a message,
// and how secrets are read (stdin, never argv).
#ifndef LATCHKEY_CTL_CTL_UTIL_H_
#define LATCHKEY_CTL_CTL_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <termios.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "common/secure_buffer.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace latchkey::ctl {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// SocketPath is --run_dir joined with a socket's file name.
std::string SocketPath(const std::string& name);

// PrintJson prints a reply as indented JSON on stdout.
void PrintJson(const google::protobuf::Message& message);

// JsonOutput is true with --json (output for scripts).
bool JsonOutput();

// PrintReply prints a reply as JSON with --json, else as readable
// "name: value" lines and tables (ctl/table_printer.h).
void PrintReply(const google::protobuf::Message& message);

// Report turns an RPC status into an exit code, explaining failures on
// stderr (with a hint when the daemon is not reachable on `socket`).
int Report(const grpc::Status& status, const std::string& socket);

// CheckFlags returns kExitUsage (after saying which flag and why) if a
// --flag on the command line is unknown or its value does not parse, so
// that such mistakes exit 2 like every other usage error (absl's parser
// would exit 1, which scripts read as "the daemon refused").
int CheckFlags(int argc, char** argv);

// UsageError prints `message` and the hint to use --help; returns kExitUsage.
int UsageError(const std::string& message);

// NoEchoPrompt prints `prompt` and turns terminal echo off for as long as
// it lives; nothing happens when stdin is not a terminal.
class NoEchoPrompt {
 public:
  explicit NoEchoPrompt(const char* prompt);
  ~NoEchoPrompt();
  NoEchoPrompt(const NoEchoPrompt&) = delete;
  NoEchoPrompt& operator=(const NoEchoPrompt&) = delete;
  bool tty() const { return tty_; }

 private:
  bool tty_;
  struct termios saved_ {};
};

// ReadSecretFromStdin reads one line (or all of stdin when piped), with
// echo off on a terminal, into secure memory.
SecureBuffer ReadSecretFromStdin(const char* prompt);

// ReadMultilineSecretFromStdin reads a value that spans lines (a PEM
// private key): all of a piped stdin, or on a terminal (echo off) lines up
// to an empty one; at most 64 KiB.
SecureBuffer ReadMultilineSecretFromStdin(const char* prompt);

// Context is a client context with the CLI's deadline.
std::unique_ptr<grpc::ClientContext> Context();

// ReadFile reads a whole file; false (with a message) if it cannot.
bool ReadFile(const std::string& path, std::string* text);

// ReadTextProto parses a protobuf text-format file, reporting its errors.
bool ReadTextProto(const std::string& path, google::protobuf::Message* message);

}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_CTL_UTIL_H_
