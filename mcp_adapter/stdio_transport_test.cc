#include "mcp_adapter/stdio_transport.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"
#include "mcp_adapter/line_reader.h"
#include "mcp_adapter/line_writer.h"

namespace latchkey::mcp {
namespace {

using ::testing::HasSubstr;
using Status = LineReader::Status;

// Pipe is a pipe whose ends close themselves.
struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd = fds[0];
    write_fd = fds[1];
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  void CloseRead() {
    if (read_fd >= 0) ::close(read_fd);
    read_fd = -1;
  }
  void CloseWrite() {
    if (write_fd >= 0) ::close(write_fd);
    write_fd = -1;
  }
  void Write(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(write_fd, data.data() + done, data.size() - done);
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
  }
  int read_fd = -1;
  int write_fd = -1;
};

std::vector<LineReader::Result> ReadAll(LineReader& reader) {
  std::vector<LineReader::Result> results;
  while (true) {
    LineReader::Result next = reader.Next();
    results.push_back(next);
    if (next.status != Status::kLine && next.status != Status::kOverlong) {
      break;
    }
  }
  return results;
}

// --- LineReader -----------------------------------------------------------

TEST(LineReaderTest, SplitsLinesAcceptsCrlfAndLastLineWithoutNewline) {
  Pipe pipe;
  pipe.Write("one\r\ntwo\n\nthree\r\n\r\nlast without newline");
  pipe.CloseWrite();
  LineReader reader(pipe.read_fd, 1024);
  std::vector<LineReader::Result> results = ReadAll(reader);
  std::vector<std::string> lines;
  for (const auto& r : results) {
    if (r.status == Status::kLine) lines.push_back(r.line);
  }
  EXPECT_THAT(lines, ::testing::ElementsAre("one", "two", "", "three", "",
                                            "last without newline"));
  EXPECT_EQ(results.back().status, Status::kEof);
}

TEST(LineReaderTest, OverlongLineIsReportedOnceAndSkipped) {
  Pipe pipe;
  pipe.Write("short\n" + std::string(1000, 'x') + "\nafter\n" +
             std::string(65, 'y') + "\n" + std::string(64, 'z') + "\n");
  pipe.CloseWrite();
  LineReader reader(pipe.read_fd, 64);
  std::vector<LineReader::Result> results = ReadAll(reader);
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0].line, "short");
  EXPECT_EQ(results[1].status, Status::kOverlong);
  EXPECT_EQ(results[2].line, "after");
  EXPECT_EQ(results[3].status, Status::kOverlong);
  EXPECT_EQ(results[4].status, Status::kLine);  // Exactly at the limit.
  EXPECT_EQ(results[4].line, std::string(64, 'z'));
  EXPECT_EQ(results[5].status, Status::kEof);
}

TEST(LineReaderTest, OverlongLineAtEofWithoutNewline) {
  Pipe pipe;
  pipe.Write("ok\n" + std::string(500, 'x'));
  pipe.CloseWrite();
  LineReader reader(pipe.read_fd, 64);
  std::vector<LineReader::Result> results = ReadAll(reader);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].line, "ok");
  EXPECT_EQ(results[1].status, Status::kOverlong);
  EXPECT_EQ(results[2].status, Status::kEof);
}

TEST(LineReaderTest, HugeLineAtTheRealLimitIsDiscardedInStreaming) {
  Pipe pipe;
  // The writer blocks on the pipe while the reader discards, so the reader
  // must report before the line ends.
  auto writer = std::async(std::launch::async, [&pipe] {
    std::string chunk(1 << 20, 'a');
    for (size_t sent = 0; sent <= kMaxMcpLineBytes; sent += chunk.size()) {
      pipe.Write(chunk);
    }
    pipe.Write("\n{\"next\":1}\n");
    pipe.CloseWrite();
  });
  LineReader reader(pipe.read_fd, kMaxMcpLineBytes);
  LineReader::Result first = reader.Next();
  EXPECT_EQ(first.status, Status::kOverlong);
  LineReader::Result second = reader.Next();
  EXPECT_EQ(second.status, Status::kLine);
  EXPECT_EQ(second.line, "{\"next\":1}");
  EXPECT_EQ(reader.Next().status, Status::kEof);
  writer.get();
}

