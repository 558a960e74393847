/*===- aot_example.c - Run an ahead-of-time ntp kernel from C -------------===*
 *
 * Loads a kernel made by ntp-compile (argv[1]) and prints the first four
 * derivatives of the 1-16-16-1 network at x = 0.5, with all weights 0.1.
 * Needs only ntp::runtime (no MLIR, no LLVM).
 *===----------------------------------------------------------------------===*/
#include <ntp/runtime.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s kernel.so\n", argv[0]);
    return 2;
  }
  ntp_kernel *k = NULL;
  ntp_kernel_info info;
  if (ntp_kernel_load(argv[1], &k) || ntp_kernel_info_get(k, &info)) {
    fprintf(stderr, "error: %s\n", ntp_last_error());
    return 1;
  }
  float *params = malloc(sizeof(float) * (size_t)info.num_params);
  float *out = malloc(sizeof(float) * (size_t)(info.order + 1));
  for (int64_t i = 0; i < info.num_params; ++i)
    params[i] = 0.1f;
  float x = 0.5f, v = 1.0f; /* d = 1, v = 1: plain derivatives in x */
  int status = ntp_forward(k, &x, &v, params, out, 1);
  if (status)
    fprintf(stderr, "error: %s\n", ntp_last_error());
  for (int32_t n = 0; !status && n <= info.order; ++n)
    printf("d^%d f/dx^%d (0.5) = %g\n", n, n, out[n]);
  free(params);
  free(out);
  ntp_kernel_free(k);
  return status ? 1 : 0;
}
