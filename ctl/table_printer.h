// Human-readable output for latchkeyctl replies (the default; --json gives
// the protobuf JSON form for scripts). Any reply message is rendered from
// its descriptor, so a new RPC gets readable output without new code:
// scalar fields as aligned "name: value" lines, nested messages indented,
// and repeated messages (lists) as a table with one column per scalar
// field that is set in at least one row.
#ifndef LATCHKEY_CTL_TABLE_PRINTER_H_
#define LATCHKEY_CTL_TABLE_PRINTER_H_

#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace latchkey::ctl {

// Table renders rows under a header, columns padded to their widest cell.
// Cells longer than kMaxCellWidth are cut with "...".
class Table {
 public:
  static constexpr size_t kMaxCellWidth = 60;
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  std::string ToString() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// FormatMessage renders `message` for a terminal.
std::string FormatMessage(const google::protobuf::Message& message);

// FieldText renders one non-message (or Timestamp/Duration) field's value;
// repeated scalars are joined with ",".
std::string FieldText(const google::protobuf::Message& message,
                      const google::protobuf::FieldDescriptor* field);

}  // namespace latchkey::ctl

#endif  // LATCHKEY_CTL_TABLE_PRINTER_H_