TEST(LineReaderTest, BinaryGarbagePassesThroughAsLines) {
  Pipe pipe;
  std::string garbage("\x00\x01\xff\xfe\r\x7f", 6);
  pipe.Write(garbage + "\n" + garbage + "\r\n");
  pipe.CloseWrite();
  LineReader reader(pipe.read_fd, 64);
  LineReader::Result a = reader.Next();
  LineReader::Result b = reader.Next();
  EXPECT_EQ(a.line, garbage);
  EXPECT_EQ(b.line, garbage);
  EXPECT_EQ(reader.Next().status, Status::kEof);
}

TEST(LineReaderTest, StopFdInterruptsABlockedRead) {
  Pipe pipe;
  int stop = ::eventfd(0, EFD_CLOEXEC);
  LineReader reader(pipe.read_fd, 64, {stop});
  auto next =
      std::async(std::launch::async, [&reader] { return reader.Next(); });
  EXPECT_EQ(next.wait_for(std::chrono::milliseconds(50)),
            std::future_status::timeout);
  uint64_t one = 1;
  ASSERT_EQ(::write(stop, &one, sizeof(one)), 8);
  EXPECT_EQ(next.get().status, Status::kStopped);
  ::close(stop);
}

// --- LineWriter -----------------------------------------------------------

TEST(LineWriterTest, ClosedOutputClosesTheWriter) {
  signal(SIGPIPE, SIG_IGN);
  Pipe pipe;
  LineWriter writer(pipe.write_fd);
  EXPECT_TRUE(writer.Write("a"));
  char buffer[4];
  ASSERT_EQ(::read(pipe.read_fd, buffer, sizeof(buffer)), 2);
  EXPECT_EQ(std::string(buffer, 2), "a\n");
  pipe.CloseRead();
  EXPECT_FALSE(writer.Write("b"));
  EXPECT_TRUE(writer.closed());
  EXPECT_FALSE(writer.Write("c"));
}

// --- StdioTransport -------------------------------------------------------

class StdioTransportTest : public ::testing::Test {
 protected:
  StdioTransportTest() : writer_(out_.write_fd) {
    signal(SIGPIPE, SIG_IGN);
    McpServerOptions options;
    options.broker_socket = "/tmp/broker.sock";
    options.notify = [this](std::string line) { writer_.Write(line); };
    server_ = std::make_unique<McpServer>(&broker_, std::move(options));
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  }
  ~StdioTransportTest() override { ::close(stop_fd_); }

  std::future<StdioTransport::Exit> Start(size_t max_line = 1024) {
    StdioTransportOptions options;
    options.in_fd = in_.read_fd;
    options.stop_fd = stop_fd_;
    options.max_line_bytes = max_line;
    transport_ =
        std::make_unique<StdioTransport>(server_.get(), &writer_, options);
    return std::async(std::launch::async, [this] { return transport_->Run(); });
  }

