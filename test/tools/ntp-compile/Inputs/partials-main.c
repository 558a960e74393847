#include <math.h>
#include <stdio.h>

/* Checks small_partials (partials-header.mlir) against closed forms. */
int main(void) {
  /* W1 (a, b), b1, W2, b2 */
  const double a = 0.7, b = -0.4, b1 = 0.1, w2 = 1.5, b2 = -0.3;
  const double params[SMALL_NUM_PARAMS] = {a, b, b1, w2, b2};
  enum { N = 11 }; /* more than one tile, and a partial one */
  double x[N * SMALL_INPUT_DIM], out[SMALL_NUM_REQUESTS * N];
  for (int i = 0; i < N * SMALL_INPUT_DIM; ++i)
    x[i] = -1.0 + 0.23 * i;
  if (small_requests[0] != 1 || small_requests[4] != -2) {
    printf("unexpected requests\n");
    return 1;
  }
  small_partials(x, params, out, N);
  for (int s = 0; s < N; ++s) {
    double t = tanh(a * x[2 * s] + b * x[2 * s + 1] + b1);
    double second = -2 * t * (1 - t * t);
    double want[3] = {w2 * a * b * second, w2 * t + b2,
                      w2 * (a * a + b * b) * second};
    for (int r = 0; r < 3; ++r)
      if (fabs(out[r * N + s] - want[r]) > 1e-13) {
        printf("mismatch at request %d sample %d: %.17g vs %.17g\n", r, s,
               out[r * N + s], want[r]);
        return 1;
      }
  }
  printf("ok\n");
  return 0;
}
