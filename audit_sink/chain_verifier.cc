#include "audit_sink/chain_verifier.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/range_line_reader.h"
#include "common/limits.h"

namespace latchkey::audit_sink {
namespace {

// FindLater is true when a line with a sequence in [low, high) follows.
bool FindLater(RangeLineReader* reader, uint64_t low, uint64_t high) {
  absl::string_view line;
  while (reader->Next(&line)) {
    std::optional<uint64_t> sequence = PeekSequence(line);
    if (sequence.has_value() && *sequence >= low && *sequence < high) {
      return true;
    }
  }
  return false;
}

// A verdict that needs the next record to be decided.
struct Pending {
  enum Kind { kLink, kWrongKey } kind = kLink;
  std::string expect_prev;  // What the next record's prev decides on.
  uint64_t bad_if_match = 0;
  uint64_t bad_otherwise = 0;
};

class Walker {
 public:
  Walker(absl::string_view hmac_key, const VerifyOptions& options)
      : key_(hmac_key), options_(options) {
    response_.set_ok(true);
    first_ = std::max<uint64_t>(1, options.first_sequence);
    required_ = options.last_sequence;
    if (options.acknowledged.has_value()) {
      required_ = required_ == 0 ? *options.acknowledged
                                 : std::min(required_, *options.acknowledged);
    }
    expected_ = first_;
    if (first_ == 1) prev_hash_ = std::string(kGenesisHash);
    last_good_checkpoint_ = first_ - 1;
    if (options.checkpoints != nullptr) {
      for (const Checkpoint& checkpoint : options.checkpoints->checkpoints) {
        if (checkpoint.sequence >= first_ &&
            (required_ == 0 || checkpoint.sequence <= required_)) {
          checkpoints_.push_back(&checkpoint);
        }
      }
    }
    expects_ = options.expect;
    std::stable_sort(expects_.begin(), expects_.end(),
                     [](const ExpectedHead& a, const ExpectedHead& b) {
                       return a.sequence < b.sequence;
                     });
  }

  // nothing_to_do: the sink has acknowledged nothing in the range (then
  // only expected heads can fail, and Finish says so).
  bool nothing_to_do() const {
    return options_.acknowledged.has_value() && required_ < first_;
  }

  // File returns false once the verdict is known (failed or done).
  absl::StatusOr<bool> File(const LogFile& file, bool is_first_listed) {
    int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::string message =
          absl::StrCat("cannot open ", file.path, ": ", std::strerror(errno));
      return errno == ENOENT ? absl::NotFoundError(message)
                             : absl::UnavailableError(message);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      std::string message =
          absl::StrCat("cannot stat ", file.path, ": ", std::strerror(errno));
      ::close(fd);
      return absl::UnavailableError(message);
    }
    RangeLineReader reader(fd, 0, static_cast<uint64_t>(st.st_size),
                      kMaxAuditLineBytes);
    bool more = Lines(&reader, is_first_listed);
    ::close(fd);
    if (!reader.status().ok()) return reader.status();
    if (more) trailing_bytes_ = reader.trailing_bytes();
    return more;
  }

  v1::VerifyResponse Finish() {
    if (done_) return response_;
    if (pending_.has_value()) {
      return Fail(std::min(pending_->bad_if_match, pending_->bad_otherwise),
                  "edited");
    }
    if (next_expect_ < expects_.size()) {
      // Known from outside the host, so removing the local checkpoints
      // does not hide this.
      response_.set_detail(
          absl::StrCat("the log ends at record ", expected_ - 1,
                       ", before record ", expects_[next_expect_].sequence,
                       " that the expected head names: records were removed"));
      return Fail(expected_, "truncated");
    }
    if (!stopped_) {
      if (expected_ <= required_ || trailing_bytes_ > 0) {
        return Fail(expected_, "truncated");
      }
      if (next_checkpoint_ < checkpoints_.size()) {
        return Fail(expected_, "truncated");  // Signed, yet not in the log.
      }
    }
    if (options_.checkpoints != nullptr &&
        options_.checkpoints->problem.has_value()) {
      const uint64_t at = options_.checkpoints->problem_sequence;
      if (at == 0 || (at >= first_ && (required_ == 0 || at <= required_))) {
        return Fail(at, "bad checkpoint");
      }
    }
    return response_;
  }

 private:
  v1::VerifyResponse Fail(uint64_t sequence, const char* problem) {
    if (!done_) {
      response_.set_ok(false);
      response_.set_first_bad_sequence(sequence);
      response_.set_problem(problem);
      done_ = true;
    }
    return response_;
  }

