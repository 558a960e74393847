/* A/B driver: the forward, and forward-save + backward-saved, of an ntp
 * object (symbol prefix k), batch 256, one thread; min and median of `reps`
 * calls each. Prints: forward min, forward-save min, backward-saved min,
 * step min, forward median, step median (us), a gradient checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
extern const char k_manifest[];
void k_forward_tiles(const void *, const void *, const void *, void *, int64_t,
                     int64_t, int64_t);
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
  double x = *(const double *)a, y = *(const double *)b;
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
  int reps = argc > 1 ? atoi(argv[1]) : 300;
  char *x = aligned_alloc(64, 64 * B), *v = aligned_alloc(64, 64),
       *p = aligned_alloc(64, es * np + 64),
       *o = aligned_alloc(64, es * (ord + 1) * B + 64),
       *c = aligned_alloc(64, es * (ord + 1) * B + 64),
       *g = aligned_alloc(64, es * np + 64), *xg = aligned_alloc(64, 64 * B),
       *ws = aligned_alloc(64, es * (wpt * nt + 1024));
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
  double *tf = malloc(8 * reps), *ts = malloc(8 * reps), *tb = malloc(8 * reps),
         *tt = malloc(8 * reps);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    k_forward_tiles(x, v, p, o, B, 0, nt);
    tf[r] = now() - t0;
  }
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
  qsort(tf, reps, 8, cmpd);
  qsort(ts, reps, 8, cmpd);
  qsort(tb, reps, 8, cmpd);
  qsort(tt, reps, 8, cmpd);
  printf("%.1f %.1f %.1f %.1f %.1f %.1f %.10g\n", tf[0] * 1e6, ts[0] * 1e6,
         tb[0] * 1e6, tt[0] * 1e6, tf[reps / 2] * 1e6, tt[reps / 2] * 1e6, cs);
  return 0;
}
