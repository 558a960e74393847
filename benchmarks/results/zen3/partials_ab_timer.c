// A/B timer for partials artifacts
// (benchmarks/results/zen3/partials_tile_bodies.txt): min over rounds of
// ntp_partials, ntp_partials_save + ntp_partials_backward_saved and
// ntp_partials_backward, artifacts in turns, and FNV-1a hashes of out and the
// gradients.
// Build from the repository root:
//   gcc -O2 benchmarks/results/zen3/partials_ab_timer.c -Iruntime/include
//     -Lbuild/runtime -lntp_runtime -Wl,-rpath,$PWD/build/runtime -o timer
// Run: ./timer a.so b.so ... BATCH ROUNDS
#include "ntp/runtime.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static unsigned long long fnv(const void *d, size_t n) {
  const unsigned char *b = d;
  unsigned long long h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
#define CHECK(x)                                                               \
  do {                                                                         \
    ntp_status s_ = (x);                                                       \
    if (s_) {                                                                  \
      fprintf(stderr, "%s: %d\n", #x, s_);                                     \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)
int main(int argc, char **argv) {
  int nso = argc - 3;
  long batch = atol(argv[argc - 2]);
  int rounds = atoi(argv[argc - 1]);
  double best[8][3];
  double *g0 = NULL;
  ntp_kernel *ks[8];
  void *x[8], *p[8], *o[8], *c[8], *g[8], *xg[8], *ws[8];
  for (int i = 0; i < nso; ++i) {
    CHECK(ntp_kernel_load(argv[1 + i], &ks[i]));
    ntp_kernel_info info;
    CHECK(ntp_kernel_info_get(ks[i], &info));
    int32_t P;
    CHECK(ntp_kernel_partials_get(ks[i], NULL, 0, &P));
    size_t e = info.dtype ? 8 : 4;
    int64_t wsb;
    CHECK(ntp_workspace_size(ks[i], batch, &wsb));
    x[i] = malloc(e * batch * info.input_dim);
    p[i] = malloc(e * info.num_params);
    o[i] = malloc(e * P * batch * info.output_dim);
    c[i] = malloc(e * P * batch * info.output_dim);
    g[i] = malloc(e * info.num_params);
    xg[i] = malloc(e * batch * info.input_dim);
    ws[i] = aligned_alloc(64, (wsb + 63) / 64 * 64);
    srand(1);
    for (long j = 0; j < batch * info.input_dim; ++j) {
      double v = rand() / (double)RAND_MAX - 0.5;
      if (e == 8)
        ((double *)x[i])[j] = v;
      else
        ((float *)x[i])[j] = v;
    }
    for (long j = 0; j < info.num_params; ++j) {
      double v = 0.3 * (rand() / (double)RAND_MAX - 0.5);
      if (e == 8)
        ((double *)p[i])[j] = v;
      else
        ((float *)p[i])[j] = v;
    }
    for (long j = 0; j < P * batch * info.output_dim; ++j) {
      double v = rand() / (double)RAND_MAX - 0.5;
      if (e == 8)
        ((double *)c[i])[j] = v;
      else
        ((float *)c[i])[j] = v;
    }
    for (int m = 0; m < 3; ++m)
      best[i][m] = 1e30;
  }
  for (int r = 0; r < rounds; ++r)
    for (int i = 0; i < nso; ++i) {
      double t0 = now();
      CHECK(ntp_partials(ks[i], x[i], p[i], o[i], batch));
      double t1 = now();
      CHECK(ntp_partials_save(ks[i], x[i], p[i], o[i], ws[i], batch));
      CHECK(ntp_partials_backward_saved(ks[i], x[i], p[i], c[i], g[i], xg[i],
                                        ws[i], batch));
      double t2 = now();
      CHECK(ntp_partials_backward(ks[i], x[i], p[i], c[i], g[i], xg[i], batch));
      double t3 = now();
      if (t1 - t0 < best[i][0])
        best[i][0] = t1 - t0;
      if (t2 - t1 < best[i][1])
        best[i][1] = t2 - t1;
      if (t3 - t2 < best[i][2])
        best[i][2] = t3 - t2;
    }
  for (int i = 0; i < nso; ++i) {
    ntp_kernel_info info;
    CHECK(ntp_kernel_info_get(ks[i], &info));
    int32_t P;
    CHECK(ntp_kernel_partials_get(ks[i], NULL, 0, &P));
    size_t e = info.dtype ? 8 : 4;
    CHECK(ntp_partials_backward(ks[i], x[i], p[i], c[i], g[i], xg[i], batch));
    unsigned long long h1 = fnv(g[i], e * info.num_params),
                       h2 = fnv(xg[i], e * batch * info.input_dim);
    CHECK(ntp_partials_save(ks[i], x[i], p[i], o[i], ws[i], batch));
    unsigned long long h3 = fnv(o[i], e * P * batch * info.output_dim);
    CHECK(ntp_partials_backward_saved(ks[i], x[i], p[i], c[i], g[i], xg[i],
                                      ws[i], batch));
    unsigned long long h4 = fnv(g[i], e * info.num_params),
                       h5 = fnv(xg[i], e * batch * info.input_dim);
    if (i > 0 && e == 8) {
      // Against artifact 0 (same network and points): max |a - b| / max |a|.
      double *a = g0, *b = g[i], num = 0, den = 0;
      for (long j = 0; j < info.num_params; ++j) {
        double dd = a[j] - b[j];
        if (dd < 0)
          dd = -dd;
        if (dd > num)
          num = dd;
        double m = a[j] < 0 ? -a[j] : a[j];
        if (m > den)
          den = m;
      }
      printf("%-40s params_grad vs %s: max abs diff / max abs = %.2e\n",
             argv[1 + i], argv[1], num / den);
    }
    if (i == 0) {
      g0 = malloc(e * info.num_params);
      for (long j = 0; j < info.num_params * (long)e; ++j)
        ((char *)g0)[j] = ((char *)g[i])[j];
    }
    printf("%-40s hashes: backward g %016llx x %016llx | save out %016llx | "
           "saved g %016llx x %016llx\n",
           argv[1 + i], h1, h2, h3, h4, h5);
  }
  printf("%-40s %12s %14s %12s  (min of %d rounds, batch %ld, us)\n",
         "artifact", "partials", "save+bsaved", "backward", rounds, batch);
  for (int i = 0; i < nso; ++i)
    printf("%-40s %12.0f %14.0f %12.0f\n", argv[1 + i], 1e6 * best[i][0],
           1e6 * best[i][1], 1e6 * best[i][2]);
  return 0;
}
