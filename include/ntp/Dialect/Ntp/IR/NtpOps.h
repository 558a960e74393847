//===- NtpOps.h - ntp operations --------------------------------*- C++ -*-===//

#ifndef NTP_DIALECT_NTP_IR_NTPOPS_H
#define NTP_DIALECT_NTP_IR_NTPOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/artifact.hpp"

#define GET_OP_CLASSES
#include "ntp/Dialect/Ntp/IR/NtpOps.h.inc"

#endif // NTP_DIALECT_NTP_IR_NTPOPS_H
