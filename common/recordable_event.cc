#include "common/recordable_event.h"

#include "absl/strings/str_format.h"
#include "common/limits.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace latchkey {
namespace {

// Utf8SequenceLength is the length of the valid UTF-8 sequence starting at
// text[i], or 0 if there is none (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) {
    return k < text.size() ? static_cast<unsigned char>(text[k]) : 0;
  };
  auto continuation = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return continuation(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
    return continuation(i + 1) && continuation(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return continuation(i + 1) && continuation(i + 2) && continuation(i + 3)
               ? 4
               : 0;
  }
  return 0;
}

}  // namespace

std::string RecordableText(absl::string_view text, size_t max_bytes) {
  constexpr absl::string_view kCut = "...";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    std::string piece =
        length == 0
            ? absl::StrFormat("\\x%02x", static_cast<unsigned char>(text[i]))
            : std::string(text.substr(i, length));
    bool last = i + std::max<size_t>(length, 1) >= text.size();
    size_t room = max_bytes - std::min(max_bytes, out.size());
    // Keep room for the cut mark unless this piece ends the text.
    if (piece.size() + (last ? 0 : kCut.size()) > room) {
      if (out.size() + kCut.size() <= max_bytes) out.append(kCut.data(), kCut.size());
      return out;
    }
    out += piece;
    i += std::max<size_t>(length, 1);
  }
  return out;
}

void MakeRecordable(v1::AuditEvent* event) {
  const google::protobuf::Descriptor* descriptor = event->GetDescriptor();
  const google::protobuf::Reflection* reflection = event->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) continue;
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING: {
        std::string value = reflection->GetString(*event, field);
        std::string recordable = RecordableText(value, kMaxAuditFieldBytes);
        if (recordable != value) {
          reflection->SetString(event, field, std::move(recordable));
        }
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        if (reflection->GetInt64(*event, field) < 0) {
          reflection->SetInt64(event, field, 0);
        }
        break;
      default:
        break;
    }
  }
}

}  // namespace latchkey