  bool Lines(RangeLineReader* reader, bool is_first_listed) {
    absl::string_view line;
    bool first_line = true;
    while (reader->Next(&line)) {
      if (first_line && IsHeaderLine(line)) {
        first_line = false;
        if (!Header(line, is_first_listed)) return false;
        continue;
      }
      first_line = false;
      if (skipping_) {
        std::optional<uint64_t> sequence = PeekSequence(line);
        if (sequence.has_value() && *sequence < first_) {
          prev_hash_ = LineHash(line);
          continue;
        }
        skipping_ = false;
      }
      if (!Record(line, reader)) return false;
    }
    return true;
  }

  bool Header(absl::string_view line, bool is_first_listed) {
    absl::StatusOr<FileHeader> header = ParseHeaderLine(line);
    if (!header.ok()) {
      Fail(expected_, "unparseable");
      return false;
    }
    const uint64_t starts = header->prev_sequence + 1;
    if (!key_.empty() && !LineHmacMatches(line, key_)) {
      Fail(starts, "edited");
      return false;
    }
    if (!seen_record_) {
      // The first file read: older files may be archived elsewhere (or,
      // for a range, skipped); the header anchors the chain.
      if (is_first_listed && starts > first_) {
        Fail(first_, "deleted");
        return false;
      }
      if (starts == first_) prev_hash_ = header->prev_hash;
      return true;
    }
    if (starts > expected_) {
      Fail(expected_, "deleted");  // A whole file is missing.
      return false;
    }
    if (starts < expected_) {
      Fail(expected_, "reordered");
      return false;
    }
    if (!prev_hash_.empty() && header->prev_hash != prev_hash_ &&
        !pending_.has_value()) {
      Fail(expected_ - 1, "edited");
      return false;
    }
    return true;
  }

  bool Record(absl::string_view line, RangeLineReader* reader) {
    absl::StatusOr<ChainFields> fields = ParseChainFields(line);
    if (!fields.ok()) {
      Fail(expected_, "unparseable");
      return false;
    }
    const bool hmac_ok = key_.empty() || LineHmacMatches(line, key_);
    if (pending_.has_value()) {
      // Decided by this record's link to the previous line.
      const Pending pending = *pending_;
      const bool match = fields->prev_hash == pending.expect_prev;
      if (pending.kind == Pending::kWrongKey) {
        Fail(pending.bad_if_match, match && !hmac_ok ? "wrong key" : "edited");
      } else {
        Fail(match ? pending.bad_if_match : pending.bad_otherwise, "edited");
      }
      return false;
    }
    if (!hmac_ok) {
      if (response_.records_checked() == 0 && fields->sequence == expected_ &&
          (prev_hash_.empty() || fields->prev_hash == prev_hash_)) {
        // The first record checked: a wrong key fails every HMAC while
        // the links hold; the next record tells.
        pending_ =
            Pending{Pending::kWrongKey, LineHash(line), expected_, expected_};
        seen_record_ = true;
        return true;
      }
      Fail(expected_, "edited");
      return false;
    }
    if (fields->sequence < expected_) {
      Fail(expected_, "reordered");
      return false;
    }
    if (fields->sequence > expected_) {
      // `expected` is missing here; further on it was moved, else deleted.
      Fail(expected_, FindLater(reader, expected_, fields->sequence)
                          ? "reordered"
                          : "deleted");
      return false;
    }
    seen_record_ = true;
    const std::string hash = LineHash(line);
    if (!prev_hash_.empty() && fields->prev_hash != prev_hash_) {
      if (!key_.empty()) {
        // Its HMAC is valid, yet it does not follow: spliced in.
        Fail(expected_, "edited");
        return false;
      }
      // Either the previous line was edited (then this record's link
      // to the next holds) or this one was replaced (then it breaks too).
      pending_ = Pending{Pending::kLink, hash, expected_ - 1, expected_};
    }
    while (next_checkpoint_ < checkpoints_.size() &&
           checkpoints_[next_checkpoint_]->sequence < expected_) {
      ++next_checkpoint_;
    }
    if (next_checkpoint_ < checkpoints_.size() &&
        checkpoints_[next_checkpoint_]->sequence == expected_) {
      if (checkpoints_[next_checkpoint_]->head_hash != hash) {
        // Not the bytes that were signed. With the key, this record's
        // HMAC is valid, so it was spliced in; without it, everything
        // after the previous matching checkpoint is suspect.
        Fail(key_.empty() && !pending_.has_value() ? last_good_checkpoint_ + 1
                                                   : expected_,
             "edited");
        return false;
      }
      last_good_checkpoint_ = expected_;
      response_.set_checkpoints_checked(response_.checkpoints_checked() + 1);
      ++next_checkpoint_;
    }
    for (; next_expect_ < expects_.size() &&
           expects_[next_expect_].sequence == expected_;
         ++next_expect_) {
      if (expects_[next_expect_].head_hash != hash) {
        response_.set_detail(absl::StrCat(
            "record ", expected_, " hashes to ", hash,
            ", not to the expected head ", expects_[next_expect_].head_hash,
            ": the log was rewritten after that head was taken"));
        Fail(expected_, "edited");
        return false;
      }
      response_.set_expectations_checked(response_.expectations_checked() + 1);
    }
    prev_hash_ = hash;
    if (!pending_.has_value()) {
      response_.set_records_checked(response_.records_checked() + 1);
    }
    ++expected_;
    if (required_ != 0 && fields->sequence >= required_) {
      stopped_ = true;
      return false;
    }
    return true;
  }

