//===- Combinatorics.cpp - Exact integer combinatorics --------------------===//

#include "ntp/Support/Combinatorics.h"

#include "llvm/Support/ErrorHandling.h"

int64_t ntp::binomial(int64_t n, int64_t k) {
  if (k < 0 || k > n)
    return 0;
  k = k < n - k ? k : n - k;
  int64_t result = 1;
  for (int64_t i = 1; i <= k; ++i) {
    // result * (n - k + i) / i stays integral at every step.
    int64_t next;
    if (__builtin_mul_overflow(result, n - k + i, &next))
      llvm::report_fatal_error("binomial coefficient overflow");
    result = next / i;
  }
  return result;
}
