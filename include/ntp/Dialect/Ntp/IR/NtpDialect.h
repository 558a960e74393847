//===- NtpDialect.h - The ntp dialect ---------------------------*- C++ -*-===//

#ifndef NTP_DIALECT_NTP_IR_NTPDIALECT_H
#define NTP_DIALECT_NTP_IR_NTPDIALECT_H

#include "mlir/IR/Dialect.h"

#include "ntp/Dialect/Ntp/IR/NtpOpsDialect.h.inc"

#endif // NTP_DIALECT_NTP_IR_NTPDIALECT_H
