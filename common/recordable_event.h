// MakeRecordable turns any AuditEvent into one the sink accepts, so that
// no input an agent controls can make a record fail (and with it, before
// this existed, a whole batch of other requests' records). The sink still
// validates every event (audit_sink/audit_record.h, ValidateEvent); this
// is the writer's side of the same rules: every string field valid UTF-8
// and at most kMaxAuditFieldBytes, counters not negative.
#ifndef LATCHKEY_COMMON_RECORDABLE_EVENT_H_
#define LATCHKEY_COMMON_RECORDABLE_EVENT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "proto/audit.pb.h"

namespace latchkey {

// RecordableText returns `text` with every byte that is not part of a
// valid UTF-8 sequence written as \xNN, cut (at a character boundary, with
// "...") to at most `max_bytes`.
std::string RecordableText(absl::string_view text, size_t max_bytes);

// MakeRecordable applies RecordableText to every string field of `event`
// (found by reflection, so a field added later is covered too) and clamps
// negative counters to 0.
void MakeRecordable(v1::AuditEvent* event);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_RECORDABLE_EVENT_H_
