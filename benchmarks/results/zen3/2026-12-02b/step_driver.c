/* A/B driver: forward-save + backward-saved of an ntp object (symbol prefix k),
 * batch 256, one thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
extern const char k_manifest[];
void k_forward_save_tiles(const void *, const void *, const void *, void *,
                          void *, int64_t, int64_t, int64_t);
void k_backward_saved_tiles(const void *, const void *, const void *,
                            const void *, void *, void *, const void *, int64_t,
                            int64_t, int64_t);
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int cmpd(const void *a, const void *b) {
  double x = *(double *)a, y = *(double *)b;
  return x < y ? -1 : x > y;
}
static long key(const char *k) {
  const char *p = strstr(k_manifest, k);
  return p ? atol(p + strlen(k)) : -1;
}
int main(int argc, char **argv) {
  long wpt = key("workspace_per_tile="), np = key("num_params="),
       T = key("\ntile="), ord = key("\norder=");
  int f64 = strstr(k_manifest, "dtype=f64") != NULL;
  size_t es = f64 ? 8 : 4;
  long B = 256, nt = B / T;
  int reps = atoi(argv[1]);
  char *x = calloc(B, es), *v = calloc(1, es), *p = calloc(np, es),
       *o = calloc((ord + 1) * B, es), *c = calloc((ord + 1) * B, es),
       *g = calloc(np, es), *xg = calloc(B, es),
       *ws = calloc(wpt * nt + 1024, es);
  srand(7);
#define SET(buf, i, val)                                                       \
  do {                                                                         \
    if (f64)                                                                   \
      ((double *)(buf))[i] = (val);                                            \
    else                                                                       \
      ((float *)(buf))[i] = (float)(val);                                      \
  } while (0)
  SET(v, 0, 1.0);
  for (long j = 0; j < B; ++j)
    SET(x, j, rand() / (double)RAND_MAX - .5);
  for (long j = 0; j < np; ++j)
    SET(p, j, .3 * (rand() / (double)RAND_MAX - .5));
  for (long j = 0; j < (ord + 1) * B; ++j)
    SET(c, j, 1e-3);
  double *ts = malloc(8 * reps), *tb = malloc(8 * reps), *tt = malloc(8 * reps);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    k_forward_save_tiles(x, v, p, o, ws, B, 0, nt);
    double t1 = now();
    memset(g, 0, es * np);
    k_backward_saved_tiles(x, v, p, c, g, xg, ws, B, 0, nt);
    double t2 = now();
    ts[r] = t1 - t0;
    tb[r] = t2 - t1;
    tt[r] = t2 - t0;
  }
  double cs = 0;
  for (long j = 0; j < np; ++j)
    cs += (f64 ? ((double *)g)[j] : ((float *)g)[j]) * (1 + j % 7);
  qsort(ts, reps, 8, cmpd);
  qsort(tb, reps, 8, cmpd);
  qsort(tt, reps, 8, cmpd);
  printf("%.1f %.1f %.1f %.1f %.1f %.1f %.10g\n", ts[0] * 1e6, tb[0] * 1e6,
         tt[0] * 1e6, ts[reps / 2] * 1e6, tb[reps / 2] * 1e6,
         tt[reps / 2] * 1e6, cs);
  return 0;
}
