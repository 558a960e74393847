#include <math.h>
#include <stdio.h>

int main(void) {
  /* W1, b1, W2, b2 */
  const double params[SMALL_NUM_PARAMS] = {0.7, -0.2, 1.5, 0.1};
  const double x[3] = {-1.0, 0.25, 2.0}, v[1] = {1.0};
  double out[(SMALL_ORDER + 1) * 3];
  small_forward(x, v, params, out, 3);
  for (int b = 0; b < 3; ++b) {
    double t = tanh(0.7 * x[b] - 0.2);
    double f = 1.5 * t + 0.1, df = 1.5 * 0.7 * (1 - t * t);
    if (fabs(out[b] - f) > 1e-14 || fabs(out[3 + b] - df) > 1e-14) {
      printf("mismatch at %d: %g %g vs %g %g\n", b, out[b], out[3 + b], f, df);
      return 1;
    }
  }
  printf("ok\n");
  return 0;
}