  // ReadLine reads one response line from the server's output.
  std::string ReadLine() {
    std::string line;
    char c;
    while (::read(out_.read_fd, &c, 1) == 1) {
      if (c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }

  void Stop() {
    uint64_t one = 1;
    ASSERT_EQ(::write(stop_fd_, &one, sizeof(one)), 8);
  }

  static std::string Init() {
    return R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":)"
           R"({"protocolVersion":"2025-06-18"}})"
           "\n";
  }

  Pipe in_;
  Pipe out_;
  LineWriter writer_;
  FakeBrokerClient broker_;
  std::unique_ptr<McpServer> server_;
  std::unique_ptr<StdioTransport> transport_;
  int stop_fd_ = -1;
};

TEST_F(StdioTransportTest, AnswersLinesAndEndsOnEof) {
  auto run = Start(256);
  in_.Write(Init());
  EXPECT_THAT(ReadLine(), HasSubstr(R"("protocolVersion":"2025-06-18")"));
  in_.Write("garbage\r\n");
  EXPECT_THAT(ReadLine(), HasSubstr("-32700"));
  in_.Write(std::string(1000, '{') + "\n");
  std::string overlong = ReadLine();
  EXPECT_THAT(overlong, HasSubstr("-32600"));
  EXPECT_THAT(overlong, HasSubstr(R"("id":null)"));
  in_.Write("\n");  // Blank lines get nothing.
  in_.Write(R"({"jsonrpc":"2.0","id":5,"method":"ping"})");
  in_.CloseWrite();  // EOF without a trailing newline.
  EXPECT_EQ(ReadLine(), R"({"jsonrpc":"2.0","id":5,"result":{}})");
  EXPECT_EQ(run.get(), StdioTransport::Exit::kEof);
}

TEST_F(StdioTransportTest, PingAndCancelWhileACallIsInFlight) {
  std::promise<void> entered;
  std::atomic<bool> released{false};
  broker_.execute_hook = [&](const v1::ExecuteRequest&, Cancellation* cancel) {
    entered.set_value();
    while (!cancel->IsCancelled() && !released) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  auto run = Start();
  in_.Write(Init());
  ReadLine();
  in_.Write(R"({"jsonrpc":"2.0","id":"slow","method":"tools/call","params":)"
            R"({"name":"execute","arguments":{"capability":"c","method":"GET",)"
            R"("path":"/"}}})"
            "\n");
  entered.get_future().wait();
  in_.Write(R"({"jsonrpc":"2.0","id":"p","method":"ping"})"
            "\n");
  EXPECT_EQ(ReadLine(), R"({"jsonrpc":"2.0","id":"p","result":{}})");
  in_.Write(R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
            R"("params":{"requestId":"slow"}})"
            "\n");
  // No response for the cancelled call: the next line is the next ping.
  while (server_->tool_calls_in_flight() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  in_.Write(R"({"jsonrpc":"2.0","id":"p2","method":"ping"})"
            "\n");
  EXPECT_EQ(ReadLine(), R"({"jsonrpc":"2.0","id":"p2","result":{}})");
  in_.CloseWrite();
  EXPECT_EQ(run.get(), StdioTransport::Exit::kEof);
  EXPECT_EQ(broker_.execute_requests.size(), 1u);
}

TEST_F(StdioTransportTest, EofWaitsForInFlightCallsToAnswer) {
  broker_.execute_hook = [](const v1::ExecuteRequest&, Cancellation*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  v1::ExecuteResponse allowed;
  allowed.set_decision(v1::DECISION_ALLOW);
  allowed.mutable_response()->set_status(204);
  broker_.executes.push_back(allowed);
  auto run = Start();
  in_.Write(Init());
  ReadLine();
  in_.Write(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":)"
            R"({"name":"execute","arguments":{"capability":"c","method":"GET",)"
            R"("path":"/"}}})"
            "\n");
  in_.CloseWrite();
  std::string response = ReadLine();
  EXPECT_THAT(response, HasSubstr(R"("id":1)"));
  EXPECT_THAT(response, HasSubstr("HTTP 204"));
  EXPECT_EQ(run.get(), StdioTransport::Exit::kEof);
}

TEST_F(StdioTransportTest, StopCancelsInFlightCalls) {
  std::promise<void> entered;
  broker_.execute_hook = [&](const v1::ExecuteRequest&, Cancellation* cancel) {
    entered.set_value();
    while (!cancel->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  auto run = Start();
  in_.Write(Init());
  ReadLine();
  in_.Write(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":)"
            R"({"name":"execute","arguments":{"capability":"c","method":"GET",)"
            R"("path":"/"}}})"
            "\n");
  entered.get_future().wait();
  Stop();
  EXPECT_EQ(run.get(), StdioTransport::Exit::kStopped);
}

TEST_F(StdioTransportTest, ClosedOutputEndsTheLoop) {
  auto run = Start();
  out_.CloseRead();
  in_.Write(R"({"jsonrpc":"2.0","id":1,"method":"ping"})"
            "\n");
  EXPECT_EQ(run.get(), StdioTransport::Exit::kOutputClosed);
}

// The "stopped" log line's reason is what operators and tests grep for.
TEST(StdioTransportExitReason, NamesEveryExit) {
  EXPECT_STREQ(StdioTransport::ExitReason(StdioTransport::Exit::kEof), "eof");
  EXPECT_STREQ(StdioTransport::ExitReason(StdioTransport::Exit::kStopped),
               "signal");
  EXPECT_STREQ(StdioTransport::ExitReason(StdioTransport::Exit::kOutputClosed),
               "output_closed");
  EXPECT_STREQ(StdioTransport::ExitReason(StdioTransport::Exit::kInputError),
               "input_error");
}

}  // namespace
}  // namespace latchkey::mcp
