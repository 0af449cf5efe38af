// The stable, model-facing words for a ReasonCode, in one place: its name
// (as agents, operators and the audit log see it) and the next step a model
// should take after a denial with it.
#ifndef LATCHKEY_COMMON_REASON_TEXT_H_
#define LATCHKEY_COMMON_REASON_TEXT_H_

#include <string>

#include "proto/common.pb.h"

namespace latchkey {

// ReasonName is the code without its "REASON_" prefix, e.g. "RULE_DENY";
// "UNKNOWN_<n>" for a value this build does not know.
std::string ReasonName(v1::ReasonCode code);

// NextStep is what a model should do about a denial with `code`; never
// empty, so a model is always told what to do.
std::string NextStep(v1::ReasonCode code);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_REASON_TEXT_H_
