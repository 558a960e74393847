//===- LinearAlgebra.cpp - Dense kernels of the example optimizers --------===//
//
//===----------------------------------------------------------------------===//
#include "optim/LinearAlgebra.h"

#include <algorithm>
#include <cmath>
#include <thread>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NTP_OPTIM_X86 1
#include <immintrin.h>
#else
#define NTP_OPTIM_X86 0
#endif

namespace optim {

double dot(const double *a, const double *b, size_t n) {
  double s[4] = {0, 0, 0, 0}; // four sums: the loop pipelines
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j)
      s[j] += a[i + j] * b[i + j];
  for (; i < n; ++i)
    s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

double dot(const Vec &a, const Vec &b) {
  return dot(a.data(), b.data(), a.size());
}

namespace {

// The dot products of up to 4 rows a[] with up to 2 rows b[] (missing rows
// repeat the first; their sums are ignored), each over p entries in four
// lane-wise partial sums combined as (s0 + s1) + (s2 + s3): every entry of
// G has one summation order, whoever computes it.
void block4x2(const double *const a[4], const double *const b[2], size_t p,
              double out[4][2]) {
  double s[4][2][4] = {};
  size_t c = 0;
  for (; c + 4 <= p; c += 4)
    for (int i = 0; i < 4; ++i)
      for (int r = 0; r < 2; ++r)
        for (int l = 0; l < 4; ++l)
          s[i][r][l] += a[i][c + l] * b[r][c + l];
  for (int i = 0; i < 4; ++i)
    for (int r = 0; r < 2; ++r) {
      double t = (s[i][r][0] + s[i][r][1]) + (s[i][r][2] + s[i][r][3]);
      for (size_t k = c; k < p; ++k)
        t += a[i][k] * b[r][k];
      out[i][r] = t;
    }
}

#if NTP_OPTIM_X86
// The same with AVX2 FMAs (8 accumulators, 6 loads per 8 FMAs): the
// examples are built for baseline x86-64, where this Gram matrix was 55% of
// a Burgers run's time (320 x 1274 Jacobians, ~131 MFLOP per LM step).
__attribute__((target("avx2,fma"))) void block4x2Avx2(const double *const a[4],
                                                      const double *const b[2],
                                                      size_t p,
                                                      double out[4][2]) {
  __m256d s[4][2];
  for (int i = 0; i < 4; ++i)
    s[i][0] = s[i][1] = _mm256_setzero_pd();
  size_t c = 0;
  for (; c + 4 <= p; c += 4) {
    __m256d b0 = _mm256_loadu_pd(b[0] + c), b1 = _mm256_loadu_pd(b[1] + c);
    for (int i = 0; i < 4; ++i) {
      __m256d x = _mm256_loadu_pd(a[i] + c);
      s[i][0] = _mm256_fmadd_pd(x, b0, s[i][0]);
      s[i][1] = _mm256_fmadd_pd(x, b1, s[i][1]);
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int r = 0; r < 2; ++r) {
      alignas(32) double l[4];
      _mm256_store_pd(l, s[i][r]);
      double t = (l[0] + l[1]) + (l[2] + l[3]);
      for (size_t k = c; k < p; ++k)
        t += a[i][k] * b[r][k];
      out[i][r] = t;
    }
}
bool haveAvx2() {
  static const bool yes =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#else
void block4x2Avx2(const double *const a[4], const double *const b[2], size_t p,
                  double out[4][2]) {
  block4x2(a, b, p, out);
}
bool haveAvx2() { return false; }
#endif

} // namespace

// Blocks of 4 x 2 rows of the lower triangle; the blocks of 4 rows are dealt
// to the threads in turn (block i0 has ~i0 / 2 blocks of two: interleaving
// balances the triangle).
Vec gramRows(const Vec &j, size_t m, size_t p, int threads) {
  Vec g(m * m);
  auto kernel = haveAvx2() ? block4x2Avx2 : block4x2;
  size_t blocks = (m + 3) / 4;
  auto work = [&](size_t first, size_t step) {
    for (size_t blk = first; blk < blocks; blk += step) {
      size_t i0 = blk * 4, n = std::min<size_t>(4, m - i0);
      const double *a[4];
      for (size_t i = 0; i < 4; ++i)
        a[i] = &j[(i0 + (i < n ? i : 0)) * p];
      for (size_t r0 = 0; r0 < i0 + n; r0 += 2) {
        size_t nb = std::min<size_t>(2, i0 + n - r0);
        const double *b[2] = {&j[r0 * p], &j[(r0 + (nb > 1)) * p]};
        double out[4][2];
        kernel(a, b, p, out);
        for (size_t i = 0; i < n; ++i)
          for (size_t r = 0; r < nb; ++r)
            g[(i0 + i) * m + r0 + r] = g[(r0 + r) * m + i0 + i] = out[i][r];
      }
    }
  };
  forEachStride(threads, blocks, work);
  return g;
}

void forEachStride(int threads, size_t items,
                   const std::function<void(size_t, size_t)> &work) {
  size_t count = std::max<size_t>(
      1, std::min<size_t>(size_t(std::max(threads, 1)), items));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < count; ++t)
    pool.emplace_back(work, t, count);
  work(0, count);
  for (std::thread &t : pool)
    t.join();
}

bool choleskySolve(Vec &a, Vec &b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j] - dot(&a[j * n], &a[j * n], j);
    if (!(d > 0))
      return false;
    d = a[j * n + j] = std::sqrt(d);
    for (size_t i = j + 1; i < n; ++i)
      a[i * n + j] = (a[i * n + j] - dot(&a[i * n], &a[j * n], j)) / d;
  }
  for (size_t i = 0; i < n; ++i) // L y = b
    b[i] = (b[i] - dot(&a[i * n], b.data(), i)) / a[i * n + i];
  for (size_t i = n; i-- > 0;) { // L^T x = y
    double t = b[i];
    for (size_t j = i + 1; j < n; ++j)
      t -= a[j * n + i] * b[j];
    b[i] = t / a[i * n + i];
  }
  return true;
}

} // namespace optim
