#include "ctl/table_printer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace latchkey::ctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsTime(const Descriptor* type) {
  return type->full_name() == "google.protobuf.Timestamp" ||
         type->full_name() == "google.protobuf.Duration";
}

// IsCell: the field can be shown in one table cell.
bool IsCell(const FieldDescriptor* field) {
  return field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
         (!field->is_repeated() && IsTime(field->message_type()));
}

std::string TimeText(const Message& message) {
  const Descriptor* type = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  const int64_t seconds =
      r->GetInt64(message, type->FindFieldByName("seconds"));
  const int32_t nanos = r->GetInt32(message, type->FindFieldByName("nanos"));
  if (type->full_name() == "google.protobuf.Duration") {
    return absl::FormatDuration(absl::Seconds(seconds) +
                                absl::Nanoseconds(nanos));
  }
  if (seconds == 0 && nanos == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(seconds),
                          absl::UTCTimeZone());
}

std::string ValueText(const Message& message, const FieldDescriptor* field,
                      int index) {
  const Reflection* r = message.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(message, field, index)
                              : r->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(message, field, index)
                              : r->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(message, field, index)
                              : r->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(message, field, index)
                              : r->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(message, field, index)
                              : r->GetDouble(message, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(message, field, index)
                              : r->GetFloat(message, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(message, field, index)
                  : r->GetBool(message, field))
                 ? "yes"
                 : "no";
    case FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(message, field, index)
                  : r->GetEnum(message, field))
          ->name();
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value = rep ? r->GetRepeatedString(message, field, index)
                              : r->GetString(message, field);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        return absl::StrCat("(", value.size(), " bytes)");
      }
      return value;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return TimeText(rep ? r->GetRepeatedMessage(message, field, index)
                          : r->GetMessage(message, field));
  }
  return "";
}

bool IsSet(const Message& message, const FieldDescriptor* field) {
  const Reflection* r = message.GetReflection();
  return field->is_repeated() ? r->FieldSize(message, field) > 0
                              : r->HasField(message, field) ||
                                    (!field->has_presence() &&
                                     !FieldText(message, field).empty() &&
                                     FieldText(message, field) != "0" &&
                                     FieldText(message, field) != "no");
}

void Format(const Message& message, int indent, std::string* out);

std::string ListTable(const Message& message, const FieldDescriptor* field,
                      int indent) {
  const Reflection* r = message.GetReflection();
  const Descriptor* type = field->message_type();
  const int n = r->FieldSize(message, field);
  // Columns: scalar fields set in at least one row (in declaration order).
  std::vector<const FieldDescriptor*> columns;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* column = type->field(i);
    if (!IsCell(column)) continue;
    for (int row = 0; row < n; ++row) {
      if (IsSet(r->GetRepeatedMessage(message, field, row), column)) {
        columns.push_back(column);
        break;
      }
    }
  }
  std::vector<std::string> header;
  for (const FieldDescriptor* column : columns) {
    header.push_back(column->name());
  }
  Table table(header);
  for (int row = 0; row < n; ++row) {
    const Message& element = r->GetRepeatedMessage(message, field, row);
    std::vector<std::string> cells;
    for (const FieldDescriptor* column : columns) {
      cells.push_back(FieldText(element, column));
    }
    table.AddRow(cells);
  }
  std::string text = table.ToString();
  // Indent every line.
  std::string pad(indent, ' ');
  std::string indented;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    absl::StrAppend(&indented, pad, text.substr(start, end - start), "\n");
    start = end + 1;
  }
  return indented;
}

void Format(const Message& message, int indent, std::string* out) {
  const Descriptor* type = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  const std::string pad(indent, ' ');
  size_t width = 0;
  for (int i = 0; i < type->field_count(); ++i) {
    width = std::max(width, type->field(i)->name().size());
  }
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (IsCell(field)) {
      std::string label = absl::StrCat(field->name(), ":");
      label.resize(width + 2, ' ');
      absl::StrAppend(out, pad, label, FieldText(message, field), "\n");
    } else if (field->is_repeated()) {
      const int n = r->FieldSize(message, field);
      if (n == 0) {
        absl::StrAppend(out, pad, field->name(), ": (none)\n");
        continue;
      }
      absl::StrAppend(out, pad, field->name(), " (", n, "):\n");
      absl::StrAppend(out, ListTable(message, field, indent + 2));
    } else if (r->HasField(message, field)) {
      absl::StrAppend(out, pad, field->name(), ":\n");
      Format(r->GetMessage(message, field), indent + 2, out);
    }
  }
}

}  // namespace

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {
  for (std::string& cell : header_) {
    for (char& c : cell) c = static_cast<char>(toupper(c));
  }
}

void Table::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  for (std::string& cell : row) {
    for (char& c : cell) {
      if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    }
    if (cell.size() > kMaxCellWidth) {
      cell = cell.substr(0, kMaxCellWidth - 3) + "...";
    }
  }
  rows_.push_back(std::move(row));
}

std::string Table::ToString() const {
  std::vector<size_t> widths;
  for (const std::string& cell : header_) widths.push_back(cell.size());
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = cells[i];
      if (i + 1 < cells.size()) cell.resize(widths[i] + 2, ' ');
      text += cell;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "\n";
  };
  std::string text = line(header_);
  for (const auto& row : rows_) text += line(row);
  return text;
}

std::string FieldText(const Message& message, const FieldDescriptor* field) {
  if (!field->is_repeated()) return ValueText(message, field, 0);
  std::vector<std::string> values;
  const int n = message.GetReflection()->FieldSize(message, field);
  for (int i = 0; i < n; ++i) values.push_back(ValueText(message, field, i));
  return absl::StrJoin(values, ",");
}

std::string FormatMessage(const Message& message) {
  std::string out;
  Format(message, 0, &out);
  return out;
}

}  // namespace latchkey::ctl
