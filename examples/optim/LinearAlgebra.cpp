//===- LinearAlgebra.cpp - Dense kernels of the example optimizers --------===//
//
//===----------------------------------------------------------------------===//
#include "optim/LinearAlgebra.h"

#include <algorithm>
#include <cmath>

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

// Four rows of J per pass over the others (J may be several MB: this reads
// it a quarter as often).
Vec gramRows(const Vec &j, size_t m, size_t p) {
  Vec g(m * m);
  for (size_t i0 = 0; i0 < m; i0 += 4) {
    size_t n = std::min<size_t>(4, m - i0);
    for (size_t r = 0; r < i0 + n; ++r) {
      const double *b = &j[r * p];
      double s[4] = {0, 0, 0, 0};
      for (size_t c = 0; c < p; ++c)
        for (size_t i = 0; i < n; ++i)
          s[i] += j[(i0 + i) * p + c] * b[c];
      for (size_t i = 0; i < n; ++i)
        g[(i0 + i) * m + r] = g[r * m + i0 + i] = s[i];
    }
  }
  return g;
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
