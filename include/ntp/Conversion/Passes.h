//===- Passes.h - ntp conversion passes -------------------------*- C++ -*-===//

#ifndef NTP_CONVERSION_PASSES_H
#define NTP_CONVERSION_PASSES_H

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"

namespace ntp {

#define GEN_PASS_REGISTRATION
#include "ntp/Conversion/Passes.h.inc"

} // namespace ntp

#endif // NTP_CONVERSION_PASSES_H
