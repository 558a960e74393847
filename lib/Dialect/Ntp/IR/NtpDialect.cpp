//===- NtpDialect.cpp - The ntp dialect -----------------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

using namespace mlir;
using namespace ntp;

#include "ntp/Dialect/Ntp/IR/NtpOpsDialect.cpp.inc"

void NtpDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ntp/Dialect/Ntp/IR/NtpOps.cpp.inc"
      >();
  registerAttributes();
}