  const std::string key_;
  const VerifyOptions& options_;
  v1::VerifyResponse response_;
  uint64_t first_ = 1;
  uint64_t required_ = 0;  // 0: read to the end.
  uint64_t expected_ = 1;
  // prev_hash_ is the hash the next record must carry; empty when unknown
  // (the range starts after a record that is not in the files).
  std::string prev_hash_;
  bool skipping_ = true;
  bool seen_record_ = false;
  bool stopped_ = false;
  bool done_ = false;
  uint64_t trailing_bytes_ = 0;
  std::optional<Pending> pending_;
  std::vector<const Checkpoint*> checkpoints_;
  size_t next_checkpoint_ = 0;
  std::vector<ExpectedHead> expects_;  // By sequence.
  size_t next_expect_ = 0;
  uint64_t last_good_checkpoint_ = 0;
};

}  // namespace

std::string RotatedLogName(uint64_t first_sequence) {
  return absl::StrFormat("%s.%020d", kFirstLogName, first_sequence);
}

absl::StatusOr<std::vector<LogFile>> ListLogFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot list ", dir, ": ", std::strerror(errno)));
  }
  std::vector<LogFile> files;
  while (struct dirent* entry = ::readdir(d)) {
    absl::string_view name = entry->d_name;
    if (name == kFirstLogName) {
      files.push_back({dir + "/" + kFirstLogName, 1});
      continue;
    }
    const std::string prefix = absl::StrCat(kFirstLogName, ".");
    if (!absl::StartsWith(name, prefix)) continue;
    absl::string_view digits = name.substr(prefix.size());
    uint64_t first = 0;
    if (digits.size() != 20 ||
        !std::all_of(digits.begin(), digits.end(),
                     [](char c) { return absl::ascii_isdigit(c); }) ||
        !absl::SimpleAtoi(digits, &first) || first < 2) {
      continue;
    }
    files.push_back({absl::StrCat(dir, "/", name), first});
  }
  ::closedir(d);
  std::sort(files.begin(), files.end(), [](const LogFile& a, const LogFile& b) {
    return a.first_sequence < b.first_sequence;
  });
  return files;
}

absl::StatusOr<v1::VerifyResponse> VerifyChainFiles(
    const std::vector<LogFile>& files, absl::string_view hmac_key,
    const VerifyOptions& options) {
  // A range starts in the last file whose first record is not after it.
  const uint64_t first = std::max<uint64_t>(1, options.first_sequence);
  for (const ExpectedHead& head : options.expect) {
    if (head.sequence < first ||
        (options.last_sequence != 0 && head.sequence > options.last_sequence)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected head ", head.sequence,
                       " is outside the range being verified"));
    }
  }
  Walker walker(hmac_key, options);
  if (walker.nothing_to_do()) {
    if (!options.expect.empty()) return walker.Finish();
    v1::VerifyResponse response;
    response.set_ok(true);
    return response;  // Nothing acknowledged in the range.
  }
  if (files.empty()) {
    return absl::NotFoundError("the audit log has no files");
  }
  size_t start = 0;
  for (size_t i = 1; i < files.size(); ++i) {
    if (files[i].first_sequence <= first) start = i;
  }
  for (size_t i = start; i < files.size(); ++i) {
    absl::StatusOr<bool> more = walker.File(files[i], i == start);
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  return walker.Finish();
}

absl::StatusOr<v1::VerifyResponse> VerifyChainFile(
    const std::string& path, absl::string_view hmac_key,
    const VerifyOptions& options) {
  return VerifyChainFiles({LogFile{path, 1}}, hmac_key, options);
}

}  // namespace latchkey::audit_sink
