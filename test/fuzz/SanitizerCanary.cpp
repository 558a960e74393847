//===- SanitizerCanary.cpp - Proves the sanitizer build is live -----------===//
//
// ntp-sanitizer-canary-{address,undefined}: each commits the one bug its
// sanitizer must report; the test passes only if the report appears. A
// sanitizer build that silently lost its flags fails here instead of
// passing every other test without checking anything.
//
//===----------------------------------------------------------------------===//
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char **argv) {
  // volatile: the optimizer must not see through the bugs.
  volatile int index = argc + 7;
  if (argc > 1 && std::strcmp(argv[1], "address") == 0) {
    char *buffer = static_cast<char *>(std::malloc(8));
    buffer[index] = 1; // heap-buffer-overflow: one past the end
    std::printf("%d\n", buffer[0]);
    std::free(buffer);
  } else if (argc > 1 && std::strcmp(argv[1], "undefined") == 0) {
    volatile int big = INT_MAX;
    std::printf("%d\n", big + index); // signed-integer-overflow
  }
  return 0;
}
