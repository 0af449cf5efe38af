#include "tests/leak_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace latchkey::testing {

std::vector<std::string> SecretForms(const std::string& secret) {
  std::string hex = absl::BytesToHexString(secret);
  return {secret, absl::Base64Escape(secret), absl::WebSafeBase64Escape(secret),
          hex, absl::AsciiStrToUpper(hex)};
}

std::vector<std::string> FindForms(const std::string& text,
                                   const std::vector<std::string>& forms) {
  std::vector<std::string> found;
  for (const std::string& form : forms) {
    if (text.find(form) != std::string::npos) found.push_back(form);
  }
  return found;
}

absl::StatusOr<std::vector<std::string>> ScanProcessMemory(
    pid_t pid, const std::vector<std::string>& forms, size_t* bytes_read) {
  *bytes_read = 0;
  std::ifstream maps(absl::StrCat("/proc/", pid, "/maps"));
  if (!maps) return absl::NotFoundError("cannot read maps");
  int mem = open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDONLY);
  if (mem < 0) return absl::PermissionDeniedError("cannot open /proc/PID/mem");
  std::vector<std::string> found;
  size_t longest = 0;
  for (const std::string& f : forms) longest = std::max(longest, f.size());
  std::string line;
  std::string chunk;
  while (std::getline(maps, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() < 2 || parts[1][0] != 'r') continue;
    // Skip the vsyscall page and device mappings that cannot be read.
    if (line.find("[vsyscall]") != std::string::npos) continue;
    std::vector<std::string> range = absl::StrSplit(parts[0], '-');
    uint64_t start = std::stoull(range[0], nullptr, 16);
    uint64_t end = std::stoull(range[1], nullptr, 16);
    const uint64_t kChunk = 1 << 20;
    std::string carry;
    for (uint64_t at = start; at < end; at += kChunk) {
      size_t want = static_cast<size_t>(std::min(kChunk, end - at));
      chunk.resize(want);
      ssize_t n = pread(mem, chunk.data(), want, static_cast<off_t>(at));
      if (n <= 0) break;
      chunk.resize(static_cast<size_t>(n));
      *bytes_read += chunk.size();
      std::string window = carry + chunk;
      for (const std::string& form : FindForms(window, forms)) {
        if (std::find(found.begin(), found.end(), form) == found.end()) {
          found.push_back(form);
        }
      }
      carry = window.substr(window.size() > longest ? window.size() - longest
                                                    : 0);
    }
  }
  close(mem);
  return found;
}

}  // namespace latchkey::testing
